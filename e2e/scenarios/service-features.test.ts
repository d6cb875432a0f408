// Service features end to end (spec §5.2, §5.6, §5.8, §5.9): internalTrafficPolicy=Local,
// ClientIP session affinity, topology hints (zones from the Node labels), the serving-terminating
// fallback, and a Service changing type ClusterIP -> NodePort -> LoadBalancer -> ClusterIP.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { V1Service } from '@kubernetes/client-node';
import { startCluster, type Cluster, type ClusterPod } from '../cluster/cluster.ts';
import { endpointSliceFor, type SliceEndpoint } from '../cluster/endpoint-slice.ts';
import { PLAN } from '../cluster/plan.ts';
import type { Placement } from '../cluster/proc.ts';
import { run } from '../cluster/run.ts';
import { echo, httpGet, startEchoServer } from '../cluster/workload.ts';
import { addr16, eventually, pinnedEntries, startAgents } from './support.ts';

const NS = 'kpb-features';
const PORT = 8080;
const LB_IP = '203.0.113.30';
const ZONE = 'topology.kubernetes.io/zone';

describe('Service features', () => {
  let cluster: Cluster;
  let a1: ClusterPod;
  let a2: ClusterPod;
  let b1: ClusterPod;
  let b2: ClusterPod;

  before(async () => {
    cluster = await startCluster({ nodeLabels: { 'node-a': { [ZONE]: 'zone-a' }, 'node-b': { [ZONE]: 'zone-b' } } });
    [a1, a2] = cluster.nodes['node-a'].pods as [ClusterPod, ClusterPod];
    [b1, b2] = cluster.nodes['node-b'].pods as [ClusterPod, ClusterPod];
    for (const p of [a2, b1]) await startEchoServer(p.place, p.name, [PORT], cluster.teardown);
    await cluster.admin.createNamespace(NS);
    await run(['ip', '-n', cluster.client.netns, 'route', 'add', `${LB_IP}/32`, 'via', PLAN.nodes[0].ipv4]);
    await startAgents(cluster, ['--bpf-xdp=generic']);
  });

  after(async () => {
    await cluster?.stop();
  });

  const create = async (name: string, spec: Partial<V1Service['spec']>, endpoints: SliceEndpoint[]): Promise<V1Service> => {
    const svc = await cluster.admin.createService(NS, { metadata: { name }, spec: { ports: [{ name: 'tcp', port: 80, targetPort: PORT }], ...spec } });
    await cluster.admin.createEndpointSlice(NS, endpointSliceFor(name, 'IPv4', endpoints, [{ name: 'tcp', port: PORT }]));
    return svc;
  };

  /** The backends that answer `n` fresh connections from `from` (after the first one succeeds). */
  const answers = async (from: Placement, vip: string, n = 12): Promise<Set<string>> => {
    await eventually(`${vip} served from ${from.netns}`, () => echo(from, 'tcp', vip, 80, { timeoutMs: 1_000 }));
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) seen.add((await echo(from, 'tcp', vip, 80))[0]!.name);
    return seen;
  };

  test('internalTrafficPolicy=Local: pods reach only their node\'s endpoints; none on the node -> no connection', async () => {
    const both = await create('itp', { internalTrafficPolicy: 'Local' }, [{ target: a2 }, { target: b1 }]);
    assert.deepEqual([...await answers(a1.place, both.spec!.clusterIP!)], [a2.name]);
    assert.deepEqual([...await answers(b2.place, both.spec!.clusterIP!)], [b1.name]);
    const remoteOnly = await create('itp-remote', { internalTrafficPolicy: 'Local' }, [{ target: b1 }]);
    await answers(b2.place, remoteOnly.spec!.clusterIP!, 1);
    await assert.rejects(echo(a1.place, 'tcp', remoteOnly.spec!.clusterIP!, 80, { timeoutMs: 1_000 }));
    const metrics = await httpGet(cluster.nodes['node-a'].place, 'http://127.0.0.1:10249/metrics');
    assert.match(metrics.body, /^kubeproxy_sync_proxy_rules_no_local_endpoints_total\{ip_family="IPv4",traffic_policy="internal"\} 1$/m);
  });

  test('sessionAffinity=ClientIP pins a client to one backend; without it both answer', async () => {
    const sticky = await create('sticky', { sessionAffinity: 'ClientIP' }, [{ target: a2 }, { target: b1 }]);
    assert.equal((await answers(a1.place, sticky.spec!.clusterIP!, 16)).size, 1);
    const spread = await create('spread', {}, [{ target: a2 }, { target: b1 }]);
    assert.equal((await answers(a1.place, spread.spec!.clusterIP!, 24)).size, 2);
  });

  test('topology hints: with trafficDistribution=PreferClose each zone uses its hinted endpoint', async () => {
    const svc = await create('zonal', { trafficDistribution: 'PreferClose' }, [
      { target: a2, zone: 'zone-a', forZones: ['zone-a'] },
      { target: b1, zone: 'zone-b', forZones: ['zone-b'] },
    ]);
    assert.deepEqual([...await answers(a1.place, svc.spec!.clusterIP!)], [a2.name]);
    assert.deepEqual([...await answers(b2.place, svc.spec!.clusterIP!)], [b1.name]);
  });

  test('serving-terminating endpoints are used only when no endpoint is ready', async () => {
    const fallback = await create('terminating', {}, [{ target: b1, ready: false, serving: true, terminating: true }]);
    assert.deepEqual([...await answers(a1.place, fallback.spec!.clusterIP!, 4)], [b1.name]);
    const mixed = await create('mixed', {}, [{ target: a2 }, { target: b1, ready: false, serving: true, terminating: true }]);
    assert.deepEqual([...await answers(a1.place, mixed.spec!.clusterIP!)], [a2.name]);
  });

  test('ClusterIP -> NodePort -> LoadBalancer -> ClusterIP: each frontend appears and goes', async () => {
    const nodeA = cluster.nodes['node-a'];
    const svc = await create('morph', {}, [{ target: b1 }]);
    const vip = svc.spec!.clusterIP!;
    await answers(a1.place, vip, 1);
    const update = async (f: (s: V1Service) => void): Promise<V1Service> => {
      const cur = await cluster.admin.core.readNamespacedService({ namespace: NS, name: 'morph' });
      f(cur);
      return cluster.admin.core.replaceNamespacedService({ namespace: NS, name: 'morph', body: cur });
    };
    const np = await update((s) => { s.spec!.type = 'NodePort'; });
    const nodePort = np.spec!.ports![0]!.nodePort!;
    await eventually('NodePort served', () => echo(cluster.client, 'tcp', nodeA.ipv4, nodePort, { timeoutMs: 1_000 }));
    await update((s) => { s.spec!.type = 'LoadBalancer'; });
    const lb = await cluster.admin.core.readNamespacedService({ namespace: NS, name: 'morph' });
    lb.status = { loadBalancer: { ingress: [{ ip: LB_IP, ipMode: 'VIP' }] } };
    await cluster.admin.core.replaceNamespacedServiceStatus({ namespace: NS, name: 'morph', body: lb });
    const { value: [viaLb] } = await eventually('LoadBalancer IP served', () => echo(cluster.client, 'tcp', LB_IP, 80, { timeoutMs: 1_000 }));
    assert.equal(viaLb!.name, b1.name);
    await update((s) => {
      s.spec!.type = 'ClusterIP';
      for (const p of s.spec!.ports!) delete p.nodePort;
      delete s.spec!.externalTrafficPolicy;
      delete s.spec!.allocateLoadBalancerNodePorts;
    });
    const lbGone = await cluster.admin.core.readNamespacedService({ namespace: NS, name: 'morph' });
    lbGone.status = { loadBalancer: {} };
    await cluster.admin.core.replaceNamespacedServiceStatus({ namespace: NS, name: 'morph', body: lbGone });
    // lb_service_key: addr[16], port (be16) at 16. The NodePort entry uses the wildcard ::ffff:0.0.0.0.
    const wildcard = addr16('0.0.0.0');
    await eventually('NodePort and LB entries removed', () => {
      const keys = pinnedEntries(nodeA, 'lb_services').map(([k]) => k);
      assert.deepEqual(keys.filter((k) => k.subarray(0, 16).equals(wildcard) && k.readUInt16BE(16) === nodePort), [], 'NodePort entry left');
      assert.deepEqual(keys.filter((k) => k.subarray(0, 16).equals(addr16(LB_IP))), [], 'LoadBalancer entry left');
    });
    await assert.rejects(echo(cluster.client, 'tcp', nodeA.ipv4, nodePort, { timeoutMs: 1_000 }));
    await assert.rejects(echo(cluster.client, 'tcp', LB_IP, 80, { timeoutMs: 1_000 }));
    assert.equal((await echo(a1.place, 'tcp', vip, 80))[0]!.name, b1.name, 'the ClusterIP must keep working');
  });
});
