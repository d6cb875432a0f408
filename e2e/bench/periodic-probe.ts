// Diagnosis probe for issue 10's change-latency outliers at scale (not a test, not part of make bench):
// creates N Services x 10 endpoints in the real apiserver (like control.ts), then runs our agent with
// --v=4 and makes changes 1.1 s apart, printing each change's write->synced latency; the agent's log
// (its 'Sync steps' lines give each step's ms) is saved to PROBE_DIR/agent-run<N>.log. The cluster stays up between runs: after a run it waits for
// PROBE_DIR/go (runs again, e.g. after an edit with KPB_AGENT=source) or PROBE_DIR/stop (tears down).
//   PROBE_SCALE=10000 PROBE_CHANGES=40 KPB_AGENT=source node e2e/bench/periodic-probe.ts
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startForward } from '../cluster/forward.ts';
import { createContext, envNumber, sleep } from './context.ts';
import { ensureNamespace } from './contenders.ts';
import { createServices, endpointsFor, svcName } from './control.ts';
import { BENCH_NAMESPACE, endpointSlice } from './objects.ts';
import { startOurs } from './ours.ts';
import { metricMax, parseMetrics } from './prom.ts';
import { summarize } from './stats.ts';

const N = envNumber('PROBE_SCALE', 10_000);
const CHANGES = envNumber('PROBE_CHANGES', 40);
const DIR = process.env.PROBE_DIR ?? '/tmp/periodic-probe';
const LAST_SYNC = 'kubeproxy_sync_proxy_rules_last_timestamp_seconds';
mkdirSync(DIR, { recursive: true });
rmSync(join(DIR, 'go'), { force: true });
rmSync(join(DIR, 'stop'), { force: true });

const ctx = createContext(process.cwd(), join(DIR, 'work'), new Date().toISOString());
try {
  const cluster = await ctx.cluster();
  await ensureNamespace(cluster);
  const node = cluster.nodes['node-a'];
  const fwd = await startForward(node.place, '127.0.0.1', 10249, join(node.dir, 'metrics.sock'), cluster.teardown);
  const lastSync = async (): Promise<number> => {
    const r = await fetch(`http://127.0.0.1:${fwd.localPort}/metrics`, { signal: AbortSignal.timeout(5_000) });
    return metricMax(parseMetrics(await r.text()), LAST_SYNC) ?? 0;
  };
  ctx.log(`creating ${N} services`);
  ctx.log(`created in ${(await createServices(cluster, 0, N, Date.now() + 3_600_000)).toFixed(1)} s`);
  const generation = new Map<number, number>();
  for (let run = 1; ; run++) {
    const o = startOurs(node, ['--bpf-devices=eth0', `--v=${process.env.PROBE_V ?? '4'}`]);
    const t0 = Date.now();
    try {
      for (;;) {
        if (!o.proc.running) throw new Error(`agent exited: ${o.proc.output.slice(-1500)}`);
        if (await lastSync().catch(() => 0) > 0) break;
        await sleep(50);
      }
      ctx.log(`run ${run}: first sync after ${Date.now() - t0} ms`);
      await sleep(1000);
      const lat: Array<{ k: number; at: number; ms: number }> = [];
      for (let k = 0; k < CHANGES; k++) {
        const i = (k * 7919) % N;
        const g = (generation.get(i) ?? 0) + 1;
        generation.set(i, g);
        const write = Date.now() / 1000;
        const slice = endpointSlice(svcName(i), 'TCP', 8080, endpointsFor(i, g, 'distinct', N), new Date());
        await cluster.admin.discovery.replaceNamespacedEndpointSlice({ name: slice.metadata!.name!, namespace: BENCH_NAMESPACE, body: slice });
        let seen = 0;
        for (const until = Date.now() + 30_000; Date.now() < until;) {
          const ts = await lastSync();
          if (ts > write) { seen = ts; break; }
          await sleep(5);
        }
        lat.push({ k, at: (write * 1000 - t0) / 1000, ms: seen ? (seen - write) * 1000 : NaN });
        const gap = 1100 - (Date.now() - (seen ? seen * 1000 : Date.now()));
        if (gap > 0) await sleep(gap);
      }
      const s = summarize(lat.map((x) => x.ms).filter((x) => !Number.isNaN(x)));
      ctx.log(`run ${run}: change->synced ms: ${lat.map((x) => `${x.k}@${x.at.toFixed(1)}s=${x.ms.toFixed(0)}`).join(' ')}`);
      ctx.log(`run ${run}: p50 ${s.p50.toFixed(1)} p99 ${s.p99.toFixed(1)} max ${Math.max(...lat.map((x) => x.ms)).toFixed(1)}`);
      writeFileSync(join(DIR, `agent-run${run}.log`), o.proc.output);
      ctx.log(`run ${run}: agent log in ${join(DIR, `agent-run${run}.log`)}`);
    } finally {
      await o.stop();
    }
    ctx.log(`waiting for ${DIR}/go or ${DIR}/stop`);
    while (!existsSync(join(DIR, 'go')) && !existsSync(join(DIR, 'stop'))) await sleep(500);
    if (existsSync(join(DIR, 'stop'))) break;
    rmSync(join(DIR, 'go'), { force: true });
  }
} finally {
  await ctx.close();
}
