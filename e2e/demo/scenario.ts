// What `make demo` puts in the cluster and what it sends: one Service of each type, all backed by
// the same two echo pods (one per node), and the requests that exercise them. Kept apart from the
// orchestration in demo.ts so the list of cases reads as a table.
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import type { Cluster, ClusterPod } from '../cluster/cluster.ts';
import { endpointSliceFor, type SlicePort } from '../cluster/endpoint-slice.ts';
import type { Placement } from '../cluster/proc.ts';
import { PLAN } from '../cluster/plan.ts';

export const DEMO_NAMESPACE = 'kpb-demo';
export const ECHO_PORT = 8080;
export const NODE_PORT_TCP = 30080;
export const NODE_PORT_UDP = 30053;
/** Addresses from the external range of architecture §5, one for each way traffic is attracted. */
export const LB_IP = '203.0.113.10';
export const EXTERNAL_IP = '203.0.113.20';

/** The pods of the demo: the backends (first pod of each node) and the in-cluster clients. */
export interface DemoPods {
  backends: ClusterPod[];
  clientA: ClusterPod;
  clientB: ClusterPod;
}

export function demoPods(cluster: Cluster): DemoPods {
  const [a1, a2] = cluster.nodes['node-a'].pods;
  const [b1, b2] = cluster.nodes['node-b'].pods;
  if (a1 === undefined || a2 === undefined || b1 === undefined || b2 === undefined) {
    throw new Error('the demo needs two pods per node');
  }
  return { backends: [a1, b1], clientA: a2, clientB: b2 };
}

const SLICE_PORTS: SlicePort[] = [
  { name: 'tcp', port: ECHO_PORT, protocol: 'TCP' },
  { name: 'udp', port: ECHO_PORT, protocol: 'UDP' },
];

export interface DemoService {
  /** How the summary calls it. */
  kind: string;
  service: V1Service;
  /** Set through the status subresource after creation (what a cloud LB controller does). */
  loadBalancerIngress?: string;
}

/** The Services; each gets the same endpoints (see `slicesFor`). */
export function demoServices(dualStack: boolean): DemoService[] {
  const families = dualStack
    ? { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] }
    : { ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv4'] };
  const ports = (nodePorts: boolean) => [
    { name: 'tcp', protocol: 'TCP', port: 80, targetPort: ECHO_PORT, ...(nodePorts ? { nodePort: NODE_PORT_TCP } : {}) },
    { name: 'udp', protocol: 'UDP', port: 53, targetPort: ECHO_PORT, ...(nodePorts ? { nodePort: NODE_PORT_UDP } : {}) },
  ];
  return [
    { kind: 'ClusterIP', service: { metadata: { name: 'echo' }, spec: { type: 'ClusterIP', ...families, ports: ports(false) } } },
    { kind: 'NodePort', service: { metadata: { name: 'echo-nodeport' }, spec: { type: 'NodePort', ...families, ports: ports(true) } } },
    {
      kind: 'LoadBalancer', loadBalancerIngress: LB_IP,
      service: { metadata: { name: 'echo-lb' }, spec: { type: 'LoadBalancer', ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv4'], ports: [ports(false)[0]!] } },
    },
    {
      kind: 'ExternalIP',
      service: { metadata: { name: 'echo-external' }, spec: { type: 'ClusterIP', ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv4'], externalIPs: [EXTERNAL_IP], ports: [ports(false)[0]!] } },
    },
  ];
}

/** EndpointSlices as the EndpointSlice controller would write them: one per family. */
export function slicesFor(name: string, backends: readonly ClusterPod[], dualStack: boolean): V1EndpointSlice[] {
  const endpoints = backends.map((target) => ({ target }));
  const families = dualStack ? (['IPv4', 'IPv6'] as const) : (['IPv4'] as const);
  return families.map((f) => endpointSliceFor(name, f, endpoints, SLICE_PORTS));
}

/** One request pattern, repeated a few times so both backends get a chance to answer. */
export interface Case {
  id: string;
  title: string;
  serviceType: string;
  from: Placement;
  /** "a-pod2 198.18.1.12": who sends, in the family of the request. */
  client: string;
  host: string;
  port: number;
  proto: 'tcp' | 'udp';
  /**
   * The source address the answering backend must see, if the mode fixes it (undefined: any).
   * Given the node the backend runs on, since SNAT depends on whether it is the entry node.
   */
  expectSeen?: (backendNode: string) => string | undefined;
}

export interface Allocated {
  /** ClusterIPs of the ClusterIP service, in family order. */
  clusterIPs: string[];
}

/** Requests for the agents in SNAT mode: every Service type, from pods and from outside. */
export function snatCases(cluster: Cluster, pods: DemoPods, got: Allocated): Case[] {
  const { clientA, clientB } = pods;
  const a = cluster.nodes['node-a'];
  const b = cluster.nodes['node-b'];
  const outside = cluster.client;
  const [vip4, vip6] = got.clusterIPs;
  const cases: Case[] = [];
  // In-cluster clients go through the socket LB: the backend sees the pod itself, never a NAT.
  const fromPod = (id: string, title: string, pod: ClusterPod, v6: boolean, host: string, port: number, proto: 'tcp' | 'udp'): Case => {
    const src = v6 ? pod.ipv6 : pod.ipv4;
    return { id, title, serviceType: 'ClusterIP', from: pod.place, client: `${pod.name} ${src}`, host, port, proto, expectSeen: () => src };
  };
  cases.push(fromPod('cip-tcp4', 'ClusterIP, TCP over IPv4, from a pod on node-a', clientA, false, vip4!, 80, 'tcp'));
  cases.push(fromPod('cip-udp4', 'ClusterIP, UDP over IPv4, from a pod on node-b', clientB, false, vip4!, 53, 'udp'));
  if (vip6 !== undefined) {
    cases.push(fromPod('cip-tcp6', 'ClusterIP, TCP over IPv6, from a pod on node-a', clientA, true, vip6, 80, 'tcp'));
    cases.push(fromPod('cip-udp6', 'ClusterIP, UDP over IPv6, from a pod on node-b', clientB, true, vip6, 53, 'udp'));
  }
  // From outside, SNAT mode: a backend on another node sees the entry node's address (so its reply
  // comes back through the entry node); a backend on the entry node may see the client itself.
  const viaNode = (entry: typeof a, v6: boolean) => (backendNode: string): string | undefined =>
    backendNode === entry.name ? undefined : v6 ? entry.ipv6 : entry.ipv4;
  const ext = (v6: boolean): string => `client ${v6 ? PLAN.client.ipv6 : PLAN.client.ipv4}`;
  cases.push({ id: 'np-tcp4', title: 'NodePort (SNAT), TCP via node-a', serviceType: 'NodePort (SNAT)', from: outside, client: ext(false), host: a.ipv4, port: NODE_PORT_TCP, proto: 'tcp', expectSeen: viaNode(a, false) });
  cases.push({ id: 'np-udp4', title: 'NodePort (SNAT), UDP via node-b', serviceType: 'NodePort (SNAT)', from: outside, client: ext(false), host: b.ipv4, port: NODE_PORT_UDP, proto: 'udp', expectSeen: viaNode(b, false) });
  if (cluster.dualStack) {
    cases.push({ id: 'np-tcp6', title: 'NodePort (SNAT), TCP over IPv6 via node-b', serviceType: 'NodePort (SNAT)', from: outside, client: ext(true), host: b.ipv6, port: NODE_PORT_TCP, proto: 'tcp', expectSeen: viaNode(b, true) });
  }
  cases.push({ id: 'lb-tcp4', title: `LoadBalancer ${LB_IP} (routed to node-a), TCP`, serviceType: 'LoadBalancer (SNAT)', from: outside, client: ext(false), host: LB_IP, port: 80, proto: 'tcp', expectSeen: viaNode(a, false) });
  cases.push({ id: 'eip-tcp4', title: `ExternalIP ${EXTERNAL_IP} (routed to node-b), TCP`, serviceType: 'ExternalIP (SNAT)', from: outside, client: ext(false), host: EXTERNAL_IP, port: 80, proto: 'tcp', expectSeen: viaNode(b, false) });
  return cases;
}

/** Requests for the agents in DSR mode: every backend, local or remote, sees the real client. */
export function dsrCases(cluster: Cluster): Case[] {
  const a = cluster.nodes['node-a'];
  const outside = cluster.client;
  const cases: Case[] = [
    { id: 'dsr-np-tcp4', title: 'NodePort (DSR), TCP via node-a', serviceType: 'NodePort (DSR)', from: outside, client: `client ${PLAN.client.ipv4}`, host: a.ipv4, port: NODE_PORT_TCP, proto: 'tcp', expectSeen: () => PLAN.client.ipv4 },
  ];
  if (cluster.dualStack) {
    cases.push({ id: 'dsr-np-tcp6', title: 'NodePort (DSR), TCP over IPv6 via node-a', serviceType: 'NodePort (DSR)', from: outside, client: `client ${PLAN.client.ipv6}`, host: a.ipv6, port: NODE_PORT_TCP, proto: 'tcp', expectSeen: () => PLAN.client.ipv6 });
  }
  cases.push({ id: 'dsr-lb-tcp4', title: `LoadBalancer ${LB_IP} (DSR), TCP`, serviceType: 'LoadBalancer (DSR)', from: outside, client: `client ${PLAN.client.ipv4}`, host: LB_IP, port: 80, proto: 'tcp', expectSeen: () => PLAN.client.ipv4 });
  return cases;
}

/** Routes on the external client towards the LB and external IPs, as a BGP or L2 announcement would. */
export const CLIENT_ROUTES: ReadonlyArray<{ dst: string; via: 'node-a' | 'node-b' }> = [
  { dst: `${LB_IP}/32`, via: 'node-a' },
  { dst: `${EXTERNAL_IP}/32`, via: 'node-b' },
];
