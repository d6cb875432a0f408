// ClusterIP end to end: our agent on both nodes of the harness cluster, real Service and
// EndpointSlice objects written to the real apiserver, real TCP and UDP traffic from a pod and
// from the node itself (both in the node's cgroup, where the socket programs attach), and the
// node's pinned maps read back to check that deleted and foreign objects leave nothing behind.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { V1Service } from '@kubernetes/client-node';
import { startCluster, type Cluster } from '../cluster/cluster.ts';
import { endpointSliceFor } from '../cluster/endpoint-slice.ts';
import { echo, httpGet, startEchoServer } from '../cluster/workload.ts';
import { addr16, eventually, pinnedEntries, serviceEntriesFor, startAgents } from './support.ts';

const NS = 'kpb-clusterip';
const PORT = 8080;

describe('ClusterIP services', () => {
  let cluster: Cluster;
  let agents: Awaited<ReturnType<typeof startAgents>>;

  before(async () => {
    cluster = await startCluster();
    const [a1, a2] = cluster.nodes['node-a'].pods;
    const [b1, b2] = cluster.nodes['node-b'].pods;
    for (const p of [a2!, b1!, b2!]) await startEchoServer(p.place, p.name, [PORT, 9999], cluster.teardown);
    void a1;
    await cluster.admin.createNamespace(NS);
    agents = await startAgents(cluster);
  });

  after(async () => {
    await cluster?.stop();
  });

  const dualStack = (name: string, extra: Partial<V1Service['spec']> = {}, labels: Record<string, string> = {}): V1Service => ({
    metadata: { name, labels },
    spec: {
      ipFamilyPolicy: 'RequireDualStack',
      ports: [{ name: 'tcp', port: 80, targetPort: PORT, protocol: 'TCP' }, { name: 'udp', port: 53, targetPort: PORT, protocol: 'UDP' }],
      ...extra,
    },
  });
  const slicePorts = [{ name: 'tcp', port: PORT, protocol: 'TCP' as const }, { name: 'udp', port: PORT, protocol: 'UDP' as const }];

  test('TCP and UDP, IPv4 and IPv6, from a pod and from the node, reach the endpoints unNATed from pods', async () => {
    const a1 = cluster.nodes['node-a'].pods[0]!;
    const a2 = cluster.nodes['node-a'].pods[1]!;
    const b1 = cluster.nodes['node-b'].pods[0]!;
    const svc = await cluster.admin.createService(NS, dualStack('echo'));
    for (const fam of ['IPv4', 'IPv6'] as const) {
      await cluster.admin.createEndpointSlice(NS, endpointSliceFor('echo', fam, [{ target: a2 }, { target: b1 }], slicePorts));
    }
    const [vip4, vip6] = svc.spec!.clusterIPs!;
    const node = cluster.nodes['node-a'];
    for (const [from, src4, src6] of [[a1.place, a1.ipv4, a1.ipv6], [node.place, null, null]] as const) {
      for (const [vip, src] of [[vip4!, src4], [vip6!, src6]] as const) {
        for (const [proto, port] of [['tcp', 80], ['udp', 53]] as const) {
          const seen = new Set<string>();
          // Random selection per connection: a handful of tries reaches both endpoints.
          for (let i = 0; i < 24 && seen.size < 2; i++) {
            const { value: [reply] } = await eventually(`${proto} ${vip}:${port} from ${from.netns}`, () => echo(from, proto, vip, port));
            assert.ok([a2.name, b1.name].includes(reply!.name), `unexpected answer ${reply!.name}`);
            if (src !== null) assert.equal(reply!.peer, src, `${proto} ${vip}: the pod's address was rewritten`);
            seen.add(reply!.name);
          }
          assert.equal(seen.size, 2, `${proto} ${vip}:${port} from ${from.netns} reached only ${[...seen].join(',')}`);
        }
      }
    }
  });

  test('a Service without endpoints refuses TCP and UDP; endpoints added and removed are followed quickly', async (t) => {
    const a1 = cluster.nodes['node-a'].pods[0]!;
    const b2 = cluster.nodes['node-b'].pods[1]!;
    const svc = await cluster.admin.createService(NS, dualStack('late'));
    const [vip4, vip6] = svc.spec!.clusterIPs!;
    for (const vip of [vip4!, vip6!]) {
      await eventually(`refused at ${vip}`, () => assert.rejects(echo(a1.place, 'tcp', vip, 80, { timeoutMs: 1_000 }), /ECONNREFUSED/));
      await assert.rejects(echo(a1.place, 'udp', vip, 53, { timeoutMs: 1_000 }), /ECONNREFUSED/, `UDP to ${vip} without endpoints`);
    }
    const addedAt = Date.now();
    await cluster.admin.createEndpointSlice(NS, endpointSliceFor('late', 'IPv4', [{ target: b2 }], slicePorts));
    const { value: [reply] } = await eventually('traffic after adding endpoints', () => echo(a1.place, 'tcp', vip4!, 80, { timeoutMs: 1_000 }), 10_000, 50);
    const addMs = Date.now() - addedAt;
    assert.equal(reply!.name, b2.name);
    const removedAt = Date.now();
    await cluster.admin.deleteEndpointSlice(NS, 'late-ipv4');
    await eventually('refused after removing endpoints', () => assert.rejects(echo(a1.place, 'tcp', vip4!, 80, { timeoutMs: 1_000 }), /ECONNREFUSED/), 10_000, 50);
    const removeMs = Date.now() - removedAt;
    t.diagnostic(`endpoints added -> traffic: ${addMs} ms; removed -> refused: ${removeMs} ms`);
    // minSyncPeriod is 1 s and the informers push changes at once: a few seconds at most.
    assert.ok(addMs < 5_000 && removeMs < 5_000, `too slow: add ${addMs} ms, remove ${removeMs} ms`);
  });

  test('the metrics server reports syncs, network programming latency and the BPF counters; /proxyMode and /configz answer', async () => {
    const node = cluster.nodes['node-a'];
    const b1 = cluster.nodes['node-b'].pods[0]!;
    await cluster.admin.createService(NS, dualStack('timed'));
    const slice = endpointSliceFor('timed', 'IPv4', [{ target: b1 }], slicePorts);
    slice.metadata!.annotations = { 'endpoints.kubernetes.io/last-change-trigger-time': new Date().toISOString() };
    await cluster.admin.createEndpointSlice(NS, slice);
    const { value: metrics } = await eventually('network programming latency observed', async () => {
      const r = await httpGet(node.place, 'http://127.0.0.1:10249/metrics');
      assert.equal(r.status, 200);
      assert.match(r.body, /^kubeproxy_network_programming_duration_seconds_count\{ip_family="IPv4"\} [1-9]/m);
      return r.body;
    });
    for (const re of [
      /^kubeproxy_sync_proxy_rules_duration_seconds_count\{ip_family="IPv4"\} [1-9]/m,
      /^kubeproxy_sync_full_proxy_rules_duration_seconds_count\{ip_family="IPv4"\} [1-9]/m,
      /^kubeproxy_sync_proxy_rules_last_timestamp_seconds\{ip_family="IPv4"\} 1\d{9}/m,
      /^kubeproxy_sync_proxy_rules_service_changes_total [1-9]/m,
      /^kubeproxy_bpf_map_entries\{map="lb_services"\} [1-9]/m,
      /^kubeproxy_bpf_packets_total\{hook="tc_ingress",verdict="pass"\} [1-9]/m,
      /^kubeproxy_sync_proxy_rules_no_local_endpoints_total\{ip_family="IPv4",traffic_policy="internal"\} 0/m,
    ]) assert.match(metrics, re);
    // The agent records a Starting event on its Node, as kube-proxy does.
    const events = await cluster.admin.core.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.name=${node.name},reason=Starting` });
    assert.ok(events.items.some((e) => e.source?.component === 'kube-proxy' && e.involvedObject.kind === 'Node'), 'no Starting event for the node');
    const mode = await httpGet(node.place, 'http://127.0.0.1:10249/proxyMode');
    assert.deepEqual([mode.status, mode.body], [200, 'iptables']);
    const configz = await httpGet(node.place, 'http://127.0.0.1:10249/configz');
    assert.equal(JSON.parse(configz.body)['kubeproxy.config.k8s.io'].bindAddress, '0.0.0.0');
  });

  test('a frontend claimed by two Services is programmed once; the other Service is reported once in the log and counted', async () => {
    const node = cluster.nodes['node-a'];
    const b1 = cluster.nodes['node-b'].pods[0]!;
    for (const name of ['dup-a', 'dup-b']) {
      await cluster.admin.createService(NS, { metadata: { name }, spec: { externalIPs: ['203.0.113.40'], ports: [{ name: 'tcp', port: 80, targetPort: PORT }] } });
      await cluster.admin.createEndpointSlice(NS, endpointSliceFor(name, 'IPv4', [{ target: b1 }], [{ name: 'tcp', port: PORT }]));
    }
    const line = /"Ignoring part of an object" object="Service kpb-clusterip\/dup-[ab]" field="spec" reason="frontend .* is already used by Service kpb-clusterip\/dup-[ab]; not programmed for this Service while that one holds it"/g;
    await agents['node-a'].waitFor(line, 10_000);
    // More syncs: the problem persists but is not logged again.
    const marker = await cluster.admin.createService(NS, dualStack('after-dup'));
    await eventually('later Service programmed', () => assert.ok(serviceEntriesFor(node, marker.spec!.clusterIP!).length > 0));
    assert.equal([...agents['node-a'].output.matchAll(line)].length, 1, 'the problem was logged more than once');
    // lb_service_key: port (be16) at 16. One entry for the ExternalIP's port, whoever owns it.
    assert.equal(serviceEntriesFor(node, '203.0.113.40').filter((k) => k.readUInt16BE(16) === 80).length, 1);
    const metrics = await httpGet(node.place, 'http://127.0.0.1:10249/metrics');
    // The label is the enumerated reason, never a field path or a value from the object.
    assert.match(metrics.body, /^kubeproxy_bpf_bad_objects_total\{kind="Service",reason="frontend_conflict"\} 1$/m);

    // A slice listing one address twice: the duplicate is skipped and reported for that version.
    await cluster.admin.createService(NS, dualStack('dupaddr'));
    const slice = await cluster.admin.createEndpointSlice(NS, endpointSliceFor('dupaddr', 'IPv4', [{ target: b1 }, { target: b1 }], slicePorts));
    const dupLine = /"Ignoring part of an object" object="EndpointSlice kpb-clusterip\/dupaddr-ipv4" field="endpoints\[1\]\.addresses\[0\]"/g;
    await agents['node-a'].waitFor(dupLine, 10_000);
    slice.metadata!.labels!['kpb-touch'] = '1';
    await cluster.admin.discovery.replaceNamespacedEndpointSlice({ namespace: NS, name: 'dupaddr-ipv4', body: slice });
    // The new version is counted again, but the log has at most one line per object a minute.
    await eventually('the new version is counted too', async () => {
      const m = await httpGet(node.place, 'http://127.0.0.1:10249/metrics');
      assert.match(m.body, /^kubeproxy_bpf_bad_objects_total\{kind="EndpointSlice",reason="duplicate"\} 2$/m);
    });
    assert.equal([...agents['node-a'].output.matchAll(dupLine)].length, 1);
  });

  test('a deleted Service leaves no map entry on either node', async () => {
    const b1 = cluster.nodes['node-b'].pods[0]!;
    const svc = await cluster.admin.createService(NS, dualStack('gone'));
    for (const fam of ['IPv4', 'IPv6'] as const) await cluster.admin.createEndpointSlice(NS, endpointSliceFor('gone', fam, [{ target: b1 }], slicePorts));
    const vips = svc.spec!.clusterIPs!;
    for (const node of Object.values(cluster.nodes)) {
      for (const vip of vips) await eventually(`${vip} programmed on ${node.name}`, () => assert.ok(serviceEntriesFor(node, vip).length >= 2));
    }
    await cluster.admin.deleteService(NS, 'gone');
    for (const node of Object.values(cluster.nodes)) {
      for (const vip of vips) {
        await eventually(`${vip} removed from ${node.name}`, () => assert.deepEqual(serviceEntriesFor(node, vip), []));
        const revNat = pinnedEntries(node, 'lb_rev_nat').filter(([, v]) => v.subarray(0, 16).equals(addr16(vip)));
        assert.deepEqual(revNat, [], `lb_rev_nat of ${node.name} still names ${vip}`);
      }
    }
  });

  test('Services of another proxy (service-proxy-name) and headless slices are not programmed', async () => {
    const a1 = cluster.nodes['node-a'].pods[0]!;
    const b2 = cluster.nodes['node-b'].pods[1]!;
    const other = await cluster.admin.createService(NS, dualStack('other', {}, { 'service.kubernetes.io/service-proxy-name': 'someone-else' }));
    await cluster.admin.createEndpointSlice(NS, endpointSliceFor('other', 'IPv4', [{ target: b2 }], slicePorts));
    await cluster.admin.createService(NS, dualStack('headless', { clusterIP: 'None', ports: [{ name: 'tcp', port: 9999, targetPort: 9999, protocol: 'TCP' }] }));
    const headlessSlice = endpointSliceFor('headless', 'IPv4', [{ target: b2 }], [{ name: 'tcp', port: 9999 }]);
    headlessSlice.metadata!.labels!['service.kubernetes.io/headless'] = '';
    await cluster.admin.createEndpointSlice(NS, headlessSlice);
    // A marker service created after both: once it is programmed, the two before it were seen.
    const marker = await cluster.admin.createService(NS, dualStack('marker'));
    for (const node of Object.values(cluster.nodes)) {
      await eventually(`marker programmed on ${node.name}`, () => assert.ok(serviceEntriesFor(node, marker.spec!.clusterIP!).length > 0));
      for (const vip of other.spec!.clusterIPs!) assert.deepEqual(serviceEntriesFor(node, vip), [], `${node.name} programmed the other proxy's ${vip}`);
      // lb_backend: addr[16], port (be16) at 16. Port 9999 is used by the headless slice only.
      const backends9999 = pinnedEntries(node, 'lb_backends').filter(([, v]) => v.readUInt16BE(16) === 9999);
      assert.deepEqual(backends9999, [], `${node.name} programmed the headless slice's endpoint`);
    }
    await assert.rejects(echo(a1.place, 'tcp', other.spec!.clusterIP!, 80, { timeoutMs: 1_000 }));
  });
});
