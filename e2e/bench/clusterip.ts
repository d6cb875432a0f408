// Part 2: ClusterIP from a pod. A client in a-pod1 (node-a's cgroup, so node-a's socket programs
// see it) talks to a server in b-pod1 on node-b: request/response on one TCP connection (sockperf
// ping-pong) and one new TCP connection per request (crr.c), through a ClusterIP Service with that
// pod as its only endpoint, or straight to the pod IP (the limit). Each run is time-bounded.
import { join } from 'node:path';
import type { Cluster } from '../cluster/cluster.ts';
import { Proc, runIn } from '../cluster/proc.ts';
import { run } from '../cluster/run.ts';
import { isNotRun, notRun, type BenchContext, type NotRun } from './context.ts';
import { ensureNamespace } from './contenders.ts';
import { BENCH_NAMESPACE, endpointSlice, service } from './objects.ts';
import { agentMissing, startOurs, waitForOursSync } from './ours.ts';
import { parseSockperf, type SockperfResult } from './sockperf.ts';
import { cdf, summarize, type Summary } from './stats.ts';
import { startUpstream, upstreamMissing, waitForFirstSync, type UpstreamMode } from './upstream.ts';

const RR_PORT = 7000;
const RR_VIP = '198.19.1.10';
// CRR: every contender gets its own server ports and Service, one port for the pod-IP arm and one
// for the Service arm. A server-side TIME_WAIT tuple left by an earlier run with another TCP
// timestamp offset (Linux derives it from the destination address the client used) would make the
// server drop the SYN as a PAWS failure and the client wait for a retransmit.
const crrDirectPort = (k: number): number => 7100 + 2 * k;
const crrServicePort = (k: number): number => 7101 + 2 * k;
const crrVip = (k: number): string => `198.19.1.${20 + k}`;

export interface ClusterIpTarget {
  rr: { ip: string; port: number };
  /** The Service arm of CRR (the pod-IP arm is always the backend's address). */
  crr: { ip: string; port: number };
  how: string;
  stop(): Promise<void>;
}

export interface ClusterIpContender {
  name: string;
  /** `k`: this contender's index, which picks its CRR ports and Service. */
  prepare(cluster: Cluster, k: number): Promise<ClusterIpTarget | NotRun>;
}

export interface CrrArm {
  connections: number;
  elapsedS: number;
  errors: number;
  ratePerS: number;
  latencyUs: Summary;
}

export interface CrrResult {
  /** The pod-IP arm measured in alternation with the Service arm, under the same node state. */
  pairedDirect: CrrArm;
  /** Service arm rate / paired pod-IP arm rate. */
  ratioToPairedDirect: number;
  rounds: number;
  /** Each round's rate (conn/s) of the Service arm and of the pod-IP arm, to show the spread. */
  perRound: { service: number[]; podIp: number[] };
  connections: number;
  elapsedS: number;
  errors: number;
  ratePerS: number;
  latencyUs: Summary;
  /** Thinned empirical CDF of per-connection latency, [us, fraction]. */
  cdfUs: Array<[number, number]>;
}

export type ClusterIpContenderResult =
  | { name: string; status: 'ok'; how: string; rr: SockperfResult | NotRun; crr: CrrResult | NotRun }
  | { name: string; status: 'not run'; reason: string };

export interface ClusterIpResult {
  status: 'ok';
  client: string;
  server: string;
  contenders: ClusterIpContenderResult[];
}

async function ensureClusterIpServices(cluster: Cluster, backendIp: string, count: number): Promise<void> {
  const done = await ensureNamespace(cluster);
  if (done.has('clusterip')) return;
  const svcs: Array<[string, string, number]> = [['cip-rr', RR_VIP, RR_PORT]];
  for (let k = 0; k < count; k++) svcs.push([`cip-crr-${k}`, crrVip(k), crrServicePort(k)]);
  for (const [name, vip, port] of svcs) {
    await cluster.admin.createService(BENCH_NAMESPACE, service({ name, type: 'ClusterIP', protocol: 'TCP', port: 80, targetPort: port, clusterIP: vip }));
    await cluster.admin.createEndpointSlice(BENCH_NAMESPACE, endpointSlice(name, 'TCP', port, [{ ip: backendIp, node: 'node-b' }]));
  }
  done.add('clusterip');
}

const direct: ClusterIpContender = {
  name: 'pod IP (direct)',
  async prepare(cluster, k) {
    const ip = cluster.nodes['node-b'].pods[0].ipv4;
    return { rr: { ip, port: RR_PORT }, crr: { ip, port: crrServicePort(k) }, how: 'no proxy on node-a; both arms connect to the backend pod address', stop: async () => {} };
  },
};

function upstream(mode: UpstreamMode): ClusterIpContender {
  return {
    name: `kube-proxy ${mode}`,
    async prepare(cluster, k) {
      const missing = await upstreamMissing(mode);
      if (missing) return notRun(missing);
      const up = await startUpstream(cluster.nodes['node-a'], mode);
      try {
        await waitForFirstSync(up, 60_000);
      } catch (err) {
        await up.stop();
        throw err;
      }
      return {
        rr: { ip: RR_VIP, port: 80 }, crr: { ip: crrVip(k), port: 80 },
        how: `upstream kube-proxy ${mode} in node-a's netns (DNAT in node-a's PREROUTING, conntrack)`,
        stop: () => up.stop(),
      };
    },
  };
}

const ours: ClusterIpContender = {
  name: 'ours (socket LB)',
  async prepare(cluster, k) {
    const missing = agentMissing();
    if (missing) return notRun(missing);
    const o = startOurs(cluster.nodes['node-a'], ['--bpf-devices=eth0']);
    try {
      await waitForOursSync(o, 60_000);
    } catch (err) {
      await o.stop();
      throw err;
    }
    return {
      rr: { ip: RR_VIP, port: 80 }, crr: { ip: crrVip(k), port: 80 },
      how: 'our agent in node-a\'s netns; the pod is in node-a\'s cgroup, so connect() is translated by the socket programs',
      stop: () => o.stop(),
    };
  },
};

export const CLUSTERIP_CONTENDERS: readonly ClusterIpContender[] = [direct, upstream('iptables'), upstream('nftables'), ours];

export async function runClusterIp(ctx: BenchContext, o: { rrSeconds: number; crrSeconds: number; rounds?: number }, contenders = CLUSTERIP_CONTENDERS): Promise<ClusterIpResult> {
  const cluster = await ctx.cluster();
  const client = cluster.nodes['node-a'].pods[0];
  const server = cluster.nodes['node-b'].pods[0];
  const crrBin = join(ctx.outDir, 'crr');
  await run(['cc', '-O2', '-Wall', '-o', crrBin, join(import.meta.dirname, 'crr.c')]);
  // Client side of CRR: reuse TIME_WAIT ports and a wide port range, in the client pod's namespace only.
  await run(['ip', 'netns', 'exec', client.place.netns, 'sysctl', '-qw', 'net.ipv4.tcp_tw_reuse=1', 'net.ipv4.ip_local_port_range=1024 65000']);
  const servers = [new Proc(server.place, ['sockperf', 'server', '--tcp', '-i', '0.0.0.0', '-p', String(RR_PORT)], { name: 'sockperf server' })];
  for (let k = 0; k < contenders.length; k++) {
    for (const port of [crrDirectPort(k), crrServicePort(k)]) servers.push(new Proc(server.place, [crrBin, 'server', String(port)], { name: `crr server ${port}` }));
  }
  for (const s of servers) cluster.teardown.add(s.name, () => s.stop());
  for (const s of servers.slice(1)) await s.waitFor(/ready/, 10_000);
  await new Promise((r) => setTimeout(r, 500));
  await ensureClusterIpServices(cluster, server.ipv4, contenders.length);
  const rounds = o.rounds ?? 3;
  const crrArm = async (ip: string, port: number, seconds: number): Promise<{ arm: CrrArm; us: number[] }> => {
    const r = await runIn(client.place, [crrBin, 'client', ip, String(port), String(seconds)], { timeoutMs: (seconds + 30) * 1000 });
    const j = JSON.parse(r.stdout) as { connections: number; elapsedS: number; errors: number; latNs: number[] };
    const us = j.latNs.map((x) => x / 1000);
    return { arm: { connections: j.connections, elapsedS: j.elapsedS, errors: j.errors, ratePerS: j.connections / j.elapsedS, latencyUs: summarize(us) }, us };
  };
  const merge = (arms: Array<{ arm: CrrArm; us: number[] }>): { arm: CrrArm; us: number[] } => {
    const connections = arms.reduce((n, a) => n + a.arm.connections, 0);
    const elapsedS = arms.reduce((n, a) => n + a.arm.elapsedS, 0);
    const us = arms.flatMap((a) => a.us);
    return { arm: { connections, elapsedS, errors: arms.reduce((n, a) => n + a.arm.errors, 0), ratePerS: connections / elapsedS, latencyUs: summarize(us) }, us };
  };

  const out: ClusterIpContenderResult[] = [];
  for (const [k, c] of contenders.entries()) {
    ctx.log(`clusterip: preparing ${c.name}`);
    let t: ClusterIpTarget | NotRun;
    try {
      t = await c.prepare(cluster, k);
    } catch (err) {
      t = notRun(`setup failed: ${(err as Error).message.split('\n')[0]}`);
    }
    if (isNotRun(t)) {
      ctx.log(`clusterip: ${c.name} not run: ${t.reason}`);
      out.push({ name: c.name, status: 'not run', reason: t.reason });
      continue;
    }
    try {
      let rr: SockperfResult | NotRun;
      try {
        const r = await runIn(client.place, ['sockperf', 'ping-pong', '--tcp', '--full-rtt', '-i', t.rr.ip, '-p', String(t.rr.port), '-t', String(o.rrSeconds)],
          { timeoutMs: (o.rrSeconds + 30) * 1000 });
        rr = parseSockperf(r.stdout + r.stderr);
        ctx.log(`clusterip: ${c.name} RR: ${Math.round(rr.ratePerS)} round trips/s, avg ${rr.avgUs} us, p99 ${rr.percentilesUs['99.000']} us`);
      } catch (err) {
        rr = notRun(`sockperf failed: ${(err as Error).message.split('\n')[0]}`);
      }
      let crr: CrrResult | NotRun;
      try {
        // Alternate the pod-IP arm and the Service arm so machine noise hits both alike.
        const direct: Array<{ arm: CrrArm; us: number[] }> = [];
        const svc: Array<{ arm: CrrArm; us: number[] }> = [];
        for (let i = 0; i < rounds; i++) {
          direct.push(await crrArm(server.ipv4, crrDirectPort(k), o.crrSeconds / rounds));
          svc.push(await crrArm(t.crr.ip, t.crr.port, o.crrSeconds / rounds));
        }
        const d = merge(direct).arm;
        const { arm, us } = merge(svc);
        crr = { ...arm, pairedDirect: d, ratioToPairedDirect: arm.ratePerS / d.ratePerS, rounds, cdfUs: cdf(us, 300),
          perRound: { service: svc.map((x) => x.arm.ratePerS), podIp: direct.map((x) => x.arm.ratePerS) } };
        ctx.log(`clusterip: ${c.name} CRR: ${Math.round(arm.ratePerS)} connections/s (paired pod IP ${Math.round(d.ratePerS)}/s, ratio ${crr.ratioToPairedDirect.toFixed(3)}), ` +
          `p50 ${arm.latencyUs.p50.toFixed(1)} us, p99 ${arm.latencyUs.p99.toFixed(1)} us, errors ${arm.errors}`);
        if (arm.connections === 0) crr = notRun(`no connection succeeded (${arm.errors} errors)`);
      } catch (err) {
        crr = notRun(`crr client failed: ${(err as Error).message.split('\n')[0]}`);
      }
      out.push({ name: c.name, status: 'ok', how: t.how, rr, crr });
    } finally {
      await t.stop().catch((e: Error) => ctx.log(`clusterip: stopping ${c.name}: ${e.message}`));
    }
  }
  return { status: 'ok', client: `${client.name} ${client.ipv4} (node-a)`, server: `${server.name} ${server.ipv4} (node-b)`, contenders: out };
}
