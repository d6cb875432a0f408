// Our agent (the single binary build/kube-proxy) on a node of the bench cluster, started exactly as the e2e
// harness starts it (e2e/cluster/agent.ts: KubeProxyConfiguration file, the node's own pin folder
// and cgroup), plus the flags a contender picks (--bpf-xdp=native|off, --bpf-socket-lb=...).
import { existsSync } from 'node:fs';
import type { ClusterNode } from '../cluster/cluster.ts';
import { agentCommand, startAgent } from '../cluster/agent.ts';
import type { Proc } from '../cluster/proc.ts';
import { run } from '../cluster/run.ts';
import { BPF_DIR } from './context.ts';
import { scrapeMetrics } from './net.ts';
import { parseMetrics, type Sample } from './prom.ts';

/** The agent's error lines (klog E/F lines, thrown errors), else its last line. */
export function errorLines(output: string): string {
  const lines = output.trim().split('\n');
  const errs = lines.filter((l) => /^[EF]\d{4} |Error|error:/.test(l));
  return (errs.length ? errs.slice(-3) : lines.slice(-1)).join(' | ').slice(0, 1500);
}

export function agentMissing(): string | undefined {
  try {
    agentCommand();
  } catch (err) {
    return (err as Error).message;
  }
  for (const o of ['sock', 'tc', 'xdp']) {
    if (!existsSync(`${BPF_DIR}/${o}.bpf.o`)) return `build/bpf/${o}.bpf.o not built (make bpf)`;
  }
  return undefined;
}

export interface Ours {
  proc: Proc;
  node: ClusterNode;
  metrics(): Promise<Sample[]>;
  /** Stops the agent, then removes its pins and attachments (--cleanup), so the next contender starts clean. */
  stop(): Promise<void>;
}

export function startOurs(node: ClusterNode, flags: readonly string[], config: Record<string, unknown> = {}): Ours {
  const proc = startAgent(node, flags, { name: `our agent ${node.name} ${flags.join(' ')}`, config: { metricsBindAddress: '127.0.0.1:10249', ...config } });
  return {
    proc, node,
    metrics: async () => parseMetrics(await scrapeMetrics(node.netns)),
    stop: async () => {
      await proc.stop();
      // Pins and links survive a stop by design; --cleanup removes them (in this node's pin folder).
      await run(['ip', 'netns', 'exec', node.netns, ...agentCommand(), '--cleanup',
        `--bpf-pin-path=${node.pinPath}`, `--bpf-cgroup-path=${node.cgroup}`], { allowFailure: true, timeoutMs: 60_000 });
    },
  };
}

/** Resolves once the agent's first sync is recorded (same metric name as kube-proxy's). */
export async function waitForOursSync(o: Ours, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!o.proc.running) throw new Error(`agent exited: ${errorLines(o.proc.output)}`);
    try {
      const ts = (await o.metrics()).reduce((m, s) => (s.name === 'kubeproxy_sync_proxy_rules_last_timestamp_seconds' ? Math.max(m, s.value) : m), 0);
      if (ts > 0) return ts;
    } catch {
      // not serving yet
    }
    if (Date.now() > deadline) throw new Error(`agent did not sync within ${timeoutMs} ms: ${o.proc.output.slice(-1500)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
