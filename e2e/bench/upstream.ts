// Upstream kube-proxy (built by `make k8s` into .cache/k8s/bin) run inside a node's network
// namespace and cgroup, so every iptables/nftables rule and sysctl it writes lands in that
// namespace. The configuration turns off everything kube-proxy would otherwise change machine-wide
// (conntrack table size and hashsize via /sys/module; conntrack timeouts are left alone).
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterNode } from '../cluster/cluster.ts';
import { K8S_BIN } from '../cluster/control-plane.ts';
import { PLAN } from '../cluster/plan.ts';
import { Proc } from '../cluster/proc.ts';
import { run } from '../cluster/run.ts';
import { parseMetrics, type Sample } from './prom.ts';

export const KUBE_PROXY_BIN = join(K8S_BIN, 'kube-proxy');

export type UpstreamMode = 'iptables' | 'nftables';

/** Why upstream kube-proxy cannot run here, or undefined when it can. */
export async function upstreamMissing(mode: UpstreamMode): Promise<string | undefined> {
  if (!existsSync(KUBE_PROXY_BIN)) return `${KUBE_PROXY_BIN} not built (make k8s)`;
  const tool = mode === 'iptables' ? ['iptables', '--version'] : ['nft', '--version'];
  const r = await run(tool, { allowFailure: true }).catch((e: Error) => ({ code: 1, stdout: '', stderr: e.message }));
  if (r.code !== 0) return `${tool[0]} not usable: ${r.stderr.trim()}`;
  return undefined;
}

export interface Upstream {
  proc: Proc;
  mode: UpstreamMode;
  node: ClusterNode;
  metrics(): Promise<Sample[]>;
  /** Stops the process and removes its rules and conntrack entries from the node namespace only. */
  stop(): Promise<void>;
}

let seq = 0;

export async function startUpstream(node: ClusterNode, mode: UpstreamMode, extra: Record<string, unknown> = {}): Promise<Upstream> {
  const n = seq++;
  const config = {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode,
    bindAddress: '0.0.0.0',
    clientConnection: { kubeconfig: node.kubeconfig, qps: 1000, burst: 2000 },
    clusterCIDR: PLAN.clusterCIDRv4,
    hostnameOverride: node.name,
    metricsBindAddress: '127.0.0.1:10249',
    healthzBindAddress: '127.0.0.1:10256',
    // 0 = leave the machine-wide conntrack sizing and the timeouts alone.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    ...extra,
  };
  const file = join(node.dir, `upstream-kube-proxy-${n}.json`);
  writeFileSync(file, JSON.stringify(config, null, 2) + '\n');
  const proc = new Proc(node.place, [KUBE_PROXY_BIN, `--config=${file}`, '--v=2'],
    { name: `upstream kube-proxy ${mode} ${node.name}`, logFile: join(node.dir, `upstream-kube-proxy-${n}.log`) });
  node.teardown.add(`upstream kube-proxy ${n}`, () => proc.stop());
  const metrics = async (): Promise<Sample[]> => {
    const r = await run(['ip', 'netns', 'exec', node.netns, 'curl', '-sf', '--max-time', '5', 'http://127.0.0.1:10249/metrics'], { timeoutMs: 10_000 });
    return parseMetrics(r.stdout);
  };
  const stop = async (): Promise<void> => {
    await proc.stop();
    await cleanNodeNetfilter(node.netns);
  };
  return { proc, mode, node, metrics, stop };
}

/**
 * Removes what any kube-proxy left in `netns` (and only there): its nftables tables, every
 * iptables chain, and conntrack entries. Used between contenders so each starts clean.
 */
export async function cleanNodeNetfilter(netns: string): Promise<void> {
  // Each step is bounded and may fail on its own (kube-proxy --cleanup of 10k services' iptables
  // rules can take minutes); the flushes after it still run.
  const inNs = (argv: string[]) => run(['ip', 'netns', 'exec', netns, ...argv], { allowFailure: true, timeoutMs: 180_000 })
    .catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));
  if (existsSync(KUBE_PROXY_BIN)) await inNs([KUBE_PROXY_BIN, '--cleanup']);
  for (const table of ['nat', 'filter', 'mangle']) {
    await inNs(['iptables', '-t', table, '-F']);
    await inNs(['iptables', '-t', table, '-X']);
  }
  await inNs(['nft', 'flush', 'ruleset']);
  await inNs(['conntrack', '-F']);
}

/** Resolves once kube-proxy has written its rules at least once (sync timestamp metric > 0). */
export async function waitForFirstSync(up: Upstream, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!up.proc.running) throw new Error(`kube-proxy exited:\n${up.proc.output.slice(-3000)}`);
    try {
      const m = await up.metrics();
      const ts = m.reduce((m, s) => (s.name === 'kubeproxy_sync_proxy_rules_last_timestamp_seconds' ? Math.max(m, s.value) : m), 0);
      if (ts > 0) return ts;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`kube-proxy did not sync within ${timeoutMs} ms:\n${up.proc.output.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
