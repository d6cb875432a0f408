// Runs inside node-a's namespace of the bench cluster (progcost.ts starts it there with a private
// bpffs), so bpf_fib_lookup sees node-a's routes and neighbours. Loads xdp.bpf.o and tc.bpf.o the
// way the datapath fixtures do (datapath/test/np-env.ts: shared maps in one pin folder, a NodePort
// UDP service to a remote backend) and times each program with BPF_PROG_TEST_RUN.
//
// repeat > 1 would re-run the program on the packet it has already rewritten (the kernel does not
// restore the input between repetitions), so every sample is its own repeat=1 run on a fresh copy
// of the 60-byte frame, and the kernel's durationNs of each run is one sample.
import { NpEnv, SVC, HOOK, xdpCtx, skbCtx, XDP, TC } from '../../datapath/test/np-env.ts';
import { pkt, PROTO } from '../../datapath/test/packet.ts';
import { BpfObject } from 'bpf-loader-napi';

const [ifindexArg, nodeIp, clientIp, backendIp, clientMac, nodeMac, samplesArg, passObj] = process.argv.slice(2);
const ifindex = Number(ifindexArg);
const samples = Number(samplesArg ?? 20000);
const NODEPORT = 30080;

const env = await NpEnv.load({ kpb_snat_port_min: 61000, kpb_snat_port_max: 65535 }, 'bench');
try {
  env.addNodeAddr(nodeIp);
  env.addService({ id: 1, addr: null, family: 4, port: NODEPORT, proto: PROTO.UDP, flags: SVC.NODEPORT, revAddr: nodeIp,
    backends: [{ id: 1, addr: backendIp, port: 9 }] });
  const frame = (sport: number): Buffer => pkt().eth({ src: clientMac, dst: nodeMac }).ip({ src: clientIp, dst: nodeIp })
    .udp({ sport, dport: NODEPORT }).payload(new Uint8Array(18)).build() as Buffer;

  const measure = (hook: 'xdp' | 'tc', newFlows: boolean): { ns: number[]; verdicts: Record<string, number> } => {
    env.clearCt();
    const ns: number[] = [];
    const verdicts: Record<string, number> = {};
    const fixed = frame(10_000);
    // New flows are capped at 2000, under half of the SNAT port range (61000-65535), so the
    // random port probing with bounded retries does not run out of ports.
    const n = newFlows ? Math.min(samples, 2000) : samples;
    for (let i = 0; i < n; i++) {
      // new flows: a new source port each run (conntrack + SNAT allocation); else one established flow
      const data = newFlows ? frame(1024 + (i % 60_000)) : Buffer.from(fixed);
      const r = hook === 'xdp'
        ? env.xdpProg.testRun({ data, ctx: xdpCtx(ifindex, data.length) })
        : env.tcIngress.testRun({ data, ctx: skbCtx(ifindex) });
      if (i > 0 || newFlows) ns.push(r.durationNs); // run 0 of the fixed flow creates its entry
      verdicts[r.retval] = (verdicts[r.retval] ?? 0) + 1;
    }
    return { ns, verdicts };
  };
  // The floor of the method: a program that only returns XDP_PASS, timed the same way.
  const pass = await BpfObject.open(passObj).load({});
  const passNs: number[] = [];
  try {
    const f = frame(10_000);
    for (let i = 0; i < samples; i++) passNs.push(pass.program('kpb_bench_pass').testRun({ data: Buffer.from(f), ctx: xdpCtx(ifindex, f.length) }).durationNs);
  } finally {
    pass.close();
  }
  const out = {
    xdpPassBaseline: { ns: passNs, verdicts: { 2: samples } },
    xdpEstablished: measure('xdp', false),
    xdpNewFlow: measure('xdp', true),
    tcEstablished: measure('tc', false),
    tcNewFlow: measure('tc', true),
    expect: { xdpTx: XDP.TX, tcRedirect: TC.REDIRECT, tcOk: TC.OK },
    counters: { xdp: env.counters(HOOK.XDP), tc: env.counters(HOOK.TC_INGRESS) },
  };
  process.stdout.write(JSON.stringify(out) + '\n');
} finally {
  env.close();
}
