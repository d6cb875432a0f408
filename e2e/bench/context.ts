// What every benchmark part shares: one e2e cluster (namespaces kpb-bench-<pid>-*, a real etcd and
// kube-apiserver), the run folder for logs and generated configs, and the knobs from the
// environment. Contenders are pluggable setups: each either prepares itself or says why it cannot
// run, and that reason goes into the results verbatim (never a made-up number).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster, type Cluster } from '../cluster/cluster.ts';

export interface NotRun {
  status: 'not run';
  reason: string;
}

export function notRun(reason: string): NotRun {
  return { status: 'not run', reason };
}

export function isNotRun(x: unknown): x is NotRun {
  return typeof x === 'object' && x !== null && (x as NotRun).status === 'not run';
}

export interface BenchContext {
  root: string;
  /** Folder for this run's JSON, Markdown, PNGs and logs. */
  outDir: string;
  stamp: string;
  cluster(): Promise<Cluster>;
  log(msg: string): void;
}

export function createContext(root: string, outDir: string, stamp: string): BenchContext & { close(): Promise<void> } {
  mkdirSync(outDir, { recursive: true });
  let cluster: Promise<Cluster> | undefined;
  return {
    root, outDir, stamp,
    cluster() {
      cluster ??= startCluster({ runIdPrefix: 'kpb-bench', podsPerNode: 1, dualStack: false });
      return cluster;
    },
    log(msg: string) {
      process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
    },
    async close() {
      if (cluster) await (await cluster).stop();
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function envList(name: string, def: readonly number[]): number[] {
  const v = process.env[name];
  if (!v) return [...def];
  return v.split(',').map((x) => Number(x.trim())).filter((x) => Number.isFinite(x));
}

export function envNumber(name: string, def: number): number {
  const v = Number(process.env[name]);
  return process.env[name] && Number.isFinite(v) ? v : def;
}

export const BPF_DIR = join(import.meta.dirname, '..', '..', 'build', 'bpf');
