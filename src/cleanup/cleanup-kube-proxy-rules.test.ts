/*
 * Runs the real cleanup against real iptables/nft state, inside a network namespace this test
 * creates and removes; the host's own rules are never read or written. Needs root.
 * Addresses: pods 198.18.0.0/16, services 198.19.0.0/16, 2001:db8:10::/56 and 2001:db8:20::/112.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cleanupKubeProxyRules } from './cleanup-kube-proxy-rules.ts';
import { commandExec } from './exec.ts';
import type { Exec } from './exec.ts';
import { findStaleKubeProxyRules } from './find-stale-kube-proxy-rules.ts';
import { isKubeProxyChain, parseIptablesSave } from './kube-proxy-chains.ts';

const fixture = (name: string) => readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');

/** deleteNetLink (the addon's rtnetlink call) run inside namespace `ns`, as the agent runs it in its own. */
function deleteLinkIn(ns: string) {
  const entry = new URL('../../datapath/bpf-loader-napi/lib/index.ts', import.meta.url).href;
  return (name: string): boolean => {
    const code = `const { deleteNetLink } = await import(${JSON.stringify(entry)}); process.stdout.write(String(deleteNetLink(${JSON.stringify(name)})));`;
    const out = execFileSync('nsenter', [`--net=/run/netns/${ns}`, process.execPath, '--input-type=module', '-e', code], { encoding: 'utf8' });
    return out.trim() === 'true';
  };
}

async function must(exec: Exec, argv: string[], input?: string): Promise<string> {
  const r = await exec(argv, input);
  assert.equal(r.code, 0, `${argv.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

test('cleanupKubeProxyRules() removes kube-proxy iptables chains and nftables tables, and keeps everything else', async (t) => {
  assert.equal(process.getuid?.(), 0, 'this test needs root to create a network namespace');
  const ns = `kpb-cleanup-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  t.after(() => execFileSync('ip', ['netns', 'del', ns]));
  const exec = commandExec(ns);

  await must(exec, ['iptables-restore', '--noflush'], fixture('kube-proxy-iptables-v4.rules'));
  await must(exec, ['ip6tables-restore', '--noflush'], fixture('kube-proxy-iptables-v6.rules'));
  await must(exec, ['nft', '-f', '-'], fixture('kube-proxy.nft'));
  // kube-ipvs0 is a dummy device upstream; this kernel may lack the dummy driver, and the name is what counts.
  await must(exec, ['ip', 'link', 'add', 'kube-ipvs0', 'type', 'veth', 'peer', 'name', 'kpb-peer0']);

  const stale = await findStaleKubeProxyRules(exec);
  const natServices = stale.find((s) => s.kind === 'iptables' && s.tool === 'iptables-nft' && s.table === 'nat' && s.chain === 'KUBE-SERVICES');
  assert.deepEqual(natServices, { kind: 'iptables', tool: 'iptables-nft', table: 'nat', chain: 'KUBE-SERVICES', rules: 2, jumpedFrom: ['PREROUTING', 'OUTPUT'] });
  assert.ok(stale.some((s) => s.kind === 'iptables' && s.tool === 'ip6tables-nft' && s.chain === 'KUBE-SVC-WEB6WEB6WEB6WEB6'));
  assert.deepEqual(stale.filter((s) => s.kind === 'nftables').map((s) => s.kind === 'nftables' && s.family), ['ip', 'ip6']);

  const result = await cleanupKubeProxyRules(exec, deleteLinkIn(ns));
  assert.deepEqual(result.errors, []);
  assert.ok(result.removed.includes('iptables-nft nat chain KUBE-SVC-WEBWEBWEBWEBWEBW'));
  assert.ok(result.removed.includes('nftables table ip kube-proxy'));
  assert.ok(result.removed.includes('interface kube-ipvs0'));

  const v4 = parseIptablesSave(await must(exec, ['iptables-save']));
  const v6 = parseIptablesSave(await must(exec, ['ip6tables-save']));
  for (const table of [...v4, ...v6]) {
    assert.deepEqual(table.chains.filter(isKubeProxyChain), [], `kube-proxy chains left in ${table.name}`);
    assert.deepEqual(table.rules.filter((r) => r.target && isKubeProxyChain(r.target)), [], `jumps left in ${table.name}`);
  }
  const specs = (tables: typeof v4, name: string) => tables.find((x) => x.name === name)?.rules.map((r) => r.spec) ?? [];
  // Unrelated state survives: user chains and rules, and kubelet's KUBE-FIREWALL.
  assert.ok(specs(v4, 'filter').includes('INPUT -p tcp -m tcp --dport 22 -j ACCEPT'));
  assert.ok(specs(v4, 'filter').includes('INPUT -j KUBE-FIREWALL'));
  assert.ok(specs(v4, 'filter').includes('FORWARD -j USER-CHAIN'));
  assert.ok(specs(v4, 'filter').includes('USER-CHAIN -s 192.0.2.100/32 -j ACCEPT'));
  assert.ok(specs(v4, 'nat').includes('POSTROUTING -s 198.18.0.0/16 -o eth0 -j MASQUERADE'));
  assert.ok(specs(v4, 'nat').includes('USER-NAT -d 192.0.2.200/32 -p tcp -m tcp --dport 8443 -j DNAT --to-destination 192.0.2.201:443'));
  assert.ok(specs(v6, 'nat').includes('POSTROUTING -s 2001:db8:10::/56 -j MASQUERADE'));
  const tables = await must(exec, ['nft', 'list', 'tables']);
  assert.doesNotMatch(tables, /kube-proxy/);
  assert.match(tables, /table inet user-filter/);
  assert.deepEqual(await findStaleKubeProxyRules(exec), []);

  // A second run finds nothing to do and does not fail.
  assert.deepEqual(await cleanupKubeProxyRules(exec, deleteLinkIn(ns)), { removed: [], errors: [] });
  assert.equal((await exec(['ip', 'link', 'show', 'kube-ipvs0'])).code, 1, 'kube-ipvs0 is still there');
});
