// Services and EndpointSlices for the benchmarks, created through the real apiserver. There is no
// controller-manager in the e2e cluster, so every Service is selector-less and its EndpointSlice is
// written here (what the EndpointSlice controller would do), including the
// endpoints.kubernetes.io/last-change-trigger-time annotation both proxies turn into
// network-programming latency.
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';

export const BENCH_NAMESPACE = 'kpb-bench';
export const MANAGED_BY = 'kpb-bench';

export interface ServiceSpec {
  name: string;
  type: 'ClusterIP' | 'NodePort';
  protocol: 'TCP' | 'UDP';
  port: number;
  targetPort: number;
  nodePort?: number;
  clusterIP?: string;
}

export function service(s: ServiceSpec): V1Service {
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name: s.name, namespace: BENCH_NAMESPACE },
    spec: {
      type: s.type,
      ...(s.clusterIP ? { clusterIP: s.clusterIP } : {}),
      ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack',
      ports: [{ name: 'p', protocol: s.protocol, port: s.port, targetPort: s.targetPort as never, ...(s.nodePort ? { nodePort: s.nodePort } : {}) }],
    },
  };
}

export interface EndpointSpec {
  ip: string;
  node: string;
  ready?: boolean;
}

/** One IPv4 EndpointSlice for `serviceName`; `trigger` becomes the last-change-trigger-time. */
export function endpointSlice(serviceName: string, protocol: 'TCP' | 'UDP', port: number, eps: readonly EndpointSpec[], trigger: Date = new Date()): V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: {
      name: `${serviceName}-bench`, namespace: BENCH_NAMESPACE,
      labels: { 'kubernetes.io/service-name': serviceName, 'endpointslice.kubernetes.io/managed-by': MANAGED_BY },
      annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': trigger.toISOString() },
    },
    addressType: 'IPv4',
    ports: [{ name: 'p', protocol, port }],
    endpoints: eps.map((e) => ({
      addresses: [e.ip], nodeName: e.node,
      conditions: { ready: e.ready ?? true, serving: e.ready ?? true, terminating: false },
    })),
  };
}

/** How many synthetic endpoint addresses there are (see syntheticEndpoint). */
export const SYNTHETIC_ENDPOINTS = 130_304;

/**
 * A synthetic endpoint address for scale tests, never routed (nothing sends traffic to it):
 * 198.18.3.0 upwards through 198.19.255.255, above the nodes' pod /24s (198.18.1/24, 198.18.2/24),
 * so 10k Services x 10 endpoints (plus the changes) all get addresses of their own.
 */
export function syntheticEndpoint(i: number): string {
  if (!Number.isInteger(i) || i < 0 || i >= SYNTHETIC_ENDPOINTS) throw new RangeError(`synthetic endpoint ${i} out of range`);
  const n = 3 * 256 + i;
  return `198.${18 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
}
