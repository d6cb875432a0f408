// Our XDP and tc programs' own per-packet cost from BPF_PROG_TEST_RUN (no NIC, no stack): the
// figure Katran's tester reports (spec §3.3). Runs progcost.inner.ts inside node-a's namespace.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PLAN } from '../cluster/plan.ts';
import { run } from '../cluster/run.ts';
import { BPF_DIR, notRun, type BenchContext, type NotRun } from './context.ts';
import { ifindexOf, macOf, warmNeighbour } from './net.ts';
import { summarize, type Summary } from './stats.ts';

export interface ProgCostCase {
  /** xdp-pass/baseline: a program that only returns XDP_PASS, the method's own overhead. */
  hook: 'xdp' | 'tc' | 'xdp-pass';
  flow: 'established' | 'new' | 'baseline';
  ns: Summary;
  /** retval -> runs; XDP_TX is 3, TC_ACT_REDIRECT 7. */
  verdicts: Record<string, number>;
}

export interface ProgCost {
  status: 'ok';
  samples: number;
  cases: ProgCostCase[];
  /** The ns samples, kept for the latency CDF plot. */
  raw: Record<string, number[]>;
  /** The datapath's own verdict/reason counters after all runs (by name). */
  counters: Record<string, Record<string, number>>;
}

const ADDON = join(import.meta.dirname, '..', '..', 'datapath', 'bpf-loader-napi', 'build', 'bpf_loader.node');

export async function runProgCost(ctx: BenchContext, samples: number): Promise<ProgCost | NotRun> {
  for (const f of [join(BPF_DIR, 'xdp.bpf.o'), join(BPF_DIR, 'tc.bpf.o'), ADDON]) {
    if (!existsSync(f)) return notRun(`${f} not built (make build)`);
  }
  const cluster = await ctx.cluster();
  const a = cluster.nodes['node-a'];
  const backend = cluster.nodes['node-b'].pods[0];
  await warmNeighbour(a.netns, cluster.nodes['node-b'].ipv4);
  const passObj = join(ctx.outDir, 'xdp-pass.bpf.o');
  await run(['clang', '-O2', '-target', 'bpf', '-c', join(import.meta.dirname, 'xdp-pass.bpf.c'), '-o', passObj]);
  const inner = join(import.meta.dirname, 'progcost.inner.ts');
  const args = [String(await ifindexOf(a.netns, 'eth0')), a.ipv4, PLAN.client.ipv4, backend.ipv4,
    await macOf(cluster.net.clientNetns, 'eth0'), await macOf(a.netns, 'eth0'), String(samples), passObj];
  // `ip netns exec` gives the process a fresh /sys without bpffs; mount a private one for its pins.
  const r = await run(['ip', 'netns', 'exec', a.netns, 'sh', '-c', 'mount -t bpf bpf /sys/fs/bpf && exec "$@"', 'sh',
    process.execPath, inner, ...args], { timeoutMs: 300_000, allowFailure: true });
  if (r.code !== 0) return notRun(`test-run helper failed: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`);
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, { ns: number[]; verdicts: Record<string, number> }>;
  const cases: ProgCostCase[] = [];
  const raw: Record<string, number[]> = {};
  for (const [key, hook, flow] of [['xdpPassBaseline', 'xdp-pass', 'baseline'], ['xdpEstablished', 'xdp', 'established'], ['xdpNewFlow', 'xdp', 'new'],
    ['tcEstablished', 'tc', 'established'], ['tcNewFlow', 'tc', 'new']] as const) {
    cases.push({ hook, flow, ns: summarize(j[key].ns), verdicts: j[key].verdicts });
    raw[`${hook} ${flow}`] = j[key].ns;
    ctx.log(`progcost: ${hook} ${flow} flow: median ${summarize(j[key].ns).p50} ns, p99 ${summarize(j[key].ns).p99} ns, verdicts ${JSON.stringify(j[key].verdicts)}`);
  }
  return { status: 'ok', samples, cases, raw, counters: j.counters as unknown as Record<string, Record<string, number>> };
}
