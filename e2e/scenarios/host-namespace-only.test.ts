// --bpf-socket-lb=host-namespace-only end to end (issue 14 item 2), for service meshes that must see
// the ClusterIP inside the pod. Both agents run in that mode against the real apiserver; node-a's
// pods are the clients:
// - a pod's sockets keep the frontend: getpeername is the ClusterIP, getsockname the pod's own
//   address, a capture on the pod's eth0 shows only the ClusterIP, and a sidecar that intercepts
//   with nftables (as Istio's iptables do) reads the ClusterIP as the original destination;
// - the packets are translated at the pod's interface instead: to a backend on node-b (through the
//   node's routing), to a pod on node-a (directly), to the pod itself (hairpin: the server sees the
//   ClusterIP as its peer), and a NodePort on node-a's address; TCP and UDP, IPv4 and IPv6;
// - the node's own sockets are still translated at connect();
// - a pod interface created after the agent started is served, and a deleted pod filter is put
//   back by self-repair; conversations of pods survive a restart; a restart in "on" mode removes the pod programs and the socket LB takes
//   over (the capture then shows the backend, which is how the test knows it can tell the modes);
// - NodeCIDR and InterfaceNamePrefix find the same pods as the default ClusterCIDR.
// Addresses: pods 198.18.1.11-13 / 2001:db8:10:1::11-13 (node-a), 198.18.2.11 (node-b).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { V1Service } from '@kubernetes/client-node';
import { openPinnedMap } from 'bpf-loader-napi';
import { startCluster, type Cluster, type ClusterNode, type ClusterPod } from '../cluster/cluster.ts';
import { endpointSliceFor } from '../cluster/endpoint-slice.ts';
import { PLAN } from '../cluster/plan.ts';
import { Proc, runIn, type Placement } from '../cluster/proc.ts';
import { run } from '../cluster/run.ts';
import { echo, httpGet, startEchoServer } from '../cluster/workload.ts';
import { eventually, startReadyAgent } from './support.ts';

const NS = 'kpb-hostonly';
const PORT = 8080;
const PROBE = join(import.meta.dirname, 'bin', 'peer-probe.ts');
const SIDECAR = join(import.meta.dirname, 'bin', 'original-dst.py');
const STREAM = join(import.meta.dirname, 'bin', 'stream-client.ts');
const MODE = '--bpf-socket-lb=host-namespace-only';
const POD_TC_PREF = String(0x4b51);

type Probe = { local: string; localPort: number; peer: string; peerPort: number; reply: { name: string; peer: string; peerPort: number; local: string } };

async function probe(place: Placement, proto: 'tcp' | 'udp', host: string, port: number): Promise<Probe> {
  const r = await runIn(place, [process.execPath, PROBE, proto, host, String(port), '2000'], { timeoutMs: 15_000, allowFailure: true });
  if (r.code !== 0) throw new Error(`probe ${proto} ${host}:${port} from ${place.netns}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return JSON.parse(r.stdout.trim()) as Probe;
}

const capturedPackets = (p: Proc | string): string[] => (typeof p === 'string' ? p : p.output).split('\n').filter((l) => / IP6? /.test(l));

describe('--bpf-socket-lb=host-namespace-only', () => {
  let cluster: Cluster;
  let nodeA: ClusterNode;
  let agentA: Proc;
  const services: Record<'remote' | 'local' | 'self' | 'nodeport', V1Service> = {} as never;
  let nodePort = 0;

  const dualStack = (name: string, type: 'ClusterIP' | 'NodePort' = 'ClusterIP'): V1Service => ({
    metadata: { name },
    spec: {
      type, ipFamilyPolicy: 'RequireDualStack',
      ports: [{ name: 'tcp', port: 80, targetPort: PORT, protocol: 'TCP' }, { name: 'udp', port: 53, targetPort: PORT, protocol: 'UDP' }],
    },
  });
  const slicePorts = [{ name: 'tcp', port: PORT, protocol: 'TCP' as const }, { name: 'udp', port: PORT, protocol: 'UDP' as const }];

  before(async () => {
    cluster = await startCluster();
    nodeA = cluster.nodes['node-a'];
    const [a1, a2] = nodeA.pods;
    const [b1] = cluster.nodes['node-b'].pods;
    for (const p of [a1!, a2!, b1!]) await startEchoServer(p.place, p.name, [PORT], cluster.teardown);
    await cluster.admin.createNamespace(NS);
    const backends = { remote: b1!, local: a2!, self: a1!, nodeport: a2! };
    for (const [key, target] of Object.entries(backends) as [keyof typeof backends, ClusterPod][]) {
      services[key] = await cluster.admin.createService(NS, dualStack(key, key === 'nodeport' || key === 'self' ? 'NodePort' : 'ClusterIP'));
      for (const fam of ['IPv4', 'IPv6'] as const) await cluster.admin.createEndpointSlice(NS, endpointSliceFor(key, fam, [{ target }], slicePorts));
    }
    nodePort = services.nodeport.spec!.ports![0]!.nodePort!;
    agentA = await startReadyAgent(nodeA, ['--v=2', MODE], { config: { iptables: { syncPeriod: '5s', minSyncPeriod: '1s' } } });
    await startReadyAgent(cluster.nodes['node-b'], ['--v=2', MODE]);
  });

  after(async () => {
    await cluster?.stop();
  });

  test('a pod sees the ClusterIP (getpeername, capture) while its traffic reaches remote, local and own backends', async (t) => {
    const a1 = nodeA.pods[0]!;
    const cases: { svc: keyof typeof services; backend: string; serverSees: (fam: 0 | 1, vip: string) => string }[] = [
      { svc: 'remote', backend: 'b-pod1', serverSees: (f) => (f === 0 ? a1.ipv4 : a1.ipv6) },
      { svc: 'local', backend: 'a-pod2', serverSees: (f) => (f === 0 ? a1.ipv4 : a1.ipv6) },
      // Hairpin: the pod is its own backend; it sees the frontend as the client, not itself.
      { svc: 'self', backend: 'a-pod1', serverSees: (_f, vip) => vip },
    ];
    for (const c of cases) {
      const vips = services[c.svc].spec!.clusterIPs!;
      for (const fam of [0, 1] as const) {
        const vip = vips[fam]!;
        const own = fam === 0 ? a1.ipv4 : a1.ipv6;
        const backendIp = c.backend === 'a-pod1' ? null : [...nodeA.pods, ...cluster.nodes['node-b'].pods].find((p) => p.name === c.backend)![fam === 0 ? 'ipv4' : 'ipv6'];
        for (const [proto, port] of [['tcp', 80], ['udp', 53]] as const) {
          const what = `${proto} ${c.svc} ${vip}:${port}`;
          const dump = new Proc(a1.place, ['tcpdump', '-i', 'eth0', '-n', '-l', '-U', `${proto} and (host ${vip}${backendIp ? ` or host ${backendIp}` : ''})`], { name: `tcpdump in a-pod1 (${what})` });
          let p: Probe;
          try {
            await dump.waitFor(/listening on eth0/, 10_000);
            p = (await eventually(what, () => probe(a1.place, proto, vip, port), 20_000)).value;
            await new Promise((r) => setTimeout(r, 300));
          } finally {
            await dump.stop(2_000);
          }
          assert.equal(p.reply.name, c.backend, `${what}: answered by ${p.reply.name}`);
          assert.equal(p.peer, vip, `${what}: getpeername`);
          assert.equal(p.peerPort, port, `${what}: getpeername port`);
          assert.equal(p.local, own, `${what}: getsockname is the pod's own address`);
          assert.equal(p.reply.peer, c.serverSees(fam, vip), `${what}: the address the server saw`);
          const packets = capturedPackets(dump);
          assert.ok(packets.length >= 2, `${what}: the capture saw the exchange: ${dump.output.slice(-500)}`);
          for (const l of packets) {
            assert.ok(l.includes(` ${vip}.`) || l.includes(`> ${vip}.`), `${what}: a packet in the pod without the ClusterIP: ${l}`);
            if (backendIp) assert.ok(!l.includes(` ${backendIp}.`), `${what}: the backend's address inside the pod: ${l}`);
          }
        }
      }
    }
    const metrics = (await httpGet(nodeA.place, 'http://127.0.0.1:10249/metrics')).body;
    const reason = (hook: string, r: string) => Number(new RegExp(`^kubeproxy_bpf_packet_reasons_total\\{hook="${hook}",reason="${r}"\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0);
    for (const r of ['remote_fwd', 'local_dnat', 'hairpin', 'reply_local']) assert.ok(reason('pod_ingress', r) > 0, `pod_ingress ${r} counted`);
    assert.ok(reason('pod_egress', 'reply_fwd') > 0, 'pod_egress reply_fwd counted');
    assert.equal(reason('sock', 'translated'), 0, 'nothing was translated at the socket for the pod');
    t.diagnostic(`pod_ingress: remote_fwd ${reason('pod_ingress', 'remote_fwd')}, local_dnat ${reason('pod_ingress', 'local_dnat')}, hairpin ${reason('pod_ingress', 'hairpin')}`);

    // The node itself still goes through the socket LB.
    const [fromNode] = await echo(nodeA.place, 'tcp', services.remote.spec!.clusterIPs![0]!, 80);
    assert.equal(fromNode!.name, 'b-pod1');
    // Counters reach the metrics at the next sync.
    await eventually('the node\'s socket counted as translated at connect()', async () => {
      const body = (await httpGet(nodeA.place, 'http://127.0.0.1:10249/metrics')).body;
      assert.ok(/^kubeproxy_bpf_packet_reasons_total\{hook="sock",reason="translated"\} [1-9]/m.test(body));
    }, 15_000, 500);
  });

  test('a NodePort on the node\'s address from a pod (also hairpin), and a sidecar reading the original destination', async () => {
    const a1 = nodeA.pods[0]!;
    for (const [addr, fam] of [[nodeA.ipv4, 'ipv4'], [nodeA.ipv6, 'ipv6']] as const) {
      const p = (await eventually(`NodePort ${addr}:${nodePort}`, () => probe(a1.place, 'tcp', addr, nodePort), 20_000)).value;
      assert.equal(p.reply.name, 'a-pod2');
      assert.equal(p.peer, addr);
      assert.equal(p.peerPort, nodePort);
      assert.equal(p.reply.peer, a1[fam]);
      // Hairpin through the node's own NodePort: the pod reaches itself, and sees the node as its client.
      const selfPort = services.self.spec!.ports![0]!.nodePort!;
      const h = (await eventually(`hairpin NodePort ${addr}:${selfPort}`, () => probe(a1.place, 'tcp', addr, selfPort), 20_000)).value;
      assert.equal(h.reply.name, 'a-pod1');
      assert.equal(h.peer, addr);
      assert.equal(h.reply.peer, addr, 'the pod as server sees the frontend, the node\'s address');
    }
    // An Istio-like sidecar: the pod's own nftables redirect its outgoing connections to the VIP to a
    // local listener, which asks the kernel for the original destination (SO_ORIGINAL_DST).
    const [vip4, vip6] = services.remote.spec!.clusterIPs!;
    const rules = `table inet kpb_mesh {\n chain out {\n  type nat hook output priority -100; policy accept;\n` +
      `  ip daddr ${vip4} tcp dport 80 redirect to :15001\n  ip6 daddr ${vip6} tcp dport 80 redirect to :15001\n }\n}\n`;
    const nft = spawnSync('nsenter', [`--net=/run/netns/${a1.place.netns}`, 'nft', '-f', '-'], { input: rules, encoding: 'utf8' });
    assert.equal(nft.status, 0, `nft in a-pod1: ${nft.stderr}`);
    try {
      const sidecar = new Proc(a1.place, ['python3', SIDECAR, '15001', '2'], { name: 'sidecar in a-pod1' });
      cluster.teardown.add('sidecar in a-pod1', () => sidecar.stop(), () => sidecar.kill());
      await sidecar.waitFor(/ready/, 10_000);
      for (const vip of [vip4!, vip6!]) await runIn(a1.place, [process.execPath, PROBE, 'tcp', vip, '80', '2000'], { allowFailure: true });
      await sidecar.exited;
      const seen = sidecar.output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { original: string });
      assert.deepEqual(seen.map((s) => s.original).sort(), [`${vip4} 80`, `${vip6} 80`].sort(), `the sidecar saw: ${sidecar.output}`);
    } finally {
      spawnSync('nsenter', [`--net=/run/netns/${a1.place.netns}`, 'nft', 'delete', 'table', 'inet', 'kpb_mesh']);
    }
  });

  test('a pod interface created after start is served; a deleted pod filter is put back by self-repair', async (t) => {
    const pod = await addPod(cluster, nodeA, 3);
    const vip = services.remote.spec!.clusterIPs![0]!;
    const { ms } = await eventually('the new pod reaches the ClusterIP through its interface', async () => {
      const p = await probe(pod.place, 'tcp', vip, 80);
      assert.equal(p.reply.name, 'b-pod1');
      assert.equal(p.peer, vip);
      assert.equal(p.reply.peer, pod.ipv4);
    }, 20_000, 200);
    t.diagnostic(`served ${ms} ms after its interface appeared`);
    assert.match(agentA.output, new RegExp(`"Attached the pod-side datapath" device="${pod.hostVeth}"`));

    const a2 = nodeA.pods[1]!;
    await runIn(nodeA.place, ['tc', 'filter', 'del', 'dev', a2.hostVeth, 'ingress', 'pref', POD_TC_PREF]);
    const broken = Date.now();
    await eventually('the pod filter repaired', () => assert.match(agentA.output, new RegExp(`"Repaired the datapath" hook="tc" what="tc ingress on ${a2.hostVeth}" why="the filter was removed"`)), 15_000, 200);
    t.diagnostic(`repaired ${Date.now() - broken} ms after the filter was deleted (sync period 5 s)`);
    const metrics = (await httpGet(nodeA.place, 'http://127.0.0.1:10249/metrics')).body;
    assert.ok(/^kubeproxy_bpf_datapath_repairs_total\{hook="tc"\} [1-9]/m.test(metrics), 'the repair is counted');
    const p = await probe(a2.place, 'udp', vip, 53);
    assert.equal(p.peer, vip);
    assert.equal(p.reply.name, 'b-pod1');
  });

  test('a restart keeps pods\' conversations through the pod path (pinned conntrack, programs replaced in place)', async () => {
    const a1 = nodeA.pods[0]!;
    const streams = (['remote', 'local'] as const).map((svc) => new Proc(a1.place,
      [process.execPath, STREAM, 'tcp', services[svc].spec!.clusterIPs![0]!, '80', '8', '50'], { name: `conversation with ${svc}` }));
    await new Promise((r) => setTimeout(r, 2_000));
    await agentA.stop();
    agentA = await startReadyAgent(nodeA, ['--v=2', MODE], { config: { iptables: { syncPeriod: '5s', minSyncPeriod: '1s' } } });
    for (const s of streams) {
      const { code } = await s.exited;
      const summary = s.output.trim().split('\n').pop()!;
      assert.equal(code, 0, `${s.name} broke across the restart: ${summary}`);
      assert.equal((JSON.parse(summary) as { ok: boolean }).ok, true);
    }
    assert.match(agentA.output, /"Attached the pod-side datapath" device="v-a-pod1" how="replaced"/);
  });

  test('the other detect-local modes: NodeCIDR (the Node\'s podCIDRs) and InterfaceNamePrefix find the same pods', async () => {
    const a1 = nodeA.pods[0]!;
    const modes: [string, Record<string, unknown>, number][] = [
      // The pods' addresses: node-a's podCIDRs, as the apiserver serves the Node (protobuf by default).
      ['NodeCIDR', { detectLocalMode: 'NodeCIDR' }, 1 | 4],
      // Every packet on the interfaces named v-*.
      ['InterfaceNamePrefix', { detectLocalMode: 'InterfaceNamePrefix', detectLocal: { interfaceNamePrefix: 'v-' } }, 0],
    ];
    for (const [mode, config, flags] of modes) {
      await agentA.stop();
      agentA = await startReadyAgent(nodeA, ['--v=2', MODE], { config });
      assert.match(agentA.output, new RegExp(`"Attached the pod-side datapath" device="v-a-pod1" how="replaced" detectLocalMode="${mode}"`));
      // Decoded through the map's BTF (without layouts a pinned map gives raw bytes).
      const path = `${nodeA.pinPath}/kpb_pod_cfg`;
      const raw = openPinnedMap(path);
      const layouts = raw.btfLayouts();
      raw.close();
      const cfg = openPinnedMap(path, { keyLayout: layouts.key, valueLayout: layouts.value });
      try {
        const v = cfg.lookup(0) as { flags: number; net4: number; mask4: number };
        assert.equal(v.flags, flags, `${mode}: kpb_pod_cfg flags`);
        if (mode === 'NodeCIDR') assert.deepEqual([v.net4 >>> 0, v.mask4 >>> 0], [0xc6120100, 0xffffff00], 'node-a\'s 198.18.1.0/24');
      } finally {
        cfg.close();
      }
      for (const [svc, name] of [['remote', 'b-pod1'], ['self', 'a-pod1']] as const) {
        for (const vip of services[svc].spec!.clusterIPs!) {
          const p = (await eventually(`${mode}: ${svc} ${vip}`, () => probe(a1.place, 'tcp', vip, 80), 20_000)).value;
          assert.equal(p.reply.name, name);
          assert.equal(p.peer, vip, `${mode}: getpeername`);
        }
      }
    }
  });

  test('restarted in "on" mode, the pod programs go and the socket LB translates in the pod again', async () => {
    await agentA.stop();
    agentA = await startReadyAgent(nodeA, ['--v=2', '--bpf-socket-lb=on']);
    assert.match(agentA.output, /"Removed the pod-side datapath \(the socket LB mode needs none\)" item="tc filter v-a-pod1 ingress \(pods\)"/);
    assert.match(agentA.output, /"Removed the pod-side datapath \(the socket LB mode needs none\)" item="pin [^"]+\/kpb_pod_ct4"/);
    assert.ok(!existsSync(`${nodeA.pinPath}/kpb_pod_ct6`), 'the pod conntrack maps are gone');
    const a1 = nodeA.pods[0]!;
    const vip = services.remote.spec!.clusterIPs![0]!;
    const b1 = cluster.nodes['node-b'].pods[0]!;
    const dump = new Proc(a1.place, ['tcpdump', '-i', 'eth0', '-n', '-l', '-U', `tcp and (host ${vip} or host ${b1.ipv4})`], { name: 'tcpdump in a-pod1 (on)' });
    let p: Probe;
    try {
      await dump.waitFor(/listening on eth0/, 10_000);
      p = await probe(a1.place, 'tcp', vip, 80);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await dump.stop(2_000);
    }
    assert.equal(p.reply.name, 'b-pod1');
    assert.equal(p.peer, vip, 'getpeername is rewritten back at the socket');
    const packets = capturedPackets(dump);
    assert.ok(packets.length >= 2 && packets.every((l) => l.includes(` ${b1.ipv4}.`)), `in "on" mode the pod's packets carry the backend: ${packets.join('\n')}`);
  });
});

/** A pod created the way the harness creates them (topology.ts), after the agents started. */
async function addPod(cluster: Cluster, node: ClusterNode, i: number): Promise<ClusterPod & { hostVeth: string }> {
  const letter = node.name.slice(-1);
  const name = `${letter}-pod${i}`;
  const netns = `${cluster.runId}-${name}`;
  const hostVeth = `v-${name}`;
  const plan = PLAN.nodes.find((n) => n.name === node.name)!;
  const ipv4 = `${plan.podPrefixV4}${10 + i}`;
  const ipv6 = `${plan.podPrefixV6}${10 + i}`;
  const gw4 = `${plan.podPrefixV4}${PLAN.podGatewayV4Suffix}`;
  await run(['ip', 'netns', 'add', netns]);
  cluster.teardown.add(`netns ${netns}`, async () => void await run(['ip', 'netns', 'del', netns]), () => void spawnSync('ip', ['netns', 'del', netns]));
  const ip = (ns: string, ...args: string[]) => run(['ip', '-n', ns, ...args]);
  await run(['ip', 'netns', 'exec', netns, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
  await ip(netns, 'link', 'set', 'lo', 'up');
  await ip(node.netns, 'link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns);
  await ip(node.netns, 'addr', 'add', `${gw4}/32`, 'dev', hostVeth);
  await ip(node.netns, 'addr', 'add', `${PLAN.podGatewayV6}/64`, 'dev', hostVeth, 'nodad');
  await ip(node.netns, 'link', 'set', hostVeth, 'up');
  await ip(node.netns, 'route', 'add', `${ipv4}/32`, 'dev', hostVeth);
  await ip(node.netns, '-6', 'route', 'add', `${ipv6}/128`, 'dev', hostVeth);
  await ip(netns, 'addr', 'add', `${ipv4}/32`, 'dev', 'eth0');
  await ip(netns, 'addr', 'add', `${ipv6}/128`, 'dev', 'eth0', 'nodad');
  await ip(netns, 'link', 'set', 'eth0', 'up');
  await ip(netns, 'route', 'add', gw4, 'dev', 'eth0', 'scope', 'link');
  await ip(netns, 'route', 'add', 'default', 'via', gw4, 'dev', 'eth0');
  await ip(netns, '-6', 'route', 'add', 'default', 'via', PLAN.podGatewayV6, 'dev', 'eth0');
  return { name, node: node.name, ipv4, ipv6, hostVeth, place: { netns, cgroup: node.cgroup } };
}
