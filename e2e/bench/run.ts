// `make bench`: side-by-side benchmarks of our datapath and upstream kube-proxy (issue 7).
// Not a test: it prints numbers and writes e2e/bench/results/<stamp>.{json,md} and PNG plots.
//
//   node e2e/bench/run.ts [--part forward,progcost,clusterip,control] [--quick]
//
// Environment knobs: BENCH_RATES (pps list, 0 = unlimited), BENCH_DURATION (s per rate),
// BENCH_SCALE (service counts for the control-plane part, e.g. 1000,5000,10000),
// BENCH_CONTROL_CONTENDERS (e.g. ours, or 'kube-proxy nftables'; default all),
// BENCH_CHANGES (endpoint changes per scale), BENCH_RR_SECONDS, BENCH_CRR_SECONDS.
// Every traffic run is bounded in time; everything created (namespaces kpb-bench-<pid>-*, cgroups,
// pins, processes) is removed at the end and on SIGINT/SIGTERM.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createContext, envList, envNumber, isNotRun } from './context.ts';
import { upstreamForward, oursForward } from './contenders.ts';
import { routingFloor, runForward, type ContenderResult } from './forward.ts';
import { runProgCost, type ProgCost } from './progcost.ts';
import { runClusterIp, type ClusterIpResult } from './clusterip.ts';
import { runControlPlane, type ControlResult } from './control.ts';
import { renderMarkdown, renderPlots, targets } from './output.ts';
import type { NotRun } from './context.ts';

const PARTS = ['forward', 'progcost', 'clusterip', 'control'] as const;
type Part = (typeof PARTS)[number];

export interface Results {
  startedAt: string;
  finishedAt?: string;
  machine: { kernel: string; cpus: number; cpuModel: string; node: string; loadavgStart: number[]; loadavgEnd?: number[]; note: string };
  options: Record<string, unknown>;
  forward?: ContenderResult[] | NotRun;
  progcost?: ProgCost | NotRun;
  clusterip?: ClusterIpResult | NotRun;
  control?: ControlResult | NotRun;
  errors: string[];
}

const { values } = parseArgs({
  options: {
    part: { type: 'string', default: PARTS.join(',') },
    quick: { type: 'boolean', default: false },
  },
});
const parts = new Set(String(values.part).split(',').map((p) => p.trim()).filter(Boolean) as Part[]);
for (const p of parts) if (!PARTS.includes(p)) throw new Error(`unknown part ${p}; parts: ${PARTS.join(', ')}`);
if (process.getuid?.() !== 0) throw new Error('the benchmarks need root (namespaces, BPF, netfilter inside the namespaces)');

const root = join(import.meta.dirname, '..', '..');
const resultsDir = join(import.meta.dirname, 'results');
const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace(/Z$/, 'Z');
mkdirSync(resultsDir, { recursive: true });
const ctx = createContext(root, join(resultsDir, `${stamp}-work`), stamp);
const quick = Boolean(values.quick);

const opts = {
  rates: envList('BENCH_RATES', quick ? [50_000, 0] : [25_000, 50_000, 100_000, 200_000, 0]),
  durationS: envNumber('BENCH_DURATION', quick ? 3 : 5),
  warmupS: 1,
  flows: 256,
  cpu: 0,
  progSamples: quick ? 5_000 : 20_000,
  rrSeconds: envNumber('BENCH_RR_SECONDS', quick ? 3 : 10),
  crrSeconds: envNumber('BENCH_CRR_SECONDS', quick ? 3 : 10),
  scales: envList('BENCH_SCALE', quick ? [200] : [1000]),
  changes: envNumber('BENCH_CHANGES', quick ? 20 : 50),
};

const results: Results = {
  startedAt: new Date().toISOString(),
  machine: {
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    loadavgStart: loadavg(),
    note: 'All namespaces share the machine\'s CPUs; CPU figures are machine-wide and include whatever else runs on the host.',
  },
  options: { parts: [...parts], quick, ...opts },
  errors: [],
};

const jsonPath = join(resultsDir, `${stamp}.json`);
const save = (): void => writeFileSync(jsonPath, JSON.stringify(results, null, 2) + '\n');

async function part<T>(name: Part, fn: () => Promise<T>): Promise<T | NotRun> {
  ctx.log(`== ${name}`);
  try {
    return await fn();
  } catch (err) {
    const msg = (err as Error).message;
    results.errors.push(`${name}: ${msg}`);
    ctx.log(`${name} failed: ${msg}`);
    return { status: 'not run', reason: `failed: ${msg.split('\n')[0]}` };
  } finally {
    save();
  }
}

try {
  if (parts.has('progcost')) {
    results.progcost = await part('progcost', () => runProgCost(ctx, opts.progSamples));
  }
  if (parts.has('forward')) {
    results.forward = await part('forward', () => runForward(ctx,
      [routingFloor, upstreamForward('iptables'), upstreamForward('nftables'), oursForward('native'), oursForward('off')], opts));
  }
  if (parts.has('clusterip')) {
    results.clusterip = await part('clusterip', () => runClusterIp(ctx, { rrSeconds: opts.rrSeconds, crrSeconds: opts.crrSeconds }));
  }
  if (parts.has('control')) {
    // Partial results are saved after every measurement: the 10k runs are long.
    results.control = await part('control', () => runControlPlane(ctx, { scales: opts.scales, changes: opts.changes },
      (partial) => { results.control = partial; save(); }));
  }
} finally {
  await ctx.close().catch((e: Error) => results.errors.push(`teardown: ${e.message}`));
  results.finishedAt = new Date().toISOString();
  results.machine.loadavgEnd = loadavg();
  save();
  const verdicts = targets(results);
  const md = renderMarkdown(results, verdicts, stamp);
  writeFileSync(join(resultsDir, `${stamp}.md`), md);
  const pngs = renderPlots(results, resultsDir, stamp);
  process.stdout.write(`\n${md}\n`);
  ctx.log(`wrote ${jsonPath}, ${stamp}.md${pngs.length ? `, ${pngs.join(', ')}` : ''}`);
}
void isNotRun;
