// North-south services end to end: the external client (192.0.2.100, outside the cluster, no
// route to pods) reaches NodePorts, ExternalIPs and LoadBalancer IPs on node-a and node-b, served
// by our agents' tc/XDP programs on the nodes' fabric devices, with real Service objects (and a
// LoadBalancer status written the way a cloud controller would).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { V1Service } from '@kubernetes/client-node';
import { startCluster, type Cluster } from '../cluster/cluster.ts';
import { endpointSliceFor } from '../cluster/endpoint-slice.ts';
import { PLAN } from '../cluster/plan.ts';
import { run } from '../cluster/run.ts';
import { echo, httpGet, startEchoServer } from '../cluster/workload.ts';
import { eventually, serviceEntriesFor, startAgents } from './support.ts';

const NS = 'kpb-nodeport';
const PORT = 8080;
const EXTERNAL_IP = '203.0.113.10';
const LB_IP = '203.0.113.20';

describe('NodePort, ExternalIP and LoadBalancer services from outside the cluster', () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster();
    for (const p of [cluster.nodes['node-a'].pods[1]!, cluster.nodes['node-b'].pods[0]!]) await startEchoServer(p.place, p.name, [PORT], cluster.teardown);
    await cluster.admin.createNamespace(NS);
    // The client reaches the service addresses through node-a, as an upstream router would.
    for (const ip of [EXTERNAL_IP, LB_IP]) await run(['ip', '-n', cluster.client.netns, 'route', 'add', `${ip}/32`, 'via', PLAN.nodes[0].ipv4]);
    // Generic XDP: native XDP_TX on a veth whose peer runs no XDP program loses the frame (the
    // peer has no XDP receive queue), so on this veth fabric only generic mode forwards; the
    // program is the same.
    await startAgents(cluster, ['--bpf-xdp=generic']);
  });

  after(async () => {
    await cluster?.stop();
  });

  const service = (name: string, spec: Partial<V1Service['spec']>): V1Service => ({
    metadata: { name },
    spec: { type: 'NodePort', ipFamilyPolicy: 'RequireDualStack', ports: [{ name: 'tcp', port: 80, targetPort: PORT, protocol: 'TCP' }, { name: 'udp', port: 53, targetPort: PORT, protocol: 'UDP' }], ...spec },
  });
  const slicePorts = [{ name: 'tcp', port: PORT, protocol: 'TCP' as const }, { name: 'udp', port: PORT, protocol: 'UDP' as const }];
  const nodePortOf = (svc: V1Service, proto: 'tcp' | 'udp') => svc.spec!.ports!.find((p) => p.name === proto)!.nodePort!;

  test('NodePort on node-a to a local and to a remote backend (SNAT), TCP and UDP, IPv4 and IPv6', async () => {
    const a2 = cluster.nodes['node-a'].pods[1]!;
    const b1 = cluster.nodes['node-b'].pods[0]!;
    const node = cluster.nodes['node-a'];
    for (const [name, backend] of [['np-local', a2], ['np-remote', b1]] as const) {
      const svc = await cluster.admin.createService(NS, service(name, {}));
      for (const fam of ['IPv4', 'IPv6'] as const) await cluster.admin.createEndpointSlice(NS, endpointSliceFor(name, fam, [{ target: backend }], slicePorts));
      for (const [dst, client, nodeIp] of [[node.ipv4, PLAN.client.ipv4, node.ipv4], [node.ipv6, PLAN.client.ipv6, node.ipv6]]) {
        for (const proto of ['tcp', 'udp'] as const) {
          const port = nodePortOf(svc, proto);
          const { value: [reply] } = await eventually(`${name} ${proto} ${dst}:${port}`, () => echo(cluster.client, proto, dst!, port, { timeoutMs: 1_000 }));
          assert.equal(reply!.name, backend.name);
          // A local backend sees the client; a remote one sees node-a (SNAT), so replies come back through it.
          assert.equal(reply!.peer, backend === a2 ? client : nodeIp, `${name} ${proto} ${dst}: source seen by the backend`);
        }
      }
    }
  });

  test('NodePort without endpoints is refused from outside (TCP reset, UDP port unreachable); 127.0.0.1:NodePort works on the node', async () => {
    const node = cluster.nodes['node-a'];
    const b1 = cluster.nodes['node-b'].pods[0]!;
    const empty = await cluster.admin.createService(NS, service('np-empty', {}));
    const served = await cluster.admin.createService(NS, service('np-lo', {}));
    await cluster.admin.createEndpointSlice(NS, endpointSliceFor('np-lo', 'IPv4', [{ target: b1 }], slicePorts));
    for (const dst of [node.ipv4, node.ipv6]) {
      await eventually(`TCP refused at ${dst}`, () => assert.rejects(echo(cluster.client, 'tcp', dst, nodePortOf(empty, 'tcp'), { timeoutMs: 1_000 }), /ECONNREFUSED/));
      await assert.rejects(echo(cluster.client, 'udp', dst, nodePortOf(empty, 'udp'), { timeoutMs: 1_000 }), /ECONNREFUSED/, `UDP to ${dst} without endpoints`);
    }
    // localhostNodePorts (default true): IPv4 NodePorts answer on 127.0.0.1 from the node itself.
    const { value: [reply] } = await eventually('127.0.0.1 NodePort', () => echo(node.place, 'tcp', '127.0.0.1', nodePortOf(served, 'tcp'), { timeoutMs: 1_000 }));
    assert.equal(reply!.name, b1.name);
  });

  test('ExternalIP on node-a', async () => {
    const b1 = cluster.nodes['node-b'].pods[0]!;
    await cluster.admin.createService(NS, service('ext', { type: 'ClusterIP', ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv4'], externalIPs: [EXTERNAL_IP] }));
    await cluster.admin.createEndpointSlice(NS, endpointSliceFor('ext', 'IPv4', [{ target: b1 }], slicePorts));
    for (const proto of ['tcp', 'udp'] as const) {
      const { value: [reply] } = await eventually(`ExternalIP ${proto}`, () => echo(cluster.client, proto, EXTERNAL_IP, proto === 'tcp' ? 80 : 53, { timeoutMs: 1_000 }));
      assert.equal(reply!.name, b1.name);
    }
  });

  test('LoadBalancer IP with loadBalancerSourceRanges: a client outside the ranges is dropped, inside is served', async () => {
    const a2 = cluster.nodes['node-a'].pods[1]!;
    await cluster.admin.createService(NS, service('lb', {
      type: 'LoadBalancer', ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv4'], loadBalancerSourceRanges: ['192.0.2.200/32'],
    }));
    await cluster.admin.createEndpointSlice(NS, endpointSliceFor('lb', 'IPv4', [{ target: a2 }], slicePorts));
    const svc = await cluster.admin.core.readNamespacedService({ namespace: NS, name: 'lb' });
    svc.status = { loadBalancer: { ingress: [{ ip: LB_IP, ipMode: 'VIP' }] } };
    await cluster.admin.core.replaceNamespacedServiceStatus({ namespace: NS, name: 'lb', body: svc });
    // Denied: wait until node-a has programmed the LB IP itself (the status update may arrive a sync
    // after the ClusterIP); before that the client's packet is no service's and is routed, not dropped.
    await eventually('LB ClusterIP programmed', () => echo(cluster.nodes['node-a'].place, 'tcp', svc.spec!.clusterIP!, 80, { timeoutMs: 1_000 }));
    await eventually('LB IP programmed on node-a', () => assert.ok(serviceEntriesFor(cluster.nodes['node-a'], LB_IP).length > 0, `no lb_services entry for ${LB_IP} yet`));
    await assert.rejects(echo(cluster.client, 'tcp', LB_IP, 80, { timeoutMs: 1_500 }), /no reply|ETIMEDOUT|ECONNREFUSED|closed/);
    const cur = await cluster.admin.core.readNamespacedService({ namespace: NS, name: 'lb' });
    cur.spec!.loadBalancerSourceRanges = ['192.0.2.200/32', `${PLAN.client.ipv4}/32`];
    await cluster.admin.core.replaceNamespacedService({ namespace: NS, name: 'lb', body: cur });
    const { value: [reply] } = await eventually('LB IP allowed after widening the ranges', () => echo(cluster.client, 'tcp', LB_IP, 80, { timeoutMs: 1_000 }));
    assert.equal(reply!.name, a2.name);
  });

  test('externalTrafficPolicy=Local keeps the client address; healthCheckNodePort answers 200 with and 503 without local endpoints', async () => {
    const b1 = cluster.nodes['node-b'].pods[0]!;
    const svc = await cluster.admin.createService(NS, service('local', {
      type: 'LoadBalancer', externalTrafficPolicy: 'Local', ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv4'],
    }));
    await cluster.admin.createEndpointSlice(NS, endpointSliceFor('local', 'IPv4', [{ target: b1 }], slicePorts));
    const hc = svc.spec!.healthCheckNodePort!;
    assert.ok(hc > 0, 'no healthCheckNodePort allocated');
    const nb = cluster.nodes['node-b'];
    const na = cluster.nodes['node-a'];
    const { value: ok } = await eventually('health check 200 on node-b', async () => {
      const r = await httpGet(cluster.client, `http://${nb.ipv4}:${hc}/healthz`);
      assert.equal(r.status, 200, r.body);
      return r;
    });
    assert.equal(JSON.parse(ok.body).localEndpoints, 1);
    const { value: bad } = await eventually('health check 503 on node-a', async () => {
      const r = await httpGet(cluster.client, `http://${na.ipv4}:${hc}/healthz`);
      assert.equal(r.status, 503, r.body);
      return r;
    });
    assert.equal(JSON.parse(bad.body).localEndpoints, 0);
    const port = nodePortOf(svc, 'tcp');
    const { value: [reply] } = await eventually('eTP=Local NodePort on node-b', () => echo(cluster.client, 'tcp', nb.ipv4, port, { timeoutMs: 1_000 }));
    assert.equal(reply!.name, b1.name);
    assert.equal(reply!.peer, PLAN.client.ipv4, 'eTP=Local must keep the client address');
    // node-a has no local endpoint: its NodePort drops (the load balancer's health check steers away).
    await assert.rejects(echo(cluster.client, 'tcp', na.ipv4, port, { timeoutMs: 1_500 }));
  });
});
