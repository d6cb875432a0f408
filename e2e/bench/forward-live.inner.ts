// One contender of forward.ts's live-frames measurement, run inside node-a's namespace, pinned to
// one CPU by the caller (taskset), with a private bpffs for our pins:
//   node forward-live.inner.ts <json>
// json: { mode: 'floor' | 'stack' | 'ours-xdp' | 'ours-tc', ifindex, frameHex, frames, rounds,
//         batch, liveObj, node, backend, nodePort, backendPort }
// floor     kpb_live_tx (XDP_TX) generates: the veth transmit every contender pays.
// stack     kpb_live_pass generates: frames up node-a's stack, whatever rules it holds (upstream
//           kube-proxy's, installed by the caller).
// ours-xdp  our kpb_xdp_ingress generates: xdp.bpf.o and tc.bpf.o loaded into a private pin folder,
//           the NodePort written as the control plane would (np-env.ts).
// ours-tc   kpb_live_pass generates, our tc programs attached to the device handle the frames.
// Prints one JSON line: { ns: [per round], counters }. Each round is `frames` frames in batches;
// ns is the kernel's average per frame, which includes the transmit and the sink on the far side
// (same CPU) and, for the stack contenders, the stack.
import { BpfObject, attachTc, type BpfProgram, type Link } from 'bpf-loader-napi';
import { NpEnv, SVC, HOOK, xdpCtx } from '../../datapath/test/np-env.ts';
import { PROTO } from '../../datapath/test/packet.ts';

interface Args {
  mode: 'floor' | 'stack' | 'ours-xdp' | 'ours-tc'; ifindex: number; frameHex: string; frames: number; rounds: number; batch: number;
  liveObj: string; node: string; backend: string; nodePort: number; backendPort: number;
}
const a = JSON.parse(process.argv[2]!) as Args;
const frame = Buffer.from(a.frameHex, 'hex');
const ctx = xdpCtx(a.ifindex, frame.length);

const live = await BpfObject.open(a.liveObj).setRodata({ kpb_live_frame: frame }).load({});
let env: NpEnv | undefined;
const links: Link[] = [];
try {
  let gen: BpfProgram = live.program(a.mode === 'floor' ? 'kpb_live_tx' : 'kpb_live_pass');
  if (a.mode === 'ours-xdp' || a.mode === 'ours-tc') {
    env = await NpEnv.load({ kpb_snat_port_min: 61000, kpb_snat_port_max: 65535 }, 'live');
    env.addNodeAddr(a.node);
    env.addService({ id: 1, addr: null, family: 4, port: a.nodePort, proto: PROTO.UDP, flags: SVC.NODEPORT, revAddr: a.node,
      backends: [{ id: 1, addr: a.backend, port: a.backendPort }] });
    if (a.mode === 'ours-xdp') gen = env.xdpProg;
    else {
      links.push(attachTc(env.tcIngress, a.ifindex, { direction: 'ingress' }));
      links.push(attachTc(env.tcEgress, a.ifindex, { direction: 'egress' }));
    }
  }
  // Warm-up: the first frame creates the flow's conntrack entries and caches its next hop; the
  // measured frames are an established flow.
  gen.testRunLive({ data: frame, ctx, repeat: 10_000, batchSize: a.batch });
  const ns: number[] = [];
  for (let r = 0; r < a.rounds; r++) ns.push(gen.testRunLive({ data: frame, ctx, repeat: a.frames, batchSize: a.batch }).durationNs);
  const counters = env ? { xdp: env.counters(HOOK.XDP), tcIngress: env.counters(HOOK.TC_INGRESS), tcEgress: env.counters(HOOK.TC_EGRESS) } : {};
  process.stdout.write(`${JSON.stringify({ ns, counters })}\n`);
} finally {
  for (const l of links.reverse()) l.detach();
  env?.close();
  live.close();
}
