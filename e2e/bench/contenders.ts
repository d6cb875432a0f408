// The contenders of each part as pluggable setups. Each one installs itself on node-a (or on the
// client's cgroup for ClusterIP), returns how traffic reaches it, and removes itself; when it
// cannot run here it returns `notRun(reason)` and the results say so.
import type { Cluster } from '../cluster/cluster.ts';
import { BENCH_NAMESPACE, endpointSlice, service } from './objects.ts';
import { notRun } from './context.ts';
import { run } from '../cluster/run.ts';
import { agentMissing, startOurs, waitForOursSync } from './ours.ts';
import { startUpstream, upstreamMissing, waitForFirstSync, type UpstreamMode } from './upstream.ts';

const ensured = new WeakMap<Cluster, Set<string>>();

async function ensureNamespace(cluster: Cluster): Promise<Set<string>> {
  let s = ensured.get(cluster);
  if (!s) {
    s = new Set();
    ensured.set(cluster, s);
    await cluster.admin.createNamespace(BENCH_NAMESPACE);
  }
  return s;
}

/** The NodePort UDP service of part 1: nodePort -> backend pod on node-b. Created once per cluster. */
export async function ensureNodePortService(cluster: Cluster, nodePort: number, backendIp: string, backendPort: number): Promise<void> {
  const done = await ensureNamespace(cluster);
  if (done.has('nodeport')) return;
  await cluster.admin.createService(BENCH_NAMESPACE, service({ name: 'np-udp', type: 'NodePort', protocol: 'UDP', port: 80, targetPort: backendPort, nodePort }));
  await cluster.admin.createEndpointSlice(BENCH_NAMESPACE, endpointSlice('np-udp', 'UDP', backendPort, [{ ip: backendIp, node: 'node-b' }]));
  done.add('nodeport');
}

export { ensureNamespace };

