// `make bench`'s sync-micro part (issue 10 item 6): runs e2e/bench/sync-micro.ts --json as a child
// per run, so that each run starts with a fresh heap and its RSS is its own, for every address
// variant at each scale, `rounds` times. A figure is the median of its rounds; the rounds' objects
// are kept (`rounds`) so the report and the charts show the spread. No cluster is needed.
import { join } from 'node:path';
import { run } from '../cluster/run.ts';
import { notRun, type BenchContext, type NotRun } from './context.ts';
import type { SyncMicroRun } from './results.ts';
import { quantile } from './stats.ts';

export interface SyncMicroOptions {
  variants: string[];
  /** Services x endpoints per Service; a single Service runs the distinct variant only. */
  scales: Array<{ services: number; endpoints: number }>;
  changes: number;
  rounds: number;
}

/** One object whose numeric fields are the medians of the rounds' (other fields: the first round's). */
export function medianOfRounds(rounds: Array<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...rounds[0] };
  for (const k of Object.keys(out)) {
    const xs = rounds.map((r) => r[k]).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
    if (typeof out[k] === 'number' && xs.length) out[k] = quantile(xs, 0.5);
  }
  return out;
}

export async function runSyncMicro(ctx: BenchContext, o: SyncMicroOptions): Promise<SyncMicroRun[] | NotRun> {
  if (process.getuid?.() !== 0) return notRun('needs root (BPF maps)');
  const script = join(import.meta.dirname, 'sync-micro.ts');
  const out: SyncMicroRun[] = [];
  for (const { services, endpoints } of o.scales) {
    for (const variant of services > 1 ? o.variants : ['distinct']) {
      const rounds: Array<Record<string, unknown>> = [];
      for (let i = 0; i < o.rounds; i++) {
        const argv = [process.execPath, '--expose-gc', script, '--json', '--variant', variant,
          '--services', String(services), '--endpoints', String(endpoints), '--changes', String(o.changes)];
        const r = await run(argv, { timeoutMs: 900_000, allowFailure: true });
        const last = r.stdout.trim().split('\n').pop() ?? '';
        if (r.code !== 0 || !last.startsWith('{')) {
          throw new Error(`${variant} ${services}x${endpoints} round ${i + 1}: exit ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`);
        }
        const j = JSON.parse(last) as Record<string, unknown>;
        ctx.log(`sync-micro ${variant} ${services}x${endpoints} round ${i + 1}: first sync ${j.firstSyncMs} ms, change p99 ${j.changeP99Ms} ms, ` +
          `full recomputes ${j.fullRecomputes}, RSS ${j.rssMiB} MiB`);
        rounds.push(j);
      }
      out.push({ ...medianOfRounds(rounds), variant, services, endpoints, rounds } as SyncMicroRun);
    }
  }
  return out;
}
