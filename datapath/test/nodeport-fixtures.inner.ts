// Table-driven BPF_PROG_TEST_RUN fixtures of the north-south datapath. Runs inside the namespace
// nodeport-fixtures.test.ts builds (np-topology.ts has the address plan); never run directly.
// Every expected packet is built by packet.ts, whose checksums are computed independently of the
// BPF code, and every output is parsed back with its checksums verified.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { inNetns, sh } from './netns.ts';
import { createMap } from 'bpf-loader-napi';
import { attachNorthSouth } from './np-attach.ts';
import { NpEnv, SVC, CT, HOOK, CNT, XDP, TC, xdpCtx, skbCtx, type Service } from './np-env.ts';
import { pkt, parse, parseIp, addr16, inetChecksum, fragmentL3, reassembleL3, sctpDataChunk, TCP_FLAGS, PROTO, type Parsed } from './packet.ts';
import { MAC } from './np-topology.ts';
import { slice, svc, writeTranslated } from './translated.ts';
import { BPF_F_INNER_MAP } from '../../src/dataplane/bpf-map-writer.ts';
import { claimedSnatSlots, encodeSnatSlot } from '../../src/dataplane/snat-slots.ts';
import { SNAT_CONVERTERS } from '../../src/dataplane/convert-snat.ts';

if (!process.env.KPB_NETNS || !inNetns(process.env.KPB_NETNS)) {
  throw new Error('nodeport-fixtures.inner.ts runs only inside the namespace nodeport-fixtures.test.ts creates');
}
const EXT0 = Number(process.env.KPB_EXT0);
const EXT1 = Number(process.env.KPB_EXT1);
const NOX0 = Number(process.env.KPB_NOX0);
const SNAT_MIN = 61000;
const SNAT_MAX = 61031;
const MAGLEV_M = 16381; // lb_maglev_m: inner arrays must have the template's size (lb_maps.h)

interface Fam {
  v: 4 | 6; base: number; client: string; client2: string; node: string; other: string;
  localBe: string; remoteBe: string; remoteBe2: string; extIp: string; lbIp: string; range: string;
}
const FAMS: Fam[] = [
  { v: 4, base: 100, client: '192.0.2.100', client2: '192.0.2.200', node: '192.0.2.11', other: '192.0.2.99',
    localBe: '198.18.1.5', remoteBe: '198.18.2.5', remoteBe2: '198.18.3.5', extIp: '203.0.113.10', lbIp: '203.0.113.20', range: '192.0.2.0/25' },
  { v: 6, base: 200, client: '2001:db8:1::100', client2: '2001:db8:1::200', node: '2001:db8:1::11', other: '2001:db8:1::99',
    localBe: '2001:db8:10:1::5', remoteBe: '2001:db8:10:2::5', remoteBe2: '2001:db8:10:3::5', extIp: '2001:db8:20::10',
    lbIp: '2001:db8:20::20', range: '2001:db8:1::100/120' },
];

let env: NpEnv;

function services(f: Fam): Service[] {
  const b = f.base;
  return [
    { id: b + 1, addr: null, family: f.v, port: 30080, proto: PROTO.TCP, flags: SVC.NODEPORT, revAddr: f.node,
      backends: [{ id: b + 1, addr: f.localBe, port: 8080, local: true }] },
    { id: b + 2, addr: null, family: f.v, port: 30081, proto: PROTO.TCP, flags: SVC.NODEPORT, revAddr: f.node,
      backends: [{ id: b + 2, addr: f.remoteBe, port: 8080 }] },
    { id: b + 3, addr: null, family: f.v, port: 30053, proto: PROTO.UDP, flags: SVC.NODEPORT, revAddr: f.node,
      backends: [{ id: b + 3, addr: f.remoteBe, port: 5353 }] },
    { id: b + 4, addr: f.extIp, port: 80, proto: PROTO.TCP, flags: SVC.EXTERNAL_IP,
      backends: [{ id: b + 4, addr: f.remoteBe2, port: 8080 }] },
    { id: b + 5, addr: f.lbIp, port: 443, proto: PROTO.TCP, flags: SVC.LOADBALANCER | SVC.SOURCE_RANGES,
      backends: [{ id: b + 5, addr: f.remoteBe, port: 8443 }] },
    { id: b + 6, addr: null, family: f.v, port: 30099, proto: PROTO.TCP, flags: SVC.NODEPORT, revAddr: f.node, backends: [] },
    { id: b + 7, addr: null, family: f.v, port: 30054, proto: PROTO.UDP, flags: SVC.NODEPORT, revAddr: f.node,
      backends: [{ id: b + 7, addr: f.localBe, port: 5353, local: true }] },
    { id: b + 8, addr: null, family: f.v, port: 30098, proto: PROTO.UDP, flags: SVC.NODEPORT, revAddr: f.node, backends: [] },
    { id: b + 9, addr: null, family: f.v, port: 30090, proto: PROTO.TCP, flags: SVC.NODEPORT | SVC.AFFINITY, revAddr: f.node,
      affinityTimeout: 60, backends: pool(f, b + 10) },
    { id: b + 20, addr: null, family: f.v, port: 30091, proto: PROTO.TCP, flags: SVC.NODEPORT, revAddr: f.node, backends: pool(f, b + 20) },
    { id: b + 30, addr: null, family: f.v, port: 30092, proto: PROTO.TCP, flags: SVC.NODEPORT | SVC.MAGLEV, revAddr: f.node,
      backends: pool(f, b + 30) },
    { id: b + 40, addr: null, family: f.v, port: 30093, proto: PROTO.TCP, flags: SVC.NODEPORT | SVC.ETP_LOCAL, revAddr: f.node, backends: [] },
    // DSR: remote backend behind node-b (this node is the LB node) ...
    { id: b + 50, addr: null, family: f.v, port: 30085, proto: PROTO.TCP, flags: SVC.NODEPORT | SVC.DSR, revAddr: f.node,
      backends: [{ id: b + 50, addr: f.remoteBe, port: 8080, nodeAddr: f.v === 4 ? '192.0.2.12' : '2001:db8:1::12' }] },
    // ... and a service whose backend is ours, reached through another LB node's tunnel.
    { id: b + 51, addr: null, family: f.v, port: 30086, proto: PROTO.TCP, flags: SVC.NODEPORT | SVC.DSR, revAddr: f.node,
      backends: [{ id: b + 51, addr: f.localBe, port: 8080, local: true }] },
  ];
}

/** Four remote backends on node-b, ids from `first`. */
function pool(f: Fam, first: number): Service['backends'] {
  return [1, 2, 3, 4].map((i) => ({ id: first + i, addr: f.v === 4 ? `198.18.2.${10 + i}` : `2001:db8:10:2::${10 + i}`, port: 8080 }));
}

/** lb_select.h's lb_hash_u64 over svc.h's flow identity, recomputed here to pin the contract. */
function maglevIndex(src: string, sport: number, dport: number, affinity: boolean, m = MAGLEV_M): number {
  const a = Buffer.from(addr16(src));
  const x = (a.readUInt32LE(0) ^ a.readUInt32LE(4) ^ a.readUInt32LE(8) ^ a.readUInt32LE(12)) >>> 0;
  const le16 = (v: number) => ((v & 0xff) << 8) | (v >> 8); // a __be16 as a little-endian load sees it
  const lo = ((((affinity ? 0 : le16(sport)) << 16) | le16(dport)) >>> 0);
  let h = (lo ^ x) >>> 0;
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return (h >>> 0) % m;
}

before(async () => {
  env = await NpEnv.load({ kpb_snat_port_min: SNAT_MIN, kpb_snat_port_max: SNAT_MAX }, 'fix');
  for (const f of FAMS) {
    env.addNodeAddr(f.node);
    for (const s of services(f)) env.addService(s);
    env.addSrcRange(f.base + 5, f.range);
    // Maglev table of service base+30: a fresh inner array swapped in, as the control plane does.
    const inner = createMap({ type: 'array', keySize: 4, valueSize: 4, maxEntries: MAGLEV_M, flags: BPF_F_INNER_MAP, name: 'kpb_test_mglv' });
    const idx = Array.from({ length: MAGLEV_M }, (_, i) => i);
    inner.updateBatch(idx, idx.map((i) => f.base + 30 + MAGLEV_TABLE(i)));
    env.map('lb_maglev').update(f.base + 30, inner.fd);
    inner.close();
  }
});
/** Backend (1..4) at Maglev slot i: an uneven pattern, so a wrong index shows. */
const MAGLEV_TABLE = (i: number): number => [1, 2, 3, 4, 1, 2, 3][i % 7];
after(() => env?.close());
beforeEach(() => env.clearCt());

type Hook = 'xdp' | 'tc';
function run(hook: Hook | 'egress', frame: Buffer, ifindex = EXT0): { verdict: number; out: Buffer; p: Parsed } {
  const r = hook === 'xdp'
    ? env.xdpProg.testRun({ data: frame, ctx: xdpCtx(ifindex, frame.length) })
    : (hook === 'tc' ? env.tcIngress : env.tcEgress).testRun({ data: frame, ctx: skbCtx(ifindex) });
  return { verdict: r.retval, out: r.data, p: parse(r.data) };
}
const hookId = (h: Hook | 'egress') => (h === 'xdp' ? HOOK.XDP : h === 'tc' ? HOOK.TC_INGRESS : HOOK.TC_EGRESS);
const PASS = { xdp: XDP.PASS, tc: TC.OK, egress: TC.OK };
const DROP = { xdp: XDP.DROP, tc: TC.SHOT, egress: TC.SHOT };

/** Run and check the verdict and that exactly one reason counter moved by one. */
function expectRun(hook: Hook | 'egress', frame: Buffer, verdict: number, reason: number, ifindex = EXT0) {
  const before = env.counter(hookId(hook), reason);
  const r = run(hook, frame, ifindex);
  assert.equal(r.verdict, verdict, `verdict of ${hook} (counters ${JSON.stringify(env.counters(hookId(hook)))})`);
  assert.equal(env.counter(hookId(hook), reason), before + 1, `reason counter ${reason} of ${hook}`);
  return r;
}

function tcpFrame(src: string, dst: string, sport: number, dport: number, flags: number = TCP_FLAGS.SYN, ttl = 64, srcMac: string = MAC.client, dstMac: string = MAC.ext0) {
  return pkt().eth({ src: srcMac, dst: dstMac }).ip({ src, dst, ttl }).tcp({ sport, dport, flags, seq: 7, ack: flags & TCP_FLAGS.ACK ? 9 : 0 }).payload('hello').build();
}
function udpFrame(src: string, dst: string, sport: number, dport: number, srcMac: string = MAC.client, dstMac: string = MAC.ext0) {
  return pkt().eth({ src: srcMac, dst: dstMac }).ip({ src, dst }).udp({ sport, dport }).payload('dns?').build();
}

/** An L3 packet in an Ethernet frame, client to node by default. */
function eth(l3: Buffer, srcMac: string = MAC.client, dstMac: string = MAC.ext0): Buffer {
  const h = Buffer.alloc(14);
  Buffer.from(srcMac.split(':').map((x) => parseInt(x, 16))).copy(h, 6);
  Buffer.from(dstMac.split(':').map((x) => parseInt(x, 16))).copy(h, 0);
  h.writeUInt16BE(l3[0] >> 4 === 4 ? 0x0800 : 0x86dd, 12);
  return Buffer.concat([h, l3]);
}

function assertValid(p: Parsed) {
  assert.ok(p.ip, 'output has an IP header');
  assert.equal(p.ip.checksumOk, true, 'IPv4 header checksum');
  if (p.tcp) assert.equal(p.tcp.checksumOk, true, 'TCP checksum');
  if (p.udp) assert.equal(p.udp.checksumOk, true, 'UDP checksum');
  if (p.sctp) assert.equal(p.sctp.checksumOk, true, 'SCTP CRC32c');
}

for (const f of FAMS) {
  const fam = `IPv${f.v}`;

  test(`${fam}: NodePort to a local backend: XDP passes untouched, tc DNATs, egress reverses`, () => {
    const inFrame = tcpFrame(f.client, f.node, 40001, 30080);
    const x = expectRun('xdp', inFrame, XDP.PASS, CNT.TO_TC);
    assert.deepEqual(x.out, inFrame, 'XDP leaves local-backend packets to tc unchanged');
    const t = expectRun('tc', inFrame, TC.OK, CNT.LOCAL_DNAT);
    assertValid(t.p);
    assert.equal(t.p.ip?.dst, f.localBe);
    assert.equal(t.p.ip?.src, f.client);
    assert.equal(t.p.tcp?.dport, 8080);
    assert.equal(t.p.tcp?.sport, 40001);
    assert.equal(t.p.ip?.ttl, 64, 'the stack routes it, so TTL is untouched');
    assert.deepEqual(t.p.payload.toString(), 'hello');
    const ct = env.ctEntries();
    const fwd = ct.find((e) => e.key.src === f.client && e.key.dport === 30080);
    const rev = ct.find((e) => e.key.src === f.localBe && e.key.sport === 8080);
    assert.ok(fwd && rev, `forward and reply entries exist: ${JSON.stringify(ct.map((e) => e.key))}`);
    assert.equal(fwd.flags, CT.LOCAL);
    assert.equal(rev.flags, CT.LOCAL | CT.REPLY);
    assert.equal(fwd.serviceId, f.base + 1);
    // The backend's reply leaves through tc egress with the NodePort as its source.
    const reply = tcpFrame(f.localBe, f.client, 8080, 40001, TCP_FLAGS.SYN | TCP_FLAGS.ACK, 63, MAC.ext0, MAC.client);
    const e = expectRun('egress', reply, TC.OK, CNT.REPLY_LOCAL);
    assertValid(e.p);
    assert.equal(e.p.ip?.src, f.node);
    assert.equal(e.p.tcp?.sport, 30080);
    assert.equal(e.p.ip?.dst, f.client);
    assert.equal(e.p.tcp?.dport, 40001);
    // Later packets of the flow follow the entry (ACK, no new selection).
    const ack = expectRun('tc', tcpFrame(f.client, f.node, 40001, 30080, TCP_FLAGS.ACK), TC.OK, CNT.LOCAL_DNAT);
    assert.equal(ack.p.ip?.dst, f.localBe);
    assert.equal(env.ctEntries().find((x2) => x2.key.src === f.client)?.tcpState, 1, 'ACK marks the flow established');
  });

  test(`${fam}: UDP NodePort to a local backend is DNATed by tc and reversed at egress`, () => {
    const t = expectRun('tc', udpFrame(f.client, f.node, 5000, 30054), TC.OK, CNT.LOCAL_DNAT);
    assertValid(t.p);
    assert.equal(t.p.ip?.dst, f.localBe);
    assert.equal(t.p.udp?.dport, 5353);
    const e = expectRun('egress', udpFrame(f.localBe, f.client, 5353, 5000, MAC.ext0, MAC.client), TC.OK, CNT.REPLY_LOCAL);
    assertValid(e.p);
    assert.equal(e.p.ip?.src, f.node);
    assert.equal(e.p.udp?.sport, 30054);
  });

  // CHECKSUM_COMPLETE skbs (BPF_F_TEST_SKB_CHECKSUM_COMPLETE): skb->csum sums the packet from the
  // IP header on, and the kernel fails the run (EBADMSG) when the program leaves it disagreeing
  // with the packet. Three packets per flow: the first selects (general path), the second makes
  // the flow established (general path), the third takes the lean path. A routed flow also
  // decrements the TTL / hop limit, which skb->csum must follow for IPv6 (no header checksum).
  {
    const runC = (hook: 'tc' | 'egress', frame: Buffer, verdict: number) => {
      let r;
      try {
        r = (hook === 'tc' ? env.tcIngress : env.tcEgress).testRun({ data: frame, ctx: skbCtx(EXT0), checksumComplete: true });
      } catch (err) {
        const q = parse(frame);
        throw new Error(`${hook} ${q.ip?.src} -> ${q.ip?.dst} ${q.tcp?.dport ?? q.udp?.dport} flags ${q.tcp?.flags}: ${(err as Error).message}`);
      }
      assert.equal(r.retval, verdict, `verdict of ${hook}`);
      const p = parse(r.data);
      assertValid(p);
      return p;
    };
    const udpNoSum = (src: string, dst: string, sport: number, dport: number, srcMac: string = MAC.client, dstMac: string = MAC.ext0) =>
      pkt().eth({ src: srcMac, dst: dstMac }).ip({ src, dst }).udp({ sport, dport, noChecksum: true }).payload('dns?').build();
    /** The SNAT port the node gave the flow from the client's `sport` (remote backends). */
    const snatPort = (sport: number) => env.ctEntries().find((e) => e.key.src === f.client && e.key.sport === sport)!.natSport;
    const TCP3 = [TCP_FLAGS.SYN, TCP_FLAGS.ACK, TCP_FLAGS.ACK];
    const REPLY3 = [TCP_FLAGS.SYN | TCP_FLAGS.ACK, TCP_FLAGS.ACK, TCP_FLAGS.ACK];
    const cases: Array<{ name: string; v4only?: boolean; run: () => void }> = [
      { name: 'TCP to a local backend and its reply', run: () => {
        for (const fl of TCP3) assert.equal(runC('tc', tcpFrame(f.client, f.node, 40301, 30080, fl), TC.OK).ip?.dst, f.localBe);
        for (const fl of REPLY3) {
          assert.equal(runC('egress', tcpFrame(f.localBe, f.client, 8080, 40301, fl, 63, MAC.ext0, MAC.client), TC.OK).ip?.src, f.node);
        }
      } },
      { name: 'TCP to a remote backend (routed: TTL/hop limit decremented) and its reply', run: () => {
        for (const fl of TCP3) {
          const p = runC('tc', tcpFrame(f.client, f.node, 40302, 30081, fl), TC.REDIRECT);
          assert.equal(p.ip?.dst, f.remoteBe);
          assert.equal(p.ip?.ttl, 63, 'TTL/hop limit decremented');
        }
        const port = snatPort(40302);
        for (const fl of REPLY3) {
          const p = runC('tc', tcpFrame(f.remoteBe, f.node, 8080, port, fl, 64, MAC.nodeB, MAC.ext0), TC.REDIRECT);
          assert.equal(p.tcp?.dport, 40302);
          assert.equal(p.ip?.ttl, 63, 'TTL/hop limit decremented');
        }
      } },
      { name: 'UDP to a local backend and its reply', run: () => {
        for (let i = 0; i < 3; i++) {
          assert.equal(runC('tc', udpFrame(f.client, f.node, 5301, 30054), TC.OK).ip?.dst, f.localBe);
          assert.equal(runC('egress', udpFrame(f.localBe, f.client, 5353, 5301, MAC.ext0, MAC.client), TC.OK).ip?.src, f.node);
        }
      } },
      { name: 'UDP to a remote backend (routed) and its reply', run: () => {
        for (let i = 0; i < 3; i++) {
          const p = runC('tc', udpFrame(f.client, f.node, 5302, 30053), TC.REDIRECT);
          assert.equal(p.ip?.dst, f.remoteBe);
          assert.equal(p.ip?.ttl, 63, 'TTL/hop limit decremented');
        }
        const port = snatPort(5302);
        for (let i = 0; i < 3; i++) assert.equal(runC('tc', udpFrame(f.remoteBe, f.node, 5353, port, MAC.nodeB, MAC.ext0), TC.REDIRECT).udp?.dport, 5302);
      } },
      { name: 'UDP with checksum 0 to a local and a remote backend, and replies (IPv4 only: IPv6 forbids it)', v4only: true, run: () => {
        for (let i = 0; i < 3; i++) {
          const p = runC('tc', udpNoSum(f.client, f.node, 5303, 30054), TC.OK);
          assert.equal(p.ip?.dst, f.localBe);
          assert.equal(p.udp?.checksum, 0, 'no checksum stays no checksum');
          assert.equal(runC('egress', udpNoSum(f.localBe, f.client, 5353, 5303, MAC.ext0, MAC.client), TC.OK).udp?.checksum, 0);
          const q = runC('tc', udpNoSum(f.client, f.node, 5304, 30053), TC.REDIRECT);
          assert.equal(q.ip?.dst, f.remoteBe);
          assert.equal(q.udp?.checksum, 0);
        }
        const port = snatPort(5304);
        for (let i = 0; i < 3; i++) assert.equal(runC('tc', udpNoSum(f.remoteBe, f.node, 5353, port, MAC.nodeB, MAC.ext0), TC.REDIRECT).udp?.dport, 5304);
      } },
    ];
    for (const c of cases) {
      if (c.v4only && f.v !== 4) continue;
      test(`${fam} tc, CHECKSUM_COMPLETE skb, skb->csum stays right: ${c.name}`, c.run);
    }
  }

  for (const hook of ['xdp', 'tc'] as const) {
    const fwdVerdict = hook === 'xdp' ? XDP.TX : TC.REDIRECT;

    test(`${fam} ${hook}: NodePort to a remote backend is SNATed, routed and sent back out; the reply is reversed`, () => {
      const inFrame = tcpFrame(f.client, f.node, 40002, 30081);
      const r = expectRun(hook, inFrame, fwdVerdict, CNT.REMOTE_FWD);
      assertValid(r.p);
      assert.equal(r.p.eth.dst, MAC.nodeB, 'next hop is node-b');
      assert.equal(r.p.eth.src, MAC.ext0);
      assert.equal(r.p.ip?.src, f.node, 'SNAT to the address the route prefers');
      assert.equal(r.p.ip?.dst, f.remoteBe);
      assert.equal(r.p.tcp?.dport, 8080);
      const port = r.p.tcp!.sport;
      assert.ok(port >= SNAT_MIN && port <= SNAT_MAX, `SNAT port ${port} in range`);
      assert.equal(r.p.ip?.ttl, 63, 'we routed it, so TTL drops by one');
      assert.equal(r.p.payload.toString(), 'hello');
      const ct = env.ctEntries();
      const fwd = ct.find((e) => e.key.src === f.client && e.key.dport === 30081);
      const rev = ct.find((e) => e.key.src === f.remoteBe && e.key.dport === port);
      assert.ok(fwd && rev, 'forward entry and SNAT (reply) entry');
      assert.equal(fwd.flags, CT.REMOTE | CT.SNAT);
      assert.equal(fwd.natSrc, f.node);
      assert.equal(fwd.natSport, port);
      assert.equal(rev.flags, CT.REPLY | CT.SNAT);
      assert.equal(rev.key.dst, f.node);
      assert.equal(rev.natSrc, f.node);
      assert.equal(rev.natSport, 30081);
      assert.equal(rev.natDst, f.client);
      assert.equal(rev.natDport, 40002);

      const reply = tcpFrame(f.remoteBe, f.node, 8080, port, TCP_FLAGS.SYN | TCP_FLAGS.ACK, 64, MAC.nodeB, MAC.ext0);
      const b = expectRun(hook, reply, fwdVerdict, CNT.REPLY_FWD);
      assertValid(b.p);
      assert.equal(b.p.eth.dst, MAC.client);
      assert.equal(b.p.ip?.src, f.node);
      assert.equal(b.p.tcp?.sport, 30081);
      assert.equal(b.p.ip?.dst, f.client);
      assert.equal(b.p.tcp?.dport, 40002);
      assert.equal(b.p.tcp?.flags, TCP_FLAGS.SYN | TCP_FLAGS.ACK);
    });

    test(`${fam} ${hook}: UDP NodePort to a remote backend, and its reply`, () => {
      const r = expectRun(hook, udpFrame(f.client, f.node, 5001, 30053), fwdVerdict, CNT.REMOTE_FWD);
      assertValid(r.p);
      assert.equal(r.p.ip?.dst, f.remoteBe);
      assert.equal(r.p.udp?.dport, 5353);
      const port = r.p.udp!.sport;
      const b = expectRun(hook, udpFrame(f.remoteBe, f.node, 5353, port, MAC.nodeB, MAC.ext0), fwdVerdict, CNT.REPLY_FWD);
      assertValid(b.p);
      assert.equal(b.p.ip?.src, f.node);
      assert.equal(b.p.udp?.sport, 30053);
      assert.equal(b.p.udp?.dport, 5001);
    });

    test(`${fam} ${hook}: ExternalIP whose backend is behind another device is redirected there`, () => {
      const r = expectRun(hook, tcpFrame(f.client, f.extIp, 40003, 80), hook === 'xdp' ? XDP.REDIRECT : TC.REDIRECT, CNT.REMOTE_FWD);
      assertValid(r.p);
      assert.equal(r.p.eth.dst, MAC.router1);
      assert.equal(r.p.eth.src, MAC.ext1);
      assert.equal(r.p.ip?.src, f.v === 4 ? '198.18.250.1' : '2001:db8:250::1', 'SNAT to the address of the way out');
      assert.equal(r.p.ip?.dst, f.remoteBe2);
    });

    test(`${fam} ${hook}: loadBalancerSourceRanges admits sources inside and drops the rest`, () => {
      const ok = expectRun(hook, tcpFrame(f.client, f.lbIp, 40004, 443), fwdVerdict, CNT.REMOTE_FWD);
      assert.equal(ok.p.ip?.dst, f.remoteBe);
      expectRun(hook, tcpFrame(f.client2, f.lbIp, 40004, 443), DROP[hook], CNT.SRC_RANGE);
    });

    test(`${fam} ${hook}: packets we must not translate are passed untouched`, () => {
      const cases: Array<[string, Buffer, number]> = [
        ['NodePort port on an address that is not the node\'s', tcpFrame(f.client, f.other, 40005, 30081), CNT.NOT_SERVICE],
        ['port without a service on the node address', tcpFrame(f.client, f.node, 40005, 22), CNT.NOT_SERVICE],
        ['ICMP echo to the node', pkt().eth({ src: MAC.client, dst: MAC.ext0 }).ip({ src: f.client, dst: f.node })
          .icmp({ type: f.v === 4 ? 8 : 128, code: 0, rest: 1 }).build(), CNT.UNSUPP_L4],
        ['ARP', pkt().eth({ src: MAC.client, dst: 'ff:ff:ff:ff:ff:ff', type: 0x0806 }).payload(new Uint8Array(28)).build(), CNT.NOT_IP],
      ];
      for (const [name, frame, reason] of cases) {
        const r = expectRun(hook, frame, PASS[hook], reason);
        assert.deepEqual(r.out, frame, name);
      }
      assert.equal(env.ctEntries().length, 0, 'nothing tracked');
    });

    test(`${fam} ${hook}: a TCP service without endpoints answers RST like a closed port`, () => {
      // SYN without ACK: RST|ACK acknowledging seq + payload + SYN (RFC 793 reset generation).
      const syn = expectRun(hook, tcpFrame(f.client, f.node, 40006, 30099), fwdVerdict, CNT.RST_SENT);
      assertValid(syn.p);
      assert.equal(syn.p.eth.dst, MAC.client);
      assert.equal(syn.p.eth.src, MAC.ext0);
      assert.equal(syn.p.ip?.src, f.node);
      assert.equal(syn.p.ip?.dst, f.client);
      assert.equal(syn.p.tcp?.sport, 30099);
      assert.equal(syn.p.tcp?.dport, 40006);
      assert.equal(syn.p.tcp?.flags, TCP_FLAGS.RST | TCP_FLAGS.ACK);
      assert.equal(syn.p.tcp?.seq, 0);
      assert.equal(syn.p.tcp?.ack, 7 + 5 + 1);
      assert.equal(syn.p.payload.length, 0);
      assert.equal(syn.out.length, 14 + (f.v === 4 ? 20 : 40) + 20);
      // With ACK: the RST carries the acknowledged sequence number and no ACK.
      const ack = expectRun(hook, tcpFrame(f.client, f.node, 40006, 30099, TCP_FLAGS.ACK), fwdVerdict, CNT.RST_SENT);
      assertValid(ack.p);
      assert.equal(ack.p.tcp?.flags, TCP_FLAGS.RST);
      assert.equal(ack.p.tcp?.seq, 9);
      // A RST is never answered.
      expectRun(hook, tcpFrame(f.client, f.node, 40006, 30099, TCP_FLAGS.RST), DROP[hook], CNT.NO_BACKEND);
    });

    test(`${fam} ${hook}: a UDP service without endpoints answers ICMP port unreachable quoting the datagram`, () => {
      const frame = udpFrame(f.client, f.node, 5002, 30098);
      const r = expectRun(hook, frame, fwdVerdict, CNT.ICMP_SENT);
      assertValid(r.p);
      assert.equal(r.p.eth.dst, MAC.client);
      assert.equal(r.p.ip?.src, f.node);
      assert.equal(r.p.ip?.dst, f.client);
      assert.equal(r.p.ip?.proto, f.v === 4 ? PROTO.ICMP : PROTO.ICMPV6);
      assert.equal(r.p.icmp?.type, f.v === 4 ? 3 : 1);
      assert.equal(r.p.icmp?.code, f.v === 4 ? 3 : 4);
      assert.equal(r.p.icmp?.checksumOk, true, 'ICMP checksum');
      const quoteLen = (f.v === 4 ? 20 : 40) + 8;
      assert.deepEqual(r.p.payload, frame.subarray(14, 14 + quoteLen), 'quotes the IP header and 8 bytes');
    });

    test(`${fam} ${hook}: malformed packets are dropped, never translated`, () => {
      const full = tcpFrame(f.client, f.node, 40007, 30081);
      const l4 = 14 + (f.v === 4 ? 20 : 40);
      // Truncated TCP header: the IP length still claims the full segment.
      expectRun(hook, full.subarray(0, l4 + 10), DROP[hook], CNT.MALFORMED);
      // IP length larger than the frame.
      const longer = Buffer.from(full);
      if (f.v === 4) longer.writeUInt16BE(longer.readUInt16BE(16) + 100, 16); else longer.writeUInt16BE(longer.readUInt16BE(18) + 100, 18);
      expectRun(hook, longer, DROP[hook], CNT.MALFORMED);
      if (f.v === 4) {
        const badIhl = pkt().eth({ src: MAC.client, dst: MAC.ext0 }).ipv4({ src: f.client, dst: f.node, ihl: 4 })
          .tcp({ sport: 40007, dport: 30081 }).build();
        expectRun(hook, badIhl, DROP[hook], CNT.MALFORMED);
        // IPv4 options are legal: the L4 header is found after them and translated.
        const opts = pkt().eth({ src: MAC.client, dst: MAC.ext0 }).ipv4({ src: f.client, dst: f.node, options: Uint8Array.of(1, 1, 1, 0) })
          .tcp({ sport: 40008, dport: 30081 }).build();
        const o = expectRun(hook, opts, fwdVerdict, CNT.REMOTE_FWD);
        assertValid(o.p);
        assert.equal(o.p.tcp?.dport, 8080);
      } else {
        // Hop-by-hop and destination options are walked and the L4 header translated.
        const ext = pkt().eth({ src: MAC.client, dst: MAC.ext0 }).ipv6({ src: f.client, dst: f.node, ext: [{ type: 0 }, { type: 60 }] })
          .tcp({ sport: 40008, dport: 30081 }).build();
        const o = expectRun(hook, ext, fwdVerdict, CNT.REMOTE_FWD);
        assertValid(o.p);
        assert.equal(o.p.tcp?.dport, 8080);
        // More extension headers than we walk: passed, not guessed.
        const chain = pkt().eth({ src: MAC.client, dst: MAC.ext0 })
          .ipv6({ src: f.client, dst: f.node, ext: [{ type: 0 }, { type: 60 }, { type: 60 }, { type: 60 }, { type: 60 }] })
          .tcp({ sport: 40009, dport: 30081 }).build();
        const c = expectRun(hook, chain, PASS[hook], CNT.UNSUPP_L4);
        assert.deepEqual(c.out, chain);
        // Extension header running past the packet.
        const cut = pkt().eth({ src: MAC.client, dst: MAC.ext0 })
          .ipv6({ src: f.client, dst: f.node, ext: [{ type: 0, data: new Uint8Array(30) }], payloadLength: 16 })
          .tcp({ sport: 40009, dport: 30081 }).build().subarray(0, 14 + 40 + 16);
        expectRun(hook, cut, DROP[hook], CNT.MALFORMED);
      }
    });

    test(`${fam} ${hook}: a later fragment whose first fragment we never saw is passed untouched`, () => {
      const l3 = pkt().ip({ src: f.client, dst: f.node }).udp({ sport: 5100, dport: 30053 }).payload(new Uint8Array(3000)).buildL3();
      const frags = fragmentL3(l3, 1500, 0x4242);
      const later = eth(frags[1]);
      const r = expectRun(hook, later, PASS[hook], CNT.FRAGMENT);
      assert.deepEqual(r.out, later);
      assert.equal(env.ctEntries().length, 0, 'nothing tracked');
    });

    test(`${fam} ${hook}: a UDP datagram in fragments to a remote backend (SNAT), and the reply in fragments, are translated whole`, () => {
      const payload = Uint8Array.from({ length: 8192 }, (_, i) => (i * 13 + 5) & 0xff);
      const req = pkt().ip({ src: f.client, dst: f.node }).udp({ sport: 5200, dport: 30053 }).payload(payload).buildL3();
      const out = fragmentL3(req, 1500, 0x1111).map((fr) => {
        const r = expectRun(hook, eth(fr), fwdVerdict, CNT.REMOTE_FWD);
        assert.equal(r.p.eth.dst, MAC.nodeB);
        if (f.v === 4) assert.equal(r.p.ip?.checksumOk, true, 'fragment header checksum');
        assert.equal(r.p.ip?.ttl, 63);
        return r.out.subarray(14);
      });
      const sent = parseIp(reassembleL3(out));
      assert.equal(sent.ip?.src, f.node);
      assert.equal(sent.ip?.dst, f.remoteBe);
      assert.equal(sent.udp?.dport, 5353);
      assert.equal(sent.udp?.checksumOk, true, 'the reassembled datagram\'s UDP checksum');
      assert.deepEqual(sent.payload, Buffer.from(payload));
      const port = sent.udp!.sport;
      // The backend answers with a datagram of its own, fragmented by its stack.
      const reply = pkt().ip({ src: f.remoteBe, dst: f.node }).udp({ sport: 5353, dport: port }).payload(payload.subarray(0, 3000)).buildL3();
      const back = fragmentL3(reply, 1280, 0x2222).map((fr) => {
        const r = expectRun(hook, eth(fr, MAC.nodeB, MAC.ext0), fwdVerdict, CNT.REPLY_FWD);
        assert.equal(r.p.eth.dst, MAC.client);
        return r.out.subarray(14);
      });
      const got = parseIp(reassembleL3(back));
      assert.equal(got.ip?.src, f.node);
      assert.equal(got.ip?.dst, f.client);
      assert.equal(got.udp?.sport, 30053);
      assert.equal(got.udp?.dport, 5200);
      assert.equal(got.udp?.checksumOk, true);
      assert.deepEqual(got.payload, Buffer.from(payload.subarray(0, 3000)));
    });

    test(`${fam} ${hook}: TTL / hop limit 1 gets ICMP time exceeded from us, never the stack`, () => {
      for (const [frame, what] of [
        [tcpFrame(f.client, f.node, 40010, 30081, TCP_FLAGS.SYN, 1), 'new flow'],
        [udpFrame(f.client, f.node, 40011, 30053), 'tracked flow'],
      ] as const) {
        let input = frame;
        if (what === 'tracked flow') {
          expectRun(hook, frame, fwdVerdict, CNT.REMOTE_FWD);
          input = Buffer.from(frame);
          if (f.v === 4) { input[22] = 1; input.writeUInt16BE(0, 24); input.writeUInt16BE(inetChecksum(input.subarray(14, 34)), 24); } else input[21] = 1;
        }
        const r = expectRun(hook, input, fwdVerdict, CNT.TTL);
        assertValid(r.p);
        assert.equal(r.p.eth.dst, MAC.client, what);
        assert.equal(r.p.ip?.src, f.node);
        assert.equal(r.p.ip?.dst, f.client);
        assert.equal(r.p.icmp?.type, f.v === 4 ? 11 : 3, `${what}: time exceeded`);
        assert.equal(r.p.icmp?.code, 0);
        assert.equal(r.p.icmp?.checksumOk, true);
        assert.deepEqual(r.p.payload, input.subarray(14, 14 + (f.v === 4 ? 28 : 48)), `${what}: quotes the packet as it arrived`);
      }
    });

    test(`${fam} ${hook}: SNAT port exhaustion drops and counts`, () => {
      const n = SNAT_MAX - SNAT_MIN + 1;
      // Every client port outside the range starts at a random port; all n ports get used.
      for (let i = 0; i < n; i++) expectRun(hook, tcpFrame(f.client, f.node, 50000 + i, 30081), fwdVerdict, CNT.REMOTE_FWD);
      expectRun(hook, tcpFrame(f.client, f.node, 50000 + n, 30081), DROP[hook], CNT.SNAT_EXHAUSTED);
    });
  }

  test(`${fam}: session affinity keeps one client on one backend across connections`, () => {
    for (let i = 0; i < 8; i++) expectRun('xdp', tcpFrame(f.client, f.node, 42000 + i, 30090), XDP.TX, CNT.REMOTE_FWD);
    const chosen = new Set(env.ctEntries().filter((e) => e.key.dport === 30090).map((e) => e.natDst));
    assert.equal(chosen.size, 1, `one backend for all connections, got ${[...chosen].join(', ')}`);
    const aff = env.map('lb_affinity').lookup({ client: addr16(f.client), service_id: f.base + 9, kind: 0 }) as { backend_id: number } | undefined;
    assert.ok(aff, 'affinity entry written by the datapath');
    assert.equal(pool(f, f.base + 10).find((be) => be.id === aff.backend_id)?.addr, [...chosen][0], 'the remembered backend is the one used');
  });

  // kube-proxy never sends affinity traffic to an endpoint that left the service, even while the
  // endpoint lives on elsewhere (its lb_backends entry stays, as when another service uses it).
  const affinityEntry = (serviceId: number) =>
    env.map('lb_affinity').lookup({ client: addr16(f.client), service_id: serviceId, kind: 0 }) as { backend_id: number; slot: number } | undefined;

  for (const hook of ['xdp', 'tc'] as const) {
    const fwd = hook === 'xdp' ? XDP.TX : TC.REDIRECT;
    test(`${fam} ${hook}: session affinity follows slot moves but re-selects once its backend leaves the slots`, () => {
      const id = f.base + (hook === 'xdp' ? 70 : 80);
      const port = hook === 'xdp' ? 30095 : 30096;
      const all = pool(f, id);
      const svc: Service = { id, addr: null, family: f.v, port, proto: PROTO.TCP, flags: SVC.NODEPORT | SVC.AFFINITY, revAddr: f.node,
        affinityTimeout: 60, backends: all };
      env.addService(svc);
      let sport = 46000;
      const connect = () => expectRun(hook, tcpFrame(f.client, f.node, sport++, port), fwd, CNT.REMOTE_FWD).p.ip?.dst;
      const first = connect();
      const sticky = all.find((b) => b.addr === first)!;
      assert.ok(sticky, `chose a pool backend, got ${first}`);
      assert.deepEqual([affinityEntry(id)?.backend_id, affinityEntry(id)?.slot], [sticky.id, all.indexOf(sticky) + 1]);
      for (let i = 0; i < 3; i++) assert.equal(connect(), sticky.addr);

      // Still a member, in another slot (an endpoint added elsewhere in the sort order): sticks.
      const others = all.filter((b) => b !== sticky);
      const moved = all.indexOf(sticky) === 3 ? [sticky, ...others] : [...others, sticky];
      env.addService({ ...svc, backends: moved });
      assert.equal(connect(), sticky.addr);
      assert.equal(affinityEntry(id)?.slot, moved.indexOf(sticky) + 1, 'the entry learnt the new slot');

      // Gone from the slots, still in lb_backends: the live entry must not win any more.
      env.addService({ ...svc, backends: others });
      assert.ok(env.map('lb_backends').lookup(sticky.id), 'backend entry still present');
      const next = connect();
      assert.notEqual(next, sticky.addr, 'affinity must not outlive endpoint membership');
      const chosen = others.find((b) => b.addr === next)!;
      assert.ok(chosen, `re-selected among the remaining backends, got ${next}`);
      assert.equal(affinityEntry(id)?.backend_id, chosen.id, 'the entry re-pointed at the new choice');
      for (let i = 0; i < 4; i++) assert.equal(connect(), chosen.addr, 'and sticks to it');
    });
  }

  test(`${fam}: Maglev with affinity: the entry learns its slot on the first hit and re-selects when the backend leaves`, () => {
    const id = f.base + 75;
    const port = 30097;
    const all = pool(f, id);
    const svc: Service = { id, addr: null, family: f.v, port, proto: PROTO.TCP, flags: SVC.NODEPORT | SVC.AFFINITY | SVC.MAGLEV, revAddr: f.node,
      affinityTimeout: 60, backends: all };
    const table = (backendId: number) => {
      const inner = createMap({ type: 'array', keySize: 4, valueSize: 4, maxEntries: MAGLEV_M, flags: BPF_F_INNER_MAP, name: 'kpb_test_mglv' });
      const idx = Array.from({ length: MAGLEV_M }, (_, i) => i);
      inner.updateBatch(idx, idx.map(() => backendId));
      env.map('lb_maglev').update(id, inner.fd);
      inner.close();
    };
    table(all[1].id);
    env.addService(svc);
    let sport = 46100;
    const connect = () => expectRun('xdp', tcpFrame(f.client, f.node, sport++, port), XDP.TX, CNT.REMOTE_FWD).p.ip?.dst;
    assert.equal(connect(), all[1].addr);
    assert.equal(affinityEntry(id)?.slot, 0, 'a Maglev choice does not know its slot');
    assert.equal(connect(), all[1].addr);
    assert.deepEqual([affinityEntry(id)?.backend_id, affinityEntry(id)?.slot], [all[1].id, 2], 'the first hit found it');
    // The control plane drops the backend: new table, then slots without it.
    table(all[2].id);
    env.addService({ ...svc, backends: [all[0], all[2], all[3]] });
    assert.equal(connect(), all[2].addr, 'affinity must not outlive endpoint membership');
    assert.equal(affinityEntry(id)?.backend_id, all[2].id);
    assert.equal(connect(), all[2].addr);
    assert.equal(affinityEntry(id)?.slot, 2);
  });

  test(`${fam}: random selection spreads connections over the backends`, () => {
    for (let i = 0; i < 24; i++) expectRun('tc', tcpFrame(f.client, f.node, 43000 + i, 30091), TC.REDIRECT, CNT.REMOTE_FWD);
    const chosen = new Set(env.ctEntries().filter((e) => e.key.dport === 30091).map((e) => e.natDst));
    assert.ok(chosen.size > 1, 'more than one backend chosen over 24 connections');
  });

  test(`${fam}: Maglev picks table[hash(flow) % M] for every flow`, () => {
    for (let i = 0; i < 16; i++) {
      const sport = 44000 + i * 7;
      const r = expectRun('xdp', tcpFrame(f.client, f.node, sport, 30092), XDP.TX, CNT.REMOTE_FWD);
      const want = MAGLEV_TABLE(maglevIndex(f.client, sport, 30092, false));
      assert.equal(r.p.ip?.dst, f.v === 4 ? `198.18.2.${10 + want}` : `2001:db8:10:2::${10 + want}`, `sport ${sport}`);
    }
  });

  test(`${fam}: eTP=Local without local endpoints drops silently (no RST), like kube-proxy`, () => {
    expectRun('xdp', tcpFrame(f.client, f.node, 45000, 30093), XDP.DROP, CNT.NO_LOCAL_BACKEND);
    expectRun('tc', tcpFrame(f.client, f.node, 45000, 30093), TC.SHOT, CNT.NO_LOCAL_BACKEND);
  });

  const nodeB = f.v === 4 ? '192.0.2.12' : '2001:db8:1::12';
  const outer = (src: string, dst: string, inner: Buffer, srcMac: string, dstMac: string) =>
    (f.v === 4 ? pkt().eth({ src: srcMac, dst: dstMac }).ipv4({ src, dst, proto: PROTO.IPIP })
      : pkt().eth({ src: srcMac, dst: dstMac }).ipv6({ src, dst, nextHeader: PROTO.IPV6 })).payload(inner).build();

  for (const hook of ['xdp', 'tc'] as const) {
    test(`${fam} ${hook}: DSR encapsulates the untouched packet to the backend's node`, () => {
      const frame = tcpFrame(f.client, f.node, 46000, 30085);
      const r = expectRun(hook, frame, hook === 'xdp' ? XDP.TX : TC.REDIRECT, CNT.DSR_ENCAP);
      assertValid(r.p);
      assert.equal(r.p.eth.dst, MAC.nodeB);
      assert.equal(r.p.eth.src, MAC.ext0);
      assert.equal(r.p.ip?.proto, f.v === 4 ? PROTO.IPIP : PROTO.IPV6);
      assert.equal(r.p.ip?.src, f.node);
      assert.equal(r.p.ip?.dst, nodeB);
      assert.deepEqual(r.p.payload, frame.subarray(14), 'inner packet unchanged: the frontend stays its destination');
      const fwd = env.ctEntries().find((e) => e.key.dport === 30085);
      assert.equal(fwd?.flags, CT.REMOTE | CT.DSR);
      assert.equal(fwd?.natDst, nodeB, 'a DSR entry keeps the tunnel destination in nat_dst');
      // The next packet of the flow follows the entry.
      const ack = expectRun(hook, tcpFrame(f.client, f.node, 46000, 30085, TCP_FLAGS.ACK), hook === 'xdp' ? XDP.TX : TC.REDIRECT, CNT.DSR_ENCAP);
      assert.equal(ack.p.ip?.dst, nodeB);
    });

    test(`${fam} ${hook}: DSR answers fragmentation needed when the outer header would exceed the MTU`, () => {
      const big = pkt().eth({ src: MAC.client, dst: MAC.ext0 }).ip({ src: f.client, dst: f.node })
        .tcp({ sport: 46001, dport: 30085, flags: TCP_FLAGS.ACK, ack: 1 }).payload(new Uint8Array(1500 - (f.v === 4 ? 40 : 60))).build();
      const r = expectRun(hook, big, hook === 'xdp' ? XDP.TX : TC.REDIRECT, CNT.FRAG_NEEDED);
      assertValid(r.p);
      assert.equal(r.p.ip?.dst, f.client);
      assert.equal(r.p.icmp?.type, f.v === 4 ? 3 : 2);
      assert.equal(r.p.icmp?.code, f.v === 4 ? 4 : 0);
      assert.equal(r.p.icmp?.rest & (f.v === 4 ? 0xffff : 0xffffffff), 1500 - (f.v === 4 ? 20 : 40), 'MTU left for the inner packet');
      assert.equal(r.p.icmp?.checksumOk, true);
    });
  }

  test(`${fam}: the backend's node decapsulates, DNATs to its local backend and replies with the frontend as source`, () => {
    // This node plays the backend's node: the LB node (node-b) tunnels a packet the client sent
    // to node-b's NodePort.
    const inner = pkt().ip({ src: f.client, dst: nodeB }).tcp({ sport: 46002, dport: 30086, seq: 7 }).payload('hello').buildL3();
    const xdpIn = outer(nodeB, f.node, inner, MAC.nodeB, MAC.ext0);
    const x = expectRun('xdp', xdpIn, XDP.PASS, CNT.UNSUPP_L4);
    assert.deepEqual(x.out, xdpIn, 'XDP leaves tunnels to tc');
    const t = expectRun('tc', xdpIn, TC.OK, CNT.DSR_DECAP);
    assertValid(t.p);
    assert.equal(t.p.ip?.proto, PROTO.TCP, 'outer header removed');
    assert.equal(t.p.ip?.src, f.client);
    assert.equal(t.p.ip?.dst, f.localBe);
    assert.equal(t.p.tcp?.dport, 8080);
    assert.equal(t.p.payload.toString(), 'hello');
    const reply = tcpFrame(f.localBe, f.client, 8080, 46002, TCP_FLAGS.SYN | TCP_FLAGS.ACK, 64, MAC.ext0, MAC.client);
    const e = expectRun('egress', reply, TC.OK, CNT.DSR_REPLY);
    assertValid(e.p);
    assert.equal(e.p.ip?.src, nodeB, 'the reply shows the address the client used');
    assert.equal(e.p.tcp?.sport, 30086);
    assert.equal(e.p.ip?.dst, f.client);
    // Later packets of the flow use the entry.
    const again = expectRun('tc', outer(nodeB, f.node, pkt().ip({ src: f.client, dst: nodeB })
      .tcp({ sport: 46002, dport: 30086, flags: TCP_FLAGS.ACK }).buildL3(), MAC.nodeB, MAC.ext0), TC.OK, CNT.DSR_DECAP);
    assert.equal(again.p.ip?.dst, f.localBe);
  });

  /** The quoted packet of an ICMP error: its header fields and its ports (read from the first 8 bytes). */
  const quoted = (p: Parsed) => {
    const q = parseIp(p.payload);
    const l4 = p.payload.subarray(f.v === 4 ? 20 : 40);
    return { ip: q.ip!, sport: l4.readUInt16BE(0), dport: l4.readUInt16BE(2) };
  };
  const icmpErr = (src: string, dst: string, quote: Buffer, mtu = 0, srcMac: string = MAC.nodeB, dstMac: string = MAC.ext0) => {
    const o = mtu
      ? (f.v === 4 ? { type: 3, code: 4, rest: mtu } : { type: 2, code: 0, rest: mtu })
      : (f.v === 4 ? { type: 3, code: 3 } : { type: 1, code: 4 });
    return pkt().eth({ src: srcMac, dst: dstMac }).ip({ src, dst }).icmp(o).payload(quote).build();
  };

  for (const hook of ['xdp', 'tc'] as const) {
    test(`${fam} ${hook}: ICMP errors about a SNAT flow reach the client with the quote translated back`, () => {
      const first = expectRun(hook, tcpFrame(f.client, f.node, 40020, 30081), hook === 'xdp' ? XDP.TX : TC.REDIRECT, CNT.REMOTE_FWD);
      const sent = first.out.subarray(14, 14 + (f.v === 4 ? 20 : 40) + 8); // what the backend side saw
      // The backend itself refuses: the error's source is the quoted destination.
      const r = expectRun(hook, icmpErr(f.remoteBe, f.node, Buffer.from(sent)), hook === 'xdp' ? XDP.TX : TC.REDIRECT, CNT.ICMP_XLATE);
      assertValid(r.p);
      assert.equal(r.p.eth.dst, MAC.client);
      assert.equal(r.p.icmp?.checksumOk, true, 'ICMP checksum');
      assert.equal(r.p.ip?.dst, f.client);
      assert.equal(r.p.ip?.src, f.node, 'an error from the backend appears to come from the frontend');
      const q = quoted(r.p);
      assert.equal(q.ip.src, f.client);
      assert.equal(q.ip.dst, f.node);
      assert.equal(q.sport, 40020);
      assert.equal(q.dport, 30081);
      assert.equal(q.ip.checksumOk, true, 'quoted IPv4 header checksum');
      // A router on the way reports a smaller MTU: its own address stays the source.
      const router = f.v === 4 ? '198.18.2.1' : '2001:db8:10:2::1';
      const m = expectRun(hook, icmpErr(router, f.node, Buffer.from(sent), 1400), hook === 'xdp' ? XDP.TX : TC.REDIRECT, CNT.ICMP_XLATE);
      assert.equal(m.p.icmp?.checksumOk, true);
      assert.equal(m.p.ip?.src, router);
      assert.equal(m.p.ip?.dst, f.client);
      assert.equal(m.p.icmp?.rest, 1400);
      assert.equal(quoted(m.p).sport, 40020);
    });

    test(`${fam} ${hook}: ICMP errors quoting an unknown flow are left alone`, () => {
      const stray = pkt().ip({ src: f.node, dst: f.remoteBe }).udp({ sport: 61999, dport: 9 }).buildL3().subarray(0, (f.v === 4 ? 20 : 40) + 8);
      const frame = icmpErr(f.remoteBe, f.node, Buffer.from(stray));
      const r = expectRun(hook, frame, PASS[hook], CNT.UNSUPP_L4);
      assert.deepEqual(r.out, frame);
    });
  }

  test(`${fam}: ICMP errors of a local backend leave with the frontend in the quote and as source`, () => {
    expectRun('tc', udpFrame(f.client, f.node, 5010, 30054), TC.OK, CNT.LOCAL_DNAT);
    // The backend saw client:5010 -> localBe:5353 and refuses it.
    const seen = pkt().ip({ src: f.client, dst: f.localBe }).udp({ sport: 5010, dport: 5353 }).payload('dns?').buildL3()
      .subarray(0, (f.v === 4 ? 20 : 40) + 8);
    const e = expectRun('egress', icmpErr(f.localBe, f.client, Buffer.from(seen), 0, MAC.ext0, MAC.client), TC.OK, CNT.ICMP_XLATE);
    assertValid(e.p);
    assert.equal(e.p.icmp?.checksumOk, true);
    assert.equal(e.p.ip?.src, f.node);
    assert.equal(e.p.ip?.dst, f.client);
    const q = quoted(e.p);
    assert.equal(q.ip.dst, f.node);
    assert.equal(q.dport, 30054);
    assert.equal(q.sport, 5010);
    assert.equal(q.ip.checksumOk, true);
  });

  test(`${fam}: a flow whose backend was removed selects a live backend again`, () => {
    const b = f.base + 60;
    const svc: Service = { id: b, addr: null, family: f.v, port: 30094, proto: PROTO.TCP, flags: SVC.NODEPORT, revAddr: f.node,
      backends: [{ id: b + 1, addr: f.remoteBe, port: 8080 }] };
    env.addService(svc);
    const first = expectRun('xdp', tcpFrame(f.client, f.node, 48000, 30094), XDP.TX, CNT.REMOTE_FWD);
    assert.equal(first.p.ip?.dst, f.remoteBe);
    // The control plane replaces the endpoint: new backend and slot first, then the old backend goes.
    env.addService({ ...svc, backends: [{ id: b + 2, addr: f.remoteBe2, port: 8080 }] });
    env.map('lb_backends').delete(b + 1);
    // Until the agent says backends changed (kpb_gens.be), the flow keeps its entry without
    // looking lb_backends up on every packet; then it re-checks once and selects again.
    const stale = expectRun('xdp', tcpFrame(f.client, f.node, 48000, 30094, TCP_FLAGS.ACK), XDP.TX, CNT.REMOTE_FWD);
    assert.equal(stale.p.ip?.dst, f.remoteBe);
    env.bumpGen('be');
    const next = expectRun('xdp', tcpFrame(f.client, f.node, 48000, 30094, TCP_FLAGS.ACK), XDP.REDIRECT, CNT.REMOTE_FWD);
    assert.equal(next.p.ip?.dst, f.remoteBe2);
    assert.equal(env.ctEntries().find((e) => e.key.src === f.client && e.key.dport === 30094)?.backendId, b + 2);
  });

  test(`${fam}: a UDP datagram in fragments to a local backend is DNATed by tc, its fragmented reply reversed at egress`, () => {
    const payload = Uint8Array.from({ length: 30000 }, (_, i) => (i * 3 + 1) & 0xff);
    const req = pkt().ip({ src: f.client, dst: f.node }).udp({ sport: 5300, dport: 30054 }).payload(payload).buildL3();
    const frags = fragmentL3(req, 1500, 0x3333);
    // XDP leaves local backends to tc, fragments included (the first one selects, in tc).
    const x = expectRun('xdp', eth(frags[0]), XDP.PASS, CNT.TO_TC);
    assert.deepEqual(x.out, eth(frags[0]));
    const out = frags.map((fr) => expectRun('tc', eth(fr), TC.OK, CNT.LOCAL_DNAT).out.subarray(14));
    const got = parseIp(reassembleL3(out));
    assert.equal(got.ip?.dst, f.localBe);
    assert.equal(got.ip?.src, f.client);
    assert.equal(got.udp?.dport, 5353);
    assert.equal(got.udp?.checksumOk, true);
    assert.deepEqual(got.payload, Buffer.from(payload));
    const reply = pkt().ip({ src: f.localBe, dst: f.client }).udp({ sport: 5353, dport: 5300 }).payload(payload).buildL3();
    const back = fragmentL3(reply, 1500, 0x4444).map((fr) => expectRun('egress', eth(fr, MAC.ext0, MAC.client), TC.OK, CNT.REPLY_LOCAL).out.subarray(14));
    const r = parseIp(reassembleL3(back));
    assert.equal(r.ip?.src, f.node);
    assert.equal(r.udp?.sport, 30054);
    assert.equal(r.udp?.checksumOk, true);
    assert.deepEqual(r.payload, Buffer.from(payload));
  });

  test(`${fam}: DSR fragments: the LB node tunnels each fragment, the backend's node decapsulates and DNATs them all`, () => {
    // LB node side: a small datagram in small fragments, so the outer header fits the MTU.
    const payload = Uint8Array.from({ length: 3000 }, (_, i) => (i * 11) & 0xff);
    const nodeB = f.v === 4 ? '192.0.2.12' : '2001:db8:1::12';
    env.addService({ id: f.base + 90, addr: null, family: f.v, port: 30087, proto: PROTO.UDP, flags: SVC.NODEPORT | SVC.DSR, revAddr: f.node,
      backends: [{ id: f.base + 90, addr: f.remoteBe, port: 5353, nodeAddr: nodeB }] });
    const req = pkt().ip({ src: f.client, dst: f.node }).udp({ sport: 5400, dport: 30087 }).payload(payload).buildL3();
    const frags = fragmentL3(req, 1200, 0x5555);
    for (const hook of ['xdp', 'tc'] as const) {
      env.clearCt();
      for (const fr of frags) {
        const r = expectRun(hook, eth(fr), hook === 'xdp' ? XDP.TX : TC.REDIRECT, CNT.DSR_ENCAP);
        assert.equal(r.p.ip?.dst, nodeB);
        assert.deepEqual(r.out.subarray(14 + (f.v === 4 ? 20 : 40)), fr, `${hook}: the fragment travels untouched`);
      }
    }
    // Backend node side (this node plays it): tunnelled fragments of a datagram to node-b's NodePort.
    env.clearCt();
    env.addService({ id: f.base + 91, addr: null, family: f.v, port: 30088, proto: PROTO.UDP, flags: SVC.NODEPORT | SVC.DSR, revAddr: f.node,
      backends: [{ id: f.base + 91, addr: f.localBe, port: 5353, local: true }] });
    const inner2 = pkt().ip({ src: f.client, dst: nodeB }).udp({ sport: 5401, dport: 30088 }).payload(payload).buildL3();
    const tunnelled = fragmentL3(inner2, 1200, 0x6666).map((fr) => (f.v === 4
      ? pkt().eth({ src: MAC.nodeB, dst: MAC.ext0 }).ipv4({ src: nodeB, dst: f.node, proto: PROTO.IPIP })
      : pkt().eth({ src: MAC.nodeB, dst: MAC.ext0 }).ipv6({ src: nodeB, dst: f.node, nextHeader: PROTO.IPV6 })).payload(fr).build());
    const dnat = tunnelled.map((t) => expectRun('tc', t, TC.OK, CNT.DSR_DECAP).out.subarray(14));
    const got = parseIp(reassembleL3(dnat));
    assert.equal(got.ip?.dst, f.localBe);
    assert.equal(got.udp?.dport, 5353);
    assert.equal(got.udp?.checksumOk, true);
    // Its reply, fragmented, leaves with the address the client used.
    const reply = pkt().ip({ src: f.localBe, dst: f.client }).udp({ sport: 5353, dport: 5401 }).payload(payload).buildL3();
    const back = fragmentL3(reply, 1500, 0x7777).map((fr) => expectRun('egress', eth(fr, MAC.ext0, MAC.client), TC.OK, CNT.DSR_REPLY).out.subarray(14));
    const r = parseIp(reassembleL3(back));
    assert.equal(r.ip?.src, nodeB);
    assert.equal(r.udp?.sport, 30088);
    assert.equal(r.udp?.checksumOk, true);
  });

  const sctpFrame = (src: string, dst: string, sport: number, dport: number, srcMac: string = MAC.client, dstMac: string = MAC.ext0, data = 'sctp data') =>
    pkt().eth({ src: srcMac, dst: dstMac }).ip({ src, dst }).sctp({ sport, dport, vtag: 0xcafe0001 }).payload(sctpDataChunk(new TextEncoder().encode(data))).build();
  const sctpServices = () => {
    env.addService({ id: f.base + 92, addr: null, family: f.v, port: 30132, proto: PROTO.SCTP, flags: SVC.NODEPORT, revAddr: f.node,
      backends: [{ id: f.base + 92, addr: f.remoteBe, port: 9132 }] });
    env.addService({ id: f.base + 93, addr: null, family: f.v, port: 30133, proto: PROTO.SCTP, flags: SVC.NODEPORT, revAddr: f.node,
      backends: [{ id: f.base + 93, addr: f.localBe, port: 9132, local: true }] });
    env.addService({ id: f.base + 94, addr: f.extIp, port: 132, proto: PROTO.SCTP, flags: SVC.EXTERNAL_IP,
      backends: [{ id: f.base + 94, addr: f.remoteBe2, port: 9132 }] });
    env.addService({ id: f.base + 95, addr: f.lbIp, port: 132, proto: PROTO.SCTP, flags: SVC.LOADBALANCER,
      backends: [{ id: f.base + 95, addr: f.remoteBe, port: 9132 }] });
  };

  for (const hook of ['xdp', 'tc'] as const) {
    test(`${fam} ${hook}: SCTP NodePort, ExternalIP and LoadBalancer to remote backends: ports rewritten, CRC32c recomputed, replies reversed`, () => {
      sctpServices();
      const cases = [
        { what: 'NodePort', dst: f.node, dport: 30132, be: f.remoteBe, snat: f.node, back: MAC.nodeB, via: EXT0 },
        { what: 'ExternalIP', dst: f.extIp, dport: 132, be: f.remoteBe2, snat: f.v === 4 ? '198.18.250.1' : '2001:db8:250::1', back: MAC.router1, via: EXT1 },
        { what: 'LoadBalancer', dst: f.lbIp, dport: 132, be: f.remoteBe, snat: f.node, back: MAC.nodeB, via: EXT0 },
      ];
      for (const [i, c] of cases.entries()) {
        const sport = 36000 + i;
        const input = sctpFrame(f.client, c.dst, sport, c.dport, MAC.client, MAC.ext0, `hello ${c.what}`);
        assert.equal(parse(input).sctp?.checksumOk, true, 'a valid CRC32c in');
        const fwd = hook === 'xdp' ? (c.via === EXT0 ? XDP.TX : XDP.REDIRECT) : TC.REDIRECT;
        const r = expectRun(hook, input, fwd, CNT.REMOTE_FWD);
        assertValid(r.p);
        assert.equal(r.p.sctp?.checksumOk, true, `${c.what}: the CRC32c out is valid`);
        assert.equal(r.p.ip?.src, c.snat);
        assert.equal(r.p.ip?.dst, c.be);
        assert.equal(r.p.sctp?.dport, 9132);
        assert.equal(r.p.sctp?.vtag, 0xcafe0001, 'the verification tag is untouched');
        assert.deepEqual(r.p.payload, parse(input).payload, 'the chunks are untouched');
        const port = r.p.sctp!.sport;
        const reply = sctpFrame(c.be, c.snat, 9132, port, c.back, c.via === EXT0 ? MAC.ext0 : MAC.ext1, 'reply');
        const b = expectRun(hook, reply, hook === 'xdp' ? (c.via === EXT0 ? XDP.TX : XDP.REDIRECT) : TC.REDIRECT, CNT.REPLY_FWD, c.via);
        assert.equal(b.p.sctp?.checksumOk, true, `${c.what}: the reply's CRC32c is valid`);
        assert.equal(b.p.ip?.src, c.dst);
        assert.equal(b.p.sctp?.sport, c.dport);
        assert.equal(b.p.ip?.dst, f.client);
        assert.equal(b.p.sctp?.dport, sport);
      }
    });
  }

  test(`${fam}: SCTP NodePort to a local backend: tc DNATs with a valid CRC32c, egress reverses`, () => {
    sctpServices();
    const x = expectRun('xdp', sctpFrame(f.client, f.node, 37000, 30133), XDP.PASS, CNT.TO_TC);
    assert.equal(x.p.sctp?.checksumOk, true);
    const t = expectRun('tc', sctpFrame(f.client, f.node, 37000, 30133), TC.OK, CNT.LOCAL_DNAT);
    assert.equal(t.p.sctp?.checksumOk, true);
    assert.equal(t.p.ip?.dst, f.localBe);
    assert.equal(t.p.sctp?.dport, 9132);
    assert.equal(t.p.sctp?.sport, 37000);
    const e = expectRun('egress', sctpFrame(f.localBe, f.client, 9132, 37000, MAC.ext0, MAC.client), TC.OK, CNT.REPLY_LOCAL);
    assert.equal(e.p.sctp?.checksumOk, true);
    assert.equal(e.p.ip?.src, f.node);
    assert.equal(e.p.sctp?.sport, 30133);
    // A big packet (many chunks' worth): the CRC32c update covers any length.
    const big = pkt().eth({ src: MAC.client, dst: MAC.ext0 }).ip({ src: f.client, dst: f.node }).sctp({ sport: 37001, dport: 30133 })
      .payload(sctpDataChunk(Uint8Array.from({ length: 1300 }, (_, i) => i & 0xff))).build();
    const bt = expectRun('tc', big, TC.OK, CNT.LOCAL_DNAT);
    assert.equal(bt.p.sctp?.checksumOk, true);
  });

  test(`${fam}: the next hop is cached in the flow's entry until kpb_gens.nh moves`, () => {
    const nodeB = f.v === 4 ? '192.0.2.12' : '2001:db8:1::12';
    const first = expectRun('xdp', udpFrame(f.client, f.node, 5500, 30053), XDP.TX, CNT.REMOTE_FWD);
    assert.equal(first.p.eth.dst, MAC.nodeB);
    const fwd = env.ctEntries().find((e) => e.key.src === f.client && e.key.sport === 5500)!;
    assert.ok(fwd.nh.ifindex > 0, 'the new flow cached its next hop');
    const moved = '02:00:00:00:0b:0b';
    try {
      sh(['ip', 'neigh', 'replace', nodeB, 'lladdr', moved, 'dev', 'ext0', 'nud', 'permanent']);
      // The neighbour changed, but nobody said so: the cached MAC is used (no FIB lookup).
      assert.equal(expectRun('xdp', udpFrame(f.client, f.node, 5500, 30053), XDP.TX, CNT.REMOTE_FWD).p.eth.dst, MAC.nodeB);
      env.bumpGen('nh');
      assert.equal(expectRun('xdp', udpFrame(f.client, f.node, 5500, 30053), XDP.TX, CNT.REMOTE_FWD).p.eth.dst, moved, 'after the bump the FIB is asked again');
      assert.equal(expectRun('tc', udpFrame(f.client, f.node, 5500, 30053), TC.REDIRECT, CNT.REMOTE_FWD).p.eth.dst, moved);
    } finally {
      sh(['ip', 'neigh', 'replace', nodeB, 'lladdr', MAC.nodeB, 'dev', 'ext0', 'nud', 'permanent']);
      env.bumpGen('nh');
    }
  });

}

test('attachNorthSouth uses native XDP on a veth and falls back to tc only, with a reason, on a bridge', () => {
  const progs = { xdp: env.xdpProg, tcIngress: env.tcIngress, tcEgress: env.tcEgress };
  const veth = attachNorthSouth(progs, EXT0);
  try {
    assert.equal(veth.mode, 'xdp+tc');
    assert.equal(veth.xdpFallbackReason, undefined);
    assert.equal(veth.links.length, 3);
  } finally {
    veth.detach();
  }
  const nox = attachNorthSouth(progs, NOX0);
  try {
    assert.equal(nox.mode, 'tc');
    assert.match(nox.xdpFallbackReason ?? '', /native XDP unavailable on ifindex/);
    assert.equal(nox.links.length, 2);
  } finally {
    nox.detach();
  }
  const off = attachNorthSouth(progs, EXT0, { xdp: false });
  try {
    assert.equal(off.mode, 'tc');
    assert.equal(off.xdpFallbackReason, 'XDP disabled by configuration');
  } finally {
    off.detach();
  }
});

test('hybrid mode (.rodata kpb_lb_mode = 2) uses DSR for TCP and SNAT for UDP', async () => {
  const hybrid = await NpEnv.load({ kpb_lb_mode: 2, kpb_snat_port_min: SNAT_MIN, kpb_snat_port_max: SNAT_MAX }, 'hyb');
  try {
    const f = FAMS[0];
    hybrid.addNodeAddr(f.node);
    for (const proto of [PROTO.TCP, PROTO.UDP]) {
      hybrid.addService({ id: proto, addr: null, family: 4, port: 30070, proto, flags: SVC.NODEPORT, revAddr: f.node,
        backends: [{ id: proto, addr: f.remoteBe, port: 8080, nodeAddr: '192.0.2.12' }] });
    }
    const tf = tcpFrame(f.client, f.node, 47000, 30070);
    const uf = udpFrame(f.client, f.node, 47000, 30070);
    const t = hybrid.xdpProg.testRun({ data: tf, ctx: xdpCtx(EXT0, tf.length) });
    const u = hybrid.xdpProg.testRun({ data: uf, ctx: xdpCtx(EXT0, uf.length) });
    assert.equal(t.retval, XDP.TX);
    assert.equal(parse(t.data).ip?.proto, PROTO.IPIP, 'TCP is tunnelled (DSR)');
    assert.equal(u.retval, XDP.TX);
    assert.equal(parse(u.data).ip?.dst, f.remoteBe, 'UDP is NATed (SNAT)');
    assert.equal(parse(u.data).ip?.src, f.node);
  } finally {
    hybrid.close();
  }
});

test('conntrack entries expire: a new flow selects again and an expired SNAT port is taken over', async () => {
  // lb_kernel_hz = 5 makes a lifetime of N seconds last 5N jiffies: UDP's 60 s become 1.2 s at
  // this kernel's HZ 250 (0.3 s at HZ 1000), long enough to act on a live flow, short to wait out.
  const fast = await NpEnv.load({ lb_kernel_hz: 5, kpb_snat_port_min: 62000, kpb_snat_port_max: 62000 }, 'exp');
  try {
    const f = FAMS[0];
    fast.addNodeAddr(f.node);
    const svc: Service = { id: 1, addr: null, family: 4, port: 30060, proto: PROTO.UDP, flags: SVC.NODEPORT, revAddr: f.node,
      backends: [{ id: 1, addr: f.remoteBe, port: 5353 }] };
    fast.addService(svc);
    const send = (sport: number) => {
      const fr = udpFrame(f.client, f.node, sport, 30060);
      const r = fast.xdpProg.testRun({ data: fr, ctx: xdpCtx(EXT0, fr.length) });
      return { verdict: r.retval, p: parse(r.data) };
    };
    const a = send(5100);
    assert.equal(a.verdict, XDP.TX);
    assert.equal(a.p.udp?.sport, 62000, 'the only SNAT port');
    // Second client port while the first flow lives: the single port is taken.
    assert.equal(send(5101).verdict, XDP.DROP, 'SNAT range exhausted while the first flow lives');
    await new Promise((r) => setTimeout(r, 1600));
    const b = send(5101);
    assert.equal(b.verdict, XDP.TX, 'the expired flow\'s SNAT port is taken over by a new flow');
    assert.equal(b.p.udp?.sport, 62000);
    assert.equal(b.p.ip?.dst, f.remoteBe);
    // Re-point the service: a live flow keeps its backend, an expired one selects again.
    fast.addService({ ...svc, backends: [{ id: 2, addr: f.remoteBe2, port: 5353 }] });
    const live = send(5101);
    assert.equal(live.p.ip?.dst, f.remoteBe, 'live flow keeps its backend');
    await new Promise((r) => setTimeout(r, 1600));
    const again = send(5100);
    assert.equal(again.verdict, XDP.REDIRECT);
    assert.equal(again.p.ip?.dst, f.remoteBe2, 'expired flow selected again');
  } finally {
    fast.close();
  }
});

test('SNAT reservations live in their own map: a flood of other flows evicting conntrack entries never takes a live flow\'s port', async () => {
  // A conntrack LRU of 64 entries: the old single map also held the reservations, and the flood
  // evicted them, handing the port to the next flow while the first one lived (issue 12).
  const small = await NpEnv.load({ kpb_snat_port_min: 63000, kpb_snat_port_max: 63000 }, 'evict', { kpb_ct4: 64, kpb_ct6: 64 });
  try {
    const f = FAMS[0];
    small.addNodeAddr(f.node);
    small.addService({ id: 1, addr: null, family: 4, port: 30060, proto: PROTO.UDP, flags: SVC.NODEPORT, revAddr: f.node,
      backends: [{ id: 1, addr: f.remoteBe, port: 5353 }] });
    small.addService({ id: 2, addr: null, family: 4, port: 30061, proto: PROTO.TCP, flags: SVC.NODEPORT, revAddr: f.node,
      backends: [{ id: 2, addr: f.localBe, port: 8080, local: true }] });
    const run = (frame: Buffer, hook: 'xdp' | 'tc' = 'xdp') => {
      const r = hook === 'xdp' ? small.xdpProg.testRun({ data: frame, ctx: xdpCtx(EXT0, frame.length) }) : small.tcIngress.testRun({ data: frame, ctx: skbCtx(EXT0) });
      return { verdict: r.retval, p: parse(r.data) };
    };
    const a = run(udpFrame(f.client, f.node, 5600, 30060));
    assert.equal(a.verdict, XDP.TX);
    assert.equal(a.p.udp?.sport, 63000, 'the only SNAT port');
    // 400 local flows: 800 conntrack entries through a 64-entry LRU.
    for (let i = 0; i < 400; i++) assert.equal(run(tcpFrame(f.client2, f.node, 20000 + i, 30061), 'tc').verdict, TC.OK);
    assert.ok(small.ctEntries().some((e) => e.map === 'kpb_snat4' && e.key.dport === 63000), 'the reservation survived the flood');
    // The reply of the first flow is still translated back to its client ...
    const back = run(udpFrame(f.remoteBe, f.node, 5353, 63000, MAC.nodeB, MAC.ext0));
    assert.equal(back.verdict, XDP.TX);
    assert.equal(back.p.ip?.dst, f.client);
    assert.equal(back.p.udp?.dport, 5600);
    // ... and another client cannot get its port: the range (one port) is exhausted, counted.
    const before = small.counter(HOOK.XDP, CNT.SNAT_EXHAUSTED);
    assert.equal(run(udpFrame(f.client2, f.node, 5601, 30060)).verdict, XDP.DROP);
    assert.equal(small.counter(HOOK.XDP, CNT.SNAT_EXHAUSTED), before + 1);
  } finally {
    small.close();
  }
});

test('a full SNAT reservation table (4 slots) drops new SNAT flows with their own counter; the sweep frees the slots of ended flows', async () => {
  const small = await NpEnv.load({ lb_kernel_hz: 5, kpb_snat_port_min: 61000, kpb_snat_port_max: 61999 }, 'snatfull', { kpb_snat4: 4, kpb_snat6: 4 });
  try {
    const f = FAMS[0];
    small.addNodeAddr(f.node);
    small.addService({ id: 1, addr: null, family: 4, port: 30060, proto: PROTO.UDP, flags: SVC.NODEPORT, revAddr: f.node,
      backends: [{ id: 1, addr: f.remoteBe, port: 5353 }] });
    const send = (sport: number) => {
      const fr = udpFrame(f.client, f.node, sport, 30060);
      return small.xdpProg.testRun({ data: fr, ctx: xdpCtx(EXT0, fr.length) }).retval;
    };
    for (let i = 0; i < 4; i++) assert.equal(send(5700 + i), XDP.TX);
    assert.equal(send(5710), XDP.DROP);
    assert.equal(small.counter(HOOK.XDP, CNT.SNAT_MAP_FULL), 1, 'counted as a full table, not as exhausted ports');
    assert.equal(small.snatCensus(4), 4, 'every slot claimed');
    assert.equal(small.snatCensus(4, 0, 2) + small.snatCensus(4, 2, 2), 4, 'counted in parts');
    assert.equal(small.snatCensus(4, 4, 1), 0, 'a part past the table is empty');
    assert.equal(small.snatGc(), 0, 'live reservations are kept');
    // UDP lives 60 s x 5 jiffies here: 1.2 s at HZ 250. One flow keeps sending, one way only:
    // its reservation expires (no reply refreshes it) but its forward entry still uses it.
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(send(5700), XDP.TX);
    }
    assert.equal(small.snatGc(), 3, 'the three ended flows\' reservations are freed');
    assert.equal(small.ctEntries().filter((e) => e.map === 'kpb_snat4').length, 1);
    assert.equal(small.snatCensus(4), 1);
    assert.equal(send(5711), XDP.TX, 'room again');
  } finally {
    small.close();
  }
});

for (const f of FAMS) {
  const snatMap = f.v === 4 ? 'kpb_snat4' : 'kpb_snat6';
  const replyKey = (be: string, port: number) => ({
    src: f.v === 4 ? Buffer.from(addr16(be).subarray(12)).readUInt32BE(0) : addr16(be), dst: f.v === 4 ? Buffer.from(addr16(f.node).subarray(12)).readUInt32BE(0) : addr16(f.node),
    sport: 5353, dport: port, proto: PROTO.UDP,
  });

  test(`IPv${f.v}: a SNAT slot held by another tuple's live reservation sends the port walk to the next port; a reply finds only its own tuple`, async () => {
    const e = await NpEnv.load({ kpb_snat_port_min: 62000, kpb_snat_port_max: 62001 }, `slot${f.v}`);
    try {
      e.addNodeAddr(f.node);
      e.addService({ id: 1, addr: null, family: f.v, port: 30060, proto: PROTO.UDP, flags: SVC.NODEPORT, revAddr: f.node, backends: [{ id: 1, addr: f.remoteBe, port: 5353 }] });
      e.addService({ id: 2, addr: null, family: f.v, port: 30061, proto: PROTO.UDP, flags: SVC.NODEPORT, revAddr: f.node, backends: [{ id: 2, addr: f.remoteBe2, port: 5353 }] });
      const run = (fr: Buffer) => {
        const r = e.xdpProg.testRun({ data: fr, ctx: xdpCtx(EXT0, fr.length) });
        return { verdict: r.retval, p: parse(r.data) };
      };
      // The blocker: a live reservation of another tuple (backend 2, port 62000), copied into the
      // slot that backend 1's tuple with port 62000 hashes to.
      assert.notEqual(run(udpFrame(f.client2, f.node, 62000, 30061)).verdict, XDP.DROP);
      const map = e.map(snatMap);
      const [blocker] = claimedSnatSlots(map);
      assert.ok(blocker, 'the blocker flow claimed a slot');
      const target = encodeSnatSlot(map, replyKey(f.remoteBe, 62000), {}).index;
      assert.notEqual(target, blocker.index);
      map.update(target, map.lookup(map.keyCodec!.encode(blocker.index)) as Buffer);

      // The client's port is in the range, so the walk starts there: its slot is taken, 62001 is next.
      const a = run(udpFrame(f.client, f.node, 62000, 30060));
      assert.equal(a.verdict, XDP.TX);
      assert.equal(a.p.udp?.sport, 62001, 'the port whose slot another tuple holds is skipped');
      const back = run(udpFrame(f.remoteBe, f.node, 5353, 62001, MAC.nodeB, MAC.ext0));
      assert.equal(back.verdict, XDP.TX, 'the reply finds its reservation');
      assert.equal(back.p.ip?.dst, f.client);
      assert.equal(back.p.udp?.dport, 62000);
      // A reply to the skipped port hashes to the blocker's slot, whose tuple is not its own.
      const stray = run(udpFrame(f.remoteBe, f.node, 5353, 62000, MAC.nodeB, MAC.ext0));
      assert.equal(stray.verdict, XDP.PASS, 'a slot holding another tuple is no reservation of this one');
      assert.equal(stray.p.udp?.dport, 62000, 'untouched');
      // Every claimed slot sits where the agent's copy of the hash puts its tuple.
      for (const s of claimedSnatSlots(map)) if (s.index !== target) assert.equal(encodeSnatSlot(map, s.key, s.v).index, s.index);
      assert.equal(e.snatCensus(f.v), 3, 'the blocker, its copy and the new flow');
      assert.equal(e.counter(HOOK.XDP, CNT.SNAT_EXHAUSTED) + e.counter(HOOK.XDP, CNT.SNAT_MAP_FULL), 0);
    } finally {
      e.close();
    }
  });

  test(`IPv${f.v}: a reservation of the earlier hash map, converted into its slot, keeps its flow's replies working`, async () => {
    const e = await NpEnv.load({ kpb_snat_port_min: 62000, kpb_snat_port_max: 62001 }, `conv${f.v}`);
    try {
      e.addNodeAddr(f.node);
      e.addService({ id: 1, addr: null, family: f.v, port: 30060, proto: PROTO.UDP, flags: SVC.NODEPORT, revAddr: f.node, backends: [{ id: 1, addr: f.remoteBe, port: 5353 }] });
      const run = (fr: Buffer) => {
        const r = e.xdpProg.testRun({ data: fr, ctx: xdpCtx(EXT0, fr.length) });
        return { verdict: r.retval, p: parse(r.data) };
      };
      const a = run(udpFrame(f.client, f.node, 5800, 30060));
      assert.equal(a.verdict, XDP.TX);
      const port = a.p.udp!.sport;
      const map = e.map(snatMap);
      const [slot] = claimedSnatSlots(map);
      // The old map held exactly this tuple and value (struct kpb_ct4_key/kpb_ct6_key -> struct
      // kpb_ct_value); empty the table as a fresh one after an upgrade is.
      e.clearSnatSlots();
      const reply = () => run(udpFrame(f.remoteBe, f.node, 5353, port, MAC.nodeB, MAC.ext0));
      assert.equal(reply().verdict, XDP.PASS, 'without its reservation the reply is not translated');
      const conv = SNAT_CONVERTERS.find((c) => c.from === snatMap)!;
      const out = conv.convert(slot!.key, slot!.v, (name) => e.map(name)) as { map: string; key: number; value: Buffer };
      assert.equal(out.map, snatMap);
      e.map(out.map).update(out.key, out.value);
      const back = reply();
      assert.equal(back.verdict, XDP.TX, 'the converted reservation is found by the datapath');
      assert.equal(back.p.ip?.dst, f.client);
      assert.equal(back.p.udp?.dport, 5800);
      // Its flow goes on with the same port.
      assert.equal(run(udpFrame(f.client, f.node, 5800, 30060)).p.udp?.sport, port);
    } finally {
      e.close();
    }
  });
}

test('maps written by translate(): eTP=Local drops (none here) or rejects (none anywhere), external scope only, source ranges, Maglev of a non-default size', async () => {
  // The control plane's own encoding (translated.ts), not hand-written entries: a disagreement
  // between src/translate and svc.h/nodeport.h/lb_select.h fails here. M = 251 also checks that
  // lb_maglev accepts inner arrays of the size the agent was told (--bpf-maglev-table-size).
  const M = 251;
  const x = await NpEnv.load({ lb_maglev_m: M, kpb_snat_port_min: SNAT_MIN, kpb_snat_port_max: SNAT_MAX }, 'xlt');
  try {
    const services = [];
    const slices = [];
    for (const f of FAMS) {
      const sfx = `-${f.v}`;
      const withIp = (n: number) => (f.v === 4 ? { clusterIP: `198.19.0.${n}` } : { clusterIP: `2001:db8:20::${n}`, ipFamilies: ['IPv6'] });
      const np = (port: number) => [{ name: 'http', port: 80, nodePort: port }];
      const eps = (name: string, ips: string[]) =>
        slice(name, `${name}-1`, ips.map((ip) => ({ ip, node: 'node-b' })), { addressType: f.v === 4 ? 'IPv4' : 'IPv6' });
      services.push(
        svc(`etp${sfx}`, { ...withIp(20), type: 'NodePort', externalTrafficPolicy: 'Local', ports: np(30180) }),
        svc(`none${sfx}`, { ...withIp(21), type: 'NodePort', externalTrafficPolicy: 'Local', ports: np(30181) }),
        svc(`mag${sfx}`, { ...withIp(22), type: 'NodePort', ports: np(30182) }),
        svc(`lb${sfx}`, { ...withIp(23), type: 'LoadBalancer', loadBalancerSourceRanges: [f.range], ports: [{ name: 'http', port: 443, nodePort: 30183 }] },
          { status: { loadBalancer: { ingress: [{ ip: f.lbIp }] } } }),
      );
      slices.push(eps(`etp${sfx}`, [f.remoteBe]), eps(`mag${sfx}`, pool(f, 0).map((b) => b.addr)), eps(`lb${sfx}`, [f.remoteBe]));
    }
    const t = writeTranslated((n) => x.map(n), { services, slices }, {
      name: 'node-a', labels: {}, nodeIPs: FAMS.map((f) => f.node), nodePortAddresses: FAMS.map((f) => f.node), localhostNodePorts: false,
    }, { maglev: true, maglevTableSize: M });
    const runOn = (hook: Hook, frame: Buffer) => {
      const r = hook === 'xdp' ? x.xdpProg.testRun({ data: frame, ctx: xdpCtx(EXT0, frame.length) }) : x.tcIngress.testRun({ data: frame, ctx: skbCtx(EXT0) });
      return { verdict: r.retval, p: parse(r.data) };
    };
    const expect = (hook: Hook, frame: Buffer, verdict: number, reason: number, what: string) => {
      const id = hookId(hook);
      const before = x.counter(id, reason);
      const r = runOn(hook, frame);
      assert.equal(r.verdict, verdict, `${what}: verdict of ${hook} (counters ${JSON.stringify(x.counters(id))})\n${t.lines.join('\n')}`);
      assert.equal(x.counter(id, reason), before + 1, `${what}: reason ${reason} of ${hook}`);
      return r;
    };
    for (const f of FAMS) {
      for (const hook of ['xdp', 'tc'] as const) {
        const fwd = hook === 'xdp' ? XDP.TX : TC.REDIRECT;
        const what = `IPv${f.v}`;
        x.clearCt();
        expect(hook, tcpFrame(f.client, f.node, 46000, 30180), DROP[hook], CNT.NO_LOCAL_BACKEND, `${what} eTP=Local, endpoints elsewhere`);
        const rst = expect(hook, tcpFrame(f.client, f.node, 46001, 30181), fwd, CNT.RST_SENT, `${what} eTP=Local, no endpoints`);
        assert.equal(rst.p.tcp?.flags, TCP_FLAGS.RST | TCP_FLAGS.ACK);
        expect(hook, tcpFrame(f.client, f.lbIp, 46002, 443), fwd, CNT.REMOTE_FWD, `${what} LB VIP, source inside the range`);
        expect(hook, tcpFrame(f.client2, f.lbIp, 46003, 443), DROP[hook], CNT.SRC_RANGE, `${what} LB VIP, source outside the range`);
        const table = t.maglevTable(t.entry(f.v === 4 ? addr16('0.0.0.0') : new Uint8Array(16), 30182, PROTO.TCP, 0)!.value.service_id)!;
        assert.equal(table.length, M);
        for (let sport = 46100; sport < 46116; sport++) {
          const r = expect(hook, tcpFrame(f.client, f.node, sport, 30182), fwd, CNT.REMOTE_FWD, `${what} Maglev`);
          const be = t.backend(table[maglevIndex(f.client, sport, 30182, false, M)]!)!;
          assert.deepEqual(addr16(r.p.ip!.dst), be.addr, `${what} sport ${sport}`);
        }
      }
    }
    // The eTP=Local NodePort's internal twin alone (its external entry not written yet, or
    // already deleted): external traffic must not use the cluster set. Not a service here.
    for (const f of FAMS) {
      const wild = f.v === 4 ? addr16('0.0.0.0') : new Uint8Array(16);
      const ext = t.entry(wild, 30180, PROTO.TCP, 0)!;
      assert.ok(t.entry(wild, 30180, PROTO.TCP, 1), 'the twin exists');
      x.map('lb_services').delete(ext.key);
      for (const hook of ['xdp', 'tc'] as const) {
        expect(hook, tcpFrame(f.client, f.node, 46200, 30180), PASS[hook], CNT.NOT_SERVICE, `IPv${f.v} twin without its external entry`);
      }
    }
  } finally {
    x.close();
  }
});
