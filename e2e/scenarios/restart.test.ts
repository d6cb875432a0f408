// Disruptions (spec §5.19): the agent SIGKILLed in the middle of a long NodePort TCP conversation
// through SNAT (the conntrack entry lives in a pinned map, the programs stay attached, the next
// agent adopts both), the apiserver stopped for 30 s, and `--cleanup` leaving no program, link,
// tc filter, XDP attachment or pin behind.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { agentCommand } from '../cluster/agent.ts';
import { startCluster, type Cluster } from '../cluster/cluster.ts';
import { endpointSliceFor } from '../cluster/endpoint-slice.ts';
import { Proc, runIn, type Placement } from '../cluster/proc.ts';
import { run } from '../cluster/run.ts';
import { echo, startEchoServer, waitForHttp } from '../cluster/workload.ts';
import { openPinnedMap } from 'bpf-loader-napi';
import { addr16, eventually, serviceEntriesFor, sleep, startReadyAgent } from './support.ts';

const NS = 'kpb-restart';
const PORT = 8080;
const STREAM = join(import.meta.dirname, 'bin', 'stream-client.ts');
// See node-port.test.ts: native XDP_TX is lost on this veth fabric.
const AGENT_ARGS = ['--v=2', '--bpf-xdp=generic'];
// A short syncPeriod, so the periodic sync that repairs the maps comes within the test's patience.
const AGENT_OPTS = { config: { iptables: { syncPeriod: '5s', minSyncPeriod: '1s' } } };

/** Runs a bpftool -j command and parses its output; the error shows what came back. */
async function bpftoolJson<T>(argv: string[], place?: Placement): Promise<T> {
  const full = ['bpftool', '-j', ...argv];
  const r = place ? await runIn(place, full, { allowFailure: true }) : await run(full, { allowFailure: true });
  try {
    return JSON.parse(r.stdout.trim() === '' ? '[]' : r.stdout) as T;
  } catch {
    throw new Error(`${full.join(' ')}: exit ${r.code}, stdout ${JSON.stringify(r.stdout)}, stderr ${JSON.stringify(r.stderr)}`);
  }
}

describe('restarts, apiserver outage and --cleanup', () => {
  let cluster: Cluster;
  let agentA: Proc;
  let nodePort = 0;
  let clusterIP = '';

  before(async () => {
    cluster = await startCluster();
    const b1 = cluster.nodes['node-b'].pods[0]!;
    await startEchoServer(b1.place, b1.name, [PORT], cluster.teardown);
    await cluster.admin.createNamespace(NS);
    const svc = await cluster.admin.createService(NS, { metadata: { name: 'echo' }, spec: { type: 'NodePort', ports: [{ name: 'tcp', port: 80, targetPort: PORT }, { name: 'udp', port: 53, targetPort: PORT, protocol: 'UDP' }] } });
    nodePort = svc.spec!.ports!.find((p) => p.name === 'tcp')!.nodePort!;
    clusterIP = svc.spec!.clusterIP!;
    await cluster.admin.createEndpointSlice(NS, endpointSliceFor('echo', 'IPv4', [{ target: b1 }], [{ name: 'tcp', port: PORT }, { name: 'udp', port: PORT, protocol: 'UDP' }]));
    agentA = await startReadyAgent(cluster.nodes['node-a'], AGENT_ARGS, AGENT_OPTS);
    await startReadyAgent(cluster.nodes['node-b'], AGENT_ARGS, AGENT_OPTS);
  });

  after(async () => {
    await cluster?.stop();
  });

  test('SIGKILL during long conversations (TCP NodePort through SNAT to a remote backend, UDP ClusterIP from a pod): both survive, the restarted agent adopts the state and serves new connections', async (t) => {
    const nodeA = cluster.nodes['node-a'];
    const a1 = nodeA.pods[0]!;
    await eventually('NodePort served', () => echo(cluster.client, 'tcp', nodeA.ipv4, nodePort, { timeoutMs: 1_000 }));
    const streams = [
      new Proc(cluster.client, [process.execPath, STREAM, 'tcp', nodeA.ipv4, String(nodePort), '8', '50'], { name: 'tcp stream client' }),
      new Proc(a1.place, [process.execPath, STREAM, 'udp', clusterIP, '53', '8', '50'], { name: 'udp stream client' }),
    ];
    for (const s of streams) cluster.teardown.add(s.name, () => s.stop(), () => s.kill());
    await sleep(2_000);
    agentA.kill();
    await agentA.exited;
    await sleep(1_000);
    const restarted = await startReadyAgent(nodeA, AGENT_ARGS, AGENT_OPTS);
    for (const stream of streams) {
      const { code } = await stream.exited;
      const summary = JSON.parse(stream.output.trim().split('\n').pop()!) as { ok: boolean; why: string; sent: number; got: number; maxGapMs: number };
      t.diagnostic(`${stream.name}: ${JSON.stringify(summary)}`);
      assert.equal(code, 0, `${stream.name}: the conversation broke: ${summary.why}`);
      assert.ok(summary.got > 100);
    }
    // The restart replaced programs in place and found the maps already right.
    assert.match(restarted.output, /"Socket load balancing" mode="on" attached=0 updated=10/);
    assert.match(restarted.output, /"Attached the north-south datapath" device="eth0" tc="replaced" xdp="generic"/);
    assert.doesNotMatch(restarted.output, /"Synced the service maps" mode="full" ops=[1-9]/, 'the first sync after the restart rewrote entries: ids were not adopted');
    const [reply] = await echo(cluster.client, 'tcp', nodeA.ipv4, nodePort, { timeoutMs: 2_000 });
    assert.equal(reply!.name, 'b-pod1');
    agentA = restarted;
  });

  test('a restart with larger maps migrates the pinned maps (conntrack, SNAT, affinity state kept) while long conversations run', async (t) => {
    const nodeA = cluster.nodes['node-a'];
    const a1 = nodeA.pods[0]!;
    await eventually('NodePort served', () => echo(cluster.client, 'tcp', nodeA.ipv4, nodePort, { timeoutMs: 1_000 }));
    const ctBefore = openPinnedMap(`${nodeA.pinPath}/kpb_ct4`);
    const [oldId, oldMax] = [ctBefore.info().id, ctBefore.info().maxEntries];
    ctBefore.close();
    const streams = [
      new Proc(cluster.client, [process.execPath, STREAM, 'tcp', nodeA.ipv4, String(nodePort), '12', '50'], { name: 'tcp stream client (migration)' }),
      new Proc(a1.place, [process.execPath, STREAM, 'udp', clusterIP, '53', '12', '50'], { name: 'udp stream client (migration)' }),
    ];
    for (const s of streams) cluster.teardown.add(s.name, () => s.stop(), () => s.kill());
    await sleep(2_000);
    await agentA.stop();
    const grown = ['--bpf-map-conntrack=524288', '--bpf-map-snat=524288', '--bpf-map-services=131072', '--bpf-map-backends=131072', '--bpf-map-affinity=131072', '--bpf-map-sock-rev-nat=524288'];
    const restarted = await startReadyAgent(nodeA, [...AGENT_ARGS, ...grown], AGENT_OPTS);
    agentA = restarted;
    for (const stream of streams) {
      const { code } = await stream.exited;
      const summary = JSON.parse(stream.output.trim().split('\n').pop()!) as { ok: boolean; why: string; got: number; maxGapMs: number };
      t.diagnostic(`${stream.name}: ${JSON.stringify(summary)}`);
      assert.equal(code, 0, `${stream.name}: the conversation broke across the migration: ${summary.why}`);
      assert.ok(summary.got > 150);
    }
    for (const map of ['kpb_ct4', 'kpb_ct6', 'lb_services', 'lb_backends', 'lb_affinity', 'lb_sock_rev_nat']) {
      assert.match(restarted.output, new RegExp(`"Migrating a pinned map" map="${map}" kind="copy"`), `${map} was not migrated`);
    }
    // The SNAT reservation table's slot is the tuple's hash masked by its size: re-placed, not copied.
    for (const map of ['kpb_snat4', 'kpb_snat6']) {
      assert.match(restarted.output, new RegExp(`"Migrating a pinned map" map="${map}" kind="convert"`), `${map} was not migrated`);
    }
    await restarted.waitFor(/"Finished migrating a pinned map" map="kpb_snat4"/, 30_000);
    assert.doesNotMatch(restarted.output, /"Synced the service maps" mode="full" ops=[1-9]/, 'the service entries were not carried over: the first sync rewrote them');
    const ct = openPinnedMap(`${nodeA.pinPath}/kpb_ct4`);
    try {
      assert.notEqual(ct.info().id, oldId);
      assert.equal(oldMax, 262144);
      assert.equal(ct.info().maxEntries, 524288);
    } finally {
      ct.close();
    }
    assert.deepEqual(readdirSync(`${nodeA.pinPath}/migrate`), [], 'old pins left in migrate/');
    const [reply] = await echo(cluster.client, 'tcp', nodeA.ipv4, nodePort, { timeoutMs: 2_000 });
    assert.equal(reply!.name, 'b-pod1');
  });

  test('a service entry deleted behind the agent\'s back is restored by the next periodic sync', async (t) => {
    const nodeA = cluster.nodes['node-a'];
    const a1 = nodeA.pods[0]!;
    await eventually('ClusterIP served', () => echo(a1.place, 'tcp', clusterIP, 80, { timeoutMs: 1_000 }));
    // lb_service_key {addr[16], port be16, proto, scope}: the ClusterIP's INTERNAL entry.
    const key = Buffer.concat([addr16(clusterIP), Buffer.from([0, 80, 6, 1])]);
    const map = openPinnedMap(`${nodeA.pinPath}/lb_services`);
    try {
      assert.equal(map.delete(key), true, 'the ClusterIP entry was not in lb_services');
    } finally {
      map.close();
    }
    const { ms } = await eventually('ClusterIP restored', () => echo(a1.place, 'tcp', clusterIP, 80, { timeoutMs: 1_000 }), 15_000, 200);
    t.diagnostic(`restored after ${ms} ms`);
    assert.match(agentA.output, /The LB maps differed from the programmed state; repaired/);
  });

  test('apiserver stopped for 30 s: traffic keeps flowing; afterwards the agents pick up new Services', async () => {
    const nodeA = cluster.nodes['node-a'];
    const a1 = nodeA.pods[0]!;
    const apiserver = cluster.controlPlane.apiserver;
    const argv = readFileSync(`/proc/${apiserver.pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
    await apiserver.stop();
    const until = Date.now() + 30_000;
    for (let i = 0; Date.now() < until && i < 100; i++) {
      const [viaClusterIP] = await echo(a1.place, 'tcp', clusterIP, 80, { timeoutMs: 2_000 });
      assert.equal(viaClusterIP!.name, 'b-pod1');
      const [viaNodePort] = await echo(cluster.client, 'tcp', nodeA.ipv4, nodePort, { timeoutMs: 2_000 });
      assert.equal(viaNodePort!.name, 'b-pod1');
      await sleep(2_000);
    }
    const again = new Proc(cluster.controlPlanePlace, argv, { name: 'kube-apiserver (restarted)', logFile: join(cluster.dir, 'kube-apiserver-2.log') });
    cluster.teardown.add('kube-apiserver (restarted)', () => again.stop(), () => again.kill());
    await eventually('apiserver ready again', () => cluster.admin.core.listNamespace(), 60_000, 500);
    // Right after start the apiserver's ClusterIP allocator may still answer "range is full".
    const { value: svc } = await eventually('Service created after the restart', () => cluster.admin.createService(NS, { metadata: { name: 'after' }, spec: { ports: [{ name: 'tcp', port: 80, targetPort: PORT }] } }), 30_000, 500);
    await cluster.admin.createEndpointSlice(NS, endpointSliceFor('after', 'IPv4', [{ target: cluster.nodes['node-b'].pods[0]! }], [{ name: 'tcp', port: PORT }]));
    // The informers reconnect with backoff; allow them a generous bound.
    for (const node of Object.values(cluster.nodes)) {
      await eventually(`new Service programmed on ${node.name}`, () => assert.ok(serviceEntriesFor(node, svc.spec!.clusterIP!).length > 0), 70_000, 500);
    }
    // Each informer reconnects on its own backoff (up to 30 s plus jitter), so the slice may
    // arrive well after its Service: refused until then.
    const { value: [reply] } = await eventually('new Service served', () => echo(a1.place, 'tcp', svc.spec!.clusterIP!, 80, { timeoutMs: 1_000 }), 70_000, 500);
    assert.equal(reply!.name, 'b-pod1');
    await waitForHttp(nodeA.place, 'http://127.0.0.1:10256/healthz', 30_000);
  });

  test('SIGTERM keeps the datapath programmed; --cleanup then removes every program, link, tc filter, XDP attachment and pin', async () => {
    const nodeA = cluster.nodes['node-a'];
    await agentA.stop();
    const [stillServed] = await echo(cluster.client, 'tcp', nodeA.ipv4, nodePort, { timeoutMs: 2_000 });
    assert.equal(stillServed!.name, 'b-pod1', 'a stopped agent must leave the datapath forwarding');

    const progIds = new Set<number>();
    const cg = await bpftoolJson<{ id: number }[]>(['cgroup', 'show', nodeA.cgroup]);
    for (const p of cg) progIds.add(p.id);
    const net = await bpftoolJson<{ xdp: { id: number }[]; tc: { id: number }[] }[]>(['net', 'show', 'dev', 'eth0'], nodeA.place);
    for (const p of [...net[0]!.xdp, ...net[0]!.tc]) progIds.add(p.id);
    assert.ok(cg.length === 10 && net[0]!.tc.length === 2 && net[0]!.xdp.length === 1, `unexpected attachments before cleanup: ${JSON.stringify({ cg, net })}`);

    const res = await runIn(nodeA.place, [...agentCommand(), '--cleanup', `--bpf-pin-path=${nodeA.pinPath}`, '--v=2'], { allowFailure: true, timeoutMs: 60_000 });
    assert.equal(res.code, 0, `--cleanup failed: ${res.stderr}`);
    assert.equal(existsSync(nodeA.pinPath), false, 'pin folder left behind');
    assert.deepEqual(await bpftoolJson(['cgroup', 'show', nodeA.cgroup]), [], 'cgroup programs left attached');
    const after = await bpftoolJson<{ xdp: unknown[]; tc: unknown[] }[]>(['net', 'show', 'dev', 'eth0'], nodeA.place);
    assert.deepEqual([after[0]!.xdp, after[0]!.tc], [[], []], 'XDP or tc programs left on eth0');
    await eventually('programs freed', async () => {
      for (const id of progIds) {
        const r = await run(['bpftool', 'prog', 'show', 'id', String(id)], { allowFailure: true });
        assert.notEqual(r.code, 0, `program ${id} still loaded`);
      }
    }, 5_000);
    await assert.rejects(echo(cluster.client, 'tcp', nodeA.ipv4, nodePort, { timeoutMs: 1_000 }), 'the NodePort still answers after --cleanup');
  });
});
