/**
 * @module
 * nodePortAddresses -> the node addresses where NodePorts answer (spec §5.10), per family.
 * Empty (or no entry of a family) means every local address of that family. `primary` means the
 * node's primary address of each family (from the Node object). Loopback addresses are never
 * returned: 127.0.0.1 and ::1 are governed separately by the localhost-NodePort rule. kube-proxy
 * has that rule for 127.0.0.1 only (iptables mode); ::1 is our addition, under the same setting.
 */
import type { NodeProjection } from '../kube/projections.ts';
import { cidrContains, isLoopback, parseCidr, parseIp, type IpFamily, type ParsedCidr } from './ip.ts';
import type { Problem } from './problem.ts';

export type NodePortAddressResult = {
  /** Canonical address text, sorted, no loopback. */
  addresses: string[];
  /** IPv4 NodePorts also answer on 127.0.0.1 from the node (LB_SVC_LOCALHOST_NODEPORT). */
  localhostNodePorts: boolean;
  /** IPv6 NodePorts also answer on ::1 from the node (beyond upstream, which is IPv4 only). */
  localhostNodePortsV6: boolean;
  problems: Problem[];
};

export type NodePortAddressInput = {
  /** The nodePortAddresses setting: CIDRs, and the keyword `primary`. */
  nodePortAddresses: string[];
  /** Addresses currently on the node's interfaces (both families). */
  localAddresses: string[];
  /** The node's primary IPs (see primaryNodeIPs). */
  primaryIPs: Partial<Record<IpFamily, string>>;
  /** iptables.localhostNodePorts (default true): 127.0.0.1 as upstream, and ::1 (our addition). */
  localhostNodePorts: boolean;
  /** Families this agent programs. */
  families: IpFamily[];
};

/**
 * The node's primary address per family: the first InternalIP of that family, else the first
 * ExternalIP (spec §5.17).
 */
export function primaryNodeIPs(node: NodeProjection | null): Partial<Record<IpFamily, string>> {
  const out: Partial<Record<IpFamily, string>> = {};
  const addrs = node?.status?.addresses ?? [];
  for (const type of ['InternalIP', 'ExternalIP']) {
    for (const a of addrs) {
      if (a.type !== type) continue;
      const ip = parseIp(a.address);
      if (ip && !out[ip.family]) out[ip.family] = ip.text;
    }
  }
  return out;
}

/** Resolves nodePortAddresses to concrete addresses. */
export function resolveNodePortAddresses(input: NodePortAddressInput): NodePortAddressResult {
  const problems: Problem[] = [];
  const cidrs: ParsedCidr[] = [];
  input.nodePortAddresses.forEach((entry, i) => {
    const s = entry.trim();
    if (s === 'primary') {
      for (const family of ['IPv4', 'IPv6'] as const) {
        const ip = input.primaryIPs[family];
        if (ip) cidrs.push(parseCidr(`${ip}/${family === 'IPv4' ? 32 : 128}`)!);
      }
      return;
    }
    const c = parseCidr(s);
    if (!c) problems.push({ object: 'KubeProxyConfiguration', field: `nodePortAddresses[${i}]`, reason: 'invalid_cidr', message: `invalid CIDR "${entry}" ignored` });
    else cidrs.push(c);
  });

  const addresses = new Set<string>();
  let localhost = false;
  let localhost6 = false;
  for (const family of input.families) {
    let fam = cidrs.filter((c) => c.family === family);
    // No entry of this family means "all addresses of this family", as upstream.
    if (fam.length === 0) fam = [parseCidr(family === 'IPv4' ? '0.0.0.0/0' : '::/0')!];
    const loopback = parseIp(family === 'IPv4' ? '127.0.0.1' : '::1')!;
    if (input.localhostNodePorts && fam.some((c) => cidrContains(c, loopback))) {
      if (family === 'IPv4') localhost = true;
      else localhost6 = true;
    }
    for (const text of input.localAddresses) {
      const ip = parseIp(text);
      if (!ip || ip.family !== family || isLoopback(ip)) continue;
      if (fam.some((c) => cidrContains(c, ip))) addresses.add(ip.text);
    }
  }
  return { addresses: [...addresses].sort(), localhostNodePorts: localhost, localhostNodePortsV6: localhost6, problems };
}
