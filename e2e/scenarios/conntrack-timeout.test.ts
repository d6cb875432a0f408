// One setting governs both conntracks: --conntrack-udp-timeout (here 4 s) is also the lifetime of
// the BPF conntrack entries of a UDP NodePort flow, read back with `kube-proxy inspect conntrack`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { agentCommand } from '../cluster/agent.ts';
import { startCluster, type Cluster } from '../cluster/cluster.ts';
import { endpointSliceFor } from '../cluster/endpoint-slice.ts';
import { runIn } from '../cluster/proc.ts';
import { echo, startEchoServer } from '../cluster/workload.ts';
import { eventually, sleep, startReadyAgent } from './support.ts';

const NS = 'kpb-ct-timeout';
const PORT = 8080;

describe('BPF conntrack lifetimes follow --conntrack-udp-timeout', () => {
  let cluster: Cluster;
  let nodePort = 0;
  before(async () => {
    cluster = await startCluster();
    const b1 = cluster.nodes['node-b'].pods[0]!;
    await startEchoServer(b1.place, b1.name, [PORT], cluster.teardown);
    await cluster.admin.createNamespace(NS);
    const svc = await cluster.admin.createService(NS, { metadata: { name: 'echo' }, spec: { type: 'NodePort', ports: [{ name: 'udp', port: 53, targetPort: PORT, protocol: 'UDP' }] } });
    nodePort = svc.spec!.ports![0]!.nodePort!;
    await cluster.admin.createEndpointSlice(NS, endpointSliceFor('echo', 'IPv4', [{ target: b1 }], [{ name: 'udp', port: PORT, protocol: 'UDP' }]));
    await startReadyAgent(cluster.nodes['node-a'], ['--v=2', '--bpf-xdp=generic'], { config: { conntrack: { udpTimeout: '4s', udpStreamTimeout: '50s' } } });
    await startReadyAgent(cluster.nodes['node-b'], ['--v=2', '--bpf-xdp=generic']);
  });
  after(async () => {
    await cluster?.stop();
  });

  test('a UDP NodePort flow\'s entries live 4 s, then expire', async (t) => {
    const nodeA = cluster.nodes['node-a'];
    const entries = async () => {
      const r = await runIn(nodeA.place, [...agentCommand(), 'inspect', 'conntrack', '-o', 'json', '--port', String(nodePort), `--bpf-pin-path=${nodeA.pinPath}`], { timeoutMs: 30_000 });
      return (JSON.parse(r.stdout) as { protocol: string; expiresInSeconds: number }[]).filter((e) => e.protocol === 'UDP');
    };
    await eventually('NodePort UDP served', () => echo(cluster.client, 'udp', nodeA.ipv4, nodePort, { timeoutMs: 1_000 }), 20_000, 300);
    const fresh = await entries();
    assert.ok(fresh.length > 0, 'no conntrack entry for the UDP NodePort flow');
    t.diagnostic(`fresh entries expire in ${fresh.map((e) => e.expiresInSeconds.toFixed(2)).join(', ')} s`);
    for (const e of fresh) assert.ok(e.expiresInSeconds > 0 && e.expiresInSeconds <= 4.1, `lifetime ${e.expiresInSeconds} s, want at most 4 s (--conntrack-udp-timeout)`);
    await sleep(5_000);
    for (const e of await entries()) assert.ok(e.expiresInSeconds < 0, `still live after 5 s: ${JSON.stringify(e)}`);
  });
});
