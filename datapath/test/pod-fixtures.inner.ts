// Table-driven BPF_PROG_TEST_RUN fixtures of the pod-side datapath (pod.bpf.o, pod.h). Runs inside
// the namespace pod-fixtures.test.ts builds (pod-env.ts has the address plan); never run directly.
// Expected packets are built by packet.ts, whose checksums are computed independently of the BPF
// code, and every output is parsed back with its checksums verified.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { inNetns } from './netns.ts';
import { SVC, CT, CNT, TC, skbCtx, type Service } from './np-env.ts';
import { pkt, parse, addr16, fragmentL3, sctpDataChunk, TCP_FLAGS, PROTO, type Parsed } from './packet.ts';
import { PodEnv, POD_ADDR, POD_CNT, POD_CT, POD_HOOK, POD_MAC } from './pod-env.ts';

if (!process.env.KPB_NETNS || !inNetns(process.env.KPB_NETNS)) {
  throw new Error('pod-fixtures.inner.ts runs only inside the namespace pod-fixtures.test.ts creates');
}
const EXT0 = Number(process.env.KPB_EXT0);
const VP1 = Number(process.env.KPB_VP1);
const VP2 = Number(process.env.KPB_VP2);
const SNAT_MIN = 61000;
const SNAT_MAX = 61031;

interface Fam {
  v: 4 | 6; base: number; p1: string; p2: string; node: string; remote: string; remote2: string; outside: string; cluster: string;
  vip: (i: number) => string; unallocated: string; serviceCidr: string;
}
const FAMS: Fam[] = [
  { v: 4, base: 100, ...POD_ADDR[4], remote2: '198.18.2.6', vip: (i) => `198.19.0.${i}`, unallocated: '198.19.99.99', serviceCidr: '198.19.0.0/16' },
  { v: 6, base: 200, ...POD_ADDR[6], remote2: '2001:db8:10:2::6', vip: (i) => `2001:db8:20::${i}`, unallocated: '2001:db8:20::9999', serviceCidr: '2001:db8:20::/112' },
];

/** Services of one family: [index of its VIP, port, protocol, backends, flags]. */
function services(f: Fam): (Service & { scope: number })[] {
  const b = f.base;
  const be = (id: number, addr: string, port: number, local = false) => ({ id: b + id, addr, port, local });
  const cip = (i: number, port: number, proto: number, backends: Service['backends'], flags = 0) =>
    ({ id: b + i, addr: f.vip(i), port, proto, flags: SVC.CLUSTER_IP | flags, backends, scope: 1 });
  return [
    cip(1, 80, PROTO.TCP, [be(1, f.remote, 8080)]),
    cip(2, 80, PROTO.TCP, [be(2, f.p2, 8080, true)]),
    cip(3, 80, PROTO.TCP, [be(3, f.p1, 8080, true)]),
    cip(4, 53, PROTO.UDP, [be(4, f.remote, 5353)]),
    cip(5, 53, PROTO.UDP, [be(5, f.p2, 5353, true)]),
    cip(6, 53, PROTO.UDP, [be(6, f.p1, 5353, true)]),
    cip(7, 80, PROTO.TCP, []),
    cip(8, 53, PROTO.UDP, []),
    // Another frontend of backend 1 (the port clash case).
    cip(10, 90, PROTO.TCP, [be(1, f.remote, 8080)]),
    // iTP=Local with endpoints only elsewhere: the internal entry is empty and flagged.
    cip(11, 80, PROTO.TCP, [], SVC.ITP_LOCAL),
    // A NodePort (external scope, wildcard address) with a local backend.
    { id: b + 12, addr: null, family: f.v, port: 30080, proto: PROTO.TCP, flags: SVC.NODEPORT, revAddr: f.node,
      backends: [be(2, f.p2, 8080, true)], scope: 0 },
    cip(13, 80, PROTO.TCP, [be(13, f.remote, 8080)]),
    cip(14, 3868, PROTO.SCTP, [be(14, f.remote, 3869)]),
    cip(15, 3868, PROTO.SCTP, [be(15, f.p2, 3869, true)]),
  ];
}

let env: PodEnv;

function addService(s: Service & { scope: number }): void {
  const m = (n: string) => env.map(n);
  for (const b of s.backends) {
    m('lb_backends').update(b.id, { addr: addr16(b.addr), port: b.port, proto: s.proto, flags: b.local ? 1 : 0, node_addr: new Uint8Array(16) });
  }
  s.backends.forEach((b, i) => m('lb_slots').update({ service_id: s.id, slot: i + 1 }, b.id));
  const rev = s.revAddr ?? s.addr;
  m('lb_rev_nat').update(s.id, { addr: rev ? addr16(rev) : new Uint8Array(16), port: s.port, pad: 0 });
  const addr = s.addr ? addr16(s.addr) : s.family === 6 ? new Uint8Array(16) : addr16('0.0.0.0');
  m('lb_services').update({ addr, port: s.port, proto: s.proto, scope: s.scope }, {
    service_id: s.id, backend_count: s.backends.length, local_backend_count: s.backends.filter((x) => x.local).length,
    flags: s.flags, affinity_timeout: 0,
  });
  if (s.addr) {
    m('lb_services').update({ addr, port: 0, proto: 0, scope: 0 }, { service_id: 0, backend_count: 0, local_backend_count: 0, flags: SVC.VIP_MARKER | SVC.CLUSTER_IP, affinity_timeout: 0 });
  }
}

before(async () => {
  env = await PodEnv.load({ kpb_snat_port_min: SNAT_MIN, kpb_snat_port_max: SNAT_MAX }, 'podfix');
  for (const f of FAMS) {
    env.map('lb_node_addrs').update({ addr: addr16(f.node) }, { flags: 0 });
    for (const s of services(f)) addService(s);
    const [a, len] = f.serviceCidr.split('/');
    env.map('lb_service_cidrs').update({ prefixlen: Number(len) + (f.v === 4 ? 96 : 0), addr: addr16(a) }, 1);
  }
  env.setPods(POD_ADDR[4].cluster, POD_ADDR[6].cluster);
});
after(() => env?.close());
beforeEach(() => {
  env.clearCt();
  env.setPods(POD_ADDR[4].cluster, POD_ADDR[6].cluster);
});

type Hook = 'ingress' | 'egress';
const HOOK_ID = { ingress: POD_HOOK.INGRESS, egress: POD_HOOK.EGRESS } as const;

function run(hook: Hook, frame: Buffer, ifindex: number): { verdict: number; out: Buffer; p: Parsed } {
  const r = (hook === 'ingress' ? env.ingress : env.egress).testRun({ data: frame, ctx: skbCtx(ifindex) });
  return { verdict: r.retval, out: r.data, p: parse(r.data) };
}

/** Run, and check the verdict and that the reason counter moved by exactly one. */
function expectRun(hook: Hook, frame: Buffer, ifindex: number, verdict: number, reason: number) {
  const before = env.counter(HOOK_ID[hook], reason);
  const r = run(hook, frame, ifindex);
  assert.equal(r.verdict, verdict, `verdict of ${hook}`);
  assert.equal(env.counter(HOOK_ID[hook], reason), before + 1, `reason counter ${reason} of ${hook}`);
  return r;
}

function assertValid(p: Parsed) {
  assert.ok(p.ip, 'output has an IP header');
  assert.equal(p.ip.checksumOk, true, 'IPv4 header checksum');
  if (p.tcp) assert.equal(p.tcp.checksumOk, true, 'TCP checksum');
  if (p.udp) assert.equal(p.udp.checksumOk, true, 'UDP checksum');
  if (p.icmp) assert.equal(p.icmp.checksumOk, true, 'ICMP checksum');
}

/** A frame of pod `from` (p1 or p2) leaving through its interface, or one the node sends it. */
const fromPod = (pod: 'p1' | 'p2') => ({ src: POD_MAC[pod], dst: pod === 'p1' ? POD_MAC.vp1 : POD_MAC.vp2 });
const toPod = (pod: 'p1' | 'p2') => ({ src: pod === 'p1' ? POD_MAC.vp1 : POD_MAC.vp2, dst: POD_MAC[pod] });

function tcp(mac: { src: string; dst: string }, src: string, dst: string, sport: number, dport: number, flags: number, ttl = 64): Buffer {
  return pkt().eth(mac).ip({ src, dst, ttl }).tcp({ sport, dport, flags, seq: 7, ack: flags & TCP_FLAGS.ACK ? 9 : 0 }).payload('hello').build();
}
function udp(mac: { src: string; dst: string }, src: string, dst: string, sport: number, dport: number, ttl = 64): Buffer {
  return pkt().eth(mac).ip({ src, dst, ttl }).udp({ sport, dport }).payload('dns?').build();
}

const SYN = TCP_FLAGS.SYN;
const ACK = TCP_FLAGS.ACK;
const SYNACK = TCP_FLAGS.SYN | TCP_FLAGS.ACK;

for (const f of FAMS) {
  const fam = `IPv${f.v}`;

  test(`${fam}: TCP to a ClusterIP with a remote backend: DNAT to the stack, reply translated at egress`, () => {
    const syn = expectRun('ingress', tcp(fromPod('p1'), f.p1, f.vip(1), 40001, 80, SYN), VP1, TC.OK, CNT.REMOTE_FWD);
    assertValid(syn.p);
    assert.equal(syn.p.ip?.src, f.p1, 'the pod\'s source is kept');
    assert.equal(syn.p.tcp?.sport, 40001);
    assert.equal(syn.p.ip?.dst, f.remote);
    assert.equal(syn.p.tcp?.dport, 8080);
    assert.equal(syn.p.ip?.ttl, 64, 'the stack routes it');
    assert.equal(syn.p.payload.toString(), 'hello');
    const ct = env.ctEntries();
    const fwd = ct.find((e) => e.key.src === f.p1 && e.key.dst === f.vip(1));
    const rev = ct.find((e) => e.key.src === f.remote && e.key.dst === f.p1);
    assert.ok(fwd && rev, `forward and reply entries: ${JSON.stringify(ct.map((e) => e.key))}`);
    assert.equal(fwd.flags, CT.REMOTE);
    assert.equal(rev.flags, CT.REMOTE | CT.REPLY);
    assert.equal(rev.natSrc, f.vip(1));
    assert.equal(rev.natSport, 80);
    assert.equal(fwd.serviceId, f.base + 1);
    // The backend's SYN-ACK comes back through the node to the pod's interface.
    const sa = expectRun('egress', tcp(toPod('p1'), f.remote, f.p1, 8080, 40001, SYNACK, 63), VP1, TC.OK, CNT.REPLY_FWD);
    assertValid(sa.p);
    assert.equal(sa.p.ip?.src, f.vip(1));
    assert.equal(sa.p.tcp?.sport, 80);
    assert.equal(sa.p.ip?.dst, f.p1);
    assert.equal(sa.p.tcp?.dport, 40001);
    assert.equal(sa.p.tcp?.flags, SYNACK);
    // Established: both directions on the lean path.
    const ack = expectRun('ingress', tcp(fromPod('p1'), f.p1, f.vip(1), 40001, 80, ACK), VP1, TC.OK, CNT.REMOTE_FWD);
    assertValid(ack.p);
    assert.equal(ack.p.ip?.dst, f.remote);
    assert.equal(env.ctEntries().find((e) => e.key.src === f.p1)?.tcpState, 1, 'ACK marks the flow established');
    for (let i = 0; i < 2; i++) {
      const data = expectRun('egress', tcp(toPod('p1'), f.remote, f.p1, 8080, 40001, ACK, 63), VP1, TC.OK, CNT.REPLY_FWD);
      assertValid(data.p);
      assert.equal(data.p.ip?.src, f.vip(1));
      assert.equal(data.p.tcp?.sport, 80);
      assert.equal(data.p.payload.toString(), 'hello');
    }
  });

  test(`${fam}: TCP to a ClusterIP with a local backend: redirected straight to it, and its reply straight back`, () => {
    const syn = expectRun('ingress', tcp(fromPod('p1'), f.p1, f.vip(2), 40002, 80, SYN), VP1, TC.REDIRECT, CNT.LOCAL_DNAT);
    assertValid(syn.p);
    assert.equal(syn.p.eth.dst, POD_MAC.p2, 'to the backend pod');
    assert.equal(syn.p.eth.src, POD_MAC.vp2, 'out of its interface');
    assert.equal(syn.p.ip?.src, f.p1);
    assert.equal(syn.p.ip?.dst, f.p2);
    assert.equal(syn.p.tcp?.dport, 8080);
    assert.equal(syn.p.ip?.ttl, 63, 'we route it');
    const fwd = env.ctEntries().find((e) => e.key.src === f.p1);
    assert.equal(fwd?.flags, CT.LOCAL | POD_CT.ROUTE);
    assert.equal(fwd?.nh.ifindex, VP2, 'the next hop is cached in the flow\'s entry');
    const sa = expectRun('ingress', tcp(fromPod('p2'), f.p2, f.p1, 8080, 40002, SYNACK), VP2, TC.REDIRECT, CNT.REPLY_LOCAL);
    assertValid(sa.p);
    assert.equal(sa.p.eth.dst, POD_MAC.p1);
    assert.equal(sa.p.eth.src, POD_MAC.vp1);
    assert.equal(sa.p.ip?.src, f.vip(2));
    assert.equal(sa.p.tcp?.sport, 80);
    assert.equal(sa.p.ip?.dst, f.p1);
    assert.equal(sa.p.tcp?.dport, 40002);
    assert.equal(sa.p.ip?.ttl, 63);
    // The lean path, with the cached next hops.
    const ack = expectRun('ingress', tcp(fromPod('p1'), f.p1, f.vip(2), 40002, 80, ACK), VP1, TC.REDIRECT, CNT.LOCAL_DNAT);
    assertValid(ack.p);
    assert.equal(ack.p.eth.dst, POD_MAC.p2);
    assert.equal(ack.p.ip?.dst, f.p2);
    expectRun('ingress', tcp(fromPod('p2'), f.p2, f.p1, 8080, 40002, ACK), VP2, TC.REDIRECT, CNT.REPLY_LOCAL);
    const back = expectRun('ingress', tcp(fromPod('p2'), f.p2, f.p1, 8080, 40002, ACK), VP2, TC.REDIRECT, CNT.REPLY_LOCAL);
    assertValid(back.p);
    assert.equal(back.p.ip?.src, f.vip(2));
    assert.equal(back.p.eth.dst, POD_MAC.p1);
  });

  test(`${fam}: hairpin: a pod reaching itself through its Service gets the ClusterIP as the peer both ways`, () => {
    const syn = expectRun('ingress', tcp(fromPod('p1'), f.p1, f.vip(3), 40003, 80, SYN), VP1, TC.REDIRECT, POD_CNT.HAIRPIN);
    assertValid(syn.p);
    assert.equal(syn.p.eth.dst, POD_MAC.p1, 'back to the pod');
    assert.equal(syn.p.eth.src, POD_MAC.vp1);
    assert.equal(syn.p.ip?.src, f.vip(3), 'source: the frontend, not the pod\'s own address');
    assert.equal(syn.p.tcp?.sport, 40003);
    assert.equal(syn.p.ip?.dst, f.p1);
    assert.equal(syn.p.tcp?.dport, 8080);
    const fwd = env.ctEntries().find((e) => e.key.src === f.p1 && e.key.dst === f.vip(3) && e.key.dport === 80);
    assert.equal(fwd?.flags, CT.LOCAL | CT.SNAT | POD_CT.ROUTE | POD_CT.HAIRPIN);
    // The pod, as the server, answers the frontend; that comes back to it as the frontend's reply.
    const sa = expectRun('ingress', tcp(fromPod('p1'), f.p1, f.vip(3), 8080, 40003, SYNACK), VP1, TC.REDIRECT, POD_CNT.HAIRPIN);
    assertValid(sa.p);
    assert.equal(sa.p.eth.dst, POD_MAC.p1);
    assert.equal(sa.p.ip?.src, f.vip(3));
    assert.equal(sa.p.tcp?.sport, 80);
    assert.equal(sa.p.ip?.dst, f.p1);
    assert.equal(sa.p.tcp?.dport, 40003);
    const ack = expectRun('ingress', tcp(fromPod('p1'), f.p1, f.vip(3), 40003, 80, ACK), VP1, TC.REDIRECT, POD_CNT.HAIRPIN);
    assert.equal(ack.p.ip?.src, f.vip(3));
    assert.equal(ack.p.tcp?.dport, 8080);
  });

  test(`${fam}: UDP to remote, local and own backends, with their replies`, () => {
    const r = expectRun('ingress', udp(fromPod('p1'), f.p1, f.vip(4), 5001, 53), VP1, TC.OK, CNT.REMOTE_FWD);
    assertValid(r.p);
    assert.equal(r.p.ip?.dst, f.remote);
    assert.equal(r.p.udp?.dport, 5353);
    assert.equal(r.p.udp?.sport, 5001);
    const rr = expectRun('egress', udp(toPod('p1'), f.remote, f.p1, 5353, 5001), VP1, TC.OK, CNT.REPLY_FWD);
    assertValid(rr.p);
    assert.equal(rr.p.ip?.src, f.vip(4));
    assert.equal(rr.p.udp?.sport, 53);
    // Second datagram: the lean path.
    assert.equal(expectRun('ingress', udp(fromPod('p1'), f.p1, f.vip(4), 5001, 53), VP1, TC.OK, CNT.REMOTE_FWD).p.ip?.dst, f.remote);

    const l = expectRun('ingress', udp(fromPod('p1'), f.p1, f.vip(5), 5002, 53), VP1, TC.REDIRECT, CNT.LOCAL_DNAT);
    assertValid(l.p);
    assert.equal(l.p.eth.dst, POD_MAC.p2);
    assert.equal(l.p.ip?.dst, f.p2);
    const lr = expectRun('ingress', udp(fromPod('p2'), f.p2, f.p1, 5353, 5002), VP2, TC.REDIRECT, CNT.REPLY_LOCAL);
    assertValid(lr.p);
    assert.equal(lr.p.ip?.src, f.vip(5));
    assert.equal(lr.p.udp?.sport, 53);
    assert.equal(lr.p.eth.dst, POD_MAC.p1);

    const h = expectRun('ingress', udp(fromPod('p1'), f.p1, f.vip(6), 5003, 53), VP1, TC.REDIRECT, POD_CNT.HAIRPIN);
    assertValid(h.p);
    assert.equal(h.p.ip?.src, f.vip(6));
    assert.equal(h.p.ip?.dst, f.p1);
    assert.equal(h.p.udp?.dport, 5353);
    const hr = expectRun('ingress', udp(fromPod('p1'), f.p1, f.vip(6), 5353, 5003), VP1, TC.REDIRECT, POD_CNT.HAIRPIN);
    assertValid(hr.p);
    assert.equal(hr.p.ip?.src, f.vip(6));
    assert.equal(hr.p.udp?.sport, 53);
    assert.equal(hr.p.udp?.dport, 5003);
  });

  test(`${fam}: one socket port toward two frontends of one backend: the second flow's port changes, both replies find their way`, () => {
    const a = expectRun('ingress', tcp(fromPod('p1'), f.p1, f.vip(1), 40010, 80, SYN), VP1, TC.OK, CNT.REMOTE_FWD);
    assert.equal(a.p.tcp?.sport, 40010);
    const b = expectRun('ingress', tcp(fromPod('p1'), f.p1, f.vip(10), 40010, 90, SYN), VP1, TC.OK, CNT.REMOTE_FWD);
    assertValid(b.p);
    const port = b.p.tcp!.sport;
    assert.ok(port >= SNAT_MIN && port <= SNAT_MAX, `the clashing flow got port ${port} of the SNAT range`);
    assert.equal(b.p.ip?.src, f.p1, 'the address stays the pod\'s');
    assert.equal(b.p.ip?.dst, f.remote);
    const ra = expectRun('egress', tcp(toPod('p1'), f.remote, f.p1, 8080, 40010, SYNACK), VP1, TC.OK, CNT.REPLY_FWD);
    assert.equal(ra.p.ip?.src, f.vip(1));
    assert.equal(ra.p.tcp?.sport, 80);
    assert.equal(ra.p.tcp?.dport, 40010);
    const rb = expectRun('egress', tcp(toPod('p1'), f.remote, f.p1, 8080, port, SYNACK), VP1, TC.OK, CNT.REPLY_FWD);
    assertValid(rb.p);
    assert.equal(rb.p.ip?.src, f.vip(10));
    assert.equal(rb.p.tcp?.sport, 90);
    assert.equal(rb.p.tcp?.dport, 40010);
    // A retransmitted SYN of the first flow keeps its port.
    assert.equal(expectRun('ingress', tcp(fromPod('p1'), f.p1, f.vip(1), 40010, 80, SYN), VP1, TC.OK, CNT.REMOTE_FWD).p.tcp?.sport, 40010);
  });

  test(`${fam}: a NodePort on the node's address from a pod goes to its local backend`, () => {
    const r = expectRun('ingress', tcp(fromPod('p1'), f.p1, f.node, 40020, 30080, SYN), VP1, TC.REDIRECT, CNT.LOCAL_DNAT);
    assertValid(r.p);
    assert.equal(r.p.ip?.dst, f.p2);
    const back = expectRun('ingress', tcp(fromPod('p2'), f.p2, f.p1, 8080, 40020, SYNACK), VP2, TC.REDIRECT, CNT.REPLY_LOCAL);
    assert.equal(back.p.ip?.src, f.node);
    assert.equal(back.p.tcp?.sport, 30080);
  });

  test(`${fam}: refusals and drops: no endpoints, unknown port, iTP=Local without local endpoints, unallocated address`, () => {
    const rst = expectRun('ingress', tcp(fromPod('p1'), f.p1, f.vip(7), 40030, 80, SYN), VP1, TC.REDIRECT, CNT.RST_SENT);
    assertValid(rst.p);
    assert.equal(rst.p.eth.dst, POD_MAC.p1);
    assert.equal(rst.p.ip?.src, f.vip(7));
    assert.equal(rst.p.tcp?.flags, TCP_FLAGS.RST | TCP_FLAGS.ACK);
    const unk = expectRun('ingress', tcp(fromPod('p1'), f.p1, f.vip(1), 40031, 81, SYN), VP1, TC.REDIRECT, CNT.RST_SENT);
    assert.equal(unk.p.tcp?.sport, 81);
    const icmp = expectRun('ingress', udp(fromPod('p1'), f.p1, f.vip(8), 5004, 53), VP1, TC.REDIRECT, CNT.ICMP_SENT);
    assertValid(icmp.p);
    assert.equal(icmp.p.icmp?.type, f.v === 4 ? 3 : 1);
    expectRun('ingress', tcp(fromPod('p1'), f.p1, f.vip(11), 40032, 80, SYN), VP1, TC.SHOT, CNT.NO_LOCAL_BACKEND);
    expectRun('ingress', tcp(fromPod('p1'), f.p1, f.unallocated, 40033, 80, SYN), VP1, TC.SHOT, POD_CNT.UNALLOCATED);
    assert.equal(env.ctEntries().length, 0, 'nothing tracked');
  });

  test(`${fam}: what is not ours passes untouched: other pods, the node's other ports, not a pod's source, no pods of the family`, () => {
    const cases: Array<[string, Buffer, number]> = [
      ['a pod elsewhere (SYN)', tcp(fromPod('p1'), f.p1, f.remote2, 40040, 80, SYN), CNT.NOT_SERVICE],
      ['a pod elsewhere (ACK, lean path)', tcp(fromPod('p1'), f.p1, f.remote2, 40040, 80, ACK), CNT.NOT_SERVICE],
      ['a UDP datagram to a pod elsewhere', udp(fromPod('p1'), f.p1, f.remote2, 5005, 53), CNT.NOT_SERVICE],
      ['another port of the node', tcp(fromPod('p1'), f.p1, f.node, 40041, 22, ACK), CNT.NOT_SERVICE],
      ['a source outside the pod CIDR', tcp(fromPod('p1'), f.outside, f.vip(1), 40042, 80, SYN), POD_CNT.NOT_POD],
      ['ICMP echo', pkt().eth(fromPod('p1')).ip({ src: f.p1, dst: f.vip(1) }).icmp({ type: f.v === 4 ? 8 : 128, code: 0, rest: 1 }).build(), CNT.UNSUPP_L4],
      ['ARP', pkt().eth({ ...fromPod('p1'), type: 0x0806 }).payload(new Uint8Array(28)).build(), CNT.NOT_IP],
    ];
    for (const [name, frame, reason] of cases) {
      const r = expectRun('ingress', frame, VP1, TC.OK, reason);
      assert.deepEqual(r.out, frame, name);
    }
    const e = expectRun('egress', tcp(toPod('p1'), f.remote2, f.p1, 80, 40040, ACK), VP1, TC.OK, CNT.NOT_SERVICE);
    assert.deepEqual(e.out, tcp(toPod('p1'), f.remote2, f.p1, 80, 40040, ACK));
    env.setPods(f.v === 4 ? 'none' : POD_ADDR[4].cluster, f.v === 6 ? 'none' : POD_ADDR[6].cluster);
    const none = tcp(fromPod('p1'), f.p1, f.vip(1), 40043, 80, SYN);
    assert.deepEqual(expectRun('ingress', none, VP1, TC.OK, POD_CNT.NOT_POD).out, none, 'a family without pods is not translated');
    // Interface modes: every source on the interface is a pod's.
    env.setPods(null, null);
    const any = expectRun('ingress', tcp(fromPod('p1'), f.outside, f.vip(1), 40044, 80, SYN), VP1, TC.OK, CNT.REMOTE_FWD);
    assert.equal(any.p.ip?.dst, f.remote);
    assert.equal(env.ctEntries().filter((x) => x.key.src === f.p1).length, 0, 'nothing tracked for the pod');
  });

  test(`${fam}: ICMP errors about a pod's flow are translated: from a remote backend at egress, from a local one at ingress`, () => {
    const out = expectRun('ingress', udp(fromPod('p1'), f.p1, f.vip(4), 5010, 53), VP1, TC.OK, CNT.REMOTE_FWD);
    // The remote backend's port unreachable quotes the datagram as it arrived there.
    const quote = out.p.l3.subarray(0, (f.v === 4 ? 20 : 40) + 8);
    const err = pkt().eth(toPod('p1')).ip({ src: f.remote, dst: f.p1, ttl: 62 })
      .icmp({ type: f.v === 4 ? 3 : 1, code: f.v === 4 ? 3 : 4 }).payload(quote).build();
    const e = expectRun('egress', err, VP1, TC.OK, CNT.ICMP_XLATE);
    assertValid(e.p);
    assert.equal(e.p.ip?.src, f.vip(4), 'from the frontend the pod sent to');
    assert.equal(e.p.ip?.dst, f.p1);
    const inner = e.p.payload;
    const innerDst = f.v === 4 ? inner.subarray(16, 20) : inner.subarray(24, 40);
    assert.deepEqual(Buffer.from(innerDst), Buffer.from(addrOf(f.vip(4))), 'the quote names the frontend');
    const qoff = f.v === 4 ? 20 : 40;
    assert.equal(inner.readUInt16BE(qoff + 2), 53, 'and its port');
    assert.equal(inner.readUInt16BE(qoff), 5010);

    const l = expectRun('ingress', udp(fromPod('p1'), f.p1, f.vip(5), 5011, 53), VP1, TC.REDIRECT, CNT.LOCAL_DNAT);
    const lq = l.p.l3.subarray(0, (f.v === 4 ? 20 : 40) + 8);
    const lerr = pkt().eth(fromPod('p2')).ip({ src: f.p2, dst: f.p1 }).icmp({ type: f.v === 4 ? 3 : 1, code: f.v === 4 ? 3 : 4 }).payload(lq).build();
    const li = expectRun('ingress', lerr, VP2, TC.REDIRECT, CNT.ICMP_XLATE);
    assertValid(li.p);
    assert.equal(li.p.ip?.src, f.vip(5));
    assert.equal(li.p.eth.dst, POD_MAC.p1);
  });

  test(`${fam}: TTL: a packet to a local backend that would expire gets time exceeded`, () => {
    const r = expectRun('ingress', tcp(fromPod('p1'), f.p1, f.vip(2), 40050, 80, SYN, 1), VP1, TC.REDIRECT, CNT.TTL);
    assertValid(r.p);
    assert.equal(r.p.icmp?.type, f.v === 4 ? 11 : 3);
    assert.equal(r.p.eth.dst, POD_MAC.p1);
    // To a remote backend the stack routes it, and answers itself.
    expectRun('ingress', tcp(fromPod('p1'), f.p1, f.vip(1), 40051, 80, SYN, 1), VP1, TC.OK, CNT.REMOTE_FWD);
  });

  test(`${fam}: a flow whose backend was removed selects again`, () => {
    expectRun('ingress', tcp(fromPod('p1'), f.p1, f.vip(13), 40060, 80, SYN), VP1, TC.OK, CNT.REMOTE_FWD);
    expectRun('ingress', tcp(fromPod('p1'), f.p1, f.vip(13), 40060, 80, ACK), VP1, TC.OK, CNT.REMOTE_FWD);
    const id = f.base + 13;
    env.map('lb_backends').update(id + 50, { addr: addr16(f.remote2), port: 8080, proto: PROTO.TCP, flags: 0, node_addr: new Uint8Array(16) });
    env.map('lb_slots').update({ service_id: id, slot: 1 }, id + 50);
    env.map('lb_backends').delete(id);
    env.np.bumpGen('be');
    try {
      const r = expectRun('ingress', tcp(fromPod('p1'), f.p1, f.vip(13), 40060, 80, ACK), VP1, TC.OK, CNT.REMOTE_FWD);
      assert.equal(r.p.ip?.dst, f.remote2, 'the new backend');
    } finally {
      env.map('lb_backends').update(id, { addr: addr16(f.remote), port: 8080, proto: PROTO.TCP, flags: 0, node_addr: new Uint8Array(16) });
      env.map('lb_slots').update({ service_id: id, slot: 1 }, id);
    }
  });

  test(`${fam}: a later fragment follows its first fragment's flow`, () => {
    const big = pkt().ip({ src: f.p1, dst: f.vip(4) }).udp({ sport: 5020, dport: 53 }).payload(Buffer.alloc(1200, 7)).buildL3();
    const frags = fragmentFrames(big, 600, 0x77);
    const first = expectRun('ingress', frags[0], VP1, TC.OK, CNT.REMOTE_FWD);
    assert.equal(first.p.ip?.dst, f.remote);
    for (const fr of frags.slice(1)) {
      const r = expectRun('ingress', fr, VP1, TC.OK, CNT.REMOTE_FWD);
      assert.equal(r.p.ip?.dst, f.remote, 'a later fragment goes where its datagram goes');
    }
  });
}

for (const f of FAMS) {
  const fam = `IPv${f.v}`;
  const sctp = (mac: { src: string; dst: string }, src: string, dst: string, sport: number, dport: number): Buffer =>
    pkt().eth(mac).ip({ src, dst }).sctp({ sport, dport, vtag: 0xcafe0002 }).payload(sctpDataChunk(new TextEncoder().encode('diameter'))).build();

  test(`${fam}: SCTP to remote and local backends, CRC32c valid in and out, and the reply path`, () => {
    const r = expectRun('ingress', sctp(fromPod('p1'), f.p1, f.vip(14), 40100, 3868), VP1, TC.OK, CNT.REMOTE_FWD);
    assertValid(r.p);
    assert.equal(r.p.ip?.dst, f.remote);
    assert.equal(r.p.sctp?.dport, 3869);
    assert.equal(r.p.sctp?.sport, 40100);
    assert.equal(r.p.sctp?.checksumOk, true, 'CRC32c after the port change');
    assert.equal(r.p.sctp?.vtag, 0xcafe0002);
    const back = expectRun('egress', sctp(toPod('p1'), f.remote, f.p1, 3869, 40100), VP1, TC.OK, CNT.REPLY_FWD);
    assertValid(back.p);
    assert.equal(back.p.ip?.src, f.vip(14));
    assert.equal(back.p.sctp?.sport, 3868);
    assert.equal(back.p.sctp?.checksumOk, true);
    // Every packet of the association (the lean path leaves SCTP to the general one).
    assert.equal(expectRun('ingress', sctp(fromPod('p1'), f.p1, f.vip(14), 40100, 3868), VP1, TC.OK, CNT.REMOTE_FWD).p.sctp?.checksumOk, true);

    const l = expectRun('ingress', sctp(fromPod('p1'), f.p1, f.vip(15), 40101, 3868), VP1, TC.REDIRECT, CNT.LOCAL_DNAT);
    assertValid(l.p);
    assert.equal(l.p.eth.dst, POD_MAC.p2);
    assert.equal(l.p.sctp?.dport, 3869);
    assert.equal(l.p.sctp?.checksumOk, true);
    const lr = expectRun('ingress', sctp(fromPod('p2'), f.p2, f.p1, 3869, 40101), VP2, TC.REDIRECT, CNT.REPLY_LOCAL);
    assert.equal(lr.p.ip?.src, f.vip(15));
    assert.equal(lr.p.sctp?.sport, 3868);
    assert.equal(lr.p.sctp?.checksumOk, true);
  });
}

test('the pod programs run on their own maps: north-south conntrack stays empty', () => {
  expectRun('ingress', tcp(fromPod('p1'), POD_ADDR[4].p1, '198.19.0.1', 40070, 80, SYN), VP1, TC.OK, CNT.REMOTE_FWD);
  assert.equal(env.np.ctEntries().length, 0);
  assert.ok(env.ctEntries().length >= 2);
  void EXT0;
});

function addrOf(a: string): Uint8Array {
  const b = addr16(a);
  return a.includes(':') ? b : b.subarray(12);
}

/** Ethernet frames of pod p1's fragments of an L3 packet. */
function fragmentFrames(l3: Buffer, mtu: number, id: number): Buffer[] {
  // packet.ts's fragmentL3 splits as a host does.
  return fragmentL3(l3, mtu, id).map((x) => {
    const h = Buffer.alloc(14);
    Buffer.from(POD_MAC.vp1.split(':').map((v) => parseInt(v, 16))).copy(h, 0);
    Buffer.from(POD_MAC.p1.split(':').map((v) => parseInt(v, 16))).copy(h, 6);
    h.writeUInt16BE(x[0] >> 4 === 4 ? 0x0800 : 0x86dd, 12);
    return Buffer.concat([h, x]);
  });
}
