// The property run (see nodeport-property.test.ts); never run directly. A seeded generator makes
// random flows - IPv4/IPv6, TCP/UDP/SCTP, random client addresses (two routed prefixes) and ports,
// IPv4 options and IPv6 extension headers, TTLs, payloads, UDP datagrams in fragments - to
// NodePorts with a remote backend (SNAT), a local backend, a DSR backend, and to ExternalIPs
// behind another device. Each flow's packets go through XDP or tc (BPF_PROG_TEST_RUN), and:
//   - every translated packet has a valid IPv4 header checksum and a valid L4 checksum (after
//     reassembly for fragments), and the tuple the flow's kind says;
//   - the backend's reply, run back through the programs, restores the original tuple;
//   - structurally malformed versions of its packets are dropped or passed unchanged, never
//     translated.
// The packet builder and parser compute checksums independently of the BPF code (packet.ts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { inNetns } from './netns.ts';
import { NpEnv, SVC, XDP, TC, xdpCtx, skbCtx, type Service } from './np-env.ts';
import { MAC } from './np-topology.ts';
import { pkt, parse, parseIp, fragmentL3, reassembleL3, inetChecksum, addrBytes, addrText, sctpDataChunk, TCP_FLAGS, PROTO, type Parsed } from './packet.ts';

if (!process.env.KPB_NETNS || !inNetns(process.env.KPB_NETNS)) {
  throw new Error('nodeport-property.inner.ts runs only inside the namespace nodeport-property.test.ts creates');
}
const EXT0 = Number(process.env.KPB_EXT0);
const EXT1 = Number(process.env.KPB_EXT1);
const FLOWS = Number(process.env.KPB_PROP_FLOWS ?? 10_000);
const SEED = Number(process.env.KPB_PROP_SEED ?? Math.floor(Math.random() * 2 ** 31));
const SNAT_MIN = 61000;
const SNAT_MAX = 65535;

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Kind = 'snat' | 'local' | 'dsr' | 'extip';
interface Fam {
  v: 4 | 6; node: string; snatExt1: string; localBe: string; remoteBe: string; remoteBe2: string; nodeB: string; extIp: string;
  client(r: () => number): string;
}
const FAMS: Fam[] = [
  { v: 4, node: '192.0.2.11', snatExt1: '198.18.250.1', localBe: '198.18.1.5', remoteBe: '198.18.2.5', remoteBe2: '198.18.3.5',
    nodeB: '192.0.2.12', extIp: '203.0.113.10',
    client: (r) => `198.19.${128 + Math.floor(r() * 128)}.${1 + Math.floor(r() * 254)}` },
  { v: 6, node: '2001:db8:1::11', snatExt1: '2001:db8:250::1', localBe: '2001:db8:10:1::5', remoteBe: '2001:db8:10:2::5',
    remoteBe2: '2001:db8:10:3::5', nodeB: '2001:db8:1::12', extIp: '2001:db8:20::10',
    // In the parser's canonical text form, so addresses compare as strings.
    client: (r) => addrText(addrBytes(`2001:db8:99:${Math.floor(r() * 0xffff).toString(16)}::${(1 + Math.floor(r() * 0xfffe)).toString(16)}`)) },
];
/** The frontend of each kind and protocol: NodePorts on the node address, ExternalIP port 80. */
type Proto = 'tcp' | 'udp' | 'sctp';
const PORT: Record<Kind, Record<Proto, number>> = {
  snat: { tcp: 31000, udp: 31001, sctp: 31006 }, local: { tcp: 31002, udp: 31003, sctp: 31007 }, dsr: { tcp: 31004, udp: 31005, sctp: 31008 },
  extip: { tcp: 80, udp: 80, sctp: 80 },
};
const BPORT = { tcp: 8080, udp: 5353, sctp: 9132 };
const PROTO_NUM = { tcp: PROTO.TCP, udp: PROTO.UDP, sctp: PROTO.SCTP };

let env: NpEnv;

before(async () => {
  env = await NpEnv.load({ kpb_snat_port_min: SNAT_MIN, kpb_snat_port_max: SNAT_MAX }, 'prop');
  let id = 1;
  for (const f of FAMS) {
    env.addNodeAddr(f.node);
    for (const proto of ['tcp', 'udp', 'sctp'] as const) {
      const p = PROTO_NUM[proto];
      const svcs: Service[] = [
        { id: id++, addr: null, family: f.v, port: PORT.snat[proto], proto: p, flags: SVC.NODEPORT, revAddr: f.node,
          backends: [{ id: id++, addr: f.remoteBe, port: BPORT[proto] }] },
        { id: id++, addr: null, family: f.v, port: PORT.local[proto], proto: p, flags: SVC.NODEPORT, revAddr: f.node,
          backends: [{ id: id++, addr: f.localBe, port: BPORT[proto], local: true }] },
        { id: id++, addr: null, family: f.v, port: PORT.dsr[proto], proto: p, flags: SVC.NODEPORT | SVC.DSR, revAddr: f.node,
          backends: [{ id: id++, addr: f.remoteBe, port: BPORT[proto], nodeAddr: f.nodeB }] },
        { id: id++, addr: f.extIp, port: PORT.extip[proto], proto: p, flags: SVC.EXTERNAL_IP,
          backends: [{ id: id++, addr: f.remoteBe2, port: BPORT[proto] }] },
      ];
      for (const s of svcs) env.addService(s);
    }
  }
});
after(() => env?.close());

type Hook = 'xdp' | 'tc' | 'egress';
let stage = '';
function run(hook: Hook, frame: Buffer, ifindex: number): { verdict: number; out: Buffer } {
  stage = `${hook} on ifindex ${ifindex}, ${frame.length}-byte frame ${frame.subarray(0, 64).toString('hex')}`;
  const r = hook === 'xdp'
    ? env.xdpProg.testRun({ data: frame, ctx: xdpCtx(ifindex, frame.length) })
    : (hook === 'tc' ? env.tcIngress : env.tcEgress).testRun({ data: frame, ctx: skbCtx(ifindex) });
  return { verdict: r.retval, out: r.data };
}

function macBytes(m: string): Buffer {
  return Buffer.from(m.split(':').map((x) => parseInt(x, 16)));
}
function eth(l3: Buffer, src: string, dst: string): Buffer {
  return Buffer.concat([macBytes(dst), macBytes(src), Buffer.from(l3[0] >> 4 === 4 ? [0x08, 0x00] : [0x86, 0xdd]), l3]);
}

function randomBytes(r: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

interface Flow {
  i: number; f: Fam; kind: Kind; proto: Proto; hook: 'xdp' | 'tc'; client: string; sport: number; ttl: number;
  opts: number; exts: number; frag: boolean; size: number; mtu: number;
}

/** An L3 packet of the flow with the generator's IP options / extension headers. */
function l3(fl: Flow, r: () => number, src: string, dst: string, sport: number, dport: number, ttl: number, payload: Uint8Array,
  flags: number = TCP_FLAGS.ACK, headers = true): Buffer {
  const b = pkt();
  if (fl.f.v === 4) {
    // Options: NOPs, ended by EOL, padded to a 4-byte multiple (RFC 791).
    const n = headers ? fl.opts * 4 : 0;
    const options = new Uint8Array(n).fill(1);
    if (n) options[n - 1] = 0;
    b.ipv4({ src, dst, ttl, options, id: Math.floor(r() * 65536) });
  } else {
    const ext = headers ? Array.from({ length: fl.exts }, (_, k) => ({ type: k === 0 ? 0 : 60, data: new Uint8Array(6 + 8 * Math.floor(r() * 3)) })) : [];
    b.ipv6({ src, dst, hopLimit: ttl, ext });
  }
  if (fl.proto === 'tcp') b.tcp({ sport, dport, flags, seq: Math.floor(r() * 2 ** 32), ack: Math.floor(r() * 2 ** 32) });
  else if (fl.proto === 'sctp') return b.sctp({ sport, dport, vtag: Math.floor(r() * 2 ** 32) }).payload(sctpDataChunk(payload)).buildL3();
  else b.udp({ sport, dport });
  return b.payload(payload).buildL3();
}

/** The flow's packets as frames: one, or its fragments. */
function frames(fl: Flow, packet: Buffer, srcMac: string, dstMac: string, r: () => number): Buffer[] {
  const parts = fl.frag ? fragmentL3(packet, fl.mtu, Math.floor(r() * 2 ** 31)) : [packet];
  return parts.map((p) => eth(p, srcMac, dstMac));
}

const L4 = (p: Parsed) => (p.tcp ?? p.udp ?? p.sctp)!;

/** The translated datagram: the one output, or the outputs reassembled. */
function datagram(fl: Flow, outs: Buffer[]): Parsed {
  for (const o of outs) {
    const p = parse(o);
    assert.ok(p.ip, 'an IP packet came out');
    assert.equal(p.ip.checksumOk, true, 'IPv4 header checksum of every packet');
  }
  const whole = fl.frag ? parseIp(reassembleL3(outs.map((o) => o.subarray(14)))) : parse(outs[0]);
  const l4 = L4(whole);
  assert.ok(l4, 'the L4 header is there');
  assert.equal(l4.checksumOk, true, `${fl.proto.toUpperCase()} checksum (CRC32c for SCTP)`);
  return whole;
}

/** Structurally broken copies of a frame (what parse.h must call malformed). */
function malformed(frame: Buffer, fl: Flow, r: () => number): Buffer[] {
  const v4 = fl.f.v === 4;
  const out: Buffer[] = [];
  const ipEnd = 14 + (v4 ? (frame[14] & 0xf) * 4 : 40);
  out.push(frame.subarray(0, 15 + Math.floor(r() * (ipEnd - 15))));            // cut inside the IP header (tc's test run needs > 14 bytes)
  const longer = Buffer.from(frame);                                             // length beyond the frame
  if (v4) longer.writeUInt16BE(longer.readUInt16BE(16) + 1 + Math.floor(r() * 1000), 16);
  else longer.writeUInt16BE(longer.readUInt16BE(18) + 1 + Math.floor(r() * 1000), 18);
  out.push(longer);
  const version = Buffer.from(frame);                                            // wrong version
  version[14] = (version[14] & 0x0f) | ((v4 ? 6 : 4) << 4);
  out.push(version);
  if (v4) {
    const ihl = Buffer.from(frame);                                              // IHL below 5
    ihl[14] = 0x40 | Math.floor(r() * 5);
    ihl.writeUInt16BE(0, 24);
    ihl.writeUInt16BE(inetChecksum(ihl.subarray(14, 34)), 24);
    out.push(ihl);
  }
  if (fl.proto === 'tcp' && !fl.frag) {
    const l4 = 14 + (v4 ? (frame[14] & 0xf) * 4 : 40 + 0);
    if (!v4 && fl.exts) return out; // the data offset lies behind the extension headers
    const doff = Buffer.from(frame);                                             // TCP data offset below 5
    doff[l4 + 12] = (Math.floor(r() * 5) << 4) | (doff[l4 + 12] & 0x0f);
    out.push(doff);
  }
  return out;
}

test(`${FLOWS} random flows (seed ${SEED})`, () => {
  process.stdout.write(`property run: seed ${SEED}, ${FLOWS} flows (replay with KPB_PROP_SEED=${SEED})\n`);
  const r = rng(SEED);
  const counts: Record<string, number> = {};
  let runs = 0;
  for (let i = 0; i < FLOWS; i++) {
    if (i % 500 === 0) env.clearCt();
    const f = FAMS[Math.floor(r() * 2)];
    const kind = (['snat', 'local', 'dsr', 'extip'] as const)[Math.floor(r() * 4)];
    const pr = r();
    const proto: Proto = pr < 0.4 ? 'tcp' : pr < 0.8 ? 'udp' : 'sctp';
    const fl: Flow = {
      i, f, kind, proto, hook: kind === 'local' || r() < 0.5 ? 'tc' : 'xdp', client: f.client(r), sport: 1024 + Math.floor(r() * 64512),
      ttl: r() < 0.03 ? 1 : 2 + Math.floor(r() * 254), opts: r() < 0.3 ? 1 + Math.floor(r() * 10) : 0, exts: r() < 0.3 ? 1 + Math.floor(r() * 3) : 0,
      frag: false, size: Math.floor(r() * 1200), mtu: 1280 + Math.floor(r() * 221),
    };
    if (proto === 'udp' && kind !== 'dsr' && r() < 0.25) {
      fl.frag = true;
      fl.size = 1500 + Math.floor(r() * 8000);
      fl.exts = 0; // packet.ts fragments IPv6 packets without extension headers
    }
    const key = `${f.v}/${kind}/${proto}/${fl.hook}${fl.frag ? '/frag' : ''}${fl.ttl === 1 ? '/ttl1' : ''}`;
    counts[key] = (counts[key] ?? 0) + 1;
    const what = `flow ${i} (seed ${SEED}): IPv${f.v} ${kind} ${proto} via ${fl.hook}, client ${fl.client}:${fl.sport}, ttl ${fl.ttl}, ` +
      `options ${fl.opts * 4} bytes, ${fl.exts} extension headers, ${fl.frag ? `${fl.size}-byte datagram in fragments of ${fl.mtu}` : `${fl.size}-byte payload`}`;
    try {
      const frontend = kind === 'extip' ? f.extIp : f.node;
      const fport = PORT[kind][proto];
      const payload = randomBytes(r, fl.size);
      const first = l3(fl, r, fl.client, frontend, fl.sport, fport, fl.ttl, payload, proto === 'tcp' ? TCP_FLAGS.SYN : 0);
      const ins = frames(fl, first, MAC.client, MAC.ext0, r);
      const outs: Buffer[] = [];
      for (const fr of ins) {
        runs++;
        // Local backends: XDP leaves them to tc untouched, tc translates.
        if (kind === 'local') {
          const x = run('xdp', fr, EXT0);
          assert.equal(x.verdict, XDP.PASS, 'XDP passes local-backend packets to tc');
          assert.deepEqual(x.out, fr, 'untouched by XDP');
        }
        const o = run(fl.hook, fr, EXT0);
        if (fl.ttl === 1) {
          if ((f.v === 4 ? fl.opts : fl.exts) || (fl.frag && f.v === 6)) {
            // Quoting a packet with options or extension headers (an IPv6 fragment has one) is not
            // done: dropped, counted. An IPv4 first fragment is answered like any packet.
            assert.equal(o.verdict, fl.hook === 'xdp' ? XDP.DROP : TC.SHOT, 'TTL 1 with IP options / extension headers is dropped');
            break;
          }
          // Local backends too: the pod is one hop on, and the stack would answer with a quote of the
          // translated packet, which the client could not match.
          assert.equal(o.verdict, fl.hook === 'xdp' ? XDP.TX : TC.REDIRECT, 'TTL 1 is answered');
          const p = parse(o.out);
          assert.equal(p.icmp?.type, f.v === 4 ? 11 : 3, 'time exceeded');
          assert.equal(p.icmp?.checksumOk, true);
          assert.equal(p.ip?.dst, fl.client);
          break;
        }
        const want: number[] = kind === 'local' ? [TC.OK] : fl.hook === 'tc' ? [TC.REDIRECT] : kind === 'extip' ? [XDP.REDIRECT] : [XDP.TX];
        assert.ok(want.includes(o.verdict), `forward verdict ${o.verdict}, expected ${want.join(' or ')}`);
        outs.push(o.out);
      }
      if (fl.ttl === 1) continue;

      if (kind === 'dsr') {
        // Encapsulated to the backend's node, the packet itself untouched.
        const o = parse(outs[0]);
        assert.equal(o.ip?.checksumOk, true, 'outer IPv4 header checksum');
        assert.equal(o.ip?.dst, f.nodeB);
        assert.deepEqual(o.l3.subarray(f.v === 4 ? 20 : 40), first, 'the inner packet travels untouched');
        continue;
      }
      const fwd = datagram(fl, outs);
      const fl4 = L4(fwd);
      if (kind === 'local') {
        assert.equal(fwd.ip?.src, fl.client);
        assert.equal(fwd.ip?.dst, f.localBe);
        assert.equal(fl4.sport, fl.sport);
        assert.equal(fl4.dport, BPORT[proto]);
        assert.equal(fwd.ip?.ttl, fl.ttl, 'the stack routes local backends: TTL untouched');
      } else {
        assert.equal(fwd.ip?.src, kind === 'extip' ? f.snatExt1 : f.node, 'SNAT to the address of the way out');
        assert.equal(fwd.ip?.dst, kind === 'extip' ? f.remoteBe2 : f.remoteBe);
        assert.ok(fl4.sport >= SNAT_MIN && fl4.sport <= SNAT_MAX || fl4.sport === fl.sport, `SNAT port ${fl4.sport}`);
        assert.equal(fl4.dport, BPORT[proto]);
        assert.equal(fwd.ip?.ttl, fl.ttl - 1, 'we routed it: TTL - 1');
      }
      assert.deepEqual(fwd.payload, Buffer.from(proto === 'sctp' ? sctpDataChunk(payload) : payload), 'the payload is untouched');

      // The backend answers: its reply, run back through the programs, restores the tuple.
      const rpay = randomBytes(r, fl.frag ? 1500 + Math.floor(r() * 6000) : Math.floor(r() * 1200));
      const reply = l3(fl, r, fwd.ip!.dst, fwd.ip!.src, fl4.dport, fl4.sport, 64, rpay, TCP_FLAGS.SYN | TCP_FLAGS.ACK, false);
      const [rHook, rIf, rMac] = kind === 'local' ? ['egress', EXT0, MAC.ext0] as const
        : [fl.hook, kind === 'extip' ? EXT1 : EXT0, kind === 'extip' ? MAC.router1 : MAC.nodeB] as const;
      const back: Buffer[] = [];
      for (const fr of frames(fl, reply, rMac, kind === 'extip' ? MAC.ext1 : MAC.ext0, r)) {
        runs++;
        const o = run(rHook, fr, rIf);
        const want: number[] = kind === 'local' ? [TC.OK] : rHook === 'tc' ? [TC.REDIRECT] : kind === 'extip' ? [XDP.REDIRECT] : [XDP.TX];
        assert.ok(want.includes(o.verdict), `reply verdict ${o.verdict}, expected ${want.join(' or ')}`);
        back.push(o.out);
      }
      const rev = datagram(fl, back);
      assert.equal(rev.ip?.src, frontend, 'the reply comes from the frontend');
      assert.equal(L4(rev).sport, fport);
      assert.equal(rev.ip?.dst, fl.client, 'to the client');
      assert.equal(L4(rev).dport, fl.sport);
      assert.deepEqual(rev.payload, Buffer.from(proto === 'sctp' ? sctpDataChunk(rpay) : rpay));
      if (kind !== 'local') assert.equal(parse(back[0]).eth.dst, '02:00:00:00:00:01', 'to the client\'s router');

      // Broken copies of a later packet of the flow: dropped or passed as they are.
      if (r() < 0.2) {
        const later = eth(l3(fl, r, fl.client, frontend, fl.sport, fport, 64, randomBytes(r, 64 + Math.floor(r() * 200))), MAC.client, MAC.ext0);
        for (const bad of malformed(later, fl, r)) {
          for (const hook of ['xdp', 'tc'] as const) {
            runs++;
            let o: { verdict: number; out: Buffer };
            try {
              o = run(hook, bad, EXT0);
            } catch (err) {
              // The kernel's skb test run refuses frames whose IP header is cut (EINVAL): such a
              // frame cannot be handed to tc this way, only to XDP.
              if (hook === 'tc' && (err as { code?: string }).code === 'EINVAL' && bad.length < 14 + (fl.f.v === 4 ? 20 : 40)) continue;
              throw err;
            }
            const dropped = o.verdict === (hook === 'xdp' ? XDP.DROP : TC.SHOT);
            assert.ok(dropped || o.out.equals(bad), `${hook}: a malformed packet came out changed (verdict ${o.verdict})`);
          }
        }
      }
    } catch (err) {
      const e = err as Error & { actual?: unknown; expected?: unknown };
      throw new Error(`${what}: at ${stage}: ${e.message}${'actual' in e ? ` (actual ${String(e.actual)}, expected ${String(e.expected)})` : ''}`, { cause: err });
    }
  }
  process.stdout.write(`property run: ${runs} test runs; flows by kind: ${JSON.stringify(counts)}\n`);
});
