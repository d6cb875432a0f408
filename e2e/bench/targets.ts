// The targets of issues 7, 10 and 12, judged on what a run measured. Figures are found by field
// name (figures.ts), so a part that adds the named field is judged without code here; a target
// whose figure is missing says why ("not measured: ..."). A results file may carry
// `targetNotes` (target name -> the measured reason for a miss), which is appended to the verdict.
import { isNotRun } from './context.ts';
import { figures } from './figures.ts';
import { judge, type Goal, type TargetInput, type Verdict } from './report.ts';
import type { Results } from './results.ts';

/** An absolute bound on a named figure of a part (also drawn on that part's chart as a tick). */
export interface FigureBound {
  part: 'progcost' | 'forward';
  field: string;
  name: string;
  atMost: number;
  unit: string;
}

export const FIGURE_BOUNDS: readonly FigureBound[] = [
  { part: 'progcost', field: 'xdpEstablishedP50Ns', name: 'XDP established flow, repeat=1 p50', atMost: 150, unit: 'ns' },
  { part: 'progcost', field: 'xdpEstablishedWarmNs', name: 'XDP established flow, warm', atMost: 100, unit: 'ns' },
  { part: 'progcost', field: 'xdpNewP50Ns', name: 'XDP new flow, repeat=1 p50', atMost: 400, unit: 'ns' },
  { part: 'progcost', field: 'tcEstablishedP50Ns', name: 'tc established flow, repeat=1 p50', atMost: 250, unit: 'ns' },
];

/** Issue 10's bounds for every sync-micro variant at 10k Services x 10 endpoints. */
export const SYNC_MICRO_BOUNDS: ReadonlyArray<{ field: string; name: string; atMost: number; unit: string }> = [
  { field: 'firstSyncMs', name: 'first full programming', atMost: 2000, unit: 'ms' },
  { field: 'changeP99Ms', name: 'change p99', atMost: 20, unit: 'ms' },
  { field: 'fullRecomputes', name: 'full recomputes', atMost: 0, unit: '' },
  { field: 'rssMiB', name: 'RSS after the changes', atMost: 150, unit: 'MiB' },
];
export const SYNC_MICRO_TARGET_SCALE = { services: 10_000, endpoints: 10 } as const;

const why = (x: unknown, fallback: string): string => (isNotRun(x) ? x.reason : fallback);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

// Structural views of the parts, so that a part's own types can change without breaking this file.
interface RatePointView { forwardedPps: number; kernelNsPerPacket: number }
interface ForwardSweepView { name: string; status: string; reason?: string; points?: RatePointView[] }
interface ProgCostCaseView { hook: string; flow: string; ns: { p50: number } }
interface ScaleView {
  services: number; status?: string; reason?: string;
  firstSyncS?: number; observedMs?: { p50: number; p99: number }; rssMiBAfterChanges?: number;
  cpuSecondsToFirstSync?: number; cpuSecondsDuringChanges?: number;
}
interface ControlContenderView { name: string; status: string; reason?: string; scales?: ScaleView[] }

/** A part's figure by field name, or why it is missing. */
function figureOf(r: Results, part: 'progcost' | 'forward', field: string): number | string {
  const p = r[part] as unknown;
  if (p === undefined) return `${part} part not run`;
  if (isNotRun(p)) return p.reason;
  const f = figures(p).find((x) => x.field === field);
  if (f) return f.value;
  // A part may say why a contender has no figure: notRun keyed by the field's first words.
  const reasons = (p as { notRun?: Record<string, unknown> }).notRun ?? {};
  const key = Object.keys(reasons).filter((k) => field.startsWith(k)).sort((a, b) => b.length - a.length)[0];
  if (key !== undefined && typeof reasons[key] === 'string') return `${key}: ${reasons[key]}`;
  // A progcost result from before issue 12 has the pooled p50 of one round per case.
  if (part === 'progcost') {
    const cases = (p as { cases?: ProgCostCaseView[] }).cases ?? [];
    const m = /^(xdp|tc)(Established|New)P50Ns$/.exec(field);
    const c = m && cases.find((x) => x.hook === m[1] && x.flow === m[2].toLowerCase());
    if (c && Number.isFinite(c.ns.p50)) return c.ns.p50;
  }
  return `no ${field} in this run`;
}

export function targets(r: Results): { verdicts: Verdict[]; units: string[] } {
  const t: Array<TargetInput & { unitLabel?: string }> = [];

  // Issue 12 (and issue 7's forwarding target while forward.ts measured a rate sweep).
  if (Array.isArray(r.forward)) {
    const fwd = r.forward as ForwardSweepView[];
    const perCore = (name: string): number | string => {
      const c = fwd.find((x) => x.name === name);
      if (!c) return 'not in this run';
      if (c.status !== 'ok') return c.reason ?? c.status;
      const p = [...(c.points ?? [])].sort((a, b) => b.forwardedPps - a.forwardedPps)[0];
      return p && Number.isFinite(p.kernelNsPerPacket) ? 1e9 / p.kernelNsPerPacket : 'no packets forwarded';
    };
    t.push({ name: 'NodePort forwarding per core (XDP vs kube-proxy iptables)', goal: { kind: 'ratio-at-least', x: 4 },
      ours: perCore('ours XDP'), reference: perCore('kube-proxy iptables'), referenceName: 'kube-proxy iptables', unit: 'pps/core', unitLabel: 'pkts per kernel CPU-s' });
  }
  for (const mode of ['nftables', 'iptables'] as const) {
    t.push({ name: `Live frames, ours XDP vs kube-proxy ${mode}: at least 5x fewer ns/packet`, goal: { kind: 'ratio-at-most', x: 0.2 },
      ours: figureOf(r, 'forward', 'oursXdpNsPerPkt'), reference: figureOf(r, 'forward', `${mode}NsPerPkt`), referenceName: `kube-proxy ${mode}`, unit: 'ns/packet' });
  }
  for (const b of FIGURE_BOUNDS) {
    t.push({ name: b.name, goal: { kind: 'at-most', x: b.atMost, unit: b.unit }, ours: figureOf(r, b.part, b.field), unit: b.unit });
  }

  // Issue 7: ClusterIP new connections within 5% of the pod IP.
  const cip = r.clusterip && !isNotRun(r.clusterip) ? r.clusterip : undefined;
  const crr = (name: string, arm: 'service' | 'paired'): number | string => {
    if (!cip) return why(r.clusterip, 'clusterip part not run');
    const c = cip.contenders.find((x) => x.name === name);
    if (!c) return 'not in this run';
    if (c.status !== 'ok') return c.reason;
    if (isNotRun(c.crr)) return c.crr.reason;
    return arm === 'service' ? c.crr.ratePerS : c.crr.pairedDirect.ratePerS;
  };
  t.push({ name: 'ClusterIP new connections/s (ours vs pod IP, alternated under our agent)', goal: { kind: 'ratio-at-least', x: 0.95 },
    ours: crr('ours (socket LB)', 'service'), reference: crr('ours (socket LB)', 'paired'), referenceName: 'pod IP', unit: 'conn/s' });
  t.push({ name: 'ClusterIP new connections/s (ours vs pod IP with no proxy at all)', goal: { kind: 'ratio-at-least', x: 0.95 },
    ours: crr('ours (socket LB)', 'service'), reference: crr('pod IP (direct)', 'service'), referenceName: 'pod IP, no proxy', unit: 'conn/s' });

  // Issues 7 and 10: the control plane at the largest scale measured, every "ours" row against
  // kube-proxy nftables (and RSS against iptables too).
  const ctl = r.control && !isNotRun(r.control) ? (r.control as { contenders: ControlContenderView[] }) : undefined;
  const atMax = (c: ControlContenderView | undefined): { m?: ScaleView; reason: string; n: number } => {
    if (!ctl) return { reason: why(r.control, 'control part not run'), n: 0 };
    if (!c) return { reason: 'not in this run', n: 0 };
    if (c.status !== 'ok') return { reason: c.reason ?? c.status, n: 0 };
    const last = c.scales?.[c.scales.length - 1];
    if (!last) return { reason: 'no scale measured', n: 0 };
    if (isNotRun(last) || last.status === 'not run') return { reason: `${last.services} services: ${last.reason}`, n: last.services };
    return { m: last, reason: '', n: last.services };
  };
  const ourRows = ctl ? ctl.contenders.filter((c) => /^ours\b/.test(c.name)) : [];
  const columns: Array<{ label: string; get: (s: ScaleView) => number | undefined; unit: string; x: number }> = [
    { label: 'first full sync', get: (s) => num(s.firstSyncS), unit: 's', x: 1 },
    { label: 'change p50', get: (s) => num(s.observedMs?.p50), unit: 'ms', x: 1 },
    { label: 'change p99 (goal: a tenth)', get: (s) => num(s.observedMs?.p99), unit: 'ms', x: 0.1 },
    { label: 'RSS', get: (s) => num(s.rssMiBAfterChanges), unit: 'MiB', x: 1 },
    { label: 'CPU to first sync', get: (s) => num(s.cpuSecondsToFirstSync), unit: 's', x: 1 },
    { label: 'CPU during the changes', get: (s) => num(s.cpuSecondsDuringChanges), unit: 's', x: 1 },
  ];
  const val = (a: ReturnType<typeof atMax>, get: (s: ScaleView) => number | undefined): number | string =>
    (a.m ? get(a.m) ?? 'not in this run' : a.reason);
  const nft = atMax(ctl?.contenders.find((c) => c.name === 'kube-proxy nftables'));
  const ipt = atMax(ctl?.contenders.find((c) => c.name === 'kube-proxy iptables'));
  for (const c of ourRows.length ? ourRows : [undefined]) {
    const ours = atMax(c);
    const who = c?.name ?? 'ours';
    const at = ours.n ? ` at ${ours.n} services${ours.n < 10_000 ? ' (goal at 10k)' : ''}` : '';
    t.push({ name: `${who}: endpoint change -> datapath p99${at}`, goal: { kind: 'below', x: 100, unit: 'ms' }, ours: val(ours, (s) => num(s.observedMs?.p99)), unit: 'ms' });
    for (const col of columns) {
      t.push({ name: `${who} vs kube-proxy nftables: ${col.label}${at}`, goal: { kind: 'ratio-at-most', x: col.x },
        ours: val(ours, col.get), reference: val(nft, col.get), referenceName: 'kube-proxy nftables', unit: col.unit });
    }
    t.push({ name: `${who} vs kube-proxy iptables: RSS${at}`, goal: { kind: 'ratio-at-most', x: 1 },
      ours: val(ours, (s) => num(s.rssMiBAfterChanges)), reference: val(ipt, (s) => num(s.rssMiBAfterChanges)), referenceName: 'kube-proxy iptables', unit: 'MiB' });
  }

  // Issue 10: sync-micro, every variant at 10k x 10.
  const micro = Array.isArray(r.syncMicro) ? r.syncMicro : [];
  const atScale = micro.filter((m) => m.services === SYNC_MICRO_TARGET_SCALE.services && m.endpoints === SYNC_MICRO_TARGET_SCALE.endpoints);
  const variants = atScale.length ? atScale : [undefined];
  for (const m of variants) {
    for (const b of SYNC_MICRO_BOUNDS) {
      const reason = r.syncMicro === undefined ? 'sync-micro part not run' : isNotRun(r.syncMicro) ? r.syncMicro.reason : 'no 10k x 10 run';
      const v = m ? num(m[b.field]) ?? `no ${b.field} in this run` : reason;
      const goal: Goal = { kind: 'at-most', x: b.atMost, unit: b.unit };
      t.push({ name: `sync-micro ${m ? String(m.variant) : 'every variant'}, 10k x 10: ${b.name}`, goal, ours: v, unit: b.unit });
    }
  }

  const notes = r.targetNotes ?? {};
  const verdicts = t.map((x) => {
    const v = judge(x);
    const note = notes[x.name];
    return note ? { ...v, detail: `${v.detail}. ${note}` } : v;
  });
  return { verdicts, units: t.map((x) => x.unitLabel ?? x.unit) };
}
