/**
 * @module
 * Finds what a previous kube-proxy left that would still capture service traffic: its iptables
 * chains that are reachable from a built-in chain, and its nftables tables. Used for the start-up
 * log and by --cleanup.
 */
import type { Exec } from './exec.ts';
import { isKubeProxyChain, parseIptablesSave } from './kube-proxy-chains.ts';

export type StaleRule =
  | { kind: 'iptables'; tool: string; table: string; chain: string; rules: number; jumpedFrom: string[] }
  | { kind: 'nftables'; family: 'ip' | 'ip6'; table: 'kube-proxy' };

/** The iptables binaries to inspect: both backends when installed, since either may hold rules. */
export async function iptablesTools(exec: Exec): Promise<string[]> {
  const tools: string[] = [];
  for (const family of ['iptables', 'ip6tables']) {
    const found: string[] = [];
    for (const backend of ['-nft', '-legacy']) {
      if ((await exec([`${family}${backend}-save`, '--version'])).code !== 127) found.push(`${family}${backend}`);
    }
    tools.push(...(found.length > 0 ? found : [family]));
  }
  return tools;
}

/** Every kube-proxy chain and nftables table present, with how it is reached. */
export async function findStaleKubeProxyRules(exec: Exec): Promise<StaleRule[]> {
  const out: StaleRule[] = [];
  for (const tool of await iptablesTools(exec)) {
    const saved = await exec([`${tool}-save`]);
    if (saved.code !== 0) continue; // this backend is unavailable here (no module, no binary)
    for (const table of parseIptablesSave(saved.stdout)) {
      for (const chain of table.chains.filter(isKubeProxyChain)) {
        const rules = table.rules.filter((r) => r.chain === chain).length;
        const jumpedFrom = [...new Set(table.rules.filter((r) => r.target === chain && !isKubeProxyChain(r.chain)).map((r) => r.chain))];
        out.push({ kind: 'iptables', tool, table: table.name, chain, rules, jumpedFrom });
      }
    }
  }
  for (const t of await listNftKubeProxyTables(exec)) out.push({ kind: 'nftables', family: t, table: 'kube-proxy' });
  return out;
}

/** The families (ip, ip6) that have a `kube-proxy` nftables table. */
export async function listNftKubeProxyTables(exec: Exec): Promise<('ip' | 'ip6')[]> {
  const res = await exec(['nft', 'list', 'tables']);
  if (res.code !== 0) return [];
  const families: ('ip' | 'ip6')[] = [];
  for (const line of res.stdout.split('\n')) {
    const m = /^table (ip|ip6) kube-proxy\s*$/.exec(line.trim());
    if (m) families.push(m[1] as 'ip' | 'ip6');
  }
  return families;
}
