// The contenders of each part as pluggable setups. Each one installs itself on node-a (or on the
// client's cgroup for ClusterIP), returns how traffic reaches it, and removes itself; when it
// cannot run here it returns `notRun(reason)` and the results say so.
import type { Cluster } from '../cluster/cluster.ts';
import { BENCH_NAMESPACE, endpointSlice, service } from './objects.ts';
import { notRun } from './context.ts';
import type { ForwardContender } from './forward.ts';
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

export function upstreamForward(mode: UpstreamMode): ForwardContender {
  return {
    name: `kube-proxy ${mode}`,
    async prepare(env) {
      const missing = await upstreamMissing(mode);
      if (missing) return notRun(missing);
      await ensureNodePortService(env.cluster, env.nodePort, env.backendIp, env.backendPort);
      const up = await startUpstream(env.cluster.nodes['node-a'], mode);
      try {
        await waitForFirstSync(up, 60_000);
      } catch (err) {
        await up.stop();
        throw err;
      }
      return {
        dstIp: env.cluster.nodes['node-a'].ipv4, dstPort: env.nodePort,
        how: `upstream kube-proxy ${mode} (.cache/k8s/bin/kube-proxy) in node-a's netns, NodePort Service + EndpointSlice via the apiserver`,
        stop: () => up.stop(),
      };
    },
  };
}

/** Our agent on node-a with XDP (native on the veth) or tc only. */
export function oursForward(xdp: 'native' | 'off'): ForwardContender {
  return {
    name: xdp === 'native' ? 'ours XDP' : 'ours tc',
    async prepare(env) {
      const missing = agentMissing();
      if (missing) return notRun(missing);
      await ensureNodePortService(env.cluster, env.nodePort, env.backendIp, env.backendPort);
      const node = env.cluster.nodes['node-a'];
      const o = startOurs(node, [`--bpf-xdp=${xdp}`, '--bpf-devices=eth0']);
      try {
        await waitForOursSync(o, 60_000);
        if (xdp === 'native' && !(await xdpAttached(node.netns))) {
          throw new Error('agent synced but no XDP program is attached to node-a eth0 (fell back to tc?)');
        }
      } catch (err) {
        await o.stop();
        throw err;
      }
      return {
        dstIp: node.ipv4, dstPort: env.nodePort,
        how: `our agent (build/kube-proxy --bpf-xdp=${xdp}) in node-a's netns, same Service + EndpointSlice`,
        stop: () => o.stop(),
      };
    },
  };
}

async function xdpAttached(netns: string): Promise<boolean> {
  const r = await run(['ip', '-n', netns, '-j', '-d', 'link', 'show', 'dev', 'eth0']);
  return /"xdp"/.test(r.stdout);
}
