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

/** A synthetic, non-routed endpoint address for scale tests: 198.18.<200+i/65536>... kept in the pod range. */
export function syntheticEndpoint(i: number): string {
  // 198.18.16.0 - 198.18.255.255 is outside both nodes' pod CIDRs (198.18.1/24, 198.18.2/24).
  const n = 16 * 256 + i;
  if (n >= 65536) throw new RangeError(`synthetic endpoint ${i} out of range`);
  return `198.18.${n >> 8}.${n & 255}`;
}
