// Direct server return (--bpf-lb-mode=dsr, and hybrid: DSR for TCP, SNAT for UDP): node-a
// encapsulates the client's packet to the backend's node, which decapsulates it for the pod and
// sends the reply straight to the client with the frontend as its source. The backend therefore sees the real client address. The agents
// also select backends with Maglev (--bpf-lb-algorithm=maglev), as DSR deployments usually do:
// every node then picks the same backend for a flow.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startCluster, type Cluster } from '../cluster/cluster.ts';
import { endpointSliceFor } from '../cluster/endpoint-slice.ts';
import { PLAN } from '../cluster/plan.ts';
import { echo, startEchoServer } from '../cluster/workload.ts';
import { eventually, pinnedEntries, startAgents } from './support.ts';

const NS = 'kpb-dsr';
const PORT = 8080;

describe('DSR', () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster();
    const b1 = cluster.nodes['node-b'].pods[0]!;
    await startEchoServer(b1.place, b1.name, [PORT], cluster.teardown);
    await cluster.admin.createNamespace(NS);
    // Generic XDP: see node-port.test.ts.
    await startAgents(cluster, ['--bpf-xdp=generic', '--bpf-lb-mode=dsr', '--bpf-lb-algorithm=maglev', '--bpf-maglev-table-size=1021']);
  });

  after(async () => {
    await cluster?.stop();
  });

  test('NodePort on node-a to a backend on node-b, IPv4 and IPv6: the backend sees the client, the reply comes from the frontend', async () => {
    const b1 = cluster.nodes['node-b'].pods[0]!;
    const nodeA = cluster.nodes['node-a'];
    const svc = await cluster.admin.createService(NS, { metadata: { name: 'dsr' }, spec: { type: 'NodePort', ipFamilyPolicy: 'RequireDualStack', ports: [{ name: 'tcp', port: 80, targetPort: PORT }] } });
    for (const fam of ['IPv4', 'IPv6'] as const) await cluster.admin.createEndpointSlice(NS, endpointSliceFor('dsr', fam, [{ target: b1 }], [{ name: 'tcp', port: PORT }]));
    const nodePort = svc.spec!.ports![0]!.nodePort!;
    for (const [dst, client] of [[nodeA.ipv4, PLAN.client.ipv4], [nodeA.ipv6, PLAN.client.ipv6]]) {
      const { value: replies } = await eventually(`DSR NodePort ${dst} served`, () => echo(cluster.client, 'tcp', dst!, nodePort, { timeoutMs: 1_000, count: 3 }));
      for (const r of replies) {
        assert.equal(r.name, b1.name);
        assert.equal(r.peer, client, `${dst}: with DSR the backend must see the client address`);
      }
    }
    // One Maglev table per external entry (NodePort IPv4 and IPv6) on each node.
    for (const node of Object.values(cluster.nodes)) assert.ok(pinnedEntries(node, 'lb_maglev').length >= 2, `${node.name} has no Maglev tables`);
  });
});

describe('hybrid (DSR for TCP, SNAT for UDP)', () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster();
    const b1 = cluster.nodes['node-b'].pods[0]!;
    await startEchoServer(b1.place, b1.name, [PORT], cluster.teardown);
    await cluster.admin.createNamespace(NS);
    await startAgents(cluster, ['--bpf-xdp=generic', '--bpf-lb-mode=hybrid']);
  });

  after(async () => {
    await cluster?.stop();
  });

  test('a TCP NodePort keeps the client address (DSR), a UDP one is SNATed to node-a', async () => {
    const b1 = cluster.nodes['node-b'].pods[0]!;
    const nodeA = cluster.nodes['node-a'];
    const svc = await cluster.admin.createService(NS, {
      metadata: { name: 'hybrid' },
      spec: { type: 'NodePort', ports: [{ name: 'tcp', port: 80, targetPort: PORT, protocol: 'TCP' }, { name: 'udp', port: 53, targetPort: PORT, protocol: 'UDP' }] },
    });
    await cluster.admin.createEndpointSlice(NS, endpointSliceFor('hybrid', 'IPv4', [{ target: b1 }], [{ name: 'tcp', port: PORT, protocol: 'TCP' }, { name: 'udp', port: PORT, protocol: 'UDP' }]));
    const port = (name: string) => svc.spec!.ports!.find((p) => p.name === name)!.nodePort!;
    const { value: [tcp] } = await eventually('TCP NodePort served', () => echo(cluster.client, 'tcp', nodeA.ipv4, port('tcp'), { timeoutMs: 1_000 }));
    assert.equal(tcp!.peer, PLAN.client.ipv4, 'TCP must go by DSR');
    const { value: [udp] } = await eventually('UDP NodePort served', () => echo(cluster.client, 'udp', nodeA.ipv4, port('udp'), { timeoutMs: 1_000 }));
    assert.equal(udp!.name, b1.name);
    assert.equal(udp!.peer, nodeA.ipv4, 'UDP must be SNATed');
  });
});
