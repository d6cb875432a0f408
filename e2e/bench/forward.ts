// Part 1: NodePort forwarding to a remote backend. trafgen in the client namespace sends 64-byte
// UDP frames to node-a; node-a (whatever contender is installed there) forwards them across the
// fabric to a pod on node-b. Forwarded packets are counted at the pod's eth0 (rx counter), offered
// packets at the client's eth0 (tx counter), over a steady-state window after a warm-up. CPU is
// /proc/stat over the same window: machine-wide, because all namespaces share the host's CPUs
// (and the generator's own send path is inside it, equally for every contender).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster } from '../cluster/cluster.ts';
import { PLAN } from '../cluster/plan.ts';
import { placedArgv } from '../cluster/proc.ts';
import { run } from '../cluster/run.ts';
import { cpuDelta, readCpuTimes } from './cpu.ts';
import { isNotRun, notRun, sleep, type BenchContext, type NotRun } from './context.ts';
import { counters, macOf, warmNeighbour } from './net.ts';
import { Generator, trafgenArgv, trafgenConfig } from './trafgen.ts';

export interface ForwardTarget {
  /** Where the client sends: the backend itself (floor) or node-a's NodePort. */
  dstIp: string;
  dstPort: number;
  /** How this contender was set up (e.g. "agent" or "objects loaded by the bench, maps filled directly"). */
  how: string;
  stop(): Promise<void>;
}

export interface ForwardEnv {
  ctx: BenchContext;
  cluster: Cluster;
  /** The backend pod on node-b and the UDP port traffic is sent to. */
  backendIp: string;
  backendPort: number;
  nodePort: number;
}

export interface ForwardContender {
  name: string;
  prepare(env: ForwardEnv): Promise<ForwardTarget | NotRun>;
}

export interface RatePoint {
  /** Requested rate (0 = unlimited). */
  requestedPps: number;
  offeredPps: number;
  forwardedPps: number;
  lossRatio: number;
  windowS: number;
  /** Machine-wide CPU seconds per second by state over the window. */
  cpu: { user: number; system: number; softirq: number; idle: number };
  /** (system + softirq) machine-wide, per forwarded packet. */
  kernelNsPerPacket: number;
}

export type ContenderResult =
  | { name: string; status: 'ok'; how: string; points: RatePoint[] }
  | { name: string; status: 'not run'; reason: string };

export interface ForwardOptions {
  rates: number[];
  durationS: number;
  warmupS: number;
  cpu: number;
  flows: number;
}

async function measureRate(env: ForwardEnv, t: ForwardTarget, pps: number, o: ForwardOptions, tag: string): Promise<RatePoint> {
  const { cluster } = env;
  const clientNs = cluster.net.clientNetns;
  const pod = cluster.nodes['node-b'].pods[0];
  const conf = join(env.ctx.outDir, `trafgen-${tag}.cfg`);
  writeFileSync(conf, trafgenConfig({
    srcMac: await macOf(clientNs, 'eth0'),
    dstMac: await macOf(cluster.nodes['node-a'].netns, 'eth0'),
    srcIp: PLAN.client.ipv4,
    dstIp: t.dstIp, dstPort: t.dstPort, flows: o.flows,
  }));
  // Bounded: whatever happens below, the generator dies within warm-up + window + 10 s.
  const gen = new Generator(placedArgv(cluster.client, trafgenArgv('eth0', conf, o.cpu, pps)), o.warmupS + o.durationS + 10);
  try {
    await sleep(o.warmupS * 1000);
    if (!gen.running) throw new Error(`trafgen exited early:\n${gen.output.slice(-2000)}`);
    const c0 = await counters(clientNs, 'eth0');
    const p0 = await counters(pod.place.netns, 'eth0');
    const s0 = readCpuTimes().get('cpu')!;
    const t0 = process.hrtime.bigint();
    await sleep(o.durationS * 1000);
    const c1 = await counters(clientNs, 'eth0');
    const p1 = await counters(pod.place.netns, 'eth0');
    const s1 = readCpuTimes().get('cpu')!;
    const windowS = Number(process.hrtime.bigint() - t0) / 1e9;
    const d = cpuDelta(s0, s1);
    const offered = c1.txPackets - c0.txPackets;
    const forwarded = p1.rxPackets - p0.rxPackets;
    return {
      requestedPps: pps,
      offeredPps: offered / windowS,
      forwardedPps: forwarded / windowS,
      lossRatio: offered > 0 ? Math.max(0, 1 - forwarded / offered) : 0,
      windowS,
      cpu: { user: d.user / windowS, system: d.system / windowS, softirq: d.softirq / windowS, idle: d.idle / windowS },
      kernelNsPerPacket: forwarded > 0 ? ((d.system + d.softirq) * 1e9) / forwarded : Number.NaN,
    };
  } finally {
    await gen.stop(2_000);
  }
}

/** A short low-rate burst: does the contender deliver anything at all to the backend? */
async function reachable(env: ForwardEnv, t: ForwardTarget, o: ForwardOptions, tag: string): Promise<number> {
  const p = await measureRate(env, t, 2_000, { ...o, durationS: 1, warmupS: 0.5 }, `${tag}-probe`);
  return p.forwardedPps / Math.max(1, p.offeredPps);
}

export async function runForward(ctx: BenchContext, contenders: readonly ForwardContender[], o: ForwardOptions): Promise<ContenderResult[]> {
  const cluster = await ctx.cluster();
  const backend = cluster.nodes['node-b'].pods[0];
  const env: ForwardEnv = { ctx, cluster, backendIp: backend.ipv4, backendPort: 9, nodePort: 30080 };
  // A veth delivers frames its peer XDP_TX'd only when it has an XDP program itself: attach a
  // no-op XDP_PASS (xdp-pass.bpf.c) to node-a's fabric port, for every contender alike.
  const passObj = join(ctx.outDir, 'xdp-pass.bpf.o');
  await run(['clang', '-O2', '-target', 'bpf', '-c', join(import.meta.dirname, 'xdp-pass.bpf.c'), '-o', passObj]);
  await run(['ip', '-n', cluster.net.fabricNetns, 'link', 'set', 'dev', 'f-node-a', 'xdpdrv', 'obj', passObj, 'sec', 'xdp']);
  // Neighbour entries on the path exist before the first measured packet.
  await warmNeighbour(cluster.nodes['node-a'].netns, cluster.nodes['node-b'].ipv4);
  await warmNeighbour(cluster.nodes['node-b'].netns, cluster.nodes['node-a'].ipv4);
  const out: ContenderResult[] = [];
  for (const c of contenders) {
    ctx.log(`forward: preparing ${c.name}`);
    let t: ForwardTarget | NotRun;
    try {
      t = await c.prepare(env);
    } catch (err) {
      t = notRun(`setup failed: ${(err as Error).message.split('\n')[0]}`);
    }
    if (isNotRun(t)) {
      ctx.log(`forward: ${c.name} not run: ${t.reason}`);
      out.push({ name: c.name, status: 'not run', reason: t.reason });
      continue;
    }
    try {
      const ratio = await reachable(env, t, o, c.name);
      if (ratio < 0.5) {
        out.push({ name: c.name, status: 'not run', reason: `set up (${t.how}) but only ${(ratio * 100).toFixed(0)}% of a 2 kpps probe reached the backend` });
        ctx.log(`forward: ${c.name}: probe delivered ${(ratio * 100).toFixed(0)}%, skipped`);
        continue;
      }
      const points: RatePoint[] = [];
      for (const pps of o.rates) {
        const p = await measureRate(env, t, pps, o, `${c.name}-${pps}`);
        ctx.log(`forward: ${c.name} rate ${pps || 'max'}: offered ${Math.round(p.offeredPps)} pps, forwarded ${Math.round(p.forwardedPps)} pps, ` +
          `loss ${(p.lossRatio * 100).toFixed(1)}%, kernel ${Math.round(p.kernelNsPerPacket)} ns/pkt (machine-wide), idle ${p.cpu.idle.toFixed(2)} CPUs`);
        points.push(p);
      }
      out.push({ name: c.name, status: 'ok', how: t.how, points });
    } catch (err) {
      out.push({ name: c.name, status: 'not run', reason: `measurement failed: ${(err as Error).message.split('\n')[0]}` });
    } finally {
      await t.stop().catch((e: Error) => ctx.log(`forward: stopping ${c.name}: ${e.message}`));
    }
  }
  return out;
}

/** The floor: no service translation at all, the client sends to the backend pod address. */
export const routingFloor: ForwardContender = {
  name: 'routing (no NAT)',
  async prepare(env) {
    return { dstIp: env.backendIp, dstPort: env.backendPort, how: 'plain IP forwarding on node-a, no NAT', stop: async () => {} };
  },
};

/** Best rate a contender sustained: highest forwarded pps over all offered loads. */
export function peak(r: ContenderResult): RatePoint | undefined {
  if (r.status !== 'ok') return undefined;
  return [...r.points].sort((a, b) => b.forwardedPps - a.forwardedPps)[0];
}
