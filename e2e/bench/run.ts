// `make bench`: side-by-side benchmarks of our datapath and upstream kube-proxy (issues 7, 10, 12).
// Not a test: it prints numbers and writes e2e/bench/results/<stamp>/ (results.json with every
// figure and round, results.md with the tables and the targets, one PNG per chart), then merges
// the run into the committed e2e/bench/latest/ (parts not run are kept from the previous latest,
// and results.md says which run each part comes from). --quick runs do not touch latest/.
//
//   node e2e/bench/run.ts [--part forward,progcost,sync-micro,clusterip,control] [--quick] [--no-latest]
//
// Environment knobs: BENCH_LIVE_FRAMES (frames per round of forward.ts), BENCH_LIVE_CPU (its pinned CPU),
// BENCH_SCALE (service counts for the control-plane part, e.g. 1000,5000,10000),
// BENCH_CONTROL_CONTENDERS (e.g. ours, or 'kube-proxy nftables'; default all),
// BENCH_CHANGES (endpoint changes per scale), BENCH_RR_SECONDS, BENCH_CRR_SECONDS,
// BENCH_SYNC_ROUNDS, BENCH_SYNC_CHANGES, BENCH_SYNC_VARIANTS (sync-micro).
// Every traffic run is bounded in time; everything created (namespaces kpb-bench-<pid>-*, cgroups,
// pins, processes) is removed at the end and on SIGINT/SIGTERM.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createContext, envList, envNumber } from './context.ts';
import { runForwardLive } from './forward.ts';
import { runProgCost } from './progcost.ts';
import { runClusterIp } from './clusterip.ts';
import { runControlPlane } from './control.ts';
import { writeResults } from './output.ts';
import { mergeResults, readResults, type Results } from './results.ts';
import { runSyncMicro } from './sync-micro-part.ts';
import type { NotRun } from './context.ts';

const PARTS = ['forward', 'progcost', 'sync-micro', 'clusterip', 'control'] as const;
type Part = (typeof PARTS)[number];

const { values } = parseArgs({
  options: {
    part: { type: 'string', default: PARTS.join(',') },
    quick: { type: 'boolean', default: false },
    latest: { type: 'boolean' },
  },
  allowNegative: true,
});
const parts = new Set(String(values.part).split(',').map((p) => p.trim()).filter(Boolean) as Part[]);
for (const p of parts) if (!PARTS.includes(p)) throw new Error(`unknown part ${p}; parts: ${PARTS.join(', ')}`);
if (process.getuid?.() !== 0) throw new Error('the benchmarks need root (namespaces, BPF, netfilter inside the namespaces)');

const root = join(import.meta.dirname, '..', '..');
const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace(/Z$/, 'Z');
const runDir = join(import.meta.dirname, 'results', stamp);
const latestDir = join(import.meta.dirname, 'latest');
mkdirSync(runDir, { recursive: true });
const ctx = createContext(root, join(runDir, 'work'), stamp);
const quick = Boolean(values.quick);
const writeLatest = values.latest ?? !quick;

const opts = {
  // forward.ts: live frames per round and rounds (measuring.md: 1M frames x 3 rounds, batch 64).
  live: { frames: envNumber('BENCH_LIVE_FRAMES', quick ? 200_000 : 1_000_000), rounds: 3, batch: 64, cpu: envNumber('BENCH_LIVE_CPU', 1) },
  progSamples: quick ? 5_000 : 20_000,
  rrSeconds: envNumber('BENCH_RR_SECONDS', quick ? 3 : 10),
  crrSeconds: envNumber('BENCH_CRR_SECONDS', quick ? 3 : 10),
  scales: envList('BENCH_SCALE', quick ? [200] : [1000]),
  changes: envNumber('BENCH_CHANGES', quick ? 20 : 50),
  syncMicro: {
    variants: (process.env.BENCH_SYNC_VARIANTS ?? 'distinct,shared,conflict').split(',').map((v) => v.trim()).filter(Boolean),
    scales: quick ? [{ services: 1000, endpoints: 10 }] : [{ services: 10_000, endpoints: 10 }, { services: 1, endpoints: 5000 }],
    changes: envNumber('BENCH_SYNC_CHANGES', quick ? 20 : 200),
    rounds: envNumber('BENCH_SYNC_ROUNDS', quick ? 1 : 3),
  },
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

// Saved after every part (and during the long control part), so a run cut short keeps its figures.
const jsonPath = join(runDir, 'results.json');
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
  if (parts.has('sync-micro')) {
    results.syncMicro = await part('sync-micro', () => runSyncMicro(ctx, opts.syncMicro));
  }
  if (parts.has('forward')) {
    results.forward = await part('forward', () => runForwardLive(ctx, opts.live));
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
  const pngs = await writeResults(results, runDir, stamp);
  process.stdout.write(`\n${readFileSync(join(runDir, 'results.md'), 'utf8')}\n`);
  ctx.log(`wrote ${runDir}/results.{json,md}${pngs.length ? `, ${pngs.join(', ')}` : ''}`);
  if (writeLatest) {
    const previous = existsSync(join(latestDir, 'results.json')) ? readResults(join(latestDir, 'results.json')) : undefined;
    await writeResults(mergeResults(previous, results, `run ${stamp}`), latestDir, `latest (run ${stamp})`);
    ctx.log(`merged into ${latestDir}`);
  }
}
