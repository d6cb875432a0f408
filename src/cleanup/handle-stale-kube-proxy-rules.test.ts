import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createLogger } from '../log/logger.ts';
import { commandExec } from './exec.ts';
import { describeStaleRule, handleStaleKubeProxyRules } from './handle-stale-kube-proxy-rules.ts';

test('describeStaleRule() says what is left and how traffic reaches it', () => {
  assert.equal(
    describeStaleRule({ kind: 'iptables', tool: 'iptables-nft', table: 'nat', chain: 'KUBE-SERVICES', rules: 2, jumpedFrom: ['PREROUTING', 'OUTPUT'] }),
    'iptables-nft nat chain KUBE-SERVICES (2 rules, jumped to from PREROUTING, OUTPUT)',
  );
  assert.equal(describeStaleRule({ kind: 'iptables', tool: 'ip6tables-legacy', table: 'nat', chain: 'KUBE-SEP-X', rules: 1, jumpedFrom: [] }), 'ip6tables-legacy nat chain KUBE-SEP-X (1 rules)');
  assert.equal(describeStaleRule({ kind: 'nftables', family: 'ip6', table: 'kube-proxy' }), 'nftables table ip6 kube-proxy');
});

test('handleStaleKubeProxyRules() reports, then removes, a previous kube-proxy\'s rules in a throwaway netns', async (t) => {
  assert.equal(process.getuid?.(), 0, 'this test needs root to create a network namespace');
  const ns = `kpb-cleanup-${process.pid}-stale`;
  execFileSync('ip', ['netns', 'add', ns]);
  t.after(() => execFileSync('ip', ['netns', 'del', ns]));
  execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: readFileSync(new URL('./testdata/kube-proxy.nft', import.meta.url)) });
  const lines: string[] = [];
  const logger = createLogger({ err: { write: (l: string) => lines.push(l) }, withSource: false });
  const exec = commandExec(ns);

  const reported = await handleStaleKubeProxyRules({ exec, logger, remove: false });
  assert.equal(reported.length, 2);
  assert.equal(lines.length, 2);
  assert.match(lines[0], /^W.*"Rules left by kube-proxy may still capture service traffic.*" rules="nftables table ip kube-proxy"\n$/);

  // No interface to delete here; the stand-in keeps the test away from the root namespace's.
  const deleteLink = () => false;
  await handleStaleKubeProxyRules({ exec, logger, remove: true, deleteLink });
  assert.match(lines[2], /"Removed rules left by kube-proxy" count=2/);
  assert.deepEqual(await handleStaleKubeProxyRules({ exec, logger, remove: true, deleteLink }), []);
});
