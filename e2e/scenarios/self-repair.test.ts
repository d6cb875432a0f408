// The datapath heals itself and follows the host (issue 11 item 4, issue 10 item 3):
// - on node-a, a socket program is detached from the node's cgroup and our tc ingress filter is
//   deleted from eth0 (XDP off, so tc alone serves NodePorts): ClusterIP traffic from a pod and
//   NodePort traffic from the client both stop, and come back within two sync periods, with the
//   repairs logged and counted in kubeproxy_bpf_datapath_repairs_total{hook};
// - with a sync period of 5 minutes, an address added to node-a's eth0 is a NodePort address
//   within seconds, and a neighbour added there bumps the next-hop generation: the agent hears
//   both from rtnetlink, not from a periodic sync.
// Addresses: fabric 192.0.2.0/24 (node-a .11, client .100; .50 is the added address).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openPinnedLink } from 'bpf-loader-napi';
import { startCluster, type Cluster } from '../cluster/cluster.ts';
import { endpointSliceFor } from '../cluster/endpoint-slice.ts';
import { runIn, type Proc } from '../cluster/proc.ts';
import { echo, httpGet, startEchoServer } from '../cluster/workload.ts';
import { addr16, eventually, pinnedEntries, sleep, startReadyAgent } from './support.ts';

const NS = 'kpb-repair';
const PORT = 8080;
const SYNC_PERIOD_MS = 5_000;
const AGENT_ARGS = ['--v=2', '--bpf-xdp=off'];
const TC_PREF = String(0x4b50);

describe('self-repair and host events', () => {
  let cluster: Cluster;
  let agentA: Proc;
  let nodePort = 0;
  let clusterIP = '';

  before(async () => {
    cluster = await startCluster();
    const b1 = cluster.nodes['node-b'].pods[0]!;
    await startEchoServer(b1.place, b1.name, [PORT], cluster.teardown);
    await cluster.admin.createNamespace(NS);
    const svc = await cluster.admin.createService(NS, { metadata: { name: 'echo' }, spec: { type: 'NodePort', ports: [{ name: 'tcp', port: 80, targetPort: PORT }] } });
    nodePort = svc.spec!.ports![0]!.nodePort!;
    clusterIP = svc.spec!.clusterIP!;
    await cluster.admin.createEndpointSlice(NS, endpointSliceFor('echo', 'IPv4', [{ target: b1 }], [{ name: 'tcp', port: PORT }]));
    agentA = await startReadyAgent(cluster.nodes['node-a'], AGENT_ARGS, { config: { iptables: { syncPeriod: '5s', minSyncPeriod: '1s' } } });
    await startReadyAgent(cluster.nodes['node-b'], AGENT_ARGS);
  });

  after(async () => {
    await cluster?.stop();
  });

  test('a detached socket program and a deleted tc filter are put back within two sync periods, logged and counted', async (t) => {
    const nodeA = cluster.nodes['node-a'];
    const a1 = nodeA.pods[0]!;
    const clusterIPWorks = async () => assert.equal((await echo(a1.place, 'tcp', clusterIP, 80, { timeoutMs: 1_000 }))[0]!.name, 'b-pod1');
    const nodePortWorks = async () => assert.equal((await echo(cluster.client, 'tcp', nodeA.ipv4, nodePort, { timeoutMs: 1_000 }))[0]!.name, 'b-pod1');
    await eventually('ClusterIP served', clusterIPWorks, 20_000);
    await eventually('NodePort served', nodePortWorks, 20_000);

    const link = openPinnedLink(`${nodeA.pinPath}/links/sock-kpb_sock_connect4`);
    try {
      link.detach();
    } finally {
      link.close();
    }
    await runIn(nodeA.place, ['tc', 'filter', 'del', 'dev', 'eth0', 'ingress', 'pref', TC_PREF]);
    const broken = Date.now();
    await assert.rejects(clusterIPWorks(), 'the ClusterIP still answered with connect4 detached: the sabotage did nothing');
    await assert.rejects(nodePortWorks(), 'the NodePort still answered without the tc ingress filter: the sabotage did nothing');

    await eventually('ClusterIP and NodePort served again', async () => {
      await clusterIPWorks();
      await nodePortWorks();
    }, 4 * SYNC_PERIOD_MS, 200);
    const ms = Date.now() - broken;
    t.diagnostic(`recovered ${ms} ms after the sabotage (sync period ${SYNC_PERIOD_MS} ms)`);
    // Two sync periods, plus the time one failed probe of each kind may take (1 s each).
    assert.ok(ms <= 2 * SYNC_PERIOD_MS + 2_500, `recovery took ${ms} ms, more than two sync periods`);
    assert.match(agentA.output, /"Repaired the datapath" hook="cgroup" what="socket program kpb_sock_connect4 on cgroup [^"]+" why="the link was detached"/);
    assert.match(agentA.output, /"Repaired the datapath" hook="tc" what="tc ingress on eth0" why="the filter was removed"/);
    const metrics = await httpGet(nodeA.place, 'http://127.0.0.1:10249/metrics');
    assert.match(metrics.body, /^kubeproxy_bpf_datapath_repairs_total\{hook="cgroup"\} 1$/m);
    assert.match(metrics.body, /^kubeproxy_bpf_datapath_repairs_total\{hook="tc"\} 1$/m);
    assert.match(metrics.body, /^kubeproxy_bpf_datapath_repairs_total\{hook="xdp"\} 0$/m);
  });

  test('an address added to the node is a NodePort address within seconds, with a sync period of 5 minutes', async (t) => {
    const nodeA = cluster.nodes['node-a'];
    await agentA.stop();
    agentA = await startReadyAgent(nodeA, AGENT_ARGS, { config: { iptables: { syncPeriod: '5m', minSyncPeriod: '1s' } } });
    const added = '192.0.2.50';
    const nodeAddrs = () => pinnedEntries(nodeA, 'lb_node_addrs').map(([k]) => k.subarray(0, 16));
    assert.ok(!nodeAddrs().some((k) => k.equals(addr16(added))), `${added} is a node address before it was added`);
    await runIn(nodeA.place, ['ip', 'addr', 'add', `${added}/32`, 'dev', 'eth0']);
    t.after(() => runIn(nodeA.place, ['ip', 'addr', 'del', `${added}/32`, 'dev', 'eth0'], { allowFailure: true }));
    const { ms } = await eventually('the added address in lb_node_addrs', () => assert.ok(nodeAddrs().some((k) => k.equals(addr16(added)))), 10_000, 100);
    t.diagnostic(`programmed ${ms} ms after the address was added`);
    const { value: [reply] } = await eventually('NodePort served on the added address', () => echo(cluster.client, 'tcp', added, nodePort, { timeoutMs: 1_000 }), 10_000, 200);
    assert.equal(reply!.name, 'b-pod1');
    assert.match(agentA.output, /"Host devices or addresses changed; syncing"/);
  });

  test('a neighbour change on the node invalidates cached next hops (kpb_gens.nh) without waiting for a sync', async (t) => {
    const nodeA = cluster.nodes['node-a'];
    // struct kpb_gens { __u32 nh; __u32 be; }: nh is the first field.
    const gen = () => pinnedEntries(nodeA, 'kpb_gens')[0]![1].readUInt32LE(0);
    // Quiet first (no change for a second), so the bump below is this neighbour's.
    let before = gen();
    await eventually('kpb_gens.nh quiet for a second', async () => {
      before = gen();
      await sleep(1_000);
      assert.equal(gen(), before);
    }, 15_000, 0);
    const neighbour = '192.0.2.77';
    await runIn(nodeA.place, ['ip', 'neigh', 'add', neighbour, 'lladdr', '02:00:00:00:00:77', 'dev', 'eth0', 'nud', 'permanent']);
    t.after(() => runIn(nodeA.place, ['ip', 'neigh', 'del', neighbour, 'dev', 'eth0'], { allowFailure: true }));
    const { ms } = await eventually('kpb_gens.nh bumped', () => assert.ok(gen() !== before, `kpb_gens.nh is still ${before}`), 5_000, 50);
    t.diagnostic(`kpb_gens.nh ${before} -> ${gen()} ${ms} ms after the neighbour was added`);
  });
});
