// A node that ran kube-proxy before us (spec §2.6): its KUBE-* iptables chains would keep
// capturing service traffic. Our agent removes them at start (default) and logs what it removed;
// with --bpf-remove-stale-kube-proxy-rules=false it leaves them and warns instead.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startCluster, type Cluster, type ClusterNode } from '../cluster/cluster.ts';
import { run } from '../cluster/run.ts';
import { appendFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sleep, startReadyAgent } from './support.ts';

/** Runs iptables (nft backend) inside the node's network namespace. */
const iptables = (node: ClusterNode, ...args: string[]) => run(['nsenter', `--net=/run/netns/${node.netns}`, 'iptables-nft', ...args], { allowFailure: true });

describe('rules left by a previous kube-proxy', () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster();
    // What kube-proxy's iptables mode leaves: its chains and the jumps into them.
    for (const node of Object.values(cluster.nodes)) {
      for (const argv of [['-t', 'nat', '-N', 'KUBE-SERVICES'], ['-t', 'nat', '-A', 'PREROUTING', '-j', 'KUBE-SERVICES'], ['-t', 'nat', '-A', 'OUTPUT', '-j', 'KUBE-SERVICES']]) {
        const r = await iptables(node, ...argv);
        assert.equal(r.code, 0, `iptables ${argv.join(' ')} in ${node.name}: ${r.stderr}`);
      }
    }
  });

  after(async () => {
    await cluster?.stop();
  });

  test('removed at start by default, and listed in the log', async () => {
    const node = cluster.nodes['node-a'];
    const agent = await startReadyAgent(node, ['--v=2']);
    await agent.waitFor(/"Removed rules left by kube-proxy" count=[1-9]/, 10_000);
    await agent.waitFor(/"Removed kube-proxy state" item=".*KUBE-SERVICES/, 10_000);
    const left = await iptables(node, '-t', 'nat', '-S');
    assert.doesNotMatch(left.stdout, /KUBE-SERVICES/, `node-a still has kube-proxy's chain:\n${left.stdout}`);
  });

  test('kept, with a warning naming them, when --bpf-remove-stale-kube-proxy-rules=false; a changed --config file makes the agent exit', async () => {
    const node = cluster.nodes['node-b'];
    const agent = await startReadyAgent(node, ['--v=2', '--bpf-remove-stale-kube-proxy-rules=false']);
    await agent.waitFor(/Rules left by kube-proxy may still capture service traffic.*KUBE-SERVICES/, 10_000);
    const left = await iptables(node, '-t', 'nat', '-S');
    assert.match(left.stdout, /-N KUBE-SERVICES/);

    // kube-proxy exits when its configuration file changes, so its supervisor restarts it with the new one.
    const configFile = readdirSync(node.dir).filter((f) => /^kube-proxy-config-\d+\.yaml$/.test(f)).map((f) => join(node.dir, f)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0]!;
    appendFileSync(configFile, '\n');
    const exit = await Promise.race([agent.exited, sleep(10_000).then(() => null)]);
    assert.notEqual(exit, null, 'the agent did not exit after its config file changed');
    assert.equal(exit!.code, 1);
    assert.match(agent.output, /configuration file .* changed/);
  });
});
