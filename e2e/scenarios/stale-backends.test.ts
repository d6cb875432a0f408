// Connections to backends that stop serving, end to end (issue 14 item 1). A pod on node-a holds
// connected UDP sockets and TCP connections to a ClusterIP (the socket LB translated them once, at
// connect()); the test then removes one endpoint through the real apiserver, or makes it not ready,
// or serving-terminating. The removed pod keeps running and would keep answering, so only the
// agent's socket terminator can make the clients notice: they must get an error within 2 s, and a
// UDP client that reconnects must be served by the remaining endpoint. From outside, a UDP flow to
// a NodePort whose backend left must move to the live one (its conntrack entries deleted). Sockets
// opened before an agent restart are ended by the restarted agent too.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { startCluster, type Cluster } from '../cluster/cluster.ts';
import { endpointSliceFor, type SliceEndpoint } from '../cluster/endpoint-slice.ts';
import { Proc } from '../cluster/proc.ts';
import { echo, httpGet, startEchoServer } from '../cluster/workload.ts';
import { eventually, sleep, startAgents, startReadyAgent } from './support.ts';

const NS = 'kpb-stale';
const PORT = 8080;
const HELD = join(import.meta.dirname, 'bin', 'held-client.ts');
/** Sockets of each protocol held by the client: 12 makes "none reached the victim" a 2^-11 event. */
const COUNT = 12;

type Target = SliceEndpoint['target'];
type Event = { event: string; proto?: string; i?: number; backend?: string; code?: string; udp?: string[]; tcp?: string[]; at: number };

function events(p: Proc): Event[] {
  return p.output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Event);
}

describe('connections to backends that stop serving', () => {
  let cluster: Cluster;
  let agents: Awaited<ReturnType<typeof startAgents>>;
  const slicePorts = [{ name: 'tcp', port: PORT, protocol: 'TCP' as const }, { name: 'udp', port: PORT, protocol: 'UDP' as const }];

  before(async () => {
    cluster = await startCluster();
    for (const p of [cluster.nodes['node-a'].pods[1]!, cluster.nodes['node-b'].pods[0]!]) await startEchoServer(p.place, p.name, [PORT], cluster.teardown);
    await cluster.admin.createNamespace(NS);
    agents = await startAgents(cluster, ['--bpf-xdp=generic']);
  });

  after(async () => {
    await cluster?.stop();
  });

  const service = (name: string, type: 'ClusterIP' | 'NodePort' = 'ClusterIP'): V1Service => ({
    metadata: { name },
    spec: { type, ports: [{ name: 'tcp', port: 80, targetPort: PORT, protocol: 'TCP' }, { name: 'udp', port: 53, targetPort: PORT, protocol: 'UDP' }] },
  });

  /** Replaces the slice in one update, so no sync sees the service without endpoints. */
  async function replaceSlice(slice: V1EndpointSlice): Promise<void> {
    await cluster.admin.discovery.replaceNamespacedEndpointSlice({ namespace: NS, name: slice.metadata!.name!, body: slice });
  }

  /**
   * Holds COUNT UDP sockets and COUNT TCP connections from a1 to the ClusterIP of `name`, backed by
   * a2 and b1; then replaces the slice with `change(victim, survivor)`, the victim being the
   * endpoint the first UDP socket reached; waits `watchMs`. Returns what the client saw.
   * `beforeChange` runs once the sockets are held, before the slice changes.
   */
  async function holdAndChange(name: string, change: (victim: Target, survivor: Target) => SliceEndpoint[], watchMs: number, beforeChange?: (client: Proc) => Promise<void>) {
    const a1 = cluster.nodes['node-a'].pods[0]!;
    const backends = [cluster.nodes['node-a'].pods[1]!, cluster.nodes['node-b'].pods[0]!];
    const svc = await cluster.admin.createService(NS, service(name));
    const vip = svc.spec!.clusterIP!;
    await cluster.admin.createEndpointSlice(NS, endpointSliceFor(name, 'IPv4', backends.map((target) => ({ target })), slicePorts));
    await eventually(`${name} programmed`, () => echo(a1.place, 'udp', vip, 53, { timeoutMs: 1_000 }));
    const client = new Proc(a1.place, [process.execPath, HELD, 'hold', vip, '53', '80', String(COUNT), '60'], { name: `held client ${name}` });
    cluster.teardown.add(`held client ${name}`, () => client.stop(), () => client.kill());
    await client.waitFor(/"event":"ready"/, 30_000);
    const ready = events(client).find((e) => e.event === 'ready')!;
    const victim = backends.find((b) => b.name === ready.udp![0])!;
    const survivor = backends.find((b) => b !== victim)!;
    await beforeChange?.(client);
    const changedAt = Date.now();
    await replaceSlice(endpointSliceFor(name, 'IPv4', change(victim, survivor), slicePorts));
    await sleep(watchMs);
    return { client, ready, victim: victim.name, survivor: survivor.name, changedAt };
  }

  /** Every socket to the victim errored within 2 s of the change, none other did; UDP reconnects reach the survivor. */
  function assertEnded(r: Awaited<ReturnType<typeof holdAndChange>>, t: { diagnostic(s: string): void }): void {
    const evs = events(r.client);
    const errors = evs.filter((e) => e.event === 'error' || e.event === 'close');
    for (const proto of ['udp', 'tcp'] as const) {
      const held = r.ready[proto]!;
      const toVictim = held.map((b, i) => [b, i] as const).filter(([b]) => b === r.victim).map(([, i]) => i);
      assert.ok(toVictim.length > 0 && toVictim.length < COUNT, `${proto}: ${toVictim.length} of ${COUNT} sockets reached the victim`);
      const got = errors.filter((e) => e.proto === proto);
      assert.deepEqual(got.map((e) => e.i).sort((a, b) => a! - b!), toVictim, `${proto}: the sockets that ended are exactly those to ${r.victim}: ${JSON.stringify(got)}`);
      for (const e of got) {
        // A destroyed UDP socket has ECONNABORTED pending and is disconnected: whichever the client
        // meets first, the pending error on receive or its next send without a destination.
        assert.ok(e.code === 'ECONNABORTED' || (proto === 'udp' && e.code === 'EDESTADDRREQ'), `${proto} socket ${e.i}: ${JSON.stringify(e)}`);
        assert.ok(e.at - r.changedAt < 2_000, `${proto} socket ${e.i} ended ${e.at - r.changedAt} ms after the change`);
      }
      t.diagnostic(`${proto}: ${got.length} sockets ended, the last ${Math.max(...got.map((e) => e.at - r.changedAt))} ms after the endpoint change`);
    }
    const reconnected = evs.filter((e) => e.event === 'reconnected');
    assert.equal(reconnected.length, r.ready.udp!.filter((b) => b === r.victim).length, 'every failed UDP client reconnected');
    for (const e of reconnected) assert.equal(e.backend, r.survivor, `reconnected UDP socket ${e.i} served by ${e.backend}`);
    assert.ok(!evs.some((e) => e.proto === 'udp-reconnected' || e.proto === 'udp-reconnect'), 'reconnected sockets work');
  }

  test('an endpoint removed from the slice: its UDP sockets and TCP connections get an error within 2 s; UDP reconnects to the remaining endpoint', async (t) => {
    const r = await holdAndChange('removed', (_victim, survivor) => [{ target: survivor }], 3_000);
    assertEnded(r, t);
    const m = await httpGet(cluster.nodes['node-a'].place, 'http://127.0.0.1:10249/metrics');
    assert.match(m.body, /^kubeproxy_bpf_stale_connections_ended_total\{kind="udp_socket"\} [1-9]/m);
    assert.match(m.body, /^kubeproxy_bpf_stale_connections_ended_total\{kind="tcp_socket"\} [1-9]/m);
  });

  test('an endpoint that stops being ready (not serving-terminating) ends its connections the same way', async (t) => {
    const r = await holdAndChange('unready', (victim, survivor) => [{ target: survivor }, { target: victim, ready: false, serving: false, terminating: false }], 3_000);
    assertEnded(r, t);
  });

  test('sockets opened before an agent restart are ended the same way by the restarted agent', async (t) => {
    // The new agent never saw these connect()s: it must find them through the pinned reverse-NAT
    // entries the previous agent's socket programs wrote.
    const r = await holdAndChange('restarted', (_victim, survivor) => [{ target: survivor }], 3_000, async (client) => {
      await agents['node-a'].stop();
      agents['node-a'] = await startReadyAgent(cluster.nodes['node-a'], ['--v=2', '--bpf-xdp=generic']);
      assert.deepEqual(events(client).filter((e) => e.event === 'error' || e.event === 'close'), [], 'no socket ended by the restart itself');
    });
    assertEnded(r, t);
  });

  test('a serving-terminating endpoint keeps its connections (it is draining)', async () => {
    const r = await holdAndChange('draining', (victim, survivor) => [{ target: survivor }, { target: victim, ready: false, serving: true, terminating: true }], 3_000);
    const ended = events(r.client).filter((e) => e.event === 'error' || e.event === 'close');
    assert.deepEqual(ended, [], 'no socket ended while its endpoint drains');
  });

  test('from outside: a UDP flow to a NodePort whose backend left moves to the live backend (conntrack entries deleted)', async (t) => {
    const a2 = cluster.nodes['node-a'].pods[1]!;
    const b1 = cluster.nodes['node-b'].pods[0]!;
    const node = cluster.nodes['node-a'];
    const svc = await cluster.admin.createService(NS, service('np-flow', 'NodePort'));
    const udpNodePort = svc.spec!.ports!.find((p) => p.name === 'udp')!.nodePort!;
    // Another Service keeps a2:8080/UDP in lb_backends after it leaves np-flow, so the datapath's
    // own "backend gone" check cannot move the flow: only the deleted conntrack entries can.
    const other = await cluster.admin.createService(NS, service('np-flow-other'));
    await cluster.admin.createEndpointSlice(NS, endpointSliceFor('np-flow-other', 'IPv4', [{ target: a2 }], slicePorts));
    // One backend first, so the flow's conntrack entry certainly points at it.
    await cluster.admin.createEndpointSlice(NS, endpointSliceFor('np-flow', 'IPv4', [{ target: a2 }], slicePorts));
    await eventually('np-flow-other programmed', () => echo(node.place, 'udp', other.spec!.clusterIP!, 53, { timeoutMs: 1_000 }));
    await eventually('np-flow programmed', () => echo(cluster.client, 'udp', node.ipv4, udpNodePort, { timeoutMs: 1_000 }));
    const stream = new Proc(cluster.client, [process.execPath, HELD, 'stream', node.ipv4, String(udpNodePort), '40'], { name: 'udp stream' });
    cluster.teardown.add('udp stream', () => stream.stop(), () => stream.kill());
    await eventually('the stream is answered by a2', () => {
      const answers = events(stream).filter((e) => e.event === 'answer');
      assert.ok(answers.length >= 3 && answers.at(-1)!.backend === a2.name, `${JSON.stringify(answers.at(-1))}; client output: ${stream.output.slice(-500)}`);
    }, 20_000, 200);
    // Both endpoints, then a2 goes: without the flush the flow would stay on a2, which still answers.
    await replaceSlice(endpointSliceFor('np-flow', 'IPv4', [{ target: a2 }, { target: b1 }], slicePorts));
    await sleep(2_000);
    assert.equal(events(stream).filter((e) => e.event === 'answer').at(-1)!.backend, a2.name, 'an existing flow keeps its backend while it serves');
    const changedAt = Date.now();
    await replaceSlice(endpointSliceFor('np-flow', 'IPv4', [{ target: b1 }], slicePorts));
    const { value: moved } = await eventually('the flow moves to b1', () => {
      const e = events(stream).find((x) => x.event === 'answer' && x.backend === b1.name && x.at > changedAt);
      assert.ok(e, 'no answer from b1 yet');
      return e;
    }, 10_000, 100);
    t.diagnostic(`UDP NodePort flow moved to the live backend ${moved.at - changedAt} ms after the endpoint change`);
    assert.ok(moved.at - changedAt < 2_000, `moved after ${moved.at - changedAt} ms`);
    await sleep(1_000);
    const later = events(stream).filter((e) => e.event === 'answer' && e.at > moved.at);
    assert.ok(later.length > 0 && later.every((e) => e.backend === b1.name), 'stays on the live backend');
    const m = await httpGet(node.place, 'http://127.0.0.1:10249/metrics');
    assert.match(m.body, /^kubeproxy_bpf_stale_connections_ended_total\{kind="conntrack"\} [1-9]/m);
  });
});
