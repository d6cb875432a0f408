// The shape of a `make bench` results file (results.json), how it is read back, and how a run is
// merged into the committed e2e/bench/latest/results.json: parts measured in this run replace the
// old ones, parts not run are carried over and `provenance` says from which run. Hand-written
// `targetNotes` are not carried over: they explain the figures they were written for.
import { readFileSync } from 'node:fs';
import type { ClusterIpResult } from './clusterip.ts';
import type { NotRun } from './context.ts';
import type { ControlResult } from './control.ts';
import type { ContenderResult } from './forward-sweep.ts';
import type { ForwardLive } from './forward.ts';
import type { ProgCost } from './progcost.ts';

export const PARTS = ['forward', 'progcost', 'clusterip', 'control', 'syncMicro'] as const;
export type Part = (typeof PARTS)[number];

/**
 * One sync-micro run (issue 10 item 6): the object `sync-micro.ts --json` prints (variant,
 * services, endpoints, firstSyncMs, changeP50Ms, changeP99Ms, fullRecomputes, heapUsedMiB, rssMiB,
 * cpuMs, ...), each figure the median over `rounds`, which keeps every round's object.
 */
export interface SyncMicroRun {
  variant: string;
  services: number;
  endpoints: number;
  rounds?: Array<Record<string, unknown>>;
  [figure: string]: unknown;
}

export interface Results {
  startedAt: string;
  finishedAt?: string;
  machine: { kernel: string; cpus: number; cpuModel: string; node: string; loadavgStart: number[]; loadavgEnd?: number[]; note: string };
  options: Record<string, unknown>;
  /** The live-frames figures (forward.ts); results before issue 12 hold the trafgen rate sweep. */
  forward?: ForwardLive | ContenderResult[] | NotRun;
  progcost?: ProgCost | NotRun;
  clusterip?: ClusterIpResult | NotRun;
  control?: ControlResult | NotRun;
  syncMicro?: SyncMicroRun[] | NotRun;
  errors: string[];
  /** Part -> where its figures come from when not from this run (a merged latest/, a reconstruction). */
  provenance?: Partial<Record<Part, string>>;
  /** Target name -> the measured reason for its verdict, added by hand (then render.ts re-renders). */
  targetNotes?: Record<string, string>;
  /** Free notes printed under the machine line. */
  notes?: string[];
}

/** A results file; null (what JSON.stringify makes of NaN) reads back as NaN. */
export function readResults(file: string): Results {
  return JSON.parse(readFileSync(file, 'utf8'), (_k, v: unknown) => (v === null ? Number.NaN : v)) as Results;
}

/** `run` with the parts it did not measure taken from `previous`, each marked in `provenance`. */
export function mergeResults(previous: Results | undefined, run: Results, runName: string): Results {
  const out: Results = { ...run, errors: [...run.errors], provenance: {} };
  for (const part of PARTS) {
    if (run[part] !== undefined) {
      out.provenance![part] = runName;
      continue;
    }
    if (previous?.[part] === undefined) continue;
    (out as unknown as Record<Part, unknown>)[part] = previous[part];
    out.provenance![part] = previous.provenance?.[part] ?? `run of ${previous.startedAt}`;
  }
  return out;
}
