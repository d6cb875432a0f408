// The bench's charts, one definition per kind of result (CHART_KINDS). Each reads its part through
// figure names (figures.ts) or a structural view of the part, so a part's new figure fields show
// without code here: a progcost or forward figure named <contender><measure><unit> becomes a bar,
// a new sync-micro field a panel, a new control contender a line. The whiskers are the min-max
// of the rounds wherever a part kept them (`perRound`/`rounds`); a chart says when it had one round.
import type { TopLevelSpec } from 'vega-lite';
import { barPanel, chart, linePanel, panels, type BarDatum, type LineDatum } from './chart-specs.ts';
import { isNotRun } from './context.ts';
import { figures, roundsOf, spread, UNITS, type Figure } from './figures.ts';
import type { Part, Results } from './results.ts';
import { cdf } from './stats.ts';
import { FIGURE_BOUNDS, SYNC_MICRO_BOUNDS, SYNC_MICRO_TARGET_SCALE } from './targets.ts';

export interface BenchChart {
  /** File name without extension (e2e/bench/latest/<name>.png). */
  name: string;
  spec: TopLevelSpec;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const ok = (p: unknown): boolean => p !== undefined && p !== null && !isNotRun(p);

function roundsNote(n: number): string {
  return n >= 2 ? `median of ${n} rounds, whiskers: min-max of the rounds` : 'one round';
}

/** Bars of a part's figures whose names match, with their bounds (FIGURE_BOUNDS) as ticks. */
function figureBars(part: Part, p: unknown, match: RegExp, category: (f: Figure) => string): BarDatum[] {
  return figures(p, match).map((f) => ({
    category: category(f), contender: f.contender, y: f.value, ...spread(f),
    target: FIGURE_BOUNDS.find((b) => b.part === part && b.field === f.field)?.atMost,
  }));
}

const HOOK_CONTENDER: Record<string, string> = { xdp: 'ours XDP', tc: 'ours tc', 'xdp-pass': 'XDP_PASS floor', 'tc-pass': 'TC_ACT_OK floor' };

function progcostCharts(p: unknown): BenchChart[] {
  const out: BenchChart[] = [];
  const note = roundsNote(roundsOf(p).length);
  let p50 = figureBars('progcost', p, /P50Ns$/, (f) => f.measure.replace(/\s*p50$/, '') || 'no-op (method floor)');
  if (!p50.length) {
    // Before issue 12: per-case pooled samples of one round.
    const cases = (p as { cases?: Array<{ hook: string; flow: string; ns: { p50: number } }> }).cases ?? [];
    p50 = cases.filter((c) => Number.isFinite(c.ns.p50)).map((c) => ({
      category: c.hook === 'xdp-pass' || c.hook === 'tc-pass' ? 'no-op (method floor)' : c.flow, contender: HOOK_CONTENDER[c.hook] ?? c.hook, y: c.ns.p50,
      target: FIGURE_BOUNDS.find((b) => b.part === 'progcost' && b.field === `${c.hook}${c.flow[0].toUpperCase()}${c.flow.slice(1)}P50Ns`)?.atMost,
    }));
  }
  if (p50.length) {
    out.push({ name: 'progcost', spec: chart(barPanel({
      title: 'Our programs alone: ns per packet (BPF_PROG_TEST_RUN, repeat=1 on a fresh frame, p50)',
      subtitle: `60-byte UDP NodePort to a remote backend; ${note}; black ticks: targets`, yTitle: 'ns per packet', data: p50,
    })) });
  }
  const warm = figureBars('progcost', p, /WarmNs$/, (f) => f.measure.replace(/\s*warm$/, '') || 'no-op (method floor)');
  if (warm.length) {
    out.push({ name: 'progcost-warm', spec: chart(barPanel({
      title: 'Our programs alone, warm: ns per packet (BPF_PROG_TEST_RUN, repeat=200 mean)',
      subtitle: `established flow; ${note}; black ticks: targets`, yTitle: 'ns per packet', data: warm,
    })) });
  }
  const raw = (p as { raw?: Record<string, number[]> }).raw ?? {};
  const lines: LineDatum[] = Object.entries(raw).flatMap(([key, ns]) => {
    const [hook, ...flow] = key.split(' ');
    return cdf(ns, 300).map(([x, y]) => ({ contender: HOOK_CONTENDER[hook] ?? hook, series: flow.join(' '), x, y }));
  });
  if (lines.length) {
    out.push({ name: 'progcost-cdf', spec: chart(linePanel({
      title: 'Our programs alone: distribution of per-run cost', subtitle: 'every repeat=1 BPF_PROG_TEST_RUN of all rounds',
      xTitle: 'ns per run', yTitle: 'fraction of runs', data: lines, cdf: true,
    })) });
  }
  return out;
}

function forwardCharts(p: unknown): BenchChart[] {
  const bars = figureBars('forward', p, /NsPerPkt$/, (f) => f.measure);
  if (bars.length) {
    return [{ name: 'forward', spec: chart(barPanel({
      title: 'NodePort forwarding: CPU ns per packet on one pinned CPU (live frames)',
      subtitle: `same frames, generator and sink for every contender; ${roundsNote(roundsOf(p).length)}`, yTitle: 'ns per packet', data: bars,
    })) }];
  }
  if (!Array.isArray(p)) return [];
  // Before issue 12: a rate sweep per contender.
  const sweep = p as Array<{ name: string; status: string; points?: Array<{ offeredPps: number; forwardedPps: number }> }>;
  const data = sweep.flatMap((c) => (c.status === 'ok' ? (c.points ?? []) : [])
    .filter((q) => Number.isFinite(q.offeredPps) && Number.isFinite(q.forwardedPps))
    .map((q) => ({ contender: c.name, x: q.offeredPps, y: q.forwardedPps })))
    .sort((a, b) => a.x - b.x);
  return data.length ? [{ name: 'pps', spec: chart(linePanel({
    title: 'NodePort 64-byte UDP: forwarded vs offered packets/s', subtitle: 'client -> node-a NodePort -> pod on node-b; one run per rate',
    xTitle: 'offered packets/s (client tx)', yTitle: 'forwarded packets/s (pod rx)', data,
  })) }] : [];
}

interface ClusterIpView {
  contenders: Array<{
    name: string; status: string;
    rr?: { ratePerS?: number; status?: string };
    crr?: { ratePerS?: number; status?: string; cdfUs?: Array<[number, number]>; rounds?: number; perRound?: { service?: number[] } };
  }>;
}

function clusteripCharts(p: unknown): BenchChart[] {
  const cs = (p as ClusterIpView).contenders?.filter((c) => c.status === 'ok') ?? [];
  const out: BenchChart[] = [];
  const rr: BarDatum[] = cs.flatMap((c) => (num(c.rr?.ratePerS) ? [{ category: 'rr', contender: c.name, y: c.rr!.ratePerS! }] : []));
  const crr: BarDatum[] = cs.flatMap((c) => {
    const y = num(c.crr?.ratePerS);
    if (y === undefined) return [];
    const per = (c.crr!.perRound?.service ?? []).filter(Number.isFinite);
    return [{ category: 'crr', contender: c.name, y, ...spread({ rounds: per }) }];
  });
  const crrRounds = Math.max(0, ...cs.map((c) => c.crr?.perRound?.service?.length ?? 0));
  const pooled = Math.max(0, ...cs.map((c) => c.crr?.rounds ?? 0));
  const crrNote = crrRounds >= 2 || pooled < 2 ? roundsNote(crrRounds) : `${pooled} rounds pooled, per-round rates not kept`;
  if (rr.length || crr.length) {
    out.push({ name: 'clusterip', spec: panels({
      title: 'ClusterIP from a pod (a-pod1 on node-a -> b-pod1 on node-b)',
      panels: [
        ...(rr.length ? [barPanel({ title: 'Request/response on one connection', subtitle: 'sockperf ping-pong, one run', yTitle: 'round trips/s', data: rr, log: false })] : []),
        ...(crr.length ? [barPanel({ title: 'A new connection per request', subtitle: `crr.c, Service arm; ${crrNote}`, yTitle: 'connections/s', data: crr, log: false })] : []),
      ],
    }) });
  }
  const lines: LineDatum[] = cs.flatMap((c) => (c.crr?.cdfUs ?? []).map(([x, y]) => ({ contender: c.name, x, y })));
  if (lines.length) {
    out.push({ name: 'crr-cdf', spec: chart(linePanel({
      title: 'ClusterIP new-connection latency', subtitle: 'connect + request + response + close, every connection of the Service arm',
      xTitle: 'latency (µs)', yTitle: 'fraction of connections', data: lines, cdf: true,
    })) });
  }
  return out;
}

interface ScaleView { services: number; status?: string; [k: string]: unknown }
type ScaleGet = (s: ScaleView) => number | undefined;
const path = (s: ScaleView, a: string, b?: string): number | undefined =>
  num(b === undefined ? s[a] : (s[a] as Record<string, unknown> | undefined)?.[b]);

/** Control-plane charts: one line per contender over the scales, a dash per series. */
export const CONTROL_CHARTS: ReadonlyArray<{ name: string; title: string; yTitle: string; series: ReadonlyArray<readonly [string, ScaleGet]> }> = [
  { name: 'first-sync', title: 'Start -> first full programming', yTitle: 'seconds', series: [['', (s) => path(s, 'firstSyncS')]] },
  { name: 'change-latency', title: 'EndpointSlice change -> programmed (observed)', yTitle: 'ms',
    series: [['p50', (s) => path(s, 'observedMs', 'p50')], ['p99', (s) => path(s, 'observedMs', 'p99')]] },
  { name: 'rss', title: 'Proxy RSS after the changes', yTitle: 'MiB', series: [['', (s) => path(s, 'rssMiBAfterChanges')]] },
  { name: 'cpu', title: 'Proxy CPU time', yTitle: 'CPU seconds',
    series: [['to the first sync', (s) => path(s, 'cpuSecondsToFirstSync')], ['during the changes', (s) => path(s, 'cpuSecondsDuringChanges')]] },
];

function controlCharts(p: unknown): BenchChart[] {
  const ctl = p as { endpointsPerService?: number; contenders?: Array<{ name: string; status: string; scales?: ScaleView[] }> };
  const rows = (ctl.contenders ?? []).flatMap((c) => (c.status === 'ok' ? (c.scales ?? []) : [])
    .filter((s) => !isNotRun(s) && s.status !== 'not run').map((s) => ({ contender: c.name, s })));
  const maxRounds = Math.max(0, ...rows.map(({ s }) => roundsOf(s).length));
  const sub = `${ctl.endpointsPerService ?? 10} endpoints per Service in the real kube-apiserver; ${maxRounds >= 2 ? roundsNote(maxRounds) : 'one run per scale'}`;
  return CONTROL_CHARTS.flatMap((def) => {
    const data: LineDatum[] = rows.flatMap(({ contender, s }) => def.series.flatMap(([series, get]) => {
      const y = get(s);
      if (y === undefined) return [];
      const per = roundsOf(s).map((r) => get(r as ScaleView)).filter((v): v is number => v !== undefined);
      return [{ contender, x: s.services, y, ...spread({ rounds: per }), ...(series ? { series } : {}) }];
    }));
    return data.length ? [{ name: def.name, spec: chart(linePanel({ title: def.title, subtitle: sub, xTitle: 'Services', yTitle: def.yTitle, data, xTicksAtData: true })) }] : [];
  });
}

const SYNC_MICRO_KEYS = new Set(['variant', 'services', 'endpoints', 'changes', 'rounds', 'perRound', 'status']);

/** "firstSyncMs" -> { title: "first sync", unit: "ms" }. */
function fieldTitle(field: string): { title: string; unit: string } {
  const u = UNITS.find(([suffix]) => field.endsWith(suffix) && field.length > suffix.length);
  const stem = u ? field.slice(0, -u[0].length) : field;
  const title = stem.split(/(?=[A-Z][a-z])|(?<=[a-z0-9])(?=[A-Z])/).join(' ').toLowerCase().replace(/\b(rss|cpu|ms)\b/g, (w) => w.toUpperCase());
  return { title: title[0].toUpperCase() + title.slice(1), unit: u ? u[1] : 'count' };
}

function syncMicroCharts(p: unknown): BenchChart[] {
  if (!Array.isArray(p)) return [];
  const runs = p as Array<Record<string, unknown>>;
  const fields = [...new Set(runs.flatMap((m) => Object.keys(m)))].filter((k) => !SYNC_MICRO_KEYS.has(k) && runs.some((m) => num(m[k]) !== undefined));
  const maxRounds = Math.max(0, ...runs.map((m) => roundsOf(m).length));
  const panelsOut = fields.map((field) => {
    const { title, unit } = fieldTitle(field);
    const data: BarDatum[] = runs.flatMap((m) => {
      const y = num(m[field]);
      if (y === undefined) return [];
      const atTarget = m.services === SYNC_MICRO_TARGET_SCALE.services && m.endpoints === SYNC_MICRO_TARGET_SCALE.endpoints;
      const per = roundsOf(m).map((r) => num(r[field])).filter((v): v is number => v !== undefined);
      return [{
        category: `${Number(m.services).toLocaleString('en-US')} x ${Number(m.endpoints).toLocaleString('en-US')}`,
        contender: `ours (${String(m.variant)})`, y, ...spread({ rounds: per }),
        target: atTarget ? SYNC_MICRO_BOUNDS.find((b) => b.field === field)?.atMost : undefined,
      }];
    });
    return barPanel({ title, yTitle: unit, data, height: 220 });
  });
  return panelsOut.length ? [{ name: 'sync-micro', spec: panels({
    title: 'Control-plane pipeline without an apiserver (sync-micro): Services x endpoints per variant',
    subtitle: `in-memory list/watch -> reflector -> trackers -> translation -> real BPF maps; ${roundsNote(maxRounds)}; black ticks: targets at 10k x 10`,
    panels: panelsOut, columns: 3,
  }) }] : [];
}

/** Chart definitions by part. */
export const CHART_KINDS: ReadonlyArray<{ part: Part; charts: (p: unknown) => BenchChart[] }> = [
  { part: 'forward', charts: forwardCharts },
  { part: 'progcost', charts: progcostCharts },
  { part: 'clusterip', charts: clusteripCharts },
  { part: 'control', charts: controlCharts },
  { part: 'syncMicro', charts: syncMicroCharts },
];

/** Every chart the results have data for. */
export function benchCharts(r: Results): BenchChart[] {
  return CHART_KINDS.flatMap((k) => (ok(r[k.part]) ? k.charts(r[k.part]) : []));
}
