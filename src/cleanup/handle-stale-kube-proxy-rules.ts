/**
 * @module
 * The start-up step for a node that ran kube-proxy before us: its iptables chains and nftables
 * tables would still capture service traffic (ClusterIPs answered by stale DNAT rules). With
 * --bpf-remove-stale-kube-proxy-rules (default) they are removed, like upstream removes the other
 * modes' rules at start (spec §2.6); otherwise each one is logged as a warning. Call it after our
 * programs are attached, so traffic never falls between the two datapaths.
 */
import type { Logger } from '../log/logger.ts';
import { cleanupKubeProxyRules, type DeleteLink } from './cleanup-kube-proxy-rules.ts';
import type { Exec } from './exec.ts';
import { findStaleKubeProxyRules } from './find-stale-kube-proxy-rules.ts';
import type { StaleRule } from './find-stale-kube-proxy-rules.ts';

/** One line per stale object, e.g. `iptables-nft nat chain KUBE-SERVICES (2 rules, jumped to from PREROUTING, OUTPUT)`. */
export function describeStaleRule(s: StaleRule): string {
  if (s.kind === 'nftables') return `nftables table ${s.family} ${s.table}`;
  const from = s.jumpedFrom.length > 0 ? `, jumped to from ${s.jumpedFrom.join(', ')}` : '';
  return `${s.tool} ${s.table} chain ${s.chain} (${s.rules} rules${from})`;
}

/** Finds a previous kube-proxy's rules and removes (or only reports) them; returns what was found. */
export async function handleStaleKubeProxyRules(opts: { exec: Exec; logger: Logger; remove: boolean; deleteLink?: DeleteLink }): Promise<StaleRule[]> {
  const stale = await findStaleKubeProxyRules(opts.exec);
  if (stale.length === 0) return stale;
  if (!opts.remove) {
    for (const s of stale) {
      opts.logger.warning('Rules left by kube-proxy may still capture service traffic; run with --cleanup or --bpf-remove-stale-kube-proxy-rules=true', { rules: describeStaleRule(s) });
    }
    return stale;
  }
  const result = await cleanupKubeProxyRules(opts.exec, opts.deleteLink);
  opts.logger.info('Removed rules left by kube-proxy', { count: result.removed.length });
  for (const item of result.removed) opts.logger.v(2).info('Removed kube-proxy state', { item });
  for (const err of result.errors) opts.logger.error('Cannot remove rules left by kube-proxy', { err });
  return stale;
}
