// Builds the network of architecture §5 from network namespaces only: every link is created
// directly inside the namespaces it joins (`ip -n X link add ... peer ... netns Y`), so the root
// namespace never sees an interface, an address or a route of the test.
//
//   [cp] [node-a] [node-b] [client]      each: eth0 <-> f-<member> on bridge br0 in [fabric]
//          |  |       |  |
//   [a-pod1][a-pod2] [b-pod1][b-pod2]    each: eth0 <-> v-<pod> routed (no bridge) on its node
//
// Pods are routed rather than bridged (like Calico and Cilium's native routing): the node side of
// every pod veth owns the pod gateway (x.x.x.1/32 and fe80::1), and the node has a /32 (/128)
// route per pod, so tc programs on a pod veth see exactly that pod's traffic.
import { spawnSync } from 'node:child_process';
import { PLAN, type NodePlan } from './plan.ts';
import { run } from './run.ts';
import type { Teardown } from './teardown.ts';

export type NodeName = NodePlan['name'];

export interface PodNet {
  name: string;
  node: NodeName;
  netns: string;
  ipv4: string;
  ipv6: string;
  /** The node-side veth, in the node's namespace. */
  hostVeth: string;
}

export interface NodeNet {
  name: NodeName;
  netns: string;
  ipv4: string;
  ipv6: string;
  podCIDRv4: string;
  podCIDRv6: string;
  pods: PodNet[];
}

export interface TopologyNet {
  fabricNetns: string;
  controlPlaneNetns: string;
  clientNetns: string;
  nodes: Record<NodeName, NodeNet>;
}

export interface TopologyOptions {
  /** Pods created per node (default 2). */
  podsPerNode?: number;
}

async function ip(ns: string, ...args: string[]): Promise<void> {
  await run(['ip', '-n', ns, ...args]);
}

async function addNetns(name: string, teardown: Teardown): Promise<void> {
  await run(['ip', 'netns', 'add', name]);
  teardown.add(`netns ${name}`, async () => {
    await run(['ip', 'netns', 'del', name]);
  }, () => {
    const res = spawnSync('ip', ['netns', 'del', name], { timeout: 10_000, encoding: 'utf8' });
    if (res.status !== 0) throw new Error(`ip netns del ${name}: ${res.stderr || res.error?.message}`);
  });
  // Addresses are used the moment they are added: duplicate address detection would make the
  // first second of every test flaky, and these private links cannot have duplicates.
  await run(['ip', 'netns', 'exec', name, 'sysctl', '-qw',
    'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
  await ip(name, 'link', 'set', 'lo', 'up');
}

/** Creates the namespaces and links; each piece registers its own removal in `teardown`. */
export async function createTopology(runId: string, teardown: Teardown, opts: TopologyOptions = {}): Promise<TopologyNet> {
  const podsPerNode = opts.podsPerNode ?? 2;
  const fabric = `${runId}-fabric`;
  const cp = `${runId}-cp`;
  const client = `${runId}-client`;

  await addNetns(fabric, teardown);
  await ip(fabric, 'link', 'add', 'br0', 'type', 'bridge');
  await ip(fabric, 'link', 'set', 'br0', 'up');

  const attach = async (member: string, ns: string, v4: string, v6: string): Promise<void> => {
    const port = `f-${member}`;
    await ip(fabric, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    await ip(fabric, 'link', 'set', port, 'master', 'br0', 'up');
    await ip(ns, 'addr', 'add', `${v4}/${PLAN.fabricV4Prefix}`, 'dev', 'eth0');
    await ip(ns, 'addr', 'add', `${v6}/${PLAN.fabricV6Prefix}`, 'dev', 'eth0', 'nodad');
    await ip(ns, 'link', 'set', 'eth0', 'up');
  };

  await addNetns(cp, teardown);
  await attach('cp', cp, PLAN.controlPlane.ipv4, PLAN.controlPlane.ipv6);
  await addNetns(client, teardown);
  await attach('client', client, PLAN.client.ipv4, PLAN.client.ipv6);

  const nodes = {} as Record<NodeName, NodeNet>;
  for (const plan of PLAN.nodes) {
    const ns = `${runId}-${plan.name}`;
    await addNetns(ns, teardown);
    await attach(plan.name, ns, plan.ipv4, plan.ipv6);
    await run(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    const node: NodeNet = {
      name: plan.name, netns: ns, ipv4: plan.ipv4, ipv6: plan.ipv6,
      podCIDRv4: plan.podCIDRv4, podCIDRv6: plan.podCIDRv6, pods: [],
    };
    const letter = plan.name.slice(-1);
    const gw4 = `${plan.podPrefixV4}${PLAN.podGatewayV4Suffix}`;
    for (let i = 1; i <= podsPerNode; i++) {
      const name = `${letter}-pod${i}`;
      const podNs = `${runId}-${name}`;
      const hostVeth = `v-${name}`;
      const pod: PodNet = {
        name, node: plan.name, netns: podNs, hostVeth,
        ipv4: `${plan.podPrefixV4}${10 + i}`, ipv6: `${plan.podPrefixV6}${10 + i}`,
      };
      await addNetns(podNs, teardown);
      await ip(ns, 'link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', podNs);
      await ip(ns, 'addr', 'add', `${gw4}/32`, 'dev', hostVeth);
      await ip(ns, 'addr', 'add', `${PLAN.podGatewayV6}/64`, 'dev', hostVeth, 'nodad');
      await ip(ns, 'link', 'set', hostVeth, 'up');
      await ip(ns, 'route', 'add', `${pod.ipv4}/32`, 'dev', hostVeth);
      await ip(ns, '-6', 'route', 'add', `${pod.ipv6}/128`, 'dev', hostVeth);
      await ip(podNs, 'addr', 'add', `${pod.ipv4}/32`, 'dev', 'eth0');
      await ip(podNs, 'addr', 'add', `${pod.ipv6}/128`, 'dev', 'eth0', 'nodad');
      await ip(podNs, 'link', 'set', 'eth0', 'up');
      await ip(podNs, 'route', 'add', gw4, 'dev', 'eth0', 'scope', 'link');
      await ip(podNs, 'route', 'add', 'default', 'via', gw4, 'dev', 'eth0');
      await ip(podNs, '-6', 'route', 'add', 'default', 'via', PLAN.podGatewayV6, 'dev', 'eth0');
      node.pods.push(pod);
    }
    nodes[plan.name] = node;
  }

  // Flat routing between nodes (what a CNI's native routing mode installs) and from the control
  // plane to pods. The client stays outside: it reaches the cluster only through node addresses.
  for (const plan of PLAN.nodes) {
    for (const peer of PLAN.nodes) {
      if (peer.name === plan.name) continue;
      await ip(nodes[plan.name].netns, 'route', 'add', peer.podCIDRv4, 'via', peer.ipv4);
      await ip(nodes[plan.name].netns, '-6', 'route', 'add', peer.podCIDRv6, 'via', peer.ipv6);
    }
    await ip(cp, 'route', 'add', plan.podCIDRv4, 'via', plan.ipv4);
    await ip(cp, '-6', 'route', 'add', plan.podCIDRv6, 'via', plan.ipv6);
  }

  return { fabricNetns: fabric, controlPlaneNetns: cp, clientNetns: client, nodes };
}
