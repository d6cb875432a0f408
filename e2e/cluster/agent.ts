// Starts our agent on a node the way the kubeadm DaemonSet does: the same entry point with
// `--config=<file> --hostname-override=<node>`, in the node's host network namespace, plus the
// only e2e-specific flags: this node's private pin folder and cgroup, so two agents on one
// machine never share BPF state or attach to the machine's own cgroup.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterNode } from './cluster.ts';
import { PLAN } from './plan.ts';
import { Proc } from './proc.ts';

const REPO = join(import.meta.dirname, '..', '..');
/** The single executable `make binary` builds: what the image ships as /usr/local/bin/kube-proxy. */
export const AGENT_BINARY = join(REPO, 'build', 'kube-proxy');
/** The TypeScript entry, for a quick edit-and-run loop: KPB_AGENT=source. */
export const AGENT_ENTRY = join(REPO, 'src', 'cli', 'kube-proxy.ts');

/**
 * The command that starts our agent. By default the single binary, so the e2e tests what users run;
 * KPB_AGENT=source runs src/cli/kube-proxy.ts with this Node instead (no `make binary` per edit).
 */
export function agentCommand(): string[] {
  if (process.env.KPB_AGENT === 'source') {
    if (!existsSync(AGENT_ENTRY)) throw new Error(`agent entry point ${AGENT_ENTRY} is missing`);
    return [process.execPath, AGENT_ENTRY];
  }
  if (!existsSync(AGENT_BINARY)) throw new Error(`agent binary ${AGENT_BINARY} is missing: run "make binary" (or set KPB_AGENT=source)`);
  return [AGENT_BINARY];
}

export interface AgentOptions {
  /** Fields merged over the KubeProxyConfiguration written for this node. */
  config?: Record<string, unknown>;
  /** Name for logs and errors (default "agent <node>"). */
  name?: string;
}

let agentSeq = 0;

/**
 * Writes the node's KubeProxyConfiguration (kubeadm's fields: clientConnection.kubeconfig,
 * clusterCIDR, bindAddress) and launches the agent. The caller waits for whatever readiness it
 * needs (e.g. `proc.waitFor(...)` or polling :10256/healthz from the node namespace). The agent is
 * stopped at cluster teardown if the test has not stopped it.
 */
export function startAgent(node: ClusterNode, args: readonly string[] = [], opts: AgentOptions = {}): Proc {
  const command = agentCommand();
  const seq = agentSeq++;
  const config = {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    bindAddress: '0.0.0.0',
    clientConnection: { kubeconfig: node.kubeconfig },
    clusterCIDR: `${PLAN.clusterCIDRv4},${PLAN.clusterCIDRv6}`,
    mode: '',
    ...opts.config,
  };
  const configFile = join(node.dir, `kube-proxy-config-${seq}.yaml`);
  // JSON is YAML, and kube-proxy's decoder accepts both.
  writeFileSync(configFile, JSON.stringify(config, null, 2) + '\n');
  const name = opts.name ?? `agent ${node.name}`;
  // Like a hostNetwork pod: its own view of /sys for the node's devices, the host's bpffs and cgroups.
  const place = { ...node.place, sysfsScratch: join(node.dir, `agent-${seq}-mnt`) };
  const proc = new Proc(place, [
    ...command,
    `--config=${configFile}`, `--hostname-override=${node.name}`,
    `--bpf-pin-path=${node.pinPath}`, `--bpf-cgroup-path=${node.cgroup}`,
    ...args,
  ], { name, logFile: join(node.dir, `agent-${seq}.log`) });
  node.teardown.add(name, () => proc.stop(), () => proc.kill());
  return proc;
}
