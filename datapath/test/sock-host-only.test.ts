// --bpf-socket-lb=host-namespace-only at the socket (sock.bpf.c, lb_host_netns_only): the node's own
// namespace is translated as in "on" mode, a pod's sockets are left alone (their packets are
// translated at the pod interfaces instead, pod.bpf.c): connect, sendmsg, recvmsg and getpeername
// all see the frontend. Real sockets in a throwaway cgroup and two throwaway namespaces.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SockEnv } from './sock-harness.ts';
import { SVC, SCOPE_INTERNAL, TCP, UDP } from './lb-maps.ts';

const BACKEND = '198.18.0.1';
const VIP = '198.19.0.1';
const NODE4 = '192.0.2.10';

let env: SockEnv;

describe('socket LB limited to the node\'s namespace', { timeout: 120_000 }, () => {
  before(async () => {
    env = await SockEnv.create({ tag: 'hostonly', addresses: [BACKEND, NODE4], listeners: [{ ip: BACKEND, port: 8080 }], rodata: { lb_host_netns_only: true } });
    const m = env.maps;
    m.putBackend(1, { ip: BACKEND, port: 8080, proto: TCP });
    m.putBackend(2, { ip: BACKEND, port: 8080, proto: UDP });
    m.putService({ ip: VIP, port: 80, proto: TCP, scope: SCOPE_INTERNAL, flags: SVC.CLUSTER_IP, serviceId: 1, backendIds: [1] });
    m.putService({ ip: VIP, port: 53, proto: UDP, scope: SCOPE_INTERNAL, flags: SVC.CLUSTER_IP, serviceId: 2, backendIds: [2] });
    m.putVipMarker(VIP, 1);
  });
  after(async () => { await env?.close(); });

  it('translates the node\'s sockets and leaves a pod\'s to the packet path', async () => {
    const before = env.maps.stats();
    const [node, nodeUdp] = await env.run([
      { op: 'tcp', host: VIP, port: 80, n: 3 },
      { op: 'udp', type: 'udp4', host: VIP, port: 53, sockets: 2, datagrams: 1 },
    ]);
    assert.deepEqual(node.map((o) => o.answer), new Array(3).fill(`${BACKEND} 8080`));
    assert.deepEqual(node.map((o) => o.peer), new Array(3).fill(`${VIP} 80`), 'getpeername shows the VIP');
    assert.deepEqual(nodeUdp.map((o) => o.peer), new Array(2).fill(`${VIP} 53`), 'recvfrom shows the VIP');
    assert.equal(env.maps.stats().translated - (before.translated ?? 0), 5);

    // In the pod nothing translates the VIP here (the test has no pod programs and the node
    // namespace no route to it), so the connection fails: it left the pod addressed to the VIP.
    const mid = env.maps.stats();
    const [pod, podUdp] = await env.run([
      { op: 'tcp', host: VIP, port: 80, n: 2 },
      { op: 'udp-hold', type: 'udp4', host: VIP, port: 53, sockets: 1 },
    ], env.podNs);
    for (const o of pod) assert.ok(o.error && o.answer === undefined, `untranslated in the pod: ${JSON.stringify(o)}`);
    assert.equal(podUdp[0].peer, `${VIP} 53`, 'a connected UDP socket in the pod is connected to the VIP itself');
    const after = env.maps.stats();
    assert.equal(after.translated - mid.translated, 0, 'nothing translated for the pod');
    assert.equal(after.rev_translated - mid.rev_translated, 0);
  });
});
