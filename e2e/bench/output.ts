// Writes a results folder (results.json, results.md, one PNG per chart) and renders the Markdown
// report: the targets table (targets.ts), the charts, then a section per part. Parts are read
// through structural views and figure names (figures.ts), so an old results.json still renders
// and a part's new figure fields show up in its table without code here.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderChart } from './chart-render.ts';
import { benchCharts } from './charts.ts';
import { isNotRun } from './context.ts';
import { figures, roundsOf, spread } from './figures.ts';
import { fmt, markdownTable, verdictTable, type Verdict } from './report.ts';
import { PARTS, type Results } from './results.ts';
import { targets } from './targets.ts';

const why = (x: unknown, fallback: string): string => (isNotRun(x) ? x.reason : fallback);
const ok = (x: unknown): boolean => x !== undefined && !isNotRun(x);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * Writes `r` into `dir` as results.json, results.md and the charts' PNGs (PNGs already there are
 * removed first, so a chart the results no longer have does not linger). A chart that cannot be
 * rendered is reported in the results' errors; the JSON and the tables are written regardless.
 */
export async function writeResults(r: Results, dir: string, title: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(dir)) if (f.endsWith('.png')) rmSync(join(dir, f));
  const written: string[] = [];
  for (const c of benchCharts(r)) {
    try {
      const { png, warnings } = await renderChart(c.spec);
      writeFileSync(join(dir, `${c.name}.png`), png);
      written.push(`${c.name}.png`);
      for (const w of warnings) r.errors.push(`chart ${c.name}: ${w}`);
    } catch (err) {
      r.errors.push(`chart ${c.name}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  writeFileSync(join(dir, 'results.json'), `${JSON.stringify(r, null, 2)}\n`);
  writeFileSync(join(dir, 'results.md'), renderMarkdown(r, targets(r), title, written));
  return written;
}

/**
 * A table of a part's figures (figures.ts): the value, and the spread and values of its rounds;
 * then the part's `how` and `notRun` notes (string maps keyed by contender), when it has them.
 */
function figureTable(p: unknown, match?: RegExp): string | undefined {
  const fs = figures(p, match);
  if (!fs.length) return undefined;
  const table = markdownTable(['Figure', 'Contender', 'Measure', 'Value', 'Rounds min-max', 'Each round'], fs.map((f) => {
    const s = spread(f);
    return [`\`${f.field}\``, f.contender, f.measure || '—', `${fmt(f.value)} ${f.unit}`, s ? `${fmt(s.lo)}-${fmt(s.hi)}` : '—',
      f.rounds.length ? f.rounds.map((x) => fmt(x)).join(', ') : '—'];
  }));
  const notes = (name: string, prefix: string): string[] => {
    const m = (p as Record<string, unknown>)[name];
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return [];
    return Object.entries(m).filter(([, v]) => typeof v === 'string').map(([k, v]) => `- ${k}: ${prefix}${String(v)}`);
  };
  const lines = [...notes('how', ''), ...notes('notRun', 'not run: ')];
  return lines.length ? `${table}\n\n${lines.join('\n')}` : table;
}

// Structural views of the parts before issue 12 (the rate sweep; progcost cases).
interface RatePointView {
  requestedPps: number; offeredPps: number; forwardedPps: number; lossRatio: number; kernelNsPerPacket: number;
  cpu: { idle: number; system: number; softirq: number };
}
type SweepView = { name: string; status: 'ok'; how: string; points: RatePointView[] } | { name: string; status: 'not run'; reason: string };
interface CaseView { hook: string; flow: string; ns: { n: number; p50: number; p90: number; p99: number }; verdicts: Record<string, number> }

function forwardSection(r: Results): string[] {
  const out = ['## NodePort forwarding', ''];
  const p = r.forward as unknown;
  if (!ok(p)) return [...out, `Not run: ${why(p, 'not requested')}`, ''];
  const table = figureTable(p);
  if (table) {
    out.push('Per-packet CPU cost on one pinned CPU with live frames (BPF_F_TEST_XDP_LIVE_FRAMES): the same frames, generator and sink for every contender.', '', table, '');
    const f = Object.fromEntries(figures(p).map((x) => [x.field, x.value]));
    for (const mode of ['nftables', 'iptables']) {
      const ref = f[`${mode}NsPerPkt`];
      for (const ours of ['oursXdpNsPerPkt', 'oursTcNsPerPkt']) {
        if (ref !== undefined && f[ours]) out.push(`- kube-proxy ${mode} / ${ours}: x${(ref / f[ours]).toFixed(2)}`);
      }
    }
    out.push('');
  }
  if (Array.isArray(p)) {
    const sweep = p as SweepView[];
    const rows: string[][] = [];
    for (const c of sweep) {
      if (c.status !== 'ok') {
        rows.push([c.name, 'not run', '', '', '', '', c.reason]);
        continue;
      }
      for (const q of c.points) {
        rows.push([c.name, q.requestedPps ? fmt(q.requestedPps) : 'max', fmt(q.offeredPps), fmt(q.forwardedPps), `${(q.lossRatio * 100).toFixed(1)}%`,
          fmt(q.kernelNsPerPacket), `idle ${q.cpu.idle.toFixed(2)}, system ${q.cpu.system.toFixed(2)}, softirq ${q.cpu.softirq.toFixed(2)} CPUs`]);
      }
    }
    out.push('64-byte UDP, client -> node-a NodePort -> pod on node-b, at each offered rate.', '');
    out.push(markdownTable(['Contender', 'Requested pps', 'Offered pps', 'Forwarded pps', 'Loss', 'Kernel ns/pkt (machine-wide)', 'CPU (machine-wide)'], rows), '');
    for (const c of sweep) if (c.status === 'ok') out.push(`- ${c.name}: ${c.how}`);
    out.push('', 'Read with care: trafgen is pinned to CPU 0 and a veth hands each frame on in the sender\'s context, so ' +
      'the generator and the whole forwarding path (client, bridge, node-a, node-b, pod) mostly share one CPU and the ' +
      '"max" rate is the generator+path limit, not node-a\'s. Kernel ns/pkt is (system + softirq) of the whole machine over ' +
      'forwarded packets, tick-sampled (no IRQ time accounting).', '');
  }
  return out;
}

function progcostSection(r: Results): string[] {
  const out = ['## Our programs alone (BPF_PROG_TEST_RUN, 60-byte UDP NodePort to a remote backend)', ''];
  const p = r.progcost as unknown;
  if (!ok(p)) return [...out, `Not run: ${why(p, 'not requested')}`, ''];
  const table = figureTable(p);
  if (table) out.push(`Each figure: the median over ${roundsOf(p).length || 1} round(s) of each round's p50 (repeat=1 on a fresh frame), or of its warm repeat=200 mean.`, '', table, '');
  const cases = (p as { cases?: CaseView[] }).cases ?? [];
  if (cases.length) {
    out.push(markdownTable(['Program', 'Flow', 'Runs', 'p50 ns', 'p90 ns', 'p99 ns', 'Verdicts (retval: runs)'],
      cases.map((c) => [c.hook, c.flow, fmt(c.ns.n), fmt(c.ns.p50), fmt(c.ns.p90), fmt(c.ns.p99), JSON.stringify(c.verdicts)])), '');
    out.push('Each run is a separate repeat=1 BPF_PROG_TEST_RUN on a fresh copy of the frame (the kernel does not restore the input between repetitions); the XDP_PASS row is the method\'s own floor.', '');
  }
  return out;
}

interface ClusterIpView {
  contenders: Array<{ name: string; status: 'ok'; how: string; rr: unknown; crr: unknown } | { name: string; status: 'not run'; reason: string }>;
}
interface RrView { ratePerS: number; percentilesUs: Record<string, number> }
interface CrrView {
  ratePerS: number; errors: number; latencyUs: { p50: number; p99: number }; pairedDirect: { ratePerS: number }; ratioToPairedDirect: number;
  perRound?: { service?: number[]; podIp?: number[] };
}

function clusteripSection(r: Results): string[] {
  const out = ['## ClusterIP from a pod (a-pod1 on node-a -> b-pod1 on node-b)', ''];
  const p = r.clusterip as unknown;
  if (!ok(p)) return [...out, `Not run: ${why(p, 'not requested')}`, ''];
  const cs = (p as ClusterIpView).contenders;
  const rows = cs.map((c) => {
    if (c.status !== 'ok') return [c.name, '—', '—', '—', '—', '—', '—', '—', c.reason];
    const rr = isNotRun(c.rr) ? undefined : (c.rr as RrView);
    const crr = isNotRun(c.crr) ? undefined : (c.crr as CrrView);
    const rounds = crr?.perRound?.service?.length ? crr.perRound.service.map((x) => fmt(x)).join(', ') : '—';
    return [c.name, rr ? fmt(rr.ratePerS) : '—', rr ? fmt(rr.percentilesUs['99.000'] ?? NaN) : '—',
      crr ? fmt(crr.ratePerS) : '—', rounds, crr ? `${fmt(crr.pairedDirect.ratePerS)} (x${crr.ratioToPairedDirect.toFixed(3)})` : '—',
      crr ? fmt(crr.latencyUs.p50) : '—', crr ? fmt(crr.latencyUs.p99) : '—',
      [isNotRun(c.rr) ? `RR: ${c.rr.reason}` : '', isNotRun(c.crr) ? `CRR: ${c.crr.reason}` : '', crr && crr.errors ? `${crr.errors} CRR errors` : ''].filter(Boolean).join('; ')];
  });
  out.push(markdownTable(['Contender', 'RR round trips/s', 'RR p99 us', 'CRR conn/s (Service arm)', 'CRR conn/s per round', 'CRR conn/s pod-IP arm (ratio)', 'CRR p50 us', 'CRR p99 us', 'Notes'], rows), '');
  out.push('RR: sockperf ping-pong on one TCP connection to the Service (to the pod for "pod IP"). CRR: crr.c, one connection per request; the Service arm and the pod-IP arm alternate in rounds under the same contender.', '');
  for (const c of cs) if (c.status === 'ok') out.push(`- ${c.name}: ${c.how}`);
  out.push('');
  return out;
}

interface ScaleView {
  services: number; status?: string; reason?: string; firstSyncS: number; observedMs: { p50: number; p99: number };
  histogramMs: { p50: number; p99: number }; rssMiBAfterChanges: number; cpuSecondsToFirstSync: number; cpuSecondsDuringChanges: number;
  timeouts?: number; changesMade?: number;
}
interface ControlView {
  endpointsPerService?: number; creation: Array<{ services: number; seconds: number }>;
  contenders: Array<{ name: string; status: string; reason?: string; scales?: ScaleView[] }>;
}

function controlSection(r: Results): string[] {
  const p = r.control as unknown;
  const out = [`## Control plane at scale (Services x ${(p as ControlView | undefined)?.endpointsPerService ?? 10} endpoints in the real apiserver)`, ''];
  if (!ok(p)) return [...out, `Not run: ${why(p, 'not requested')}`, ''];
  const ctl = p as ControlView;
  out.push(`Creation: ${ctl.creation.map((c) => `${c.services} services by ${c.seconds.toFixed(1)} s`).join(', ')}.`, '');
  const rows: string[][] = [];
  for (const c of ctl.contenders) {
    if (c.status !== 'ok') {
      rows.push([c.name, '—', 'not run', '', '', '', '', '', c.reason ?? '']);
      continue;
    }
    for (const s of c.scales ?? []) {
      if (isNotRun(s) || s.status === 'not run') {
        rows.push([c.name, String(s.services), 'not run', '', '', '', '', '', s.reason ?? '']);
        continue;
      }
      const rounds = roundsOf(s).length;
      rows.push([c.name, String(s.services), fmt(s.firstSyncS), fmt(s.observedMs.p50), fmt(s.observedMs.p99),
        `${fmt(s.histogramMs.p50)} / ${fmt(s.histogramMs.p99)}`, fmt(s.rssMiBAfterChanges), `${fmt(s.cpuSecondsToFirstSync)} / ${fmt(s.cpuSecondsDuringChanges)}`,
        [s.timeouts ? `${s.timeouts} changes not seen in 30 s` : '', num(s.changesMade) !== undefined ? `${s.changesMade} changes` : '', rounds ? `median of ${rounds} rounds` : ''].filter(Boolean).join('; ')]);
    }
  }
  out.push(markdownTable(['Proxy', 'Services', 'First sync s', 'Change->synced p50 ms', 'p99 ms', 'Histogram p50 / p99 ms', 'RSS MiB', 'CPU s (start / changes)', 'Notes'], rows), '');
  return out;
}

const SYNC_MICRO_META = new Set(['rounds', 'perRound', 'status']);

function syncMicroSection(r: Results): string[] {
  const out = ['## Control-plane pipeline without an apiserver (sync-micro)', ''];
  const p = r.syncMicro as unknown;
  if (!ok(p)) return [...out, `Not run: ${why(p, 'not requested')}`, ''];
  const runs = p as Array<Record<string, unknown>>;
  // Every scalar field any run printed, in order of first appearance.
  const cols = [...new Set(runs.flatMap((m) => Object.keys(m)))].filter((k) => !SYNC_MICRO_META.has(k) && runs.some((m) => ['number', 'string', 'boolean'].includes(typeof m[k])));
  const cell = (m: Record<string, unknown>, k: string): string => {
    const v = m[k];
    if (typeof v !== 'number') return v === undefined ? '—' : String(v);
    const s = spread({ rounds: roundsOf(m).map((x) => x[k]).filter((x): x is number => typeof x === 'number' && Number.isFinite(x)) });
    return s && s.lo !== s.hi ? `${fmt(v)} (${fmt(s.lo)}-${fmt(s.hi)})` : fmt(v);
  };
  out.push(markdownTable([...cols, 'Rounds'], runs.map((m) => [...cols.map((k) => cell(m, k)), String(roundsOf(m).length || 1)])), '');
  out.push('In-memory list/watch -> the real Reflectors -> change trackers -> translation -> real BPF maps (no programs attached). Each figure is the median of the rounds, min-max in brackets.', '');
  return out;
}

export function renderMarkdown(r: Results, v: { verdicts: Verdict[]; units: string[] }, title: string, charts: readonly string[] = []): string {
  const out: string[] = [];
  out.push(`# Benchmark results ${title}`, '');
  out.push(`Machine: Linux ${r.machine.kernel}, ${r.machine.cpus} x ${r.machine.cpuModel}, Node ${r.machine.node}; ` +
    `load average ${r.machine.loadavgStart.map((x) => x.toFixed(2)).join('/')} at start${r.machine.loadavgEnd ? `, ${r.machine.loadavgEnd.map((x) => x.toFixed(2)).join('/')} at end` : ''}. ${r.machine.note}`, '');
  for (const n of r.notes ?? []) out.push(`${n}`, '');
  const prov = PARTS.filter((p) => r.provenance?.[p]).map((p) => `- ${p}: ${r.provenance![p]}`);
  if (prov.length) out.push('Where each part comes from:', '', ...prov, '');
  out.push('## Targets', '', verdictTable(v.verdicts, v.units), '');
  if (charts.length) out.push('## Charts', '', ...charts.map((c) => `![${c.replace(/\.png$/, '')}](${c})`), '');
  out.push(...forwardSection(r), ...progcostSection(r), ...clusteripSection(r), ...controlSection(r), ...syncMicroSection(r));
  if (r.errors.length) out.push('## Errors', '', ...r.errors.map((e) => `- ${e.split('\n')[0]}`), '');
  return out.join('\n');
}
