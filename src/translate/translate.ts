/**
 * @module
 * model -> wanted map contents (architecture §3-4), a pure function apart from id allocation.
 *
 * Per service port (one family):
 * - ClusterIP: one INTERNAL entry (iTP picks the cluster or local set).
 * - NodePort (wildcard address of the family), each ExternalIP, each LB VIP: an EXTERNAL entry
 *   with the eTP set. With eTP=Local the external entry gets LB_SVC_TWO_SCOPES and an INTERNAL
 *   twin with the cluster set, because traffic from pods and from the node itself short-circuits
 *   to Cluster policy (spec §5.7); with eTP=Cluster one EXTERNAL entry serves both.
 * - A VIP marker {VIP, 0, 0, EXTERNAL} per service address, flagged with the address's kind, so
 *   a known VIP on an unknown port is refused instead of leaking to the network.
 * Every frontend entry has its own service id (its slots, reverse NAT and Maglev table differ).
 * Slots hold local backends first. backend_count 0 means refuse; when a Local policy finds no
 * local endpoint but the service has endpoints elsewhere, the *_LOCAL flag stays set and the
 * datapath drops instead (spec §5.11: drop, not reject); with no endpoints anywhere the flag is
 * cleared so the entry rejects.
 */
import { categorizeEndpoints } from '../model/categorize-endpoints.ts';
import type { EndpointInfo } from '../model/endpoints.ts';
import type { EndpointsMap } from '../model/endpoints-change-tracker.ts';
import { cidrContains, formatIp, parseCidr, parseIp, wildcardBytes, type IpFamily } from '../model/ip.ts';
import type { Problem } from '../model/problem.ts';
import type { ServicePortMap } from '../model/service-change-tracker.ts';
import type { ServicePortInfo } from '../model/service-port.ts';
import { backendIdentity, entryKey } from './keys.ts';
import {
  emptyLbState,
  IPPROTO,
  LB_BE_LOCAL,
  LB_BE_TERMINATING,
  LB_SCOPE_EXTERNAL,
  LB_SCOPE_INTERNAL,
  LB_SVC_AFFINITY,
  LB_SVC_CLUSTER_IP,
  LB_SVC_DSR,
  LB_SVC_ETP_LOCAL,
  LB_SVC_EXTERNAL_IP,
  LB_SVC_ITP_LOCAL,
  LB_SVC_LOADBALANCER,
  LB_SVC_LOCALHOST_NODEPORT,
  LB_SVC_MAGLEV,
  LB_SVC_NODEPORT,
  LB_SVC_SOURCE_RANGES,
  LB_SVC_TWO_SCOPES,
  LB_SVC_VIP_MARKER,
  type LbEntry,
  type LbMapName,
  type LbServiceKey,
  type LbState,
} from './lb-types.ts';
import { MAGLEV_M_DEFAULT, maglevTable } from './maglev.ts';

export type TranslateModel = { services: ServicePortMap; endpoints: EndpointsMap };

export type TranslateNode = {
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
};

export type TranslateOptions = {
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
  /** PreferSameTrafficDistribution gate (node hints). @default true */
  preferSameTrafficDistribution?: boolean;
  /** The address of another node, for lb_backend.node_addr (DSR). @default none (zero) */
  nodeAddress?: (nodeName: string, family: IpFamily) => string | undefined;
};

/** Id allocation, normally an LbIds (src/dataplane/ids.ts). */
export type TranslateIds = { serviceId(key: string): number; backendId(key: string): number };

export type ServicePortSummary = {
  hasAnyEndpoints: boolean;
  /** Ready endpoints on this node whatever the policies (the healthCheckNodePort server's count). */
  localReadyEndpoints: number;
  /** "ip:port" of every endpoint this node may send to (for UDP conntrack cleanup). */
  reachable: string[];
};

export type TranslateResult = {
  wanted: LbState;
  problems: Problem[];
  /** By ServicePortInfo.key. */
  servicePorts: Map<string, ServicePortSummary>;
};

type Frontend = {
  sp: ServicePortInfo;
  addr: Uint8Array;
  port: number;
  scope: number;
  typeFlag: number;
  backends: EndpointInfo[];
  /** Policy flag (ETP_LOCAL/ITP_LOCAL) when this entry uses the local set. */
  localFlag: number;
  extraFlags: number;
  sourceRanges: string[];
  hasAny: boolean;
};

function add<M extends LbMapName>(state: LbState, map: M, key: LbEntry<M>['key'], value: LbEntry<M>['value'], owner: string): LbEntry<M> {
  const k = entryKey(key);
  const m = state[map] as Map<string, LbEntry<M>>;
  const have = m.get(k);
  if (have) {
    if (!have.owners.includes(owner)) have.owners.push(owner);
    return have;
  }
  const e: LbEntry<M> = { key, value, owners: [owner] };
  m.set(k, e);
  return e;
}

const byAddress = (a: EndpointInfo, b: EndpointInfo) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : a.port - b.port);

/** Builds the wanted contents of every control-plane-written LB map. */
export function translate(model: TranslateModel, node: TranslateNode, options: TranslateOptions, ids: TranslateIds): TranslateResult {
  const families = options.families ?? ['IPv4', 'IPv6'];
  const maxBackends = Math.min(options.maxBackendsPerService ?? 65535, 65535);
  const m = options.maglevTableSize ?? MAGLEV_M_DEFAULT;
  const wanted = emptyLbState();
  const problems: Problem[] = [];
  const servicePorts = new Map<string, ServicePortSummary>();
  const claimed = new Map<string, string>(); // frontend key -> owner service
  const nodeIPs = node.nodeIPs.map(parseIp).filter((ip) => ip !== null);
  // Model addresses are canonical and valid; parse each once per sync (large clusters repeat
  // the same endpoint in many entries).
  const bytesCache = new Map<string, Uint8Array>();
  const bytesOf = (text: string): Uint8Array => {
    let b = bytesCache.get(text);
    if (!b) bytesCache.set(text, (b = parseIp(text)!.bytes));
    return b;
  };

  for (const addr of node.nodePortAddresses) {
    const ip = parseIp(addr);
    if (ip && families.includes(ip.family)) add(wanted, 'lb_node_addrs', { addr: ip.bytes }, { flags: 0 }, '');
  }

  // Sorted so that conflicts resolve the same way on every sync and every node.
  const ports = [...model.services.values()].filter((sp) => families.includes(sp.family)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const sp of ports) {
    const object = `Service ${sp.service}`;
    const endpoints = model.endpoints.get(sp.key) ?? [];
    const cat = categorizeEndpoints(endpoints, sp, {
      nodeName: node.name,
      topologyLabels: node.labels,
      preferSameTrafficDistribution: options.preferSameTrafficDistribution,
    });
    servicePorts.set(sp.key, {
      hasAnyEndpoints: cat.hasAnyEndpoints,
      localReadyEndpoints: endpoints.filter((e) => e.isLocal && e.ready).length,
      reachable: cat.allReachable.map((e) => `${e.ip}:${e.port}`),
    });
    const proto = IPPROTO[sp.protocol];
    const affinity = sp.affinityTimeoutSeconds > 0 ? LB_SVC_AFFINITY : 0;
    const fronts: Frontend[] = [];
    const base = { sp, sourceRanges: [] as string[], hasAny: cat.hasAnyEndpoints };
    fronts.push({
      ...base,
      addr: bytesOf(sp.clusterIP),
      port: sp.port,
      scope: LB_SCOPE_INTERNAL,
      typeFlag: LB_SVC_CLUSTER_IP,
      backends: sp.internalPolicyLocal ? cat.local : cat.cluster,
      localFlag: sp.internalPolicyLocal ? LB_SVC_ITP_LOCAL : 0,
      extraFlags: affinity,
    });
    const external = (addr: Uint8Array, port: number, typeFlag: number, extra: number, sourceRanges: string[]) => {
      const common = { ...base, addr, port, typeFlag, sourceRanges };
      const dsr = options.dsr ? LB_SVC_DSR : 0;
      if (sp.externalPolicyLocal) {
        fronts.push({ ...common, scope: LB_SCOPE_EXTERNAL, backends: cat.local, localFlag: LB_SVC_ETP_LOCAL, extraFlags: affinity | extra | dsr | LB_SVC_TWO_SCOPES });
        fronts.push({ ...common, scope: LB_SCOPE_INTERNAL, backends: cat.cluster, localFlag: 0, extraFlags: affinity | extra });
      } else {
        fronts.push({ ...common, scope: LB_SCOPE_EXTERNAL, backends: cat.cluster, localFlag: 0, extraFlags: affinity | extra | dsr });
      }
    };
    if (sp.nodePort !== 0) {
      const lh = sp.family === 'IPv4' && node.localhostNodePorts ? LB_SVC_LOCALHOST_NODEPORT : 0;
      external(wildcardBytes(sp.family), sp.nodePort, LB_SVC_NODEPORT, lh, []);
    }
    for (const ip of sp.externalIPs) external(bytesOf(ip), sp.port, LB_SVC_EXTERNAL_IP, 0, []);
    for (const ip of sp.loadBalancerVIPs) {
      external(bytesOf(ip), sp.port, LB_SVC_LOADBALANCER, sp.loadBalancerSourceRanges.length > 0 ? LB_SVC_SOURCE_RANGES : 0, sp.loadBalancerSourceRanges);
    }

    for (const f of fronts) {
      const key: LbServiceKey = { addr: f.addr, port: f.port, proto, scope: f.scope };
      const k = entryKey(key);
      const holder = claimed.get(k);
      if (holder !== undefined) {
        if (holder !== sp.service) {
          problems.push({ object, field: 'spec', message: `frontend ${describe(key)} is already used by Service ${holder}; ignored here` });
        }
        continue;
      }
      claimed.set(k, sp.service);
      const serviceId = ids.serviceId(k);
      let list = [...f.backends.filter((e) => e.isLocal).sort(byAddress), ...f.backends.filter((e) => !e.isLocal).sort(byAddress)];
      if (list.length > maxBackends) {
        problems.push({ object, field: 'endpoints', message: `${list.length} backends for ${describe(key)} exceed the limit ${maxBackends}; using ${maxBackends}` });
        list = list.slice(0, maxBackends);
      }
      const backendIds: { id: number; identity: string }[] = [];
      for (const ep of list) {
        const addr = bytesOf(ep.ip);
        const identity = backendIdentity(addr, ep.port, proto);
        const id = ids.backendId(identity);
        const nodeAddr = ep.nodeName && options.nodeAddress ? parseIp(options.nodeAddress(ep.nodeName, sp.family) ?? '') : null;
        const flags = (ep.isLocal ? LB_BE_LOCAL : 0) | (ep.terminating ? LB_BE_TERMINATING : 0);
        const be = add(wanted, 'lb_backends', id, { addr, port: ep.port, proto, flags, node_addr: nodeAddr?.bytes ?? new Uint8Array(16) }, sp.service);
        be.value.flags |= flags;
        backendIds.push({ id, identity });
      }
      backendIds.forEach((b, i) => add(wanted, 'lb_slots', { service_id: serviceId, slot: i + 1 }, b.id, sp.service));
      add(wanted, 'lb_rev_nat', serviceId, { addr: f.addr, port: f.port, pad: 0 }, sp.service);
      let flags = f.typeFlag | f.extraFlags | (f.hasAny ? f.localFlag : 0);
      if (options.maglev && f.scope === LB_SCOPE_EXTERNAL && backendIds.length > 0) {
        add(wanted, 'lb_maglev', serviceId, maglevTable(backendIds, m), sp.service);
        flags |= LB_SVC_MAGLEV;
      }
      for (const text of f.sourceRanges) {
        const c = parseCidr(text)!;
        add(wanted, 'lb_src_ranges', { prefixlen: 32 + c.prefixLen + (c.family === 'IPv4' ? 96 : 0), service_id: serviceId, addr: c.bytes }, 1, sp.service);
      }
      // A load balancer may loop traffic back through the node with the VIP as source; allow
      // that when the node itself is inside one of the ranges (spec §5.5).
      if (f.sourceRanges.length > 0 && nodeIPs.some((ip) => f.sourceRanges.some((r) => cidrContains(parseCidr(r)!, ip)))) {
        add(wanted, 'lb_src_ranges', { prefixlen: 32 + 128, service_id: serviceId, addr: f.addr }, 1, sp.service);
      }
      add(
        wanted,
        'lb_services',
        key,
        {
          service_id: serviceId,
          backend_count: list.length,
          local_backend_count: list.filter((e) => e.isLocal).length,
          flags,
          affinity_timeout: sp.affinityTimeoutSeconds,
        },
        sp.service,
      );
    }
    // VIP markers for every service address of this port (not the NodePort wildcard), carrying
    // the address's kind: the tc path refuses unknown ports only on ExternalIPs and LB VIPs.
    const addresses: [string, number][] = [
      [sp.clusterIP, LB_SVC_CLUSTER_IP],
      ...sp.externalIPs.map((ip): [string, number] => [ip, LB_SVC_EXTERNAL_IP]),
      ...sp.loadBalancerVIPs.map((ip): [string, number] => [ip, LB_SVC_LOADBALANCER]),
    ];
    for (const [ip, kind] of addresses) {
      const key: LbServiceKey = { addr: bytesOf(ip), port: 0, proto: 0, scope: LB_SCOPE_EXTERNAL };
      const k = entryKey(key);
      const have = wanted.lb_services.get(k);
      if (have) {
        have.value.flags |= kind;
        if (!have.owners.includes(sp.service)) have.owners.push(sp.service);
        continue;
      }
      add(wanted, 'lb_services', key, { service_id: ids.serviceId(k), backend_count: 0, local_backend_count: 0, flags: LB_SVC_VIP_MARKER | kind, affinity_timeout: 0 }, sp.service);
    }
  }
  return { wanted, problems, servicePorts };
}

function describe(key: LbServiceKey): string {
  const proto = Object.entries(IPPROTO).find(([, v]) => v === key.proto)?.[0] ?? String(key.proto);
  const scope = key.scope === LB_SCOPE_INTERNAL ? 'internal' : 'external';
  return `${formatIp(key.addr)}:${key.port}/${proto} (${scope})`;
}
