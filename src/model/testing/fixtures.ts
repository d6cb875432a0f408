/**
 * @module
 * Builders for Service and EndpointSlice objects used by the model, translate and dataplane
 * tests. Address plan (architecture §5): ClusterIPs 198.19.0.0/16 and 2001:db8:20::/112, pods
 * 198.18.0.0/16 (node-a 198.18.1.0/24, node-b 198.18.2.0/24) and 2001:db8:10::/56, nodes
 * 192.0.2.11 (node-a) and 192.0.2.12 (node-b), ExternalIPs and LB IPs 203.0.113.0/24.
 */
import type { V1EndpointSlice, V1Service, V1ServicePort, V1ServiceSpec, V1Endpoint } from '@kubernetes/client-node';

export function svc(name: string, spec: Partial<V1ServiceSpec> = {}, extra: Partial<V1Service> = {}): V1Service {
  const ports: V1ServicePort[] = spec.ports ?? [{ name: 'http', port: 80, protocol: 'TCP' }];
  return {
    metadata: { namespace: 'default', name, ...(extra.metadata ?? {}) },
    spec: { type: 'ClusterIP', clusterIP: '198.19.0.10', clusterIPs: [spec.clusterIP ?? '198.19.0.10'], ...spec, ports },
    status: extra.status ?? {},
  };
}

export type EpSpec = {
  ip: string;
  node?: string;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
  zone?: string;
  zones?: string[];
  nodes?: string[];
};

export function ep(e: EpSpec): V1Endpoint {
  const out: V1Endpoint = { addresses: [e.ip], conditions: {} };
  if (e.ready !== undefined) out.conditions!.ready = e.ready;
  if (e.serving !== undefined) out.conditions!.serving = e.serving;
  if (e.terminating !== undefined) out.conditions!.terminating = e.terminating;
  if (e.node) out.nodeName = e.node;
  if (e.zone) out.zone = e.zone;
  if (e.zones || e.nodes) {
    out.hints = {};
    if (e.zones) out.hints.forZones = e.zones.map((name) => ({ name }));
    if (e.nodes) out.hints.forNodes = e.nodes.map((name) => ({ name }));
  }
  return out;
}

export function slice(
  service: string,
  sliceName: string,
  endpoints: EpSpec[],
  opts: { ports?: { name?: string; port?: number; protocol?: string }[]; addressType?: string; labels?: Record<string, string>; annotations?: Record<string, string> } = {},
): V1EndpointSlice {
  return {
    metadata: {
      namespace: 'default',
      name: sliceName,
      labels: { 'kubernetes.io/service-name': service, ...(opts.labels ?? {}) },
      ...(opts.annotations ? { annotations: opts.annotations } : {}),
    },
    addressType: opts.addressType ?? 'IPv4',
    endpoints: endpoints.map(ep),
    ports: opts.ports ?? [{ name: 'http', port: 8080, protocol: 'TCP' }],
  };
}
