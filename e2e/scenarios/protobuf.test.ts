// Protobuf to the real apiserver (issue 14 item 5): the agent's transport, as system:kube-proxy,
// lists and watches Services, EndpointSlices, Nodes and ServiceCIDRs once in protobuf (the
// default, upstream's `--kube-api-content-type`) and once in JSON, and both give the same
// projections, event for event. Agents started with each setting serve a ClusterIP and say in
// their log which encoding the server answered in (clientConnection.contentType of the config).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { V1Service } from '@kubernetes/client-node';
import { startCluster, type Cluster } from '../cluster/cluster.ts';
import { endpointSliceFor } from '../cluster/endpoint-slice.ts';
import { writeKubeconfig } from '../cluster/kubeconfig.ts';
import { echo, startEchoServer } from '../cluster/workload.ts';
import { eventually, sleep, startReadyAgent } from './support.ts';
import { createApiListWatches, type ApiListWatches } from '../../src/kube/api-list-watch.ts';
import { loadKubeConfig } from '../../src/kube/kube-config.ts';
import type { KubeObject, ListWatch, WatchEvent } from '../../src/kube/list-watch.ts';

const NS = 'kpb-proto';
const PORT = 8080;
type Resource = 'services' | 'endpointSlices' | 'nodes' | 'serviceCIDRs';
const RESOURCES: Resource[] = ['services', 'endpointSlices', 'nodes', 'serviceCIDRs'];

async function listAll<T extends KubeObject>(lw: ListWatch<T>): Promise<{ items: T[]; resourceVersion: string }> {
  const items: T[] = [];
  let cont: string | undefined;
  let rv = '';
  for (let i = 0; i < 1000; i++) {
    const page = await lw.list({ limit: 3, continue: cont }, new AbortController().signal);
    items.push(...page.items);
    rv = page.resourceVersion;
    cont = page.continue;
    if (!cont) break;
  }
  const key = (o: KubeObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
  return { items: items.sort((a, b) => (key(a) < key(b) ? -1 : 1)), resourceVersion: rv };
}

describe('protobuf to the apiserver, next to JSON', () => {
  let cluster: Cluster;
  const transports = {} as Record<'protobuf' | 'json', ApiListWatches>;
  const encodings = { protobuf: new Map<string, string>(), json: new Map<string, string>() };

  before(async () => {
    cluster = await startCluster();
    const a2 = cluster.nodes['node-a'].pods[1]!;
    const b1 = cluster.nodes['node-b'].pods[0]!;
    await startEchoServer(a2.place, a2.name, [PORT], cluster.teardown);
    await cluster.admin.createNamespace(NS);
    // Objects using every field the projections read (and some they skip).
    const lb = await cluster.admin.createService(NS, {
      metadata: { name: 'lb', labels: { app: 'lb' }, annotations: { note: 'skipped' } },
      spec: {
        type: 'LoadBalancer', ipFamilyPolicy: 'RequireDualStack', externalIPs: ['203.0.113.7'], selector: { app: 'lb' },
        sessionAffinity: 'ClientIP', externalTrafficPolicy: 'Local', loadBalancerSourceRanges: ['192.0.2.0/24'],
        ports: [{ name: 'tcp', port: 80, targetPort: PORT, protocol: 'TCP' }, { name: 'udp', port: 53, targetPort: 'dns', protocol: 'UDP' }],
      },
    });
    await cluster.admin.core.replaceNamespacedServiceStatus({ namespace: NS, name: 'lb', body: { ...lb, status: { loadBalancer: { ingress: [{ ip: '203.0.113.20', ipMode: 'VIP' }, { hostname: 'lb.example' }] } } } });
    await cluster.admin.createService(NS, { metadata: { name: 'other', labels: { 'service.kubernetes.io/service-proxy-name': 'x' } }, spec: { ports: [{ port: 81 }], trafficDistribution: 'PreferSameZone', internalTrafficPolicy: 'Local' } });
    const slice = endpointSliceFor('lb', 'IPv4', [
      { target: a2, zone: 'z1', forZones: ['z1'], forNodes: ['node-a'] },
      { target: b1, ready: false, serving: true, terminating: true },
    ], [{ name: 'tcp', port: PORT, protocol: 'TCP' }, { name: 'udp', port: 53, protocol: 'UDP' }]);
    slice.metadata!.annotations = { 'endpoints.kubernetes.io/last-change-trigger-time': new Date().toISOString() };
    await cluster.admin.createEndpointSlice(NS, slice);
    await cluster.admin.createEndpointSlice(NS, endpointSliceFor('lb', 'IPv6', [{ target: a2 }], [{ port: PORT }], 'lb-v6-unnamed'));
    for (let i = 0; i < 7; i++) await cluster.admin.createService(NS, { metadata: { name: `plain-${i}` }, spec: { ports: [{ port: 80 + i }] } });

    // node-a's identity (system:kube-proxy, bound to system:node-proxier), through the test's forward.
    const node = cluster.nodes['node-a'];
    const kubeconfig = writeKubeconfig(join(node.dir, 'test-forward.kubeconfig'), {
      server: cluster.localServerUrl, caFile: cluster.pki.caCert, certFile: node.clientCert.cert, keyFile: node.clientCert.key, user: 'system:kube-proxy',
    });
    for (const enc of ['protobuf', 'json'] as const) {
      transports[enc] = createApiListWatches(loadKubeConfig({ kubeconfig }), {
        userAgent: 'kpb-e2e', qps: 100, burst: 100,
        contentType: enc === 'protobuf' ? 'application/vnd.kubernetes.protobuf' : 'application/json',
        onEncoding: (path, e) => encodings[enc].set(path, e),
      });
    }
  });

  after(async () => {
    for (const t of Object.values(transports)) await t.client.close();
    await cluster?.stop();
  });

  test('lists of Services, EndpointSlices, Nodes and ServiceCIDRs decode to the same projections in both encodings', async (t) => {
    for (const r of RESOURCES) {
      const [pb, js] = await Promise.all([listAll(transports.protobuf[r] as ListWatch<KubeObject>), listAll(transports.json[r] as ListWatch<KubeObject>)]);
      assert.ok(pb.items.length > 0, `${r}: nothing listed`);
      assert.deepEqual(pb.items, js.items, `${r}: protobuf and JSON projections differ`);
      t.diagnostic(`${r}: ${pb.items.length} objects, equal in both encodings`);
    }
    assert.deepEqual([...encodings.protobuf.values()], ['protobuf', 'protobuf', 'protobuf', 'protobuf'], 'the server answered protobuf');
    assert.deepEqual([...encodings.json.values()], ['json', 'json', 'json', 'json']);
  });

  test('watch streams give the same events in both encodings (added, modified, deleted)', async () => {
    const collect = async (enc: 'protobuf' | 'json', r: Resource, rv: string, ac: AbortController) => {
      const events: WatchEvent<KubeObject>[] = [];
      const done = (transports[enc][r] as ListWatch<KubeObject>).watch({ resourceVersion: rv, allowWatchBookmarks: false, timeoutSeconds: 60 }, (e) => events.push(e), ac.signal).catch(() => {});
      return { events, done };
    };
    for (const r of ['services', 'endpointSlices'] as const) {
      const { resourceVersion } = await listAll(transports.json[r] as ListWatch<KubeObject>);
      const ac = new AbortController();
      const [pb, js] = await Promise.all([collect('protobuf', r, resourceVersion, ac), collect('json', r, resourceVersion, ac)]);
      await sleep(500);
      if (r === 'services') {
        const s = await cluster.admin.createService(NS, { metadata: { name: 'watched' }, spec: { ports: [{ port: 99, protocol: 'UDP' }] } });
        await cluster.admin.core.replaceNamespacedService({ namespace: NS, name: 'watched', body: { ...s, metadata: { ...s.metadata, labels: { 'service.kubernetes.io/service-proxy-name': 'y' } } } as V1Service });
        await cluster.admin.deleteService(NS, 'watched');
      } else {
        const a2 = cluster.nodes['node-a'].pods[1]!;
        await cluster.admin.createEndpointSlice(NS, endpointSliceFor('watched', 'IPv4', [{ target: a2, ready: false, serving: false }], [{ name: 'x', port: 1, protocol: 'UDP' }]));
        await cluster.admin.deleteEndpointSlice(NS, 'watched-ipv4');
      }
      await eventually(`${r}: both streams saw the delete`, () => {
        for (const s of [pb, js]) assert.ok(s.events.some((e) => e.type === 'DELETED'), `${s === pb ? 'protobuf' : 'json'}: ${s.events.map((e) => e.type).join(',')}`);
      }, 15_000, 100);
      ac.abort();
      await Promise.all([pb.done, js.done]);
      assert.deepEqual(pb.events, js.events, `${r}: protobuf and JSON watch events differ`);
      assert.ok(pb.events.length >= 2, `${r}: ${pb.events.length} events`);
    }
  });

  test('agents with the default (protobuf) and with contentType application/json both serve; the log names the encoding', async () => {
    const a1 = cluster.nodes['node-a'].pods[0]!;
    const agents = {
      protobuf: await startReadyAgent(cluster.nodes['node-a'], ['--v=2']),
      // With --config the flag is ignored (as upstream); the DaemonSet's ConfigMap sets it.
      json: await startReadyAgent(cluster.nodes['node-b'], ['--v=2'], { config: { clientConnection: { kubeconfig: cluster.nodes['node-b'].kubeconfig, contentType: 'application/json' } } }),
    };
    const svc = await cluster.admin.createService(NS, { metadata: { name: 'served' }, spec: { ports: [{ name: 'tcp', port: 80, targetPort: PORT }] } });
    await cluster.admin.createEndpointSlice(NS, endpointSliceFor('served', 'IPv4', [{ target: cluster.nodes['node-a'].pods[1]! }], [{ name: 'tcp', port: PORT }]));
    const { value: [r] } = await eventually('ClusterIP from a pod of node-a (protobuf agent)', () => echo(a1.place, 'tcp', svc.spec!.clusterIP!, 80, { timeoutMs: 1_000 }));
    assert.equal(r!.name, cluster.nodes['node-a'].pods[1]!.name);
    const b1 = cluster.nodes['node-b'].pods[0]!;
    await eventually('ClusterIP from a pod of node-b (JSON agent)', () => echo(b1.place, 'tcp', svc.spec!.clusterIP!, 80, { timeoutMs: 1_000 }));
    for (const [enc, agent] of Object.entries(agents)) {
      for (const path of ['/api/v1/services', '/apis/discovery.k8s.io/v1/endpointslices', '/api/v1/nodes', '/apis/networking.k8s.io/v1/servicecidrs']) {
        assert.match(agent.output, new RegExp(`"API responses decoded" resource="${path.replace(/\./g, '\\.')}" encoding="${enc}"`), `${enc} agent, ${path}`);
      }
    }
  });
});
