/**
 * @module
 * The settings kube-proxy's internal config keeps once per process, picked from the section that
 * matches `mode` (spec §2.2): ipvs -> ipvs.*, nftables -> nftables.*, anything else -> iptables.*.
 * We always run the BPF datapath, but honour the same selection so a stock config tunes us the
 * way it tuned kube-proxy.
 */
import { parseDuration } from './duration.ts';
import type { KubeProxyConfiguration } from './types.ts';

export type SyncSettings = {
  /** Maximum interval between syncs, in milliseconds. */
  syncPeriodMs: number;
  /** Minimum interval between syncs, in milliseconds. */
  minSyncPeriodMs: number;
  masqueradeAll: boolean;
  masqueradeBit: number;
};

/** Sync and masquerade settings of the section selected by `c.mode`. */
export function syncSettings(c: KubeProxyConfiguration): SyncSettings {
  if (c.mode === 'ipvs') {
    // IPVS reads masquerading from the iptables section, as upstream's ipvs proxier does.
    return {
      syncPeriodMs: parseDuration(c.ipvs.syncPeriod),
      minSyncPeriodMs: parseDuration(c.ipvs.minSyncPeriod),
      masqueradeAll: c.iptables.masqueradeAll,
      masqueradeBit: c.iptables.masqueradeBit,
    };
  }
  const s = c.mode === 'nftables' ? c.nftables : c.iptables;
  return {
    syncPeriodMs: parseDuration(s.syncPeriod),
    minSyncPeriodMs: parseDuration(s.minSyncPeriod),
    masqueradeAll: s.masqueradeAll,
    masqueradeBit: s.masqueradeBit,
  };
}
