/**
 * @module
 * compilePort: one service port (one family) and its endpoints -> the frontend records and VIP
 * markers it asks for (architecture §3-4). Pure: no ids, no shared state; the LB state
 * (src/dataplane/lb-state.ts) resolves conflicts between ports, assigns ids and reference-counts
 * what ports share. See README.md for what the datapath may rely on.
 *
 * Per port:
 * - ClusterIP: one INTERNAL entry (iTP picks the cluster or local set).
 * - NodePort (wildcard address of the family), each ExternalIP, each LB VIP: an EXTERNAL entry
 *   with the eTP set. With eTP=Local the external entry gets LB_SVC_TWO_SCOPES and an INTERNAL
 *   twin with the cluster set, because traffic from pods and from the node itself short-circuits
 *   to Cluster policy (spec §5.7); with eTP=Cluster one EXTERNAL entry serves both.
 * - A VIP marker {VIP, 0, 0, EXTERNAL} per service address, with the address's kind, so a known
 *   VIP on an unknown port is refused instead of leaking to the network.
 * Slots hold local backends first. backend_count 0 means refuse; when a Local policy finds no
 * local endpoint but the service has endpoints elsewhere, the *_LOCAL flag stays set and the
 * datapath drops instead (spec §5.11: drop, not reject); with no endpoints anywhere the flag is
 * cleared so the entry rejects.
 */
import { categorizeEndpoints } from '../model/categorize-endpoints.ts';
import type { EndpointInfo } from '../model/endpoints.ts';
import { cidrContains, formatIp, parseCidr, parseIp, wildcardBytes, type IpFamily, type ParsedIp } from '../model/ip.ts';
import type { Problem } from '../model/problem.ts';
import type { ServicePortInfo } from '../model/service-port.ts';
import {
  IPPROTO, LB_SCOPE_EXTERNAL, LB_SCOPE_INTERNAL, LB_SVC_AFFINITY, LB_SVC_CLUSTER_IP, LB_SVC_DSR, LB_SVC_ETP_LOCAL,
  LB_SVC_EXTERNAL_IP, LB_SVC_ITP_LOCAL, LB_SVC_LOADBALANCER, LB_SVC_LOCALHOST_NODEPORT, LB_SVC_MAGLEV, LB_SVC_NODEPORT,
  LB_SVC_SOURCE_RANGES, LB_SVC_TWO_SCOPES,
} from './lb-types.ts';

export type CompileNode = {
  /** This node's name (hostname-override). */
  name: string;
  /** The Node's labels (topology.kubernetes.io/zone). */
  labels: Record<string, string>;
  /** The node's own IPs (both families), for the source-range "node inside a range" rule. */
  nodeIPs: string[];
  /** Resolved NodePort addresses (resolveNodePortAddresses().addresses). */
  nodePortAddresses: string[];
  /** IPv4 NodePorts also answer on 127.0.0.1 (resolveNodePortAddresses().localhostNodePorts). */
  localhostNodePorts: boolean;
  /** IPv6 NodePorts also answer on ::1 (resolveNodePortAddresses().localhostNodePortsV6). */
  localhostNodePortsV6?: boolean;
};

export type CompileOptions = {
  /** Families this agent programs. @default both */
  families?: IpFamily[];
  /** Slots per entry; lb_service_value.backend_count is a __u16. @default 65535 */
  maxBackendsPerService?: number;
  /** Build Maglev tables for EXTERNAL entries (north-south consistency across nodes). @default false */
  maglev?: boolean;
  /** Maglev table size, a prime; must match the loaded inner map size. @default 16381 */
  maglevTableSize?: number;
  /** Mark EXTERNAL entries LB_SVC_DSR. @default false */
  dsr?: boolean;
  /** With dsr: only TCP entries get LB_SVC_DSR (--bpf-lb-mode=hybrid). @default false */
  dsrTcpOnly?: boolean;
  /** PreferSameTrafficDistribution gate (node hints). @default true */
  preferSameTrafficDistribution?: boolean;
};

/** One lb_services frontend a port asks for. */
export type CompiledFrontend = {
  /** Identity of the lb_service_key: see frontendKey. */
  key: FrontendKey;
  addr: Uint8Array;
  port: number;
  proto: number;
  scope: number;
  flags: number;
  affinityTimeout: number;
  /** In slot order: local first, each group by address. */
  backends: EndpointInfo[];
  localCount: number;
  /** Select through a Maglev table (set only with backends). */
  maglev: boolean;
  /** lb_src_ranges entries of this frontend: LPM prefix length (service id bits included) and address. */
  ranges: { prefixlen: number; addr: Uint8Array }[];
};

/** A VIP marker a port asks for; markers of one address are shared and their kinds OR-ed. */
export type CompiledMarker = { key: FrontendKey; addr: Uint8Array; kind: number };

export type PortSummary = {
  hasAnyEndpoints: boolean;
  /** Ready endpoints on this node whatever the policies (the healthCheckNodePort server's count). */
  localReadyEndpoints: number;
};

export type CompiledPort = {
  sp: ServicePortInfo;
  frontends: CompiledFrontend[];
  markers: CompiledMarker[];
  summary: PortSummary;
  problems: Problem[];
};

/** The node facts compilePort needs, parsed once per node change. */
export type CompileContext = { node: CompileNode; options: CompileOptions; nodeIPs: ParsedIp[]; maxBackends: number };

export function compileContext(node: CompileNode, options: CompileOptions): CompileContext {
  return {
    node,
    options,
    nodeIPs: node.nodeIPs.map(parseIp).filter((ip) => ip !== null),
    maxBackends: Math.min(options.maxBackendsPerService ?? 65535, 65535),
  };
}

/**
 * Identity of an lb_service_key: a number for IPv4 addresses (address × 2^19 + port × 8 +
 * protocol code × 2 + scope: 51 bits, exact in a double), else "address|port|protocol|scope".
 * Numbers keep 10k frontends from costing a string each in the id maps.
 */
export type FrontendKey = number | string;

const PROTO_CODE: Record<number, number> = { 6: 0, 17: 1, 132: 2, 0: 3 };
const CODE_PROTO = [6, 17, 132, 0];

export function frontendKey(addr: ArrayLike<number>, port: number, proto: number, scope: number): FrontendKey {
  let v4 = true;
  for (let i = 0; i < 10; i++) if (addr[i] !== 0) v4 = false;
  if (v4 && addr[10] === 0xff && addr[11] === 0xff && proto in PROTO_CODE && (scope === 0 || scope === 1)) {
    const a = ((addr[12]! << 24) >>> 0) + (addr[13]! << 16) + (addr[14]! << 8) + addr[15]!;
    return a * 524288 + port * 8 + PROTO_CODE[proto]! * 2 + scope;
  }
  return `${formatIp(addr)}|${port}|${proto}|${scope}`;
}

function frontendParts(key: FrontendKey): [string, number, number, number] {
  if (typeof key === 'string') {
    const [a, p, pr, sc] = key.split('|');
    return [a!, Number(p), Number(pr), Number(sc)];
  }
  const low = key % 524288;
  const a = Math.floor(key / 524288);
  return [`${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`, low >>> 3, CODE_PROTO[(low >>> 1) & 3]!, low & 1];
}
const byAddress = (a: EndpointInfo, b: EndpointInfo) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : a.port - b.port);

/** Sorts `xs` by address unless it is in that order already. */
function inAddressOrder(xs: EndpointInfo[]): void {
  for (let i = 1; i < xs.length; i++) {
    if (byAddress(xs[i - 1]!, xs[i]!) > 0) {
      xs.sort(byAddress);
      return;
    }
  }
}

function describe(addrText: string, port: number, proto: number, scope: number): string {
  const p = Object.entries(IPPROTO).find(([, v]) => v === proto)?.[0] ?? String(proto);
  return `${addrText.includes(':') ? `[${addrText}]` : addrText}:${port}/${p} (${scope === LB_SCOPE_INTERNAL ? 'internal' : 'external'})`;
}

/** Describes a frontend identity (frontendKey) for messages. */
export function describeFrontend(key: FrontendKey): string {
  const [addr, port, proto, scope] = frontendParts(key);
  return describe(addr, port, proto, scope);
}

/** The frontends and markers of one service port; an empty record for a family not programmed. */
export function compilePort(sp: ServicePortInfo, endpointList: EndpointInfo[] | undefined, ctx: CompileContext): CompiledPort {
  const { node, options, maxBackends, nodeIPs } = ctx;
  const problems: Problem[] = [];
  const endpoints = endpointList ?? [];
  const cat = categorizeEndpoints(endpoints, sp, {
    nodeName: node.name,
    topologyLabels: node.labels,
    preferSameTrafficDistribution: options.preferSameTrafficDistribution,
  });
  let localReady = 0;
  for (const e of endpoints) if (e.isLocal && e.ready) localReady++;
  const summary: PortSummary = { hasAnyEndpoints: cat.hasAnyEndpoints, localReadyEndpoints: localReady };
  if (!(options.families ?? ['IPv4', 'IPv6']).includes(sp.family)) return { sp, frontends: [], markers: [], summary, problems };

  const proto = IPPROTO[sp.protocol];
  const affinity = sp.affinityTimeoutSeconds > 0 ? LB_SVC_AFFINITY : 0;
  const dsr = options.dsr && (!options.dsrTcpOnly || sp.protocol === 'TCP') ? LB_SVC_DSR : 0;
  const frontends: CompiledFrontend[] = [];
  const seen = new Set<FrontendKey>();
  const sorted = new Map<EndpointInfo[], EndpointInfo[]>();
  const slotOrder = (set: EndpointInfo[]): EndpointInfo[] => {
    let list = sorted.get(set);
    if (!list) {
      // Local endpoints first, each part by address (the tracker's lists are in that order
      // already: then nothing is sorted).
      const local: EndpointInfo[] = [];
      const rest: EndpointInfo[] = [];
      for (const e of set) (e.isLocal ? local : rest).push(e);
      inAddressOrder(local);
      inAddressOrder(rest);
      list = local.length === 0 ? rest : rest.length === 0 ? local : local.concat(rest);
      sorted.set(set, list);
    }
    return list;
  };

  const add = (addrText: string, addr: Uint8Array, port: number, scope: number, typeFlag: number, set: EndpointInfo[], localFlag: number, extra: number, sourceRanges: string[]) => {
    const key = frontendKey(addr, port, proto, scope);
    // A port's own duplicate frontends (an ExternalIP equal to a VIP): the first one wins.
    if (seen.has(key)) return;
    seen.add(key);
    let list = slotOrder(set);
    if (list.length > maxBackends) {
      problems.push({ object: `Service ${sp.service}`, field: 'endpoints', reason: 'too_many_backends', message: `${list.length} backends for ${describe(addrText, port, proto, scope)} exceed the limit ${maxBackends}; using ${maxBackends}` });
      list = list.slice(0, maxBackends);
    }
    let localCount = 0;
    for (const e of list) if (e.isLocal) localCount++;
    let flags = typeFlag | extra | (cat.hasAnyEndpoints ? localFlag : 0);
    const maglev = options.maglev === true && scope === LB_SCOPE_EXTERNAL && list.length > 0;
    const ranges: CompiledFrontend['ranges'] = [];
    if (sourceRanges.length > 0) {
      const have = new Set<string>();
      const range = (prefixlen: number, a: Uint8Array) => {
        const k = `${prefixlen}|${a.join('.')}`;
        if (have.has(k)) return;
        have.add(k);
        ranges.push({ prefixlen, addr: a });
      };
      const parsed = sourceRanges.map((r) => parseCidr(r)!);
      for (const c of parsed) range(32 + c.prefixLen + (c.family === 'IPv4' ? 96 : 0), c.bytes);
      // A load balancer may loop traffic back through the node with the VIP as source; allow
      // that when the node itself is inside one of the ranges (spec §5.5).
      if (nodeIPs.some((ip) => parsed.some((c) => cidrContains(c, ip)))) range(32 + 128, addr);
    }
    if (maglev) flags |= LB_SVC_MAGLEV;
    frontends.push({ key, addr, port, proto, scope, flags, affinityTimeout: sp.affinityTimeoutSeconds, backends: list, localCount, maglev, ranges });
  };

  const clusterIP = parseIp(sp.clusterIP)!;
  add(clusterIP.text, clusterIP.bytes, sp.port, LB_SCOPE_INTERNAL, LB_SVC_CLUSTER_IP, sp.internalPolicyLocal ? cat.local : cat.cluster,
    sp.internalPolicyLocal ? LB_SVC_ITP_LOCAL : 0, affinity, []);
  const external = (addrText: string, addr: Uint8Array, port: number, typeFlag: number, extra: number, sourceRanges: string[]) => {
    if (sp.externalPolicyLocal) {
      add(addrText, addr, port, LB_SCOPE_EXTERNAL, typeFlag, cat.local, LB_SVC_ETP_LOCAL, affinity | extra | dsr | LB_SVC_TWO_SCOPES, sourceRanges);
      add(addrText, addr, port, LB_SCOPE_INTERNAL, typeFlag, cat.cluster, 0, affinity | extra, sourceRanges);
    } else {
      add(addrText, addr, port, LB_SCOPE_EXTERNAL, typeFlag, cat.cluster, 0, affinity | extra | dsr, sourceRanges);
    }
  };
  if (sp.nodePort !== 0) {
    const lh = (sp.family === 'IPv4' ? node.localhostNodePorts : node.localhostNodePortsV6 === true) ? LB_SVC_LOCALHOST_NODEPORT : 0;
    external(sp.family === 'IPv4' ? '0.0.0.0' : '::', wildcardBytes(sp.family), sp.nodePort, LB_SVC_NODEPORT, lh, []);
  }
  const externalIPs = sp.externalIPs.map((t) => parseIp(t)!);
  const vips = sp.loadBalancerVIPs.map((t) => parseIp(t)!);
  for (const ip of externalIPs) external(ip.text, ip.bytes, sp.port, LB_SVC_EXTERNAL_IP, 0, []);
  const rangeFlag = sp.loadBalancerSourceRanges.length > 0 ? LB_SVC_SOURCE_RANGES : 0;
  for (const ip of vips) external(ip.text, ip.bytes, sp.port, LB_SVC_LOADBALANCER, rangeFlag, sp.loadBalancerSourceRanges);

  // VIP markers for every service address of this port (not the NodePort wildcard), carrying the
  // address's kind: the tc path refuses unknown ports only on ExternalIPs and LB VIPs.
  const markers = new Map<FrontendKey, CompiledMarker>();
  const marker = (ip: ParsedIp, kind: number) => {
    const key = frontendKey(ip.bytes, 0, 0, LB_SCOPE_EXTERNAL);
    const have = markers.get(key);
    if (have) have.kind |= kind;
    else markers.set(key, { key, addr: ip.bytes, kind });
  };
  marker(clusterIP, LB_SVC_CLUSTER_IP);
  for (const ip of externalIPs) marker(ip, LB_SVC_EXTERNAL_IP);
  for (const ip of vips) marker(ip, LB_SVC_LOADBALANCER);
  return { sp, frontends, markers: [...markers.values()], summary, problems };
}
