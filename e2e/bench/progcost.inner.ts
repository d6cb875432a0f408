// Runs inside the namespace progcost.ts builds (datapath/test/np-topology.ts: node-a's ext0 with a
// static neighbour for node-b, node-b's pods routed through it), so bpf_fib_lookup sees those
// routes. Loads xdp.bpf.o and tc.bpf.o the way the datapath fixtures do (np-env.ts: shared maps in
// one pin folder), writes a UDP NodePort to a remote backend, and times each program with
// BPF_PROG_TEST_RUN, in rounds.
//
// repeat=1 (the figures): the kernel does not restore the input between repetitions, so
// every sample is its own run on a fresh copy of the 60-byte frame, and the kernel's durationNs
// of that run is one sample (a cold first packet: it includes the ~80-110 ns fixed part of
// test_run, which the XDP_PASS floor measures in the same round).
//
// warm (repeat=N): a second conntrack entry maps the translated packet back to the original one,
// so every repetition is a full established forward; the TTL starts at 255 and N stays below it.
// The programs are attached to a spare device first, so test_run does not rewrite the XDP
// dispatcher on every call (measuring.md). The XDP_PASS floor program is attached too (to another
// spare device): an attached XDP program is called directly from the dispatcher, a detached one
// through a retpolined indirect call, ~25 ns more at repeat=1 on this VM, so a detached floor
// would not be the floor of the attached program it is subtracted from. The tc floor (TC_ACT_OK)
// has no dispatcher: tc's test_run always calls indirectly, as it does for our tc program.
import { NpEnv, SVC, HOOK, xdpCtx, skbCtx, XDP, TC } from '../../datapath/test/np-env.ts';
import { pkt, parse, PROTO } from '../../datapath/test/packet.ts';
import { BpfObject, attachXdp, attachTc } from 'bpf-loader-napi';
import { writeMirror } from './progcost-mirror.ts';

const [ifindexArg, spareArg, passSpareArg, nodeIp, clientIp, backendIp, extIp, clientMac, nodeMac, samplesArg, roundsArg, passObj, tcPassObj] = process.argv.slice(2);
const ifindex = Number(ifindexArg);
const spare = Number(spareArg);
const passSpare = Number(passSpareArg);
const samples = Number(samplesArg ?? 20000);
const rounds = Number(roundsArg ?? 3);
const NODEPORT = 30080;
const WARM_REPEAT = 200;
const NEW_FLOWS = 2000; // under half of the SNAT range (61000-65535), so bounded probing never runs out

interface Series { ns: number[]; verdicts: Record<string, number> }
interface Round {
  floor: Series; tcFloor: Series; xdpEstablished: Series; xdpNew: Series; tcEstablished: Series; tcNew: Series;
  xdpWarmNs: number[]; tcWarmNs: number[]; xdpPassWarmNs: number[];
}

const env = await NpEnv.load({ kpb_snat_port_min: 61000, kpb_snat_port_max: 65535 }, 'bench');
const links: Array<{ detach(): void }> = [];
try {
  env.addNodeAddr(nodeIp);
  env.addService({ id: 1, addr: null, family: 4, port: NODEPORT, proto: PROTO.UDP, flags: SVC.NODEPORT, revAddr: nodeIp,
    backends: [{ id: 1, addr: backendIp, port: 9 }] });
  // The warm loop's flow: an ExternalIP, so that its mirror (the translated packet mapped back)
  // is routable too (progcost.ts routes 203.0.113.0/24 via node-b).
  env.addService({ id: 2, addr: extIp, port: 80, proto: PROTO.UDP, flags: SVC.EXTERNAL_IP,
    backends: [{ id: 2, addr: backendIp, port: 9 }] });
  const frame = (sport: number, dst = nodeIp, dport = NODEPORT, ttl = 64): Buffer => pkt().eth({ src: clientMac, dst: nodeMac })
    .ipv4({ src: clientIp, dst, ttl }).udp({ sport, dport }).payload(new Uint8Array(18)).build() as Buffer;
  const pass = await BpfObject.open(passObj).load({});
  const tcPass = await BpfObject.open(tcPassObj).load({});
  links.push(attachXdp(env.xdpProg, spare, { mode: 'native' }));
  links.push(attachXdp(pass.program('kpb_bench_pass'), passSpare, { mode: 'native' }));
  links.push(attachTc(env.tcIngress, spare, { direction: 'ingress' }));
  const run = (hook: 'xdp' | 'tc' | 'pass' | 'tc-pass', data: Buffer, repeat = 1) => (hook === 'tc' || hook === 'tc-pass'
    ? (hook === 'tc' ? env.tcIngress : tcPass.program('kpb_bench_tc_pass')).testRun({ data, ctx: skbCtx(ifindex), repeat })
    : (hook === 'xdp' ? env.xdpProg : pass.program('kpb_bench_pass')).testRun({ data, ctx: xdpCtx(ifindex, data.length), repeat }));

  const measure = (hook: 'xdp' | 'tc', newFlows: boolean, round: number): Series => {
    env.clearCt();
    const ns: number[] = [];
    const verdicts: Record<string, number> = {};
    const fixed = frame(10_000 + round);
    const n = newFlows ? Math.min(samples, NEW_FLOWS) : samples + 1;
    for (let i = 0; i < n; i++) {
      // new flows: a new source port each run (conntrack + SNAT allocation); else one established flow
      const r = run(hook, newFlows ? frame(1024 + ((round * NEW_FLOWS + i) % 60_000)) : Buffer.from(fixed));
      if (i > 0 || newFlows) ns.push(r.durationNs); // run 0 of the fixed flow creates its entries
      verdicts[r.retval] = (verdicts[r.retval] ?? 0) + 1;
    }
    return { ns, verdicts };
  };
  const floor = (hook: 'pass' | 'tc-pass'): Series => {
    const f = frame(10_000);
    const ns: number[] = [];
    for (let i = 0; i < samples; i++) ns.push(run(hook, Buffer.from(f)).durationNs);
    return { ns, verdicts: { [hook === 'pass' ? XDP.PASS : TC.OK]: samples } };
  };
  /** repeat=WARM_REPEAT averages over an established flow that its mirror entry keeps translating. */
  const warm = (hook: 'xdp' | 'tc' | 'pass', reps: number): number[] => {
    env.clearCt();
    const first = frame(20_000, extIp, 80, 255);
    const out: number[] = [];
    if (hook !== 'pass') {
      const r = run(hook, Buffer.from(first));
      const want: number[] = hook === 'xdp' ? [XDP.TX, XDP.REDIRECT] : [TC.REDIRECT];
      if (!want.includes(r.retval)) throw new Error(`warm ${hook}: first packet verdict ${r.retval}`);
      writeMirror(env, parse(first), parse(r.data));
      // Check that the loop really forwards every time: two repetitions give the frame back.
      const two = run(hook, Buffer.from(first), 2);
      const p = parse(two.data);
      if (p.ip?.dst !== extIp || p.ip?.ttl !== 253) throw new Error(`warm ${hook}: mirror loop broken (dst ${p.ip?.dst}, ttl ${p.ip?.ttl})`);
    }
    for (let i = 0; i < reps; i++) out.push(run(hook, Buffer.from(first), WARM_REPEAT).durationNs);
    return out;
  };
  const out: Round[] = [];
  for (let round = 0; round < rounds; round++) {
    // Alternate the contenders inside a round, so machine noise hits them alike.
    out.push({
      floor: floor('pass'),
      tcFloor: floor('tc-pass'),
      xdpEstablished: measure('xdp', false, round),
      xdpNew: measure('xdp', true, round),
      tcEstablished: measure('tc', false, round),
      tcNew: measure('tc', true, round),
      xdpWarmNs: warm('xdp', 200),
      tcWarmNs: warm('tc', 200),
      xdpPassWarmNs: warm('pass', 200),
    });
  }
  for (const l of links.splice(0).reverse()) l.detach();
  pass.close();
  tcPass.close();
  process.stdout.write(JSON.stringify({
    rounds: out,
    expect: { xdpTx: XDP.TX, tcRedirect: TC.REDIRECT, tcOk: TC.OK },
    counters: { xdp: env.counters(HOOK.XDP), tc: env.counters(HOOK.TC_INGRESS) },
  }) + '\n');
} finally {
  for (const l of links.reverse()) l.detach();
  env.close();
}
