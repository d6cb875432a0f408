// Builds the EndpointSlices a scenario needs. This cluster has no kube-controller-manager, so no
// controller derives slices from pods: tests write them the way the EndpointSlice controller
// would (service-name label, one address family per slice, nodeName and conditions per endpoint).
import type { V1EndpointSlice } from '@kubernetes/client-node';

export interface SliceEndpoint {
  /** A pod (or any process) with its addresses and node, e.g. a ClusterPod. */
  target: { name: string; node: string; ipv4: string; ipv6: string };
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
  zone?: string;
  /** Zones this endpoint is hinted for (topology-aware routing). */
  forZones?: string[];
  /** Nodes this endpoint is hinted for (PreferSameNode traffic distribution). */
  forNodes?: string[];
}

export interface SlicePort {
  name?: string;
  port: number;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
}

export function endpointSliceFor(
  service: string,
  family: 'IPv4' | 'IPv6',
  endpoints: readonly SliceEndpoint[],
  ports: readonly SlicePort[],
  name = `${service}-${family.toLowerCase()}`,
): V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name,
      labels: { 'kubernetes.io/service-name': service, 'endpointslice.kubernetes.io/managed-by': 'kpb-e2e' },
    },
    addressType: family,
    endpoints: endpoints.map((e) => ({
      addresses: [family === 'IPv4' ? e.target.ipv4 : e.target.ipv6],
      nodeName: e.target.node,
      zone: e.zone,
      targetRef: { kind: 'Pod', name: e.target.name },
      conditions: {
        ready: e.ready ?? !(e.terminating ?? false),
        serving: e.serving ?? true,
        terminating: e.terminating ?? false,
      },
      hints: e.forZones === undefined && e.forNodes === undefined ? undefined : {
        forZones: e.forZones?.map((z) => ({ name: z })),
        forNodes: e.forNodes?.map((n) => ({ name: n })),
      },
    })),
    ports: ports.map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP' })),
  };
}
