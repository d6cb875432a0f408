// Socket-level service LB (datapath/bpf/sock.bpf.c) against real sockets on the running kernel: the
// programs are attached to a throwaway cgroup, backends listen in a throwaway netns, and clients
// run inside both. Maps are filled through the addon's BTF codecs (lb-maps.ts).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SockEnv } from './sock-harness.ts';
import { SVC, SCOPE_EXTERNAL, SCOPE_INTERNAL, TCP, UDP, lbHashU64 } from './lb-maps.ts';
import type { ServiceSpec } from './lb-maps.ts';
import type { Outcome } from './sock-client.ts';
import { writeServiceCidrs } from '../../src/dataplane/write-service-cidrs.ts';
import { parseCidr } from '../../src/model/ip.ts';

const V4 = ['198.18.0.1', '198.18.0.2', '198.18.0.3', '198.18.0.4'];
const V6 = ['2001:db8:18::1', '2001:db8:18::2', '2001:db8:18::3', '2001:db8:18::4'];
const NODE4 = '192.0.2.10';
const NODE6 = '2001:db8:2::10';
const BE_PORT = 8080;
// Backend ids: TCP v4 1-4, TCP v6 11-14, UDP v4 21-24, UDP v6 31-34.
const ids = (base: number): number[] => [base + 1, base + 2, base + 3, base + 4];
const MAGLEV_M = 16381; // LB_MAGLEV_M_DEFAULT, the object's lb_maglev_m

let env: SockEnv;

function svc(s: Partial<ServiceSpec> & Pick<ServiceSpec, 'ip' | 'port' | 'serviceId' | 'backendIds'>): ServiceSpec {
  return { proto: TCP, scope: SCOPE_INTERNAL, flags: SVC.CLUSTER_IP, ...s };
}

function answers(outs: Outcome[]): string[] {
  return outs.map((o) => {
    assert.equal(o.error, undefined, `unexpected error ${o.error}`);
    return o.answer!;
  });
}

function errors(outs: Outcome[]): string[] {
  return outs.map((o) => o.error ?? `answered by ${o.answer}`);
}

function delta(before: Record<string, number>, field: string): number {
  return env.maps.stats()[field] - (before[field] ?? 0);
}

describe('socket LB (cgroup sock_addr + post_bind)', { timeout: 120_000 }, () => {
  before(async () => {
    env = await SockEnv.create({
      tag: 'main',
      addresses: [...V4, ...V6, NODE4, NODE6],
      listeners: [
        ...V4.map((ip) => ({ ip, port: BE_PORT })),
        ...V6.map((ip) => ({ ip, port: BE_PORT })),
        // Answer only if 127.0.0.1:30081 and [::1]:30083 are NOT translated (those NodePorts lack
        // the localhost flag).
        { ip: '127.0.0.1', port: 30081 },
        { ip: '::1', port: 30083 },
      ],
    });
    const m = env.maps;
    V4.forEach((ip, i) => m.putBackend(i + 1, { ip, port: BE_PORT, proto: TCP }));
    V6.forEach((ip, i) => m.putBackend(i + 11, { ip, port: BE_PORT, proto: TCP }));
    V4.forEach((ip, i) => m.putBackend(i + 21, { ip, port: BE_PORT, proto: UDP }));
    V6.forEach((ip, i) => m.putBackend(i + 31, { ip, port: BE_PORT, proto: UDP }));
    m.putNodeAddr(NODE4);
    m.putNodeAddr(NODE6);

    // ClusterIPs with markers
    m.putService(svc({ ip: '198.19.0.1', port: 80, serviceId: 1, backendIds: ids(0) }));
    m.putService(svc({ ip: '198.19.0.1', port: 53, proto: UDP, serviceId: 2, backendIds: ids(20) }));
    m.putVipMarker('198.19.0.1', 1);
    m.putService(svc({ ip: '2001:db8:19::1', port: 80, serviceId: 3, backendIds: ids(10) }));
    m.putService(svc({ ip: '2001:db8:19::1', port: 53, proto: UDP, serviceId: 4, backendIds: ids(30) }));
    m.putVipMarker('2001:db8:19::1', 3);
    // No endpoints
    m.putService(svc({ ip: '198.19.0.2', port: 80, serviceId: 5, backendIds: [] }));
    m.putService(svc({ ip: '198.19.0.2', port: 53, proto: UDP, serviceId: 6, backendIds: [] }));
    m.putService(svc({ ip: '2001:db8:19::2', port: 80, serviceId: 7, backendIds: [] }));
    m.putVipMarker('198.19.0.2', 5);
    m.putVipMarker('2001:db8:19::2', 7);
    // NodePorts: 30080 on both families and on 127.0.0.1 and ::1; 30081 v4 and 30083 v6 without the
    // localhost flag.
    m.putService(svc({ ip: 4, port: 30080, serviceId: 10, backendIds: ids(0), scope: SCOPE_EXTERNAL, flags: SVC.NODEPORT | SVC.LOCALHOST_NODEPORT }));
    m.putService(svc({ ip: 6, port: 30080, serviceId: 11, backendIds: ids(10), scope: SCOPE_EXTERNAL, flags: SVC.NODEPORT | SVC.LOCALHOST_NODEPORT }));
    m.putService(svc({ ip: 4, port: 30081, serviceId: 12, backendIds: ids(0), scope: SCOPE_EXTERNAL, flags: SVC.NODEPORT }));
    m.putService(svc({ ip: 4, port: 30082, serviceId: 15, backendIds: ids(0), scope: SCOPE_EXTERNAL, flags: SVC.NODEPORT }));
    m.putService(svc({ ip: 4, port: 30083, proto: UDP, serviceId: 17, backendIds: ids(20), scope: SCOPE_EXTERNAL, flags: SVC.NODEPORT }));
    m.putService(svc({ ip: 6, port: 30083, proto: UDP, serviceId: 18, backendIds: ids(30), scope: SCOPE_EXTERNAL, flags: SVC.NODEPORT }));
    // ExternalIP with eTP=Local, encoded as src/translate does: the external entry holds the
    // local set (none here, so empty with ETP_LOCAL: drop) and is flagged TWO_SCOPES; the internal
    // twin, with its own service id, holds the cluster set (backend 2), which the node and pods use.
    m.putService(svc({ ip: '203.0.113.5', port: 80, serviceId: 13, backendIds: [], scope: SCOPE_EXTERNAL, flags: SVC.EXTERNAL_IP | SVC.ETP_LOCAL | SVC.TWO_SCOPES }));
    m.putService(svc({ ip: '203.0.113.5', port: 80, serviceId: 19, backendIds: [2], scope: SCOPE_INTERNAL, flags: SVC.EXTERNAL_IP }));
    // LoadBalancer IP, one scope only.
    m.putService(svc({ ip: '203.0.113.6', port: 80, serviceId: 14, backendIds: [3], scope: SCOPE_EXTERNAL, flags: SVC.LOADBALANCER }));
    // LoadBalancer IP with loadBalancerSourceRanges: left to the packet path.
    m.putService(svc({ ip: '203.0.113.7', port: 80, serviceId: 16, backendIds: [3], scope: SCOPE_EXTERNAL, flags: SVC.LOADBALANCER | SVC.SOURCE_RANGES }));
    m.putVipMarker('203.0.113.7', 16, SVC.LOADBALANCER);
    m.putVipMarker('203.0.113.5', 13, SVC.EXTERNAL_IP);
    m.putVipMarker('203.0.113.6', 14, SVC.LOADBALANCER);
  });

  after(async () => {
    await env?.close();
  });

  it('ClusterIP TCP: IPv4, IPv6 and v4-mapped on an IPv6 socket reach a backend; getpeername shows the VIP', async () => {
    const before = env.maps.stats();
    const [v4, v6, mapped] = await env.run([
      { op: 'tcp', host: '198.19.0.1', port: 80, n: 40 },
      { op: 'tcp', host: '2001:db8:19::1', port: 80, n: 40 },
      { op: 'tcp', host: '::ffff:198.19.0.1', port: 80, n: 20 },
    ]);
    for (const a of answers(v4)) assert.ok(V4.map((ip) => `${ip} ${BE_PORT}`).includes(a), a);
    for (const a of answers(v6)) assert.ok(V6.map((ip) => `${ip} ${BE_PORT}`).includes(a), a);
    for (const a of answers(mapped)) assert.ok(V4.map((ip) => `${ip} ${BE_PORT}`).includes(a), a);
    assert.deepEqual(new Set(v4.map((o) => o.peer)), new Set(['198.19.0.1 80']));
    assert.deepEqual(new Set(v6.map((o) => o.peer)), new Set(['2001:db8:19::1 80']));
    assert.deepEqual(new Set(mapped.map((o) => o.peer)), new Set(['::ffff:198.19.0.1 80']));
    assert.ok(delta(before, 'translated') >= 100);
    assert.ok(delta(before, 'rev_translated') >= 100, 'getpeername went through lb_sock_rev_nat');
  });

  it('ClusterIP UDP: sendto is translated, recvfrom shows the VIP, one socket keeps one backend', async () => {
    const [v4, v6, mapped, conn4, conn6] = await env.run([
      { op: 'udp', type: 'udp4', host: '198.19.0.1', port: 53, sockets: 12, datagrams: 3 },
      { op: 'udp', type: 'udp6', host: '2001:db8:19::1', port: 53, sockets: 6, datagrams: 3 },
      { op: 'udp', type: 'udp6', host: '::ffff:198.19.0.1', port: 53, sockets: 6, datagrams: 2 },
      { op: 'udp', type: 'udp4', host: '198.19.0.1', port: 53, sockets: 4, datagrams: 2, connected: true },
      { op: 'udp', type: 'udp6', host: '2001:db8:19::1', port: 53, sockets: 4, datagrams: 2, connected: true },
    ]);
    const check = (outs: Outcome[], backends: string[], peer: string): void => {
      const perSocket = new Map<number, Set<string>>();
      for (const o of outs) {
        assert.equal(o.error, undefined, `datagram ${JSON.stringify(o)}`);
        assert.ok(backends.map((ip) => `${ip} ${BE_PORT}`).includes(o.answer!), o.answer);
        assert.equal(o.peer, peer);
        perSocket.set(o.socket!, (perSocket.get(o.socket!) ?? new Set()).add(o.answer!));
      }
      for (const [s, set] of perSocket) assert.equal(set.size, 1, `socket ${s} reached ${[...set]}`);
    };
    check(v4, V4, '198.19.0.1 53');
    check(v6, V6, '2001:db8:19::1 53');
    check(mapped, V4, '::ffff:198.19.0.1 53');
    check(conn4, V4, '198.19.0.1 53');
    check(conn6, V6, '2001:db8:19::1 53');
  });

  it('no usable endpoints: connect and sendto fail with ECONNREFUSED, nothing leaves', async () => {
    const before = env.maps.stats();
    const [t4, t6, u4] = await env.run([
      { op: 'tcp', host: '198.19.0.2', port: 80, n: 3 },
      { op: 'tcp', host: '2001:db8:19::2', port: 80, n: 3 },
      { op: 'udp', type: 'udp4', host: '198.19.0.2', port: 53, sockets: 2 },
    ]);
    assert.deepEqual(errors([...t4, ...t6, ...u4]), new Array(8).fill('ECONNREFUSED'));
    assert.equal(delta(before, 'refused_no_backends'), 8);
  });

  it('a known VIP on an unknown port is refused; other addresses pass untouched', async () => {
    const before = env.maps.stats();
    const [t4, t6, u4, direct, unrouted] = await env.run([
      { op: 'tcp', host: '198.19.0.1', port: 81, n: 2 },
      { op: 'tcp', host: '2001:db8:19::1', port: 81, n: 2 },
      { op: 'udp', type: 'udp4', host: '198.19.0.1', port: 54, sockets: 2 },
      { op: 'tcp', host: V4[0], port: BE_PORT, n: 2 },
      // Not a VIP and no route: the kernel's own verdict, proving the refusal above is the marker's.
      { op: 'tcp', host: '198.19.99.99', port: 80, n: 1 },
    ]);
    assert.deepEqual(errors([...t4, ...t6, ...u4]), new Array(6).fill('ECONNREFUSED'));
    assert.equal(delta(before, 'refused_unknown_port'), 6);
    assert.deepEqual(answers(direct), [`${V4[0]} ${BE_PORT}`, `${V4[0]} ${BE_PORT}`]);
    assert.deepEqual(errors(unrouted), ['ENETUNREACH']);
  });

  it('an unallocated address of a service CIDR is refused (EHOSTUNREACH, kube-proxy\'s nftables drop); VIPs and other addresses are not', async () => {
    // CIDRs no other test uses: 198.19.99.99 (outside) must keep reaching the kernel's own verdict.
    const cidrMap = env.maps.map('lb_service_cidrs');
    const cidrs = ['198.19.128.0/17', '2001:db8:19:1::/64'];
    // Written by the control plane's writer (the host bits of the first are cleared by parsing).
    assert.deepEqual(writeServiceCidrs(cidrMap, ['198.19.200.9/17', cidrs[1]!].map((c) => parseCidr(c)!)), { added: cidrs, removed: [] });
    try {
      env.maps.putService(svc({ ip: '198.19.128.1', port: 80, serviceId: 50, backendIds: ids(0) }));
      env.maps.putVipMarker('198.19.128.1', 50);
      const before = env.maps.stats();
      const [t4, t6, mapped, u4, u6, vip, vipPort, outside, other] = await env.run([
        { op: 'tcp', host: '198.19.200.1', port: 80, n: 2 },
        { op: 'tcp', host: '2001:db8:19:1::99', port: 443, n: 2 },
        { op: 'tcp', host: '::ffff:198.19.200.1', port: 80, n: 1 },
        { op: 'udp', type: 'udp4', host: '198.19.255.254', port: 53, sockets: 2 },
        { op: 'udp', type: 'udp6', host: '2001:db8:19:1::99', port: 53, sockets: 1, connected: true },
        { op: 'tcp', host: '198.19.128.1', port: 80, n: 3 },   // an allocated ClusterIP inside the CIDR
        { op: 'tcp', host: '198.19.128.1', port: 81, n: 1 },   // its unknown port: the marker's refusal
        { op: 'tcp', host: '198.19.99.99', port: 80, n: 1 },   // outside every CIDR: untouched
        { op: 'tcp', host: '198.19.200.2', port: 80, n: 1 },
      ]);
      assert.deepEqual(errors([...t4, ...t6, ...mapped, ...u4, ...u6]), new Array(8).fill('EHOSTUNREACH'));
      for (const a of answers(vip)) assert.ok(V4.map((ip) => `${ip} ${BE_PORT}`).includes(a), a);
      assert.deepEqual(errors(vipPort), ['ECONNREFUSED']);
      assert.deepEqual(errors(outside), ['ENETUNREACH']);
      assert.deepEqual(errors(other), ['EHOSTUNREACH']);
      assert.equal(delta(before, 'dropped_unallocated'), 9);
      assert.equal(delta(before, 'refused_unknown_port'), 1);
      const [fromPod] = await env.run([{ op: 'tcp', host: '198.19.200.3', port: 80, n: 2 }], env.podNs);
      assert.deepEqual(errors(fromPod), ['EHOSTUNREACH', 'EHOSTUNREACH'], 'pods are refused too');
    } finally {
      assert.deepEqual(writeServiceCidrs(cidrMap, []), { added: [], removed: cidrs });
    }
    // Without the CIDRs the same address is nobody's business again.
    const [again] = await env.run([{ op: 'tcp', host: '198.19.200.1', port: 80, n: 1 }]);
    assert.deepEqual(errors(again), ['ENETUNREACH']);
  });

  it('NodePort from the node: node addresses of both families, TCP and UDP, 127.0.0.1 and ::1 only with the localhost flag', async () => {
    const before = env.maps.stats();
    const [n4, n6, lo, loNoFlag, n4b, u4, u6, lo6, lo6mapped, lo6NoFlag] = await env.run([
      { op: 'tcp', host: NODE4, port: 30080, n: 10 },
      { op: 'tcp', host: NODE6, port: 30080, n: 10 },
      { op: 'tcp', host: '127.0.0.1', port: 30080, n: 10 },
      { op: 'tcp', host: '127.0.0.1', port: 30081, n: 2 },
      { op: 'tcp', host: NODE4, port: 30081, n: 4 },
      { op: 'udp', type: 'udp4', host: NODE4, port: 30083, sockets: 3, datagrams: 2 },
      { op: 'udp', type: 'udp6', host: NODE6, port: 30083, sockets: 3, datagrams: 2 },
      { op: 'tcp', host: '::1', port: 30080, n: 10 },
      { op: 'tcp', host: '::ffff:127.0.0.1', port: 30080, n: 4 },
      // The v6 UDP NodePort 30083 has no localhost flag: [::1]:30083 stays the node's own port.
      { op: 'udp', type: 'udp6', host: '::1', port: 30083, sockets: 1, datagrams: 2 },
    ]);
    for (const a of answers(lo6)) assert.ok(V6.map((ip) => `${ip} ${BE_PORT}`).includes(a), a);
    assert.deepEqual(new Set(lo6.map((o) => o.peer)), new Set(['::1 30080']));
    for (const a of answers(lo6mapped)) assert.ok(V4.map((ip) => `${ip} ${BE_PORT}`).includes(a), a);
    assert.deepEqual(new Set(lo6mapped.map((o) => o.peer)), new Set(['::ffff:127.0.0.1 30080']));
    assert.deepEqual(answers(lo6NoFlag), ['::1 30083', '::1 30083']);
    for (const a of answers(u4)) assert.ok(V4.map((ip) => `${ip} ${BE_PORT}`).includes(a), a);
    for (const a of answers(u6)) assert.ok(V6.map((ip) => `${ip} ${BE_PORT}`).includes(a), a);
    assert.deepEqual(new Set(u4.map((o) => o.peer)), new Set([`${NODE4} 30083`]));
    assert.deepEqual(new Set(u6.map((o) => o.peer)), new Set([`${NODE6} 30083`]));
    for (const a of answers([...n4, ...lo, ...n4b])) assert.ok(V4.map((ip) => `${ip} ${BE_PORT}`).includes(a), a);
    for (const a of answers(n6)) assert.ok(V6.map((ip) => `${ip} ${BE_PORT}`).includes(a), a);
    assert.deepEqual(new Set(n4.map((o) => o.peer)), new Set([`${NODE4} 30080`]));
    assert.deepEqual(new Set(n6.map((o) => o.peer)), new Set([`${NODE6} 30080`]));
    assert.deepEqual(new Set(lo.map((o) => o.peer)), new Set(['127.0.0.1 30080']));
    assert.deepEqual(answers(loNoFlag), ['127.0.0.1 30081', '127.0.0.1 30081']);
    assert.equal(delta(before, 'translated_nodeport'), 34 + 12 + 14);
  });

  it('NodePort on 127.0.0.1 and ::1 is the node\'s only: a pod\'s own loopback is not translated', async () => {
    const before = env.maps.stats();
    const [lo, lo6] = await env.run([
      { op: 'tcp', host: '127.0.0.1', port: 30080, n: 2 },
      { op: 'tcp', host: '::1', port: 30080, n: 2 },
    ], env.podNs);
    assert.deepEqual(errors([...lo, ...lo6]), new Array(4).fill('ECONNREFUSED')); // the pod's loopback, nothing listens
    assert.equal(delta(before, 'translated_nodeport'), 0);
    assert.equal(delta(before, 'refused_no_backends') + delta(before, 'refused_unknown_port'), 0);
  });

  it('pods are translated too: ClusterIP and NodePort on a node address from another netns', async () => {
    const [t4, t6, u4, np] = await env.run([
      { op: 'tcp', host: '198.19.0.1', port: 80, n: 10 },
      { op: 'tcp', host: '2001:db8:19::1', port: 80, n: 10 },
      { op: 'udp', type: 'udp4', host: '198.19.0.1', port: 53, sockets: 4, datagrams: 2 },
      { op: 'tcp', host: NODE4, port: 30080, n: 5 },
    ], env.podNs);
    for (const a of answers([...t4, ...u4, ...np])) assert.ok(V4.map((ip) => `${ip} ${BE_PORT}`).includes(a), a);
    for (const a of answers(t6)) assert.ok(V6.map((ip) => `${ip} ${BE_PORT}`).includes(a), a);
    assert.deepEqual(new Set(u4.map((o) => o.peer)), new Set(['198.19.0.1 53']));
    assert.deepEqual(new Set(np.map((o) => o.peer)), new Set([`${NODE4} 30080`]));
  });

  it('ExternalIP with two scopes uses the internal entry; a one-scope LoadBalancer IP its only entry; source ranges pass', async () => {
    const before = env.maps.stats();
    const [ext, lb, ranged] = await env.run([
      { op: 'tcp', host: '203.0.113.5', port: 80, n: 12 },
      { op: 'tcp', host: '203.0.113.6', port: 80, n: 6 },
      // Source ranges: not translated (no route to it in the test netns: the kernel's verdict).
      { op: 'tcp', host: '203.0.113.7', port: 80, n: 1 },
    ]);
    assert.deepEqual(errors(ranged), ['ENETUNREACH']);
    assert.equal(delta(before, 'passed_source_ranges'), 1);
    assert.deepEqual(new Set(answers(ext)), new Set([`${V4[1]} ${BE_PORT}`]));
    assert.deepEqual(new Set(answers(lb)), new Set([`${V4[2]} ${BE_PORT}`]));
    assert.deepEqual(new Set(ext.map((o) => o.peer)), new Set(['203.0.113.5 80']));
  });

  it('post_bind refuses a node process binding a NodePort port (EADDRINUSE); pods and other ports are free', async () => {
    const before = env.maps.stats();
    const node = await env.run([
      { op: 'bind', proto: 'tcp', host: '0.0.0.0', port: 30080 },
      { op: 'bind', proto: 'tcp', host: NODE4, port: 30080 },
      { op: 'bind', proto: 'tcp', host: '::', port: 30080 },
      { op: 'bind', proto: 'tcp', host: NODE6, port: 30080 },
      { op: 'bind', proto: 'tcp', host: '127.0.0.1', port: 30080 },
      { op: 'bind', proto: 'tcp', host: '::1', port: 30080 },
      { op: 'bind', proto: 'tcp', host: '127.0.0.1', port: 30082 }, // no localhost flag there
      { op: 'bind', proto: 'tcp', host: V4[0], port: 30080 },       // not a node address
      { op: 'bind', proto: 'udp', host: '0.0.0.0', port: 30080 },   // the NodePort is TCP only
      { op: 'bind', proto: 'tcp', host: '0.0.0.0', port: 30090 },   // no NodePort
    ]);
    const pod = await env.run([{ op: 'bind', proto: 'tcp', host: '0.0.0.0', port: 30080 }], env.podNs);
    assert.deepEqual(node.map((o) => o[0].error ?? o[0].answer), [
      'EADDRINUSE', 'EADDRINUSE', 'EADDRINUSE', 'EADDRINUSE', 'EADDRINUSE', 'EADDRINUSE',
      'bound', 'bound', 'bound', 'bound',
    ]);
    assert.deepEqual(pod[0].map((o) => o.error ?? o.answer), ['bound']);
    assert.equal(delta(before, 'bind_refused'), 6);
  });

  it('random selection spreads 1000 connections over 4 backends (chi-square, 3 dof, p=0.001 bound 16.27)', async () => {
    const [outs] = await env.run([{ op: 'tcp', host: '198.19.0.1', port: 80, n: 1000 }]);
    const counts = new Map<string, number>();
    for (const a of answers(outs)) counts.set(a, (counts.get(a) ?? 0) + 1);
    assert.equal(counts.size, 4, `backends reached: ${JSON.stringify([...counts])}`);
    const chi2 = [...counts.values()].reduce((s, c) => s + (c - 250) ** 2 / 250, 0);
    // A fair picker fails this with probability 0.1 %.
    assert.ok(chi2 < 16.27, `chi-square ${chi2.toFixed(2)} for ${JSON.stringify([...counts])}`);
  });

  it('sessionAffinity ClientIP (netns cookie) sticks while its backend is in the slots, re-selects when it leaves, expires after its timeout', async () => {
    const s = svc({ ip: '198.19.0.20', port: 80, serviceId: 20, backendIds: ids(0), flags: SVC.CLUSTER_IP | SVC.AFFINITY, affinityTimeout: 2 });
    env.maps.putService(s);
    const before = env.maps.stats();
    // One connection first, so the affinity entry exists before the other 19.
    const [one, rest] = await env.run([
      { op: 'tcp', host: '198.19.0.20', port: 80, n: 1 },
      { op: 'tcp', host: '198.19.0.20', port: 80, n: 19 },
    ]);
    const sticky = new Set(answers([...one, ...rest]));
    assert.equal(sticky.size, 1, `one backend for one client: ${[...sticky]}`);
    const stickyId = V4.findIndex((ip) => `${ip} ${BE_PORT}` === [...sticky][0]) + 1;
    const others = ids(0).filter((id) => id !== stickyId);
    assert.deepEqual(env.maps.affinity(20).map((r) => [r.backendId, r.slot]), [[stickyId, stickyId]], 'entry remembers backend and slot');
    assert.ok(delta(before, 'affinity_hit') >= 19);

    // Still a member, but in another slot (an endpoint added or removed elsewhere reorders the
    // slots): the entry keeps winning, and learns the new slot.
    const moved = stickyId === 4 ? [4, 1, 2, 3] : [...others, stickyId];
    env.maps.setBackends(s, moved);
    const [kept] = await env.run([{ op: 'tcp', host: '198.19.0.20', port: 80, n: 5 }]);
    assert.deepEqual(new Set(answers(kept)), sticky);
    assert.deepEqual(env.maps.affinity(20).map((r) => [r.backendId, r.slot]), [[stickyId, moved.indexOf(stickyId) + 1]]);
    assert.ok(delta(before, 'affinity_hit') >= 24);

    // The backend leaves the service's slots while its lb_backends entry lives on (another
    // service may use it): the live entry must not send traffic there (kube-proxy never does).
    const otherId = others[0];
    env.maps.setBackends(s, [otherId]);
    const hits = delta(before, 'affinity_hit');
    const [gone] = await env.run([{ op: 'tcp', host: '198.19.0.20', port: 80, n: 5 }]);
    assert.deepEqual(new Set(answers(gone)), new Set([`${V4[otherId - 1]} ${BE_PORT}`]));
    assert.deepEqual(env.maps.affinity(20).map((r) => [r.backendId, r.slot]), [[otherId, 1]], 'entry re-pointed at the new choice');
    assert.equal(delta(before, 'affinity_hit') - hits, 4, 'the first connection re-selects, the other 4 stick to the new choice');

    // Removed, then back: the entry already names the remaining backend and keeps it.
    env.maps.setBackends(s, ids(0));
    const [back] = await env.run([{ op: 'tcp', host: '198.19.0.20', port: 80, n: 5 }]);
    assert.deepEqual(new Set(answers(back)), new Set([`${V4[otherId - 1]} ${BE_PORT}`]));

    await new Promise((r) => setTimeout(r, 2600)); // timeout 2 s after the last use, plus a margin
    env.maps.setBackends(s, [stickyId]);
    const [after] = await env.run([{ op: 'tcp', host: '198.19.0.20', port: 80, n: 5 }]);
    assert.deepEqual(new Set(answers(after)), sticky);
    assert.ok(delta(before, 'affinity_expired') >= 1);
  });

  it('affinity is per network namespace: node and pod get their own entries', async () => {
    env.maps.putService(svc({ ip: '198.19.0.22', port: 80, serviceId: 22, backendIds: ids(0), flags: SVC.CLUSTER_IP | SVC.AFFINITY, affinityTimeout: 60 }));
    const [node] = await env.run([{ op: 'tcp', host: '198.19.0.22', port: 80, n: 8 }]);
    const [pod] = await env.run([{ op: 'tcp', host: '198.19.0.22', port: 80, n: 8 }], env.podNs);
    assert.equal(new Set(answers(node)).size, 1);
    assert.equal(new Set(answers(pod)).size, 1);
    const rows = env.maps.affinity(22);
    assert.deepEqual(rows.map((r) => r.netns).sort(), [env.nodeCookie, env.podCookie].sort());
    for (const r of rows) {
      const outs = r.netns === env.nodeCookie ? node : pod;
      assert.equal(outs[0].answer, `${V4[r.backendId - 1]} ${BE_PORT}`);
    }
  });

  it('a deleted service\'s socket mappings are dropped, not reused (getpeername and recvmsg show the backend)', async () => {
    const s = svc({ ip: '198.19.0.40', port: 53, proto: UDP, serviceId: 40, backendIds: ids(20) });
    env.maps.putService(s);
    const [held, live, , stale] = await env.run([
      { op: 'udp-hold', type: 'udp4', host: '198.19.0.40', port: 53, sockets: 3 },
      { op: 'udp-held' },
      { op: 'pause' },
      { op: 'udp-held' },
    ], env.ns, () => {
      assert.equal(env.maps.sockRevNat(40).length, 3);
      env.maps.deleteService(s);
    });
    for (const o of held) assert.equal(o.error, undefined);
    assert.deepEqual(new Set(held.map((o) => o.peer)), new Set(['198.19.0.40 53']));
    for (const o of live) {
      assert.equal(o.peer, '198.19.0.40 53');
      assert.equal(o.from, '198.19.0.40 53');
    }
    // The connected sockets still talk to their backend (the kernel keeps the connected address);
    // with the service gone they now see it as it is.
    for (const [i, o] of stale.entries()) {
      assert.equal(o.answer, live[i].answer);
      assert.equal(o.peer, o.answer);
      assert.equal(o.from, o.answer);
    }
    assert.equal(env.maps.sockRevNat(40).length, 0, 'stale entries removed');
  });

  it('Maglev picks table[lb_hash_u64(socket cookie) % M] for every connection', async () => {
    const s = svc({ ip: '198.19.0.21', port: 80, serviceId: 21, backendIds: ids(0), flags: SVC.CLUSTER_IP | SVC.MAGLEV });
    // Backends 1-3 in a skewed pattern; backend 4 is in the slots but not in the table.
    const table = Array.from({ length: MAGLEV_M }, (_, i) => [1, 1, 2, 3][i % 4]);
    env.maps.putMaglev(21, table);
    env.maps.putService(s);
    const [outs] = await env.run([{ op: 'tcp', host: '198.19.0.21', port: 80, n: 200 }]);
    const got = answers(outs);
    assert.ok(!got.includes(`${V4[3]} ${BE_PORT}`), 'backend 4 is not in the table');
    const rows = env.maps.sockRevNat(21);
    assert.equal(rows.length, 200, 'one lb_sock_rev_nat entry per connection');
    for (const r of rows) {
      const expected = V4[table[lbHashU64(r.cookie) % MAGLEV_M] - 1];
      assert.equal(r.backend, expected, `cookie ${r.cookie}`);
    }
  });

  it('fails closed on bad map contents: refusal with EHOSTUNREACH and a counter, never a wrong address', async () => {
    const m = env.maps;
    m.putService(svc({ ip: '198.19.0.30', port: 80, serviceId: 30, backendIds: [], count: 2 }));   // slots missing
    m.putService(svc({ ip: '198.19.0.31', port: 80, serviceId: 31, backendIds: [999] }));         // unknown backend
    m.putService(svc({ ip: '198.19.0.32', port: 80, serviceId: 32, backendIds: [11] }));          // v6 backend, v4 VIP
    m.putService(svc({ ip: '198.19.0.33', port: 80, serviceId: 33, backendIds: ids(0), flags: SVC.CLUSTER_IP | SVC.MAGLEV })); // no table
    m.putService(svc({ ip: '198.19.0.34', port: 80, serviceId: 34, backendIds: ids(0), scope: SCOPE_EXTERNAL, flags: SVC.EXTERNAL_IP | SVC.TWO_SCOPES })); // no internal twin
    const before = m.stats();
    const outs = await env.run([30, 31, 32, 33, 34].map((n) => ({ op: 'tcp' as const, host: `198.19.0.${n}`, port: 80, n: 3 })));
    for (const o of outs) assert.deepEqual(errors(o), ['EHOSTUNREACH', 'EHOSTUNREACH', 'EHOSTUNREACH']);
    assert.equal(delta(before, 'fail_closed_bad_slot'), 3);
    assert.equal(delta(before, 'fail_closed_unknown_backend'), 3);
    assert.equal(delta(before, 'fail_closed_family'), 3);
    assert.equal(delta(before, 'fail_closed_maglev'), 3);
    assert.equal(delta(before, 'fail_closed_scope'), 3);
    assert.equal(delta(before, 'translated'), 0);
  });

  it('fails closed when the count exceeds the slots present: only the written slots or a refusal', async () => {
    // backend_count 3, slots 1-2 only: a pick of slot 3 must refuse, not fall back elsewhere.
    env.maps.putService(svc({ ip: '198.19.0.35', port: 80, serviceId: 35, backendIds: [1, 2], count: 3 }));
    const before = env.maps.stats();
    const [outs] = await env.run([{ op: 'tcp', host: '198.19.0.35', port: 80, n: 60 }]);
    const allowed = [`${V4[0]} ${BE_PORT}`, `${V4[1]} ${BE_PORT}`];
    let refused = 0;
    for (const o of outs) {
      if (o.error) {
        assert.equal(o.error, 'EHOSTUNREACH');
        refused++;
      } else {
        assert.ok(allowed.includes(o.answer!), o.answer);
      }
    }
    // P(no pick of slot 3 in 60) = (2/3)^60 ~ 3e-11.
    assert.ok(refused > 0);
    assert.equal(delta(before, 'fail_closed_bad_slot'), refused);
  });
});
