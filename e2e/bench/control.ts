// Part 3: the control plane at scale. For each scale N (BENCH_SCALE), N selector-less Services with
// 10 endpoints each are written to the real apiserver (bounded concurrency), then each proxy is
// started alone on node-a and measured, twice: with distinct endpoint addresses (every address
// used by one Service; a change gives a Service fresh ones) and with shared addresses (every
// address used by two Services; a change moves a Service onto other Services' addresses), the
// second as rows named "<proxy> (shared addresses)" (measuring.md: address schemes take different
// code paths, so each is measured on its own). Per row:
//   - time to first full programming: process start -> kubeproxy_sync_proxy_rules_last_timestamp_seconds
//     (the end of its first sync, which covers every Service);
//   - endpoint-change latency over BENCH_CHANGES changes made one at a time, 1.1 s apart (both
//     proxies run with their default minSyncPeriod of 1 s): (a) "observed", from
//     the EndpointSlice write to the end of the first sync that finishes after it, polled on the
//     proxy's /metrics every 5 ms; (b) each proxy's own kubeproxy_network_programming_duration_seconds
//     histogram (from endpoints.kubernetes.io/last-change-trigger-time), p50/p99 of the delta;
//   - RSS (VmRSS) and CPU seconds (utime+stime) of the proxy process after the first sync and after
//     the changes.
import { join } from 'node:path';
import type { Cluster, ClusterNode } from '../cluster/cluster.ts';
import { startForward } from '../cluster/forward.ts';
import { procUsage } from './cpu.ts';
import { notRun, type BenchContext, type NotRun } from './context.ts';
import { ensureNamespace } from './contenders.ts';
import { BENCH_NAMESPACE, endpointSlice, service, SYNTHETIC_ENDPOINTS, syntheticEndpoint } from './objects.ts';
import { agentMissing, errorLines, startOurs } from './ours.ts';
import { histogram, metricMax, parseMetrics, type Sample } from './prom.ts';
import { histogramDelta, histogramQuantile, summarize, type Summary } from './stats.ts';
import { startUpstream, upstreamMissing } from './upstream.ts';

const ENDPOINTS_PER_SERVICE = 10;
const NPD = 'kubeproxy_network_programming_duration_seconds';
const LAST_SYNC = 'kubeproxy_sync_proxy_rules_last_timestamp_seconds';
const CHANGE_GAP_MS = 1_100;

export type AddressScheme = 'distinct' | 'shared';

export interface ScaleMeasurement {
  services: number;
  /** The endpoint address scheme of this row. */
  variant: AddressScheme;
  firstSyncS: number;
  /** ms from each EndpointSlice write to the end of the first sync after it. */
  observedMs: Summary;
  observedSamplesMs: number[];
  /** p50/p99 (ms) of the proxy's own network-programming histogram over the changes. */
  histogramMs: { p50: number; p99: number; count: number };
  timeouts: number;
  /** Changes made (fewer than asked when the per-measurement budget ran out). */
  changesMade: number;
  rssMiBAfterSync: number;
  rssMiBAfterChanges: number;
  cpuSecondsToFirstSync: number;
  cpuSecondsDuringChanges: number;
}

export type ControlContenderResult =
  | { name: string; status: 'ok'; scales: Array<ScaleMeasurement | (NotRun & { services: number })> }
  | { name: string; status: 'not run'; reason: string };

export interface ControlResult {
  status: 'ok';
  endpointsPerService: number;
  creation: Array<{ services: number; seconds: number }>;
  contenders: ControlContenderResult[];
}

interface ProxyHandle {
  pid: number;
  running(): boolean;
  output(): string;
  stop(): Promise<void>;
}

interface ControlContender {
  name: string;
  missing(): Promise<string | undefined>;
  start(node: ClusterNode): ProxyHandle;
}

const CONTENDERS: ControlContender[] = [
  {
    name: 'ours',
    missing: async () => agentMissing(),
    start(node) {
      const o = startOurs(node, ['--bpf-devices=eth0']);
      return { pid: o.proc.pid!, running: () => o.proc.running, output: () => o.proc.output, stop: () => o.stop() };
    },
  },
  ...(['iptables', 'nftables'] as const).map((mode): ControlContender => ({
    name: `kube-proxy ${mode}`,
    missing: () => upstreamMissing(mode),
    start(node) {
      // startUpstream is async only for its config file; wrap the promise.
      let up: Awaited<ReturnType<typeof startUpstream>> | undefined;
      const p = startUpstream(node, mode).then((u) => { up = u; return u; });
      return {
        get pid() { return up?.proc.pid ?? 0; },
        running: () => up?.proc.running ?? true,
        output: () => up?.proc.output ?? '',
        stop: async () => (await p).stop(),
        ready: p,
      } as ProxyHandle & { ready: Promise<unknown> };
    },
  })),
];

async function pool<T>(items: readonly T[], concurrency: number, fn: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  const worker = async (): Promise<void> => {
    while (i < items.length) await fn(items[i++]);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

export function svcName(i: number): string {
  return `scale-${String(i).padStart(5, '0')}`;
}

/** Addresses handed out by changes in the distinct scheme, above every Service's own. */
let fresh = 0;

/**
 * Endpoints of Service i, generation g, of `n` Services. Distinct: generation 0 is the Service's
 * own block of addresses, later generations fresh ones (a rollout gives new pods). Shared: Service
 * i's second half is i+1's first half, and a change moves i onto other Services' addresses.
 */
export function endpointsFor(i: number, generation: number, scheme: AddressScheme, n: number): Array<{ ip: string; node: string }> {
  const E = ENDPOINTS_PER_SERVICE;
  let index: (j: number) => number;
  if (scheme === 'shared') {
    const half = Math.ceil(E / 2);
    index = (j) => ((i + generation * 7919) * half + j) % Math.max(E, n * half);
  } else if (generation === 0) {
    index = (j) => i * E + j;
  } else {
    const top = Math.max(...[n * E, 10_000 * E].filter((x) => x < SYNTHETIC_ENDPOINTS));
    index = () => top + (fresh++ % (SYNTHETIC_ENDPOINTS - top));
  }
  return Array.from({ length: E }, (_, j) => ({ ip: syntheticEndpoint(index(j)), node: 'node-b' }));
}

/** Rewrites the slices of Services [0, n) to the scheme's generation-0 endpoints; returns seconds taken. */
async function rewriteSlices(cluster: Cluster, n: number, scheme: AddressScheme, deadlineMs: number): Promise<number> {
  const t0 = Date.now();
  await pool(Array.from({ length: n }, (_, i) => i), 32, async (i) => {
    if (Date.now() > deadlineMs) throw new Error(`rewriting slices: time box exceeded at ${i}`);
    const slice = endpointSlice(svcName(i), 'TCP', 8080, endpointsFor(i, 0, scheme, n));
    await cluster.admin.discovery.replaceNamespacedEndpointSlice({ name: slice.metadata!.name!, namespace: BENCH_NAMESPACE, body: slice });
  });
  return (Date.now() - t0) / 1000;
}

/** Creates Services [from, to) with their EndpointSlices; returns seconds taken. */
export async function createServices(cluster: Cluster, from: number, to: number, deadlineMs: number): Promise<number> {
  const t0 = Date.now();
  const idx = Array.from({ length: to - from }, (_, k) => from + k);
  await pool(idx, 32, async (i) => {
    if (Date.now() > deadlineMs) throw new Error(`creating services: time box exceeded at ${i}`);
    await cluster.admin.createService(BENCH_NAMESPACE, service({ name: svcName(i), type: 'ClusterIP', protocol: 'TCP', port: 80, targetPort: 8080 }));
    await cluster.admin.createEndpointSlice(BENCH_NAMESPACE, endpointSlice(svcName(i), 'TCP', 8080, endpointsFor(i, 0, 'distinct', to)));
  });
  return (Date.now() - t0) / 1000;
}

export async function runControlPlane(ctx: BenchContext, o: { scales: number[]; changes: number; timeBoxS?: number; changesBudgetS?: number },
  onProgress?: (partial: ControlResult) => void): Promise<ControlResult> {
  const cluster = await ctx.cluster();
  await ensureNamespace(cluster);
  const node = cluster.nodes['node-a'];
  const fwd = await startForward(node.place, '127.0.0.1', 10249, join(node.dir, 'metrics.sock'), cluster.teardown);
  const scrape = async (): Promise<Sample[]> => {
    const r = await fetch(`http://127.0.0.1:${fwd.localPort}/metrics`, { signal: AbortSignal.timeout(5_000) });
    if (!r.ok) throw new Error(`metrics: HTTP ${r.status}`);
    return parseMetrics(await r.text());
  };
  const deadline = Date.now() + (o.timeBoxS ?? 3600) * 1000;
  const scales = [...o.scales].sort((a, b) => a - b);
  const creation: ControlResult['creation'] = [];
  const perContender = new Map<string, ControlContenderResult>();
  const missing = new Map<string, string | undefined>();
  // BENCH_CONTROL_CONTENDERS=ours (comma-separated names) re-measures some contenders without the
  // others, e.g. after an agent change, when upstream iptables at 10k would take its full bound.
  const only = process.env.BENCH_CONTROL_CONTENDERS?.split(',').map((x) => x.trim()).filter(Boolean);
  for (const c of CONTENDERS) {
    const selected = !only || only.includes(c.name);
    missing.set(c.name, selected ? await c.missing() : 'not selected (BENCH_CONTROL_CONTENDERS)');
  }

  let created = 0;
  let scheme: AddressScheme = 'distinct';
  const schemes = (process.env.BENCH_CONTROL_SCHEMES ?? 'distinct,shared').split(',').map((x) => x.trim()).filter((x): x is AddressScheme => x === 'distinct' || x === 'shared');
  for (const n of scales) {
    if (scheme !== 'distinct' && created > 0) {
      ctx.log(`control: rewriting ${created} slices back to distinct addresses`);
      await rewriteSlices(cluster, created, 'distinct', deadline);
      scheme = 'distinct';
    }
    ctx.log(`control: creating services ${created}..${n} (x${ENDPOINTS_PER_SERVICE} endpoints)`);
    const s = await createServices(cluster, created, n, deadline);
    created = n;
    creation.push({ services: n, seconds: s });
    ctx.log(`control: ${n} services present (this batch took ${s.toFixed(1)} s)`);
    for (const variant of schemes) {
      if (variant !== scheme) {
        const t = await rewriteSlices(cluster, n, variant, deadline);
        scheme = variant;
        ctx.log(`control: ${n} slices rewritten to ${variant} addresses in ${t.toFixed(1)} s`);
      }
      const generation = new Map<number, number>();
      for (const c of CONTENDERS) {
        const name = variant === 'distinct' ? c.name : `${c.name} (shared addresses)`;
        const reason = missing.get(c.name);
        if (reason) {
          perContender.set(name, { name, status: 'not run', reason });
          continue;
        }
        const prev = perContender.get(name);
        const entry = prev && prev.status === 'ok' ? prev : { name, status: 'ok' as const, scales: [] as Array<ScaleMeasurement | (NotRun & { services: number })> };
        perContender.set(name, entry);
        if (Date.now() > deadline) {
          entry.scales.push({ ...notRun('time box exceeded'), services: n });
          continue;
        }
        try {
          entry.scales.push(await measure(ctx, cluster, node, { ...c, name }, n, o.changes, scrape, generation, (o.changesBudgetS ?? 240) * 1000, variant));
        } catch (err) {
          ctx.log(`control: ${name} at ${n}: ${(err as Error).message.split('\n')[0]}`);
          entry.scales.push({ ...notRun(`failed: ${(err as Error).message.split('\n')[0]}`), services: n });
        }
        onProgress?.({ status: 'ok', endpointsPerService: ENDPOINTS_PER_SERVICE, creation, contenders: [...perContender.values()] });
      }
    }
  }
  return { status: 'ok', endpointsPerService: ENDPOINTS_PER_SERVICE, creation, contenders: [...perContender.values()] };
}

async function measure(ctx: BenchContext, cluster: Cluster, node: ClusterNode, c: ControlContender, n: number, changes: number,
  scrape: () => Promise<Sample[]>, generation: Map<number, number>, changesBudgetMs: number, variant: AddressScheme): Promise<ScaleMeasurement> {
  const t0 = Date.now() / 1000;
  const h = c.start(node);
  const ready = (h as ProxyHandle & { ready?: Promise<unknown> }).ready;
  if (ready) await ready;
  try {
    // First full programming: wait for the first sync, bounded (iptables at 10k can take minutes).
    let firstTs = 0;
    let cpuAtSync = 0;
    const limit = Date.now() + Math.max(120_000, n * 60);
    for (;;) {
      if (!h.running()) throw new Error(`${c.name} exited: ${errorLines(h.output())}`);
      try {
        firstTs = metricMax(await scrape(), LAST_SYNC) ?? 0;
      } catch {
        // not serving yet
      }
      if (firstTs > 0) break;
      if (Date.now() > limit) throw new Error(`no first sync within ${(limit - t0 * 1000) / 1000} s`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const afterSync = procUsage(h.pid);
    cpuAtSync = afterSync.cpuSeconds;
    ctx.log(`control: ${c.name} at ${n}: first sync ${(firstTs - t0).toFixed(2)} s after start, RSS ${(afterSync.rssBytes / 2 ** 20).toFixed(0)} MiB`);
    // A quiet second so the start-up syncs are over before the changes.
    await new Promise((r) => setTimeout(r, 1000));
    const before = histogram(await scrape(), NPD);
    const observed: number[] = [];
    let timeouts = 0;
    const changesUntil = Date.now() + changesBudgetMs;
    let made = 0;
    for (let k = 0; k < changes && Date.now() < changesUntil; k++, made++) {
      const i = (k * 7919) % n;
      const g = (generation.get(i) ?? 0) + 1;
      generation.set(i, g);
      const write = Date.now() / 1000;
      const slice = endpointSlice(svcName(i), 'TCP', 8080, endpointsFor(i, g, variant, n), new Date());
      await cluster.admin.discovery.replaceNamespacedEndpointSlice({ name: slice.metadata!.name!, namespace: BENCH_NAMESPACE, body: slice });
      const until = Date.now() + 30_000;
      let seen = 0;
      while (Date.now() < until) {
        const ts = metricMax(await scrape(), LAST_SYNC) ?? 0;
        if (ts > write) {
          seen = ts;
          break;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      if (seen) observed.push((seen - write) * 1000);
      else timeouts++;
      // Both proxies default to minSyncPeriod 1 s: space the changes so each one is measured on
      // its own rather than waiting out the rate limit left by the previous one.
      const gap = CHANGE_GAP_MS - (Date.now() - (seen ? seen * 1000 : Date.now()));
      if (gap > 0) await new Promise((r) => setTimeout(r, gap));
    }
    // Let the last sync's histogram observation land.
    await new Promise((r) => setTimeout(r, 300));
    const delta = histogramDelta(before, histogram(await scrape(), NPD));
    const count = delta.length ? delta[delta.length - 1].count : 0;
    const end = procUsage(h.pid);
    const m: ScaleMeasurement = {
      services: n,
      variant,
      firstSyncS: firstTs - t0,
      observedMs: summarize(observed),
      observedSamplesMs: observed,
      histogramMs: { p50: histogramQuantile(delta, 0.5) * 1000, p99: histogramQuantile(delta, 0.99) * 1000, count },
      timeouts,
      changesMade: made,
      rssMiBAfterSync: afterSync.rssBytes / 2 ** 20,
      rssMiBAfterChanges: end.rssBytes / 2 ** 20,
      cpuSecondsToFirstSync: cpuAtSync,
      cpuSecondsDuringChanges: end.cpuSeconds - cpuAtSync,
    };
    if (made < changes) ctx.log(`control: ${c.name} at ${n}: only ${made} of ${changes} changes within the ${changesBudgetMs / 1000} s budget`);
    ctx.log(`control: ${c.name} at ${n}: change->synced p50 ${m.observedMs.p50.toFixed(1)} ms, p99 ${m.observedMs.p99.toFixed(1)} ms ` +
      `(histogram p50 ${m.histogramMs.p50.toFixed(1)} / p99 ${m.histogramMs.p99.toFixed(1)} ms, ${count} obs), timeouts ${timeouts}, RSS ${m.rssMiBAfterChanges.toFixed(0)} MiB`);
    return m;
  } finally {
    // A failing stop/cleanup must not throw away the measurement taken above.
    await h.stop().catch((e: Error) => ctx.log(`control: stopping ${c.name}: ${e.message.split('\n')[0]}`));
  }
}
