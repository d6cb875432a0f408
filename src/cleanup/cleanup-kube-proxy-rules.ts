/**
 * @module
 * Removes a previous kube-proxy's datapath state (spec §5.19, §2.6): the rules in built-in (and
 * user) chains that jump into kube-proxy's chains, then those chains, in the nat, filter and mangle
 * tables of iptables and ip6tables (both backends); the nftables tables `ip kube-proxy` and
 * `ip6 kube-proxy`; and IPVS mode's `kube-ipvs0` dummy interface. Everything else is left alone.
 */
import { deleteNetLink } from 'bpf-loader-napi';
import type { Exec } from './exec.ts';
import { iptablesTools, listNftKubeProxyTables } from './find-stale-kube-proxy-rules.ts';
import { isKubeProxyChain, parseIptablesSave } from './kube-proxy-chains.ts';

export type CleanupResult = {
  /** What was removed, one human-readable item per chain, table or interface. */
  removed: string[];
  /** Failures, each naming the tool and table; cleanup continues past them. */
  errors: string[];
};

/** Deletes a network interface by name; false when there is none, throws when it cannot. */
export type DeleteLink = (name: string) => boolean | Promise<boolean>;

/**
 * Removes kube-proxy's iptables, nftables and IPVS-interface state: the rules with `exec` (the
 * image ships iptables and nft, as upstream's does), the interface through rtnetlink (no `ip`).
 */
export async function cleanupKubeProxyRules(exec: Exec, deleteLink: DeleteLink = deleteNetLink): Promise<CleanupResult> {
  const result: CleanupResult = { removed: [], errors: [] };
  for (const tool of await iptablesTools(exec)) await cleanupIptables(exec, tool, result);

  for (const family of await listNftKubeProxyTables(exec)) {
    const res = await exec(['nft', 'delete', 'table', family, 'kube-proxy']);
    if (res.code === 0) result.removed.push(`nftables table ${family} kube-proxy`);
    else result.errors.push(`Cannot delete nftables table "${family} kube-proxy": ${res.stderr.trim()}`);
  }

  try {
    if (await deleteLink('kube-ipvs0')) result.removed.push('interface kube-ipvs0');
  } catch (err) {
    result.errors.push(`Cannot delete interface "kube-ipvs0": ${err instanceof Error ? err.message : String(err)}`);
  }
  return result;
}

async function cleanupIptables(exec: Exec, tool: string, result: CleanupResult): Promise<void> {
  const saved = await exec([`${tool}-save`]);
  if (saved.code !== 0) return; // backend not usable here, so it cannot hold rules either
  for (const table of parseIptablesSave(saved.stdout)) {
    const chains = table.chains.filter(isKubeProxyChain);
    if (chains.length === 0) continue;
    // One --noflush restore per table: delete the jumps into our chains from everyone else's
    // chains, then flush (by declaring) and delete our chains. The table changes atomically.
    const lines = [`*${table.name}`];
    for (const r of table.rules) {
      if (!isKubeProxyChain(r.chain) && r.target !== undefined && isKubeProxyChain(r.target)) lines.push(`-D ${r.spec}`);
    }
    for (const c of chains) lines.push(`:${c} - [0:0]`);
    for (const c of chains) lines.push(`-X ${c}`);
    lines.push('COMMIT', '');
    const res = await exec([`${tool}-restore`, '--noflush', '-w'], lines.join('\n'));
    if (res.code === 0) {
      for (const c of chains) result.removed.push(`${tool} ${table.name} chain ${c}`);
    } else {
      result.errors.push(`Cannot remove kube-proxy chains from ${tool} table "${table.name}": ${res.stderr.trim()}`);
    }
  }
}
