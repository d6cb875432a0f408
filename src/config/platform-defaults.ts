/**
 * @module
 * Linux platform defaults that kube-proxy applies after decoding (spec §2.2). They are kept apart
 * from v1alpha1 defaulting because upstream writes them only into the effective config.
 */
import type { KubeProxyConfiguration } from './types.ts';

/** A copy of `c` with Linux's platform defaults applied. */
export function applyPlatformDefaults(c: KubeProxyConfiguration): KubeProxyConfiguration {
  const out = structuredClone(c);
  if (out.mode === '') out.mode = 'iptables';
  if (out.mode === 'nftables' && (out.nodePortAddresses ?? []).length === 0) out.nodePortAddresses = ['primary'];
  if (out.detectLocalMode === '') out.detectLocalMode = 'ClusterCIDR';
  return out;
}
