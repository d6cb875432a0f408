// Turns a results object into the Markdown report (tables per part and the targets table) and the
// PNG plots. Reads only the results, so an old results JSON can be re-rendered.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Results } from './run.ts';
import { isNotRun } from './context.ts';
import { peak } from './forward.ts';
import { linePlot, type Series } from './plot.ts';
import { fmt, judge, markdownTable, verdictTable, type TargetInput, type Verdict } from './report.ts';
import type { ScaleMeasurement } from './control.ts';
import { cdf } from './stats.ts';

const why = (x: unknown, fallback: string): string => (isNotRun(x) ? x.reason : fallback);

/** The issue's four targets, judged on what this run measured. */
export function targets(r: Results): { verdicts: Verdict[]; units: string[] } {
  const t: TargetInput[] = [];
  const units: string[] = [];

  // 1. XDP NodePort >= 4x kube-proxy iptables, packets per kernel CPU-second at the peak point.
  const fwd = Array.isArray(r.forward) ? r.forward : undefined;
  const perCore = (name: string): number | string => {
    if (!fwd) return why(r.forward, 'forward part not run');
    const c = fwd.find((x) => x.name === name);
    if (!c) return 'not in this run';
    if (c.status !== 'ok') return c.reason;
    const p = peak(c);
    return p && Number.isFinite(p.kernelNsPerPacket) ? 1e9 / p.kernelNsPerPacket : 'no packets forwarded';
  };
  t.push({ name: 'NodePort forwarding per core (XDP vs kube-proxy iptables)', goal: { kind: 'ratio-at-least', x: 4 },
    ours: perCore('ours XDP'), reference: perCore('kube-proxy iptables'), referenceName: 'kube-proxy iptables', unit: 'pps/core' });
  units.push('pkts per kernel CPU-s');

  // 2. ClusterIP CRR within 5% of the pod IP: against the pod-IP arm measured in alternation with
  // ours (same node state, same minutes of machine noise), and against the no-proxy run.
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
  units.push('conn/s');
  t.push({ name: 'ClusterIP new connections/s (ours vs pod IP with no proxy at all)', goal: { kind: 'ratio-at-least', x: 0.95 },
    ours: crr('ours (socket LB)', 'service'), reference: crr('pod IP (direct)', 'service'), referenceName: 'pod IP, no proxy', unit: 'conn/s' });
  units.push('conn/s');

  // 3 and 4 at the largest scale measured.
  const ctl = r.control && !isNotRun(r.control) ? r.control : undefined;
  const atMax = (name: string): { m?: ScaleMeasurement; reason: string; n: number } => {
    if (!ctl) return { reason: why(r.control, 'control part not run'), n: 0 };
    const c = ctl.contenders.find((x) => x.name === name);
    if (!c) return { reason: 'not in this run', n: 0 };
    if (c.status !== 'ok') return { reason: c.reason, n: 0 };
    const ok = c.scales.filter((s): s is ScaleMeasurement => !isNotRun(s));
    const last = c.scales[c.scales.length - 1];
    if (!last) return { reason: 'no scale measured', n: 0 };
    if (isNotRun(last)) return { reason: `${last.services} services: ${last.reason}`, n: last.services, m: undefined };
    return { m: ok[ok.length - 1], reason: '', n: last.services };
  };
  const ours = atMax('ours');
  const scaleNote = ours.n ? ` at ${ours.n} services${ours.n < 10_000 ? ' (goal is at 10k; BENCH_SCALE=10000 for that)' : ''}` : '';
  t.push({ name: `Endpoint change -> datapath p99${scaleNote}`, goal: { kind: 'below', x: 100, unit: 'ms' },
    ours: ours.m ? ours.m.observedMs.p99 : ours.reason, unit: 'ms' });
  units.push('ms');
  for (const mode of ['iptables', 'nftables']) {
    const up = atMax(`kube-proxy ${mode}`);
    t.push({ name: `Agent RSS vs kube-proxy ${mode}${scaleNote}`, goal: { kind: 'ratio-at-most', x: 1 },
      ours: ours.m ? ours.m.rssMiBAfterChanges : ours.reason, reference: up.m ? up.m.rssMiBAfterChanges : up.reason,
      referenceName: `kube-proxy ${mode}`, unit: 'MiB' });
    units.push('MiB');
  }
  return { verdicts: t.map(judge), units };
}

export function renderMarkdown(r: Results, v: { verdicts: Verdict[]; units: string[] }, stamp: string): string {
  const out: string[] = [];
  out.push(`# Benchmark results ${stamp}`, '');
  out.push(`Machine: Linux ${r.machine.kernel}, ${r.machine.cpus} x ${r.machine.cpuModel}, Node ${r.machine.node}; ` +
    `load average ${r.machine.loadavgStart.map((x) => x.toFixed(2)).join('/')} at start${r.machine.loadavgEnd ? `, ${r.machine.loadavgEnd.map((x) => x.toFixed(2)).join('/')} at end` : ''}. ${r.machine.note}`, '');
  out.push('## Targets', '', verdictTable(v.verdicts, v.units), '');

  out.push('## NodePort forwarding (64-byte UDP, client -> node-a NodePort -> pod on node-b)', '');
  if (Array.isArray(r.forward)) {
    const rows: string[][] = [];
    for (const c of r.forward) {
      if (c.status !== 'ok') {
        rows.push([c.name, 'not run', '', '', '', '', c.reason]);
        continue;
      }
      for (const p of c.points) {
        rows.push([c.name, p.requestedPps ? fmt(p.requestedPps) : 'max', fmt(p.offeredPps), fmt(p.forwardedPps), `${(p.lossRatio * 100).toFixed(1)}%`,
          fmt(p.kernelNsPerPacket), `idle ${p.cpu.idle.toFixed(2)}, system ${p.cpu.system.toFixed(2)}, softirq ${p.cpu.softirq.toFixed(2)} CPUs`]);
      }
    }
    out.push(markdownTable(['Contender', 'Requested pps', 'Offered pps', 'Forwarded pps', 'Loss', 'Kernel ns/pkt (machine-wide)', 'CPU (machine-wide)'], rows), '');
    for (const c of r.forward) if (c.status === 'ok') out.push(`- ${c.name}: ${c.how}`);
    out.push('', 'Read with care: trafgen is pinned to CPU 0 and a veth hands each frame on in the sender\'s context, so ' +
      'the generator and the whole forwarding path (client, bridge, node-a, node-b, pod) mostly share one CPU and the ' +
      '"max" rate is the generator+path limit, not node-a\'s. Every link is a veth: native XDP on a veth gets an skb-backed ' +
      'frame and must hand XDP_TX frames to its peer\'s NAPI ring (an XDP_PASS program on node-a\'s fabric port, for every ' +
      'contender alike), so XDP cannot show the NIC-level gain the target assumes; the per-program cost is in the next table. ' +
      'Kernel ns/pkt is (system + softirq) of the whole machine over forwarded packets, tick-sampled (no IRQ time accounting).', '');
  } else {
    out.push(`Not run: ${why(r.forward, 'not requested')}`, '');
  }

  out.push('## Our programs alone (BPF_PROG_TEST_RUN, 60-byte UDP NodePort to a remote backend)', '');
  if (r.progcost && !isNotRun(r.progcost)) {
    out.push(markdownTable(['Program', 'Flow', 'Runs', 'p50 ns', 'p90 ns', 'p99 ns', 'Verdicts (retval: runs)'],
      r.progcost.cases.map((c) => [c.hook, c.flow, String(c.ns.n), fmt(c.ns.p50), fmt(c.ns.p90), fmt(c.ns.p99), JSON.stringify(c.verdicts)])), '');
    out.push('Each run is a separate repeat=1 BPF_PROG_TEST_RUN on a fresh copy of the frame (the kernel does not restore the input between repetitions); the XDP_PASS row is the method\'s own floor.', '');
  } else {
    out.push(`Not run: ${why(r.progcost, 'not requested')}`, '');
  }

  out.push('## ClusterIP from a pod (a-pod1 on node-a -> b-pod1 on node-b)', '');
  if (r.clusterip && !isNotRun(r.clusterip)) {
    const rows = r.clusterip.contenders.map((c) => {
      if (c.status !== 'ok') return [c.name, '—', '—', '—', '—', '—', '—', c.reason];
      const rr = isNotRun(c.rr) ? undefined : c.rr;
      const crr = isNotRun(c.crr) ? undefined : c.crr;
      return [c.name, rr ? fmt(rr.ratePerS) : '—', rr ? fmt(rr.percentilesUs['99.000'] ?? NaN) : '—',
        crr ? fmt(crr.ratePerS) : '—', crr ? `${fmt(crr.pairedDirect.ratePerS)} (x${crr.ratioToPairedDirect.toFixed(3)})` : '—',
        crr ? fmt(crr.latencyUs.p50) : '—', crr ? fmt(crr.latencyUs.p99) : '—',
        [isNotRun(c.rr) ? `RR: ${c.rr.reason}` : '', isNotRun(c.crr) ? `CRR: ${c.crr.reason}` : '', crr && crr.errors ? `${crr.errors} CRR errors` : ''].filter(Boolean).join('; ')];
    });
    out.push(markdownTable(['Contender', 'RR round trips/s', 'RR p99 us', 'CRR conn/s (Service arm)', 'CRR conn/s pod-IP arm (ratio)', 'CRR p50 us', 'CRR p99 us', 'Notes'], rows), '');
    out.push('RR: sockperf ping-pong on one TCP connection to the Service (to the pod for "pod IP"). CRR: crr.c, one connection per request; the Service arm and the pod-IP arm alternate in rounds under the same contender.', '');
    for (const c of r.clusterip.contenders) if (c.status === 'ok') out.push(`- ${c.name}: ${c.how}`);
    out.push('');
  } else {
    out.push(`Not run: ${why(r.clusterip, 'not requested')}`, '');
  }

  out.push('## Control plane at scale (Services x 10 endpoints in the real apiserver)', '');
  if (r.control && !isNotRun(r.control)) {
    out.push(`Creation: ${r.control.creation.map((c) => `${c.services} services by ${c.seconds.toFixed(1)} s`).join(', ')}.`, '');
    const rows: string[][] = [];
    for (const c of r.control.contenders) {
      if (c.status !== 'ok') {
        rows.push([c.name, '—', 'not run', '', '', '', '', '', c.reason]);
        continue;
      }
      for (const s of c.scales) {
        if (isNotRun(s)) {
          rows.push([c.name, String(s.services), 'not run', '', '', '', '', '', s.reason]);
          continue;
        }
        rows.push([c.name, String(s.services), fmt(s.firstSyncS), fmt(s.observedMs.p50), fmt(s.observedMs.p99),
          `${fmt(s.histogramMs.p50)} / ${fmt(s.histogramMs.p99)}`, fmt(s.rssMiBAfterChanges), `${fmt(s.cpuSecondsToFirstSync)} / ${fmt(s.cpuSecondsDuringChanges)}`,
          [s.timeouts ? `${s.timeouts} changes not seen in 30 s` : '', s.changesMade !== undefined ? `${s.changesMade} changes` : ''].filter(Boolean).join('; ')]);
      }
    }
    out.push(markdownTable(['Proxy', 'Services', 'First sync s', 'Change->synced p50 ms', 'p99 ms', 'Histogram p50 / p99 ms', 'RSS MiB', 'CPU s (start / changes)', 'Notes'], rows), '');
  } else {
    out.push(`Not run: ${why(r.control, 'not requested')}`, '');
  }
  if (r.errors.length) out.push('## Errors', '', ...r.errors.map((e) => `- ${e.split('\n')[0]}`), '');
  return out.join('\n');
}

export function renderPlots(r: Results, dir: string, stamp: string): string[] {
  const written: string[] = [];
  const save = (name: string, series: Series[], title: string, x: string, y: string, legend: 'top-left' | 'bottom-right' = 'top-left'): void => {
    if (!series.some((s) => s.points.length)) return;
    const file = `${stamp}-${name}.png`;
    writeFileSync(join(dir, file), linePlot({ title, xLabel: x, yLabel: y, series, legend }).png());
    written.push(file);
  };
  if (Array.isArray(r.forward)) {
    save('pps', r.forward.filter((c) => c.status === 'ok').map((c) => ({
      name: c.name, points: c.status === 'ok' ? [...c.points].sort((a, b) => a.offeredPps - b.offeredPps).map((p) => [p.offeredPps, p.forwardedPps] as const) : [],
    })), 'NodePort 64B UDP: forwarded vs offered', 'offered pps (client eth0 tx)', 'forwarded pps (pod rx)');
  }
  if (r.clusterip && !isNotRun(r.clusterip)) {
    // Clip at the worst p99 so the tail of one run does not flatten every curve.
    const ok = r.clusterip.contenders.flatMap((c) => (c.status === 'ok' && !isNotRun(c.crr) ? [{ name: c.name, crr: c.crr }] : []));
    const clip = Math.max(...ok.map((c) => c.crr.latencyUs.p99));
    save('crr-cdf', ok.map((c) => ({ name: c.name, points: c.crr.cdfUs.filter(([x]) => x <= clip) })),
      'ClusterIP new-connection latency CDF (to p99)', 'connect+request+close latency (us)', 'fraction', 'bottom-right');
  }
  if (r.progcost && !isNotRun(r.progcost)) {
    save('progcost-cdf', Object.entries(r.progcost.raw).map(([k, v]) => ({ name: k, points: cdf(v, 300).filter(([x]) => x <= 5000) })),
      'BPF_PROG_TEST_RUN per-run cost CDF (runs <= 5 us)', 'ns per run', 'fraction', 'bottom-right');
  }
  if (r.control && !isNotRun(r.control)) {
    const ctl = r.control;
    const ok = (c: (typeof ctl.contenders)[number]): ScaleMeasurement[] => (c.status === 'ok' ? c.scales.filter((s): s is ScaleMeasurement => !isNotRun(s)) : []);
    save('sync-p99', ctl.contenders.map((c) => ({ name: c.name, points: ok(c).map((s) => [s.services, s.observedMs.p99] as const) })),
      'Endpoint change -> synced, p99', 'services (x10 endpoints)', 'ms');
    save('first-sync', ctl.contenders.map((c) => ({ name: c.name, points: ok(c).map((s) => [s.services, s.firstSyncS] as const) })),
      'Start -> first full sync', 'services (x10 endpoints)', 'seconds');
    save('rss', ctl.contenders.map((c) => ({ name: c.name, points: ok(c).map((s) => [s.services, s.rssMiBAfterChanges] as const) })),
      'Proxy RSS after the changes', 'services (x10 endpoints)', 'MiB');
  }
  return written;
}
