// Our XDP and tc programs' own per-packet cost from BPF_PROG_TEST_RUN (no NIC, no stack): the
// figure Katran's tester reports (spec §3.3), taken the way measuring.md says holds on this VM.
//
//   node e2e/bench/progcost.ts [--json] [--samples N] [--rounds R]
//
// Needs no cluster: it builds its own namespace (datapath/test/np-topology.ts: node-a's uplink,
// a static neighbour for node-b, node-b's pods behind it) and runs progcost.inner.ts inside it.
// Each figure is the p50 of repeat=1 runs on a fresh frame, per round; the result is the median
// of the rounds (>= 3). The warm figures are repeat=200 averages of an established flow.
// --json prints one object with floorP50Ns, xdpEstablishedP50Ns, xdpNewP50Ns,
// tcEstablishedP50Ns, tcNewP50Ns (and the warm figures, the per-round figures and the load).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { run } from '../cluster/run.ts';
import { createFixtureTopology, MAC } from '../../datapath/test/np-topology.ts';
import { BPF_OBJ_DIR } from '../../datapath/test/np-env.ts';
import { notRun, type BenchContext, type NotRun } from './context.ts';
import { quantile, summarize, type Summary } from './stats.ts';

export interface ProgCostCase {
  /** xdp-pass/tc-pass baseline: a program that only returns XDP_PASS / TC_ACT_OK, the method's own overhead. */
  hook: 'xdp' | 'tc' | 'xdp-pass' | 'tc-pass';
  flow: 'established' | 'new' | 'baseline';
  /** All rounds' repeat=1 samples pooled. */
  ns: Summary;
  /** retval -> runs; XDP_TX is 3, TC_ACT_REDIRECT 7. */
  verdicts: Record<string, number>;
}

/** The figures: medians over rounds of each round's p50 (ns). */
export interface ProgCostFigures {
  /** XDP_PASS, attached like our XDP program (called directly by the dispatcher). */
  floorP50Ns: number;
  /** TC_ACT_OK: tc's own fixed part (an skb test run, always an indirect call). */
  tcPassFloorP50Ns: number;
  xdpEstablishedP50Ns: number;
  xdpNewP50Ns: number;
  tcEstablishedP50Ns: number;
  tcNewP50Ns: number;
  /** repeat=200 average of an established flow (median over samples, then over rounds). */
  xdpEstablishedWarmNs: number;
  tcEstablishedWarmNs: number;
  floorWarmNs: number;
}

export interface ProgCost extends ProgCostFigures {
  status: 'ok';
  samples: number;
  rounds: number;
  /** Per-round figures, to show the spread. */
  perRound: ProgCostFigures[];
  cases: ProgCostCase[];
  /** The pooled ns samples as 1,001 quantiles (p0, p0.1, ... p100), kept for the latency CDF plot. */
  raw: Record<string, number[]>;
  /** The datapath's own verdict/reason counters after all runs (by name). */
  counters: Record<string, Record<string, number>>;
  /** 1-minute load average before and after (the machine is shared). */
  loadavg: [number, number];
}

const ROOT = join(import.meta.dirname, '..', '..');
const ADDON = join(ROOT, 'datapath', 'bpf-loader-napi', 'build', 'bpf_loader.node');
const NODE = '192.0.2.11';
const CLIENT = '192.0.2.100';
const BACKEND = '198.18.2.5';
const EXT_IP = '203.0.113.10';

interface Series { ns: number[]; verdicts: Record<string, number> }
interface InnerRound {
  floor: Series; tcFloor: Series; xdpEstablished: Series; xdpNew: Series; tcEstablished: Series; tcNew: Series;
  xdpWarmNs: number[]; tcWarmNs: number[]; xdpPassWarmNs: number[];
}

const median = (xs: number[]): number => quantile(xs, 0.5);

export async function measureProgCost(o: { samples: number; rounds: number; outDir: string; log?: (m: string) => void }): Promise<ProgCost | NotRun> {
  // build/bpf, or KPB_BPF_DIR's objects (np-env.ts), e.g. another branch's for an A/B comparison.
  const bpfDir = BPF_OBJ_DIR;
  for (const f of [join(bpfDir, 'xdp.bpf.o'), join(bpfDir, 'tc.bpf.o'), ADDON]) {
    if (!existsSync(f)) return notRun(`${f} not built (make build)`);
  }
  if (process.getuid?.() !== 0) return notRun('needs root (namespaces, BPF)');
  const passObj = join(o.outDir, 'xdp-pass.bpf.o');
  const tcPassObj = join(o.outDir, 'tc-pass.bpf.o');
  await run(['clang', '-O2', '-target', 'bpf', '-c', join(import.meta.dirname, 'xdp-pass.bpf.c'), '-o', passObj]);
  await run(['clang', '-O2', '-target', 'bpf', '-c', join(import.meta.dirname, 'tc-pass.bpf.c'), '-o', tcPassObj]);
  const load0 = loadavg()[0];
  const topo = createFixtureTopology('pcost');
  try {
    // The warm loop's ExternalIP must be routable for its mirror packet (progcost.inner.ts).
    topo.ns.ip('route', 'add', '203.0.113.0/24', 'via', '192.0.2.12', 'dev', 'ext0');
    const inner = join(import.meta.dirname, 'progcost.inner.ts');
    // ext1p (ext1's peer) is the floor program's spare device.
    const args = [String(topo.ext0), String(topo.ext1), String(topo.ns.ifindex('ext1p')), NODE, CLIENT, BACKEND, EXT_IP, MAC.client, MAC.ext0,
      String(o.samples), String(o.rounds), passObj, tcPassObj];
    // `ip netns exec` gives the process a fresh /sys without bpffs; mount a private one for its pins.
    const r = await run(['ip', 'netns', 'exec', topo.ns.name, 'env', `KPB_BPF_DIR=${bpfDir}`, 'sh', '-c', 'mount -t bpf bpf /sys/fs/bpf && exec "$@"', 'sh',
      process.execPath, inner, ...args], { timeoutMs: 900_000, allowFailure: true });
    if (r.code !== 0) return notRun(`test-run helper failed: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`);
    const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as { rounds: InnerRound[]; counters: Record<string, Record<string, number>> };
    const perRound: ProgCostFigures[] = j.rounds.map((x) => ({
      floorP50Ns: median(x.floor.ns),
      tcPassFloorP50Ns: median(x.tcFloor.ns),
      xdpEstablishedP50Ns: median(x.xdpEstablished.ns),
      xdpNewP50Ns: median(x.xdpNew.ns),
      tcEstablishedP50Ns: median(x.tcEstablished.ns),
      tcNewP50Ns: median(x.tcNew.ns),
      xdpEstablishedWarmNs: median(x.xdpWarmNs),
      tcEstablishedWarmNs: median(x.tcWarmNs),
      floorWarmNs: median(x.xdpPassWarmNs),
    }));
    const fig = (k: keyof ProgCostFigures): number => median(perRound.map((x) => x[k]));
    const cases: ProgCostCase[] = [];
    const raw: Record<string, number[]> = {};
    for (const [key, hook, flow] of [['floor', 'xdp-pass', 'baseline'], ['tcFloor', 'tc-pass', 'baseline'], ['xdpEstablished', 'xdp', 'established'], ['xdpNew', 'xdp', 'new'],
      ['tcEstablished', 'tc', 'established'], ['tcNew', 'tc', 'new']] as const) {
      const ns = j.rounds.flatMap((x) => x[key].ns);
      const verdicts: Record<string, number> = {};
      for (const x of j.rounds) for (const [v, n] of Object.entries(x[key].verdicts)) verdicts[v] = (verdicts[v] ?? 0) + n;
      cases.push({ hook, flow, ns: summarize(ns), verdicts });
      raw[`${hook} ${flow}`] = quantiles(ns, 1001);
    }
    const out: ProgCost = {
      status: 'ok', samples: o.samples, rounds: o.rounds,
      floorP50Ns: fig('floorP50Ns'), tcPassFloorP50Ns: fig('tcPassFloorP50Ns'), xdpEstablishedP50Ns: fig('xdpEstablishedP50Ns'), xdpNewP50Ns: fig('xdpNewP50Ns'),
      tcEstablishedP50Ns: fig('tcEstablishedP50Ns'), tcNewP50Ns: fig('tcNewP50Ns'),
      xdpEstablishedWarmNs: fig('xdpEstablishedWarmNs'), tcEstablishedWarmNs: fig('tcEstablishedWarmNs'), floorWarmNs: fig('floorWarmNs'),
      perRound, cases, raw, counters: j.counters, loadavg: [load0, loadavg()[0]],
    };
    for (const c of cases) o.log?.(`progcost: ${c.hook} ${c.flow}: p50 ${c.ns.p50} ns, p99 ${c.ns.p99} ns, verdicts ${JSON.stringify(c.verdicts)}`);
    return out;
  } finally {
    topo.ns.remove();
  }
}

/** The `make bench` part. */
export function runProgCost(ctx: BenchContext, samples: number): Promise<ProgCost | NotRun> {
  return measureProgCost({ samples, rounds: 3, outDir: ctx.outDir, log: (m) => ctx.log(m) });
}

/** The figures only, as `--json` prints them. */
export function progCostJson(r: ProgCost | NotRun): Record<string, unknown> {
  if (r.status !== 'ok') return { ...r };
  const { raw: _raw, cases: _cases, counters: _counters, ...figures } = r;
  return figures;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, samples: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '3' } } });
  const outDir = mkdtempSync(join(tmpdir(), 'kpb-progcost-'));
  try {
    const r = await measureProgCost({ samples: Number(values.samples), rounds: Math.max(3, Number(values.rounds)), outDir,
      log: values.json ? undefined : (m) => process.stdout.write(`${m}\n`) });
    if (values.json) process.stdout.write(`${JSON.stringify(progCostJson(r))}\n`);
    else process.stdout.write(`${JSON.stringify(progCostJson(r), null, 2)}\n`);
    if (r.status !== 'ok') process.exitCode = 1;
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

/** n evenly spaced quantiles of xs (sorted ascending): the CDF's shape without every sample. */
export function quantiles(xs: number[], n: number): number[] {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length <= n) return s;
  return Array.from({ length: n }, (_, i) => s[Math.round((i * (s.length - 1)) / (n - 1))]);
}
