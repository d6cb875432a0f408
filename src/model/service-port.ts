/**
 * @module
 * Service -> ServicePortInfo: one entry per (service, port, IP family), holding only what the
 * datapath needs (spec §5.1-5.8). A bad field is reported as a Problem and skipped; the rest of the
 * Service is still programmed.
 */
import type { ServiceProjection } from '../kube/projections.ts';
import { parseCidr, parseIp, type IpFamily } from './ip.ts';
import { objectRef, type Problem, type ProblemReason } from './problem.ts';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export const SERVICE_PROXY_NAME_LABEL = 'service.kubernetes.io/service-proxy-name';
/** Default and maximum of sessionAffinityConfig.clientIP.timeoutSeconds (API defaults). */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;
export const MAX_AFFINITY_TIMEOUT_SECONDS = 86400;

export type ServicePortInfo = {
  /** Identity: "namespace/name:portName/PROTOCOL/family" (portName "" when unnamed). */
  key: string;
  /** "namespace/name". */
  service: string;
  /** metadata.creationTimestamp in ms (0 when unknown): older Services are admitted first. */
  created: number;
  portName: string;
  family: IpFamily;
  protocol: Protocol;
  type: string;
  /** ClusterIP of this family, canonical text. */
  clusterIP: string;
  port: number;
  /** 0 when the port has no NodePort. */
  nodePort: number;
  /** externalIPs of this family, canonical text, deduplicated, in spec order. */
  externalIPs: string[];
  /** status.loadBalancer.ingress IPs of this family whose ipMode is unset or VIP. */
  loadBalancerVIPs: string[];
  /** loadBalancerSourceRanges of this family, canonical "addr/len". Empty: no filtering. */
  loadBalancerSourceRanges: string[];
  /** 0 without sessionAffinity ClientIP, else the timeout in seconds. */
  affinityTimeoutSeconds: number;
  externalPolicyLocal: boolean;
  internalPolicyLocal: boolean;
  /** Nonzero only for a LoadBalancer with eTP=Local. */
  healthCheckNodePort: number;
  /** spec.trafficDistribution, informational: it acts only through EndpointSlice hints. */
  trafficDistribution: string;
};

/** "namespace/name" of an object. */
export function namespacedName(meta: { namespace?: string; name?: string } | undefined): string {
  return `${meta?.namespace ?? ''}/${meta?.name ?? ''}`;
}

/** The service-port key shared by services and endpoints. */
export function servicePortKey(service: string, portName: string, protocol: string, family: IpFamily): string {
  return `${service}:${portName}/${protocol}/${family}`;
}

/**
 * Why kube-proxy would leave this Service alone, or null when it is handled: owned by another
 * proxy (label present, any value), headless, or ExternalName.
 */
export function ignoredServiceReason(svc: ServiceProjection): string | null {
  const labels = svc.metadata?.labels ?? {};
  if (Object.hasOwn(labels, SERVICE_PROXY_NAME_LABEL)) return 'service-proxy-name label';
  if (svc.spec?.type === 'ExternalName') return 'ExternalName';
  const ip = svc.spec?.clusterIP ?? '';
  if (ip === '' || ip === 'None') return 'headless';
  return null;
}

/** eTP/iTP only matter where external traffic can arrive at all (upstream's ExternallyAccessible). */
function externallyAccessibleType(svc: ServiceProjection): boolean {
  const t = svc.spec?.type ?? 'ClusterIP';
  return t === 'LoadBalancer' || t === 'NodePort' || (t === 'ClusterIP' && (svc.spec?.externalIPs?.length ?? 0) > 0);
}

function normalizeProtocol(p: string | undefined): Protocol | null {
  const v = p ?? 'TCP';
  return v === 'TCP' || v === 'UDP' || v === 'SCTP' ? v : null;
}

/**
 * Converts a Service into its ServicePortInfos (empty for an ignored Service) plus the problems
 * found in it.
 */
export function servicePortsFromService(svc: ServiceProjection): { ports: ServicePortInfo[]; problems: Problem[] } {
  const problems: Problem[] = [];
  if (ignoredServiceReason(svc) !== null) return { ports: [], problems };
  const object = objectRef('Service', svc.metadata);
  const warn = (field: string, reason: ProblemReason, message: string) => problems.push({ object, field, reason, message });
  const spec = svc.spec ?? {};
  const service = namespacedName(svc.metadata);
  const ts = svc.metadata?.creationTimestamp as Date | string | undefined;
  const created = ts instanceof Date ? ts.getTime() : typeof ts === 'string' ? Date.parse(ts) || 0 : 0;

  // clusterIPs[0] equals clusterIP when both are set; fall back to clusterIP for old objects.
  const clusterIPs: Partial<Record<IpFamily, string>> = {};
  const ipList = spec.clusterIPs && spec.clusterIPs.length > 0 ? spec.clusterIPs : [spec.clusterIP ?? ''];
  const ipField = spec.clusterIPs && spec.clusterIPs.length > 0 ? 'spec.clusterIPs' : 'spec.clusterIP';
  ipList.forEach((text, i) => {
    const ip = parseIp(text);
    if (!ip) return warn(`${ipField}[${i}]`, 'invalid_ip', `invalid IP address "${text}"; this family is not programmed`);
    if (clusterIPs[ip.family]) return warn(`${ipField}[${i}]`, 'duplicate', `second ${ip.family} ClusterIP "${text}" ignored`);
    clusterIPs[ip.family] = ip.text;
  });

  const byFamily = (
    values: readonly string[] | undefined,
    field: string,
    parse: (s: string) => { family: IpFamily; text: string } | null,
    reason: ProblemReason,
  ): Record<IpFamily, string[]> => {
    const out: Record<IpFamily, string[]> = { IPv4: [], IPv6: [] };
    (values ?? []).forEach((text, i) => {
      const v = parse(text);
      if (!v) return warn(`${field}[${i}]`, reason, `invalid value "${text}" ignored`);
      if (!out[v.family].includes(v.text)) out[v.family].push(v.text);
    });
    return out;
  };
  const externalIPs = byFamily(spec.externalIPs, 'spec.externalIPs', parseIp, 'invalid_ip');
  // Validation has allowed whitespace around source ranges; parseCidr trims it, as upstream does.
  const sourceRanges = byFamily(spec.loadBalancerSourceRanges, 'spec.loadBalancerSourceRanges', parseCidr, 'invalid_cidr');

  const lbVIPs: Record<IpFamily, string[]> = { IPv4: [], IPv6: [] };
  (svc.status?.loadBalancer?.ingress ?? []).forEach((ing, i) => {
    // Hostname-only entries are for DNS-based load balancers; kube-proxy has nothing to capture.
    if (!ing.ip) return;
    // ipMode Proxy: the load balancer itself delivers to NodePorts, so the VIP must stay
    // un-captured and in-cluster clients really go out to the load balancer.
    if (ing.ipMode !== undefined && ing.ipMode !== 'VIP') return;
    const ip = parseIp(ing.ip);
    if (!ip) return warn(`status.loadBalancer.ingress[${i}].ip`, 'invalid_ip', `invalid IP address "${ing.ip}" ignored`);
    if (!lbVIPs[ip.family].includes(ip.text)) lbVIPs[ip.family].push(ip.text);
  });

  let affinityTimeoutSeconds = 0;
  if (spec.sessionAffinity === 'ClientIP') {
    const t = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds;
    affinityTimeoutSeconds = DEFAULT_AFFINITY_TIMEOUT_SECONDS;
    if (t !== undefined && (!Number.isInteger(t) || t < 1 || t > MAX_AFFINITY_TIMEOUT_SECONDS)) {
      warn('spec.sessionAffinityConfig.clientIP.timeoutSeconds', 'out_of_range', `value ${t} out of range 1..${MAX_AFFINITY_TIMEOUT_SECONDS}; using ${DEFAULT_AFFINITY_TIMEOUT_SECONDS}`);
    } else if (t !== undefined) {
      affinityTimeoutSeconds = t;
    }
  }

  const externalPolicyLocal = externallyAccessibleType(svc) && spec.externalTrafficPolicy === 'Local';
  const internalPolicyLocal = spec.internalTrafficPolicy === 'Local';
  let healthCheckNodePort = 0;
  if (spec.type === 'LoadBalancer' && externalPolicyLocal) {
    const p = spec.healthCheckNodePort ?? 0;
    if (!Number.isInteger(p) || p < 1 || p > 65535) warn('spec.healthCheckNodePort', 'out_of_range', `missing or invalid (${p}); no health check server`);
    else healthCheckNodePort = p;
  }

  const ports: ServicePortInfo[] = [];
  const seen = new Set<string>();
  (spec.ports ?? []).forEach((p, i) => {
    const field = `spec.ports[${i}]`;
    const protocol = normalizeProtocol(p.protocol);
    if (!protocol) return warn(`${field}.protocol`, 'unsupported_protocol', `unsupported protocol "${p.protocol}"; port ignored`);
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) return warn(`${field}.port`, 'out_of_range', `port ${p.port} out of range 1..65535; port ignored`);
    let nodePort = p.nodePort ?? 0;
    if (!Number.isInteger(nodePort) || nodePort < 0 || nodePort > 65535) {
      warn(`${field}.nodePort`, 'out_of_range', `nodePort ${nodePort} out of range 0..65535; no NodePort`);
      nodePort = 0;
    }
    const portName = p.name ?? '';
    if (seen.has(`${portName}/${protocol}`)) return warn(`${field}.name`, 'duplicate', `duplicate port "${portName}"/${protocol}; port ignored`);
    seen.add(`${portName}/${protocol}`);
    for (const family of ['IPv4', 'IPv6'] as const) {
      const clusterIP = clusterIPs[family];
      if (!clusterIP) continue;
      ports.push({
        key: servicePortKey(service, portName, protocol, family),
        service,
        created,
        portName,
        family,
        protocol,
        type: spec.type ?? 'ClusterIP',
        clusterIP,
        port: p.port,
        nodePort,
        externalIPs: externalIPs[family],
        loadBalancerVIPs: lbVIPs[family],
        loadBalancerSourceRanges: sourceRanges[family],
        affinityTimeoutSeconds,
        externalPolicyLocal,
        internalPolicyLocal,
        healthCheckNodePort,
        trafficDistribution: spec.trafficDistribution ?? '',
      });
    }
  });
  return { ports, problems };
}

/** True when the port takes external traffic (NodePort, externalIPs or LB VIPs). */
export function externallyAccessible(sp: ServicePortInfo): boolean {
  return sp.nodePort !== 0 || sp.externalIPs.length > 0 || sp.loadBalancerVIPs.length > 0;
}

/** Cluster endpoints are needed for iTP=Cluster, and for any external traffic (short-circuit). */
export function usesClusterEndpoints(sp: ServicePortInfo): boolean {
  return !sp.internalPolicyLocal || externallyAccessible(sp);
}

/** Local endpoints are needed for iTP=Local, or eTP=Local on an externally reachable port. */
export function usesLocalEndpoints(sp: ServicePortInfo): boolean {
  return sp.internalPolicyLocal || (sp.externalPolicyLocal && externallyAccessible(sp));
}
