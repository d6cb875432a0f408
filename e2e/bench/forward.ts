// NodePort forwarding, per-packet CPU cost on one pinned CPU (issue 12), the method measuring.md
// found to hold on this VM: BPF_F_TEST_XDP_LIVE_FRAMES.
//
//   node e2e/bench/forward.ts [--json] [--frames N] [--rounds R] [--batch B] [--cpu C]
//
// In node-a's namespace of the bench cluster, the kernel's live-frames generator makes the same
// 60-byte UDP frame (client -> node-a's NodePort) arrive on node-a's eth0, N times per round, in
// batches, from a process pinned to one CPU. What each contender does with it really happens:
//   xdpTxFloor  XDP_TX straight back out (the veth transmit every contender pays);
//   oursXdp     our kpb_xdp_ingress translates (SNAT to the pod on node-b) and sends it out;
//   oursTc      an XDP_PASS generator hands it to the stack, where our tc programs translate and
//               redirect it;
//   nftables / iptables  the same XDP_PASS generator, node-a's stack with upstream kube-proxy's real
//               rules for the same NodePort Service (kube-proxy runs in node-a's namespace against
//               the apiserver): DNAT + masquerade, routed, sent.
// On the far side of eth0 (the fabric port) an XDP sink restores the canonical frame (the
// generator's pages are recycled as they are) and drops it; generator, program, veth transmit,
// stack and sink all run on the pinned CPU, and the kernel's average per frame is the figure
// (it matches system time within 1% here). Contenders alternate within each round; the kube-proxy
// modes are measured while their kube-proxy runs. Each figure is the median over rounds (>= 3),
// with the ratios of the upstream modes over ours.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { PLAN } from '../cluster/plan.ts';
import { run } from '../cluster/run.ts';
import { createContext, notRun, type BenchContext, type NotRun } from './context.ts';
import { ensureNodePortService } from './contenders.ts';
import { ifindexOf, macOf, warmNeighbour } from './net.ts';
import { quantile } from './stats.ts';
import { startUpstream, upstreamMissing, waitForFirstSync, type UpstreamMode } from './upstream.ts';
import { pkt } from '../../datapath/test/packet.ts';

export interface ForwardFigures {
  xdpTxFloorNsPerPkt?: number;
  oursXdpNsPerPkt?: number;
  oursTcNsPerPkt?: number;
  nftablesNsPerPkt?: number;
  iptablesNsPerPkt?: number;
}

export interface ForwardLive extends ForwardFigures {
  status: 'ok';
  frames: number;
  rounds: number;
  batch: number;
  cpu: number;
  /** Each round's figures, in order. */
  perRound: ForwardFigures[];
  /** kube-proxy mode's ns/packet over ours: how many times cheaper ours is. */
  ratios: { nftablesOverOursXdp?: number; iptablesOverOursXdp?: number; nftablesOverOursTc?: number; iptablesOverOursTc?: number };
  /** Why a contender has no figure. */
  notRun: Record<string, string>;
  how: Record<string, string>;
  /** Our datapath's counters after the ours-xdp and ours-tc runs (they must show translation). */
  counters: Record<string, unknown>;
  loadavg: [number, number];
}

const NODE_PORT = 30080;
const BACKEND_PORT = 9;
const INNER = join(import.meta.dirname, 'forward-live.inner.ts');
const SINK = join(import.meta.dirname, 'live-sink.ts');
const median = (xs: number[]): number => quantile(xs, 0.5);

type Mode = 'floor' | 'stack' | 'ours-xdp' | 'ours-tc';

export async function runForwardLive(ctx: BenchContext, o: { frames: number; rounds: number; batch: number; cpu: number }): Promise<ForwardLive | NotRun> {
  if (process.getuid?.() !== 0) return notRun('needs root (namespaces, BPF)');
  const rounds = Math.max(3, o.rounds);
  const cluster = await ctx.cluster();
  const a = cluster.nodes['node-a'];
  const backend = cluster.nodes['node-b'].pods[0]!;
  const liveObj = join(ctx.outDir, 'live.bpf.o');
  await run(['clang', '-O2', '-g', '-target', 'bpf', '-D__TARGET_ARCH_x86', `-I${join(ctx.root, 'build', 'include')}`,
    '-c', join(import.meta.dirname, 'live.bpf.c'), '-o', liveObj]);
  const frame = pkt().eth({ src: await macOf(cluster.net.clientNetns, 'eth0'), dst: await macOf(a.netns, 'eth0') })
    .ipv4({ src: PLAN.client.ipv4, dst: a.ipv4, ttl: 64, id: 1 })
    .udp({ sport: 40000, dport: NODE_PORT }).payload(Buffer.concat([Buffer.from('KPBLIVE1'), Buffer.alloc(10)])).build();
  if (frame.length !== 60) throw new Error(`the benchmark frame is ${frame.length} bytes, live.bpf.c expects 60`);
  const ifindex = await ifindexOf(a.netns, 'eth0');
  await warmNeighbour(a.netns, cluster.nodes['node-b'].ipv4);
  await ensureNodePortService(cluster, NODE_PORT, backend.ipv4, BACKEND_PORT);

  const inner = async (mode: Mode, n: number): Promise<{ ns: number[]; counters: Record<string, unknown> }> => {
    const args = { mode, ifindex, frameHex: frame.toString('hex'), frames: o.frames, rounds: n, batch: o.batch, liveObj,
      node: a.ipv4, backend: backend.ipv4, nodePort: NODE_PORT, backendPort: BACKEND_PORT };
    const r = await run(['taskset', '-c', String(o.cpu), 'ip', 'netns', 'exec', a.netns, 'sh', '-c', 'mount -t bpf bpf /sys/fs/bpf && exec "$@"', 'sh',
      process.execPath, INNER, JSON.stringify(args)], { timeoutMs: 600_000, allowFailure: true });
    if (r.code !== 0) throw new Error(`live-frames run (${mode}) failed: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as { ns: number[]; counters: Record<string, unknown> };
  };

  // The sink on the fabric side of node-a's eth0, for the whole measurement.
  const sink = spawn('ip', ['netns', 'exec', cluster.net.fabricNetns, process.execPath, SINK, liveObj, 'f-node-a', frame.toString('hex')],
    { stdio: ['pipe', 'pipe', 'pipe'] });
  let sinkOut = '';
  sink.stdout!.on('data', (d) => { sinkOut += d; });
  sink.stderr!.on('data', (d) => { sinkOut += d; });
  const load0 = loadavg()[0];
  try {
    const deadline = Date.now() + 20_000;
    while (!sinkOut.includes('ready')) {
      if (sink.exitCode !== null || Date.now() > deadline) throw new Error(`the live-frames sink did not start: ${sinkOut.trim()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const perRound: ForwardFigures[] = Array.from({ length: rounds }, () => ({}));
    const counters: Record<string, unknown> = {};
    for (let r = 0; r < rounds; r++) {
      perRound[r]!.xdpTxFloorNsPerPkt = (await inner('floor', 1)).ns[0];
      const x = await inner('ours-xdp', 1);
      perRound[r]!.oursXdpNsPerPkt = x.ns[0];
      counters.oursXdp = x.counters;
      const t = await inner('ours-tc', 1);
      perRound[r]!.oursTcNsPerPkt = t.ns[0];
      counters.oursTc = t.counters;
      ctx.log(`forward (live frames): round ${r + 1}: ${JSON.stringify(perRound[r])}`);
    }
    const notRunReasons: Record<string, string> = {};
    for (const mode of ['nftables', 'iptables'] as const satisfies UpstreamMode[]) {
      const missing = await upstreamMissing(mode);
      if (missing) {
        notRunReasons[mode] = missing;
        continue;
      }
      const up = await startUpstream(a, mode);
      try {
        await waitForFirstSync(up, 60_000);
        const s = await inner('stack', rounds);
        s.ns.forEach((ns, r) => { perRound[r]![`${mode}NsPerPkt`] = ns; });
        ctx.log(`forward (live frames): kube-proxy ${mode}: ${s.ns.join(', ')} ns/packet`);
      } finally {
        await up.stop();
      }
    }
    const fig = (k: keyof ForwardFigures): number | undefined => {
      const xs = perRound.map((p) => p[k]).filter((x): x is number => typeof x === 'number');
      return xs.length ? median(xs) : undefined;
    };
    const f: ForwardFigures = {
      xdpTxFloorNsPerPkt: fig('xdpTxFloorNsPerPkt'), oursXdpNsPerPkt: fig('oursXdpNsPerPkt'), oursTcNsPerPkt: fig('oursTcNsPerPkt'),
      nftablesNsPerPkt: fig('nftablesNsPerPkt'), iptablesNsPerPkt: fig('iptablesNsPerPkt'),
    };
    const ratio = (up?: number, ours?: number) => (up !== undefined && ours ? up / ours : undefined);
    return {
      status: 'ok', frames: o.frames, rounds, batch: o.batch, cpu: o.cpu, ...f, perRound,
      ratios: {
        nftablesOverOursXdp: ratio(f.nftablesNsPerPkt, f.oursXdpNsPerPkt), iptablesOverOursXdp: ratio(f.iptablesNsPerPkt, f.oursXdpNsPerPkt),
        nftablesOverOursTc: ratio(f.nftablesNsPerPkt, f.oursTcNsPerPkt), iptablesOverOursTc: ratio(f.iptablesNsPerPkt, f.oursTcNsPerPkt),
      },
      notRun: notRunReasons,
      how: {
        xdpTxFloor: 'live.bpf.c kpb_live_tx: XDP_TX out of node-a eth0',
        oursXdp: 'xdp.bpf.o kpb_xdp_ingress as the generator (maps filled as the control plane does): SNAT to the pod on node-b, XDP_TX',
        oursTc: 'kpb_live_pass up the stack; tc.bpf.o on node-a eth0 translates and redirects',
        nftables: 'kpb_live_pass up the stack; upstream kube-proxy --proxy-mode=nftables in node-a\'s namespace for the same NodePort Service',
        iptables: 'kpb_live_pass up the stack; upstream kube-proxy --proxy-mode=iptables in node-a\'s namespace for the same NodePort Service',
      },
      counters, loadavg: [load0, loadavg()[0]],
    };
  } finally {
    sink.stdin!.end();
    await new Promise((r) => { if (sink.exitCode !== null) r(null); else { sink.once('exit', r); setTimeout(() => { sink.kill('SIGKILL'); r(null); }, 5000); } });
  }
}

/** The figures only, as `--json` prints them. */
export function forwardJson(r: ForwardLive | NotRun): Record<string, unknown> {
  if (r.status !== 'ok') return { ...r };
  const { counters: _c, how: _h, ...rest } = r;
  return rest;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: {
    json: { type: 'boolean', default: false }, frames: { type: 'string', default: '1000000' }, rounds: { type: 'string', default: '3' },
    batch: { type: 'string', default: '64' }, cpu: { type: 'string', default: '1' },
  } });
  const outDir = mkdtempSync(join(tmpdir(), 'kpb-forward-'));
  const ctx = createContext(join(import.meta.dirname, '..', '..'), outDir, new Date().toISOString().replace(/[:.]/g, '-'));
  if (values.json) ctx.log = () => {};
  try {
    const r = await runForwardLive(ctx, { frames: Number(values.frames), rounds: Number(values.rounds), batch: Number(values.batch), cpu: Number(values.cpu) });
    process.stdout.write(`${JSON.stringify(values.json ? forwardJson(r) : r, null, values.json ? 0 : 2)}\n`);
    if (r.status !== 'ok') process.exitCode = 1;
  } finally {
    await ctx.close();
    rmSync(outDir, { recursive: true, force: true });
  }
}
