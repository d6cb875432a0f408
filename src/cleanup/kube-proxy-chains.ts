/**
 * @module
 * Which iptables chains belong to kube-proxy (iptables and ipvs modes), and parsing of
 * iptables-save output. kubelet's own chains (KUBE-FIREWALL, KUBE-KUBELET-CANARY, KUBE-MARK-DROP)
 * are deliberately not on the list: removing them would break kubelet, not kube-proxy.
 */

const FIXED = new Set([
  'KUBE-SERVICES',
  'KUBE-EXTERNAL-SERVICES',
  'KUBE-NODEPORTS',
  'KUBE-POSTROUTING',
  'KUBE-MARK-MASQ',
  'KUBE-FORWARD',
  'KUBE-PROXY-FIREWALL',
  'KUBE-PROXY-CANARY',
  // ipvs mode
  'KUBE-LOAD-BALANCER',
  'KUBE-IPVS-FILTER',
  'KUBE-IPVS-OUT-FILTER',
  'KUBE-SOURCE-RANGES-FIREWALL',
  'KUBE-NODE-PORT',
]);
const PREFIXES = ['KUBE-SVC-', 'KUBE-SVL-', 'KUBE-SEP-', 'KUBE-FW-', 'KUBE-XLB-', 'KUBE-EXT-'];

/** Whether `chain` is one kube-proxy creates. */
export function isKubeProxyChain(chain: string): boolean {
  return FIXED.has(chain) || PREFIXES.some((p) => chain.startsWith(p));
}

export type SavedTable = { name: string; chains: string[]; rules: { chain: string; spec: string; target?: string }[] };

/** Parses iptables-save output into tables, chains and `-A` rules (spec = the text after `-A`). */
export function parseIptablesSave(text: string): SavedTable[] {
  const tables: SavedTable[] = [];
  let cur: SavedTable | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      cur = { name: line.slice(1).trim(), chains: [], rules: [] };
      tables.push(cur);
    } else if (cur && line.startsWith(':')) {
      cur.chains.push(line.slice(1).split(' ')[0]);
    } else if (cur && line.startsWith('-A ')) {
      const spec = line.slice(3);
      const chain = spec.split(' ')[0];
      const target = / -[jg] (\S+)/.exec(spec)?.[1];
      cur.rules.push(target === undefined ? { chain, spec } : { chain, spec, target });
    }
  }
  return tables;
}
