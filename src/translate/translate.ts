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
  type LbBackend,
  type LbEntry,
  type LbMapName,
  type LbServiceKey,
  type LbServiceValue,
  type LbSrcRangeKey,
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
  /** IPv6 NodePorts also answer on ::1 (resolveNodePortAddresses().localhostNodePortsV6). */
  localhostNodePortsV6?: boolean;
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

/** One entry a service port contributes: map, canonical key, the entry (never mutated once built). */
type Contribution = { map: LbMapName; k: string; entry: LbEntry };

/** The entries of one frontend; written only when the port wins the frontend key. */
type FrontendGroup = { k: string; key: LbServiceKey; problems: Problem[]; entries: Contribution[] };

/** What one service port contributes, computed from that port and its endpoints alone. */
type Fragment = {
  sp: ServicePortInfo;
  endpoints: EndpointInfo[] | undefined;
  summary: ServicePortSummary;
  groups: FrontendGroup[];
  /** VIP markers; shared between ports with the same address, their flags OR-ed at merge. */
  markers: Contribution[];
};

const byAddress = (a: EndpointInfo, b: EndpointInfo) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : a.port - b.port);
/** lb_backend.node_addr without DSR: one shared zero address instead of one array per backend. */
const ZERO_ADDR = new Uint8Array(16);

export type TranslateMode = 'full' | 'partial';

type LastResult = {
  wanted: LbState;
  servicePorts: Map<string, ServicePortSummary>;
  /** Problems per port key (ports without problems absent). */
  portProblems: Map<string, Problem[]>;
  /** "map|key" of entries more than one port contributes to: changing those needs the full merge. */
  multiPort: Set<string>;
};

/** Per map, the keys an incremental translate may have changed (added, replaced or removed). */
export type TouchedKeys = Map<LbMapName, Set<string>>;

/**
 * Adds contributions to `wanted` the way the first translate did: the first contribution's entry
 * is used as is; a second one to the same key (a shared backend or VIP marker) copies it before
 * adding its owners and OR-ing its flags, so cached contributions are never changed. Keys a
 * second port contributes to are recorded in `multiPort`.
 */
function mergeInto(wanted: LbState, multiPort: Set<string>) {
  const copied = new Set<LbEntry>();
  return (c: Contribution, orFlags: boolean) => {
    const m = wanted[c.map] as Map<string, LbEntry>;
    let have = m.get(c.k);
    if (!have) {
      m.set(c.k, c.entry);
      return;
    }
    // Owners arrays are one per port: the same array is the same port.
    if (have.owners !== c.entry.owners) multiPort.add(`${c.map}|${c.k}`);
    const flags = orFlags ? (c.entry.value as { flags: number }).flags : 0;
    if (c.entry.owners.every((o) => have!.owners.includes(o)) && (!orFlags || ((have.value as { flags: number }).flags | flags) === (have.value as { flags: number }).flags)) return;
    // Shared entry: copy before changing, the cached contributions stay as built.
    if (!copied.has(have)) {
      const value = typeof have.value === 'object' && !ArrayBuffer.isView(have.value) ? { ...(have.value as object) } : have.value;
      have = { key: have.key, value, owners: [...have.owners] } as LbEntry;
      copied.add(have);
      m.set(c.k, have);
    }
    for (const o of c.entry.owners) if (!have.owners.includes(o)) have.owners.push(o);
    if (orFlags) (have.value as { flags: number }).flags |= flags;
  };
}

type Context = {
  node: TranslateNode;
  options: TranslateOptions;
  bytesOf: (text: string) => Uint8Array;
  maxBackends: number;
  m: number;
  nodeIPs: NonNullable<ReturnType<typeof parseIp>>[];
};

/**
 * Translation with a per-service-port cache. translate() in 'partial' mode recomputes only the
 * ports whose ServicePortInfo or endpoint list changed (the change trackers replace both objects
 * on every change, so identity is the change signal) and merges every port's cached contribution
 * in key order, which reproduces exactly what a full translate builds: the same conflict
 * winners, the same OR-ed flags and owners of shared backends and VIP markers. 'full' mode, a
 * change of node or options, recompute everything. Inputs the cache cannot see (the DSR
 * nodeAddress callback's answers) need a 'full' translate when they change.
 */
export class Translator {
  #fragments = new Map<string, Fragment>();
  #fingerprint = '';
  /** Sorted ports, reused while the set of port keys is unchanged. */
  #order: ServicePortInfo[] = [];
  #orderKeys: string[] = [];
  /** Parsed addresses shared by every entry (many entries repeat one endpoint); reset at each full translate. */
  #bytes = new Map<string, Uint8Array>();
  /** The last result, patched in place by an incremental translate; null forces a merge of all ports. */
  #last: LastResult | null = null;

  translate(model: TranslateModel, node: TranslateNode, options: TranslateOptions, ids: TranslateIds, mode: TranslateMode = 'full'): TranslateResult & { recomputed: number; touched?: TouchedKeys } {
    const families = options.families ?? ['IPv4', 'IPv6'];
    const fingerprint = JSON.stringify([node, { ...options, nodeAddress: options.nodeAddress !== undefined }]);
    if (mode === 'full' || fingerprint !== this.#fingerprint) {
      this.#fragments.clear();
      this.#bytes.clear();
      this.#fingerprint = fingerprint;
      this.#last = null;
    }
    const ctx = this.#context(node, options);

    // Sorted so that conflicts resolve the same way on every sync and every node.
    if (model.services.size === this.#orderKeys.length && this.#orderKeys.every((k) => model.services.has(k))) {
      this.#order = this.#orderKeys.map((k) => model.services.get(k)!);
    } else {
      this.#order = [...model.services.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      this.#orderKeys = this.#order.map((sp) => sp.key);
      for (const key of this.#fragments.keys()) if (!model.services.has(key)) this.#fragments.delete(key);
      this.#last = null;
    }
    let recomputedBefore = 0;
    if (mode === 'partial' && this.#last) {
      const done = this.#incremental(this.#last, model, families, ctx, ids);
      if ('wanted' in done) return done;
      recomputedBefore = done.recomputed;
    }

    const wanted = emptyLbState();
    const problems: Problem[] = [];
    const servicePorts = new Map<string, ServicePortSummary>();
    const multiPort = new Set<string>();
    const merge = mergeInto(wanted, multiPort);

    for (const addr of node.nodePortAddresses) {
      const ip = parseIp(addr);
      if (ip && families.includes(ip.family)) merge({ map: 'lb_node_addrs', k: entryKey({ addr: ip.bytes }), entry: { key: { addr: ip.bytes }, value: { flags: 0 }, owners: [] } }, false);
    }

    let recomputed = recomputedBefore;
    const portProblems = new Map<string, Problem[]>();
    const claimed = new Map<string, string>(); // frontend key -> owner service
    for (const sp of this.#order) {
      if (!families.includes(sp.family)) continue;
      const endpoints = model.endpoints.get(sp.key);
      let f = this.#fragments.get(sp.key);
      if (!f || f.sp !== sp || f.endpoints !== endpoints) {
        f = this.#fragment(sp, endpoints, ctx, ids);
        this.#fragments.set(sp.key, f);
        recomputed++;
      }
      servicePorts.set(sp.key, f.summary);
      const problemsBefore = problems.length;
      let lost = false;
      for (const g of f.groups) {
        const holder = claimed.get(g.k);
        if (holder !== undefined) {
          lost = true;
          if (holder !== sp.service) {
            problems.push({ object: `Service ${sp.service}`, field: 'spec', message: `frontend ${describe(g.key)} is already used by Service ${holder}; ignored here` });
          }
          continue;
        }
        claimed.set(g.k, sp.service);
        problems.push(...g.problems);
        for (const c of g.entries) merge(c, c.map === 'lb_backends');
      }
      for (const c of f.markers) merge(c, true);
      // A port that lost a frontend holds ids for entries nobody writes (released after the
      // sync); recompute it next time rather than reuse them.
      if (lost) this.#fragments.delete(sp.key);
      if (problems.length > problemsBefore) portProblems.set(sp.key, problems.slice(problemsBefore));
    }
    this.#last = { wanted, servicePorts, portProblems, multiPort };
    return { wanted, problems, servicePorts, recomputed };
  }

  /**
   * Patches the last result for ports whose endpoints alone changed, when that is provably what
   * the full merge would build: every port still cached (no frontend conflicts), no changed
   * port's entries shared with another port. Otherwise patches nothing and returns how many
   * ports it recomputed (cached for the full merge).
   */
  #incremental(last: LastResult, model: TranslateModel, families: IpFamily[], ctx: Context, ids: TranslateIds): (TranslateResult & { recomputed: number; touched: TouchedKeys }) | { recomputed: number } {
    const changed: { sp: ServicePortInfo; old: Fragment; now: Fragment }[] = [];
    for (const sp of this.#order) {
      if (!families.includes(sp.family)) continue;
      const f = this.#fragments.get(sp.key);
      if (!f || f.sp !== sp) return { recomputed: changed.length };
      const endpoints = model.endpoints.get(sp.key);
      if (f.endpoints === endpoints) continue;
      const now = this.#fragment(sp, endpoints, ctx, ids);
      // The same ServicePortInfo gives the same frontends and VIP markers: keep the marker
      // entries already in the wanted state.
      now.markers = f.markers;
      // Cached either way: the full merge below (if it comes to that) uses it as is.
      this.#fragments.set(sp.key, now);
      changed.push({ sp, old: f, now });
    }
    const id = (c: Contribution) => `${c.map}|${c.k}`;
    const claimedNow = new Set<string>();
    for (const { old, now } of changed) {
      if (old.groups.length !== now.groups.length || old.groups.some((g, i) => g.k !== now.groups[i]!.k)) return { recomputed: changed.length };
      const oldKeys = new Set(old.groups.flatMap((g) => g.entries.map(id)));
      for (const k of oldKeys) if (last.multiPort.has(k)) return { recomputed: changed.length };
      for (const g of now.groups) {
        for (const c of g.entries) {
          const k = id(c);
          if (oldKeys.has(k)) continue;
          // A key another port writes (or another changed port just took): shared, full merge.
          if ((last.wanted[c.map] as Map<string, LbEntry>).has(c.k) || claimedNow.has(k)) return { recomputed: changed.length };
        }
      }
      for (const g of now.groups) for (const c of g.entries) claimedNow.add(id(c));
    }
    const touched: TouchedKeys = new Map();
    const touch = (c: Contribution) => {
      let set = touched.get(c.map);
      if (!set) touched.set(c.map, (set = new Set()));
      set.add(c.k);
    };
    for (const { old } of changed) {
      for (const g of old.groups) {
        for (const c of g.entries) {
          (last.wanted[c.map] as Map<string, LbEntry>).delete(c.k);
          touch(c);
        }
      }
    }
    const merge = mergeInto(last.wanted, last.multiPort);
    for (const { sp, now } of changed) {
      const portProblems: Problem[] = [];
      for (const g of now.groups) {
        portProblems.push(...g.problems);
        for (const c of g.entries) {
          merge(c, c.map === 'lb_backends');
          touch(c);
        }
      }
      last.servicePorts.set(sp.key, now.summary);
      if (portProblems.length > 0) last.portProblems.set(sp.key, portProblems);
      else last.portProblems.delete(sp.key);
    }
    const problems: Problem[] = [];
    if (last.portProblems.size > 0) for (const sp of this.#order) problems.push(...(last.portProblems.get(sp.key) ?? []));
    return { wanted: last.wanted, problems, servicePorts: last.servicePorts, recomputed: changed.length, touched };
  }

  #context(node: TranslateNode, options: TranslateOptions): Context {
    const bytesOf = (text: string): Uint8Array => {
      let b = this.#bytes.get(text);
      if (!b) this.#bytes.set(text, (b = parseIp(text)!.bytes));
      return b;
    };
    return {
      node,
      options,
      bytesOf,
      maxBackends: Math.min(options.maxBackendsPerService ?? 65535, 65535),
      m: options.maglevTableSize ?? MAGLEV_M_DEFAULT,
      nodeIPs: node.nodeIPs.map(parseIp).filter((ip) => ip !== null),
    };
  }

  #fragment(sp: ServicePortInfo, endpointList: EndpointInfo[] | undefined, ctx: Context, ids: TranslateIds): Fragment {
    const { node, options, bytesOf, maxBackends, m, nodeIPs } = ctx;
    const object = `Service ${sp.service}`;
    // One owners array per port, shared by all its entries (nothing mutates owners in place).
    const owners = [sp.service];
    const endpoints = endpointList ?? [];
    const cat = categorizeEndpoints(endpoints, sp, {
      nodeName: node.name,
      topologyLabels: node.labels,
      preferSameTrafficDistribution: options.preferSameTrafficDistribution,
    });
    const summary: ServicePortSummary = {
      hasAnyEndpoints: cat.hasAnyEndpoints,
      localReadyEndpoints: endpoints.filter((e) => e.isLocal && e.ready).length,
      reachable: cat.allReachable.map((e) => `${e.ip}:${e.port}`),
    };
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
      const lh = (sp.family === 'IPv4' ? node.localhostNodePorts : node.localhostNodePortsV6 === true) ? LB_SVC_LOCALHOST_NODEPORT : 0;
      external(wildcardBytes(sp.family), sp.nodePort, LB_SVC_NODEPORT, lh, []);
    }
    for (const ip of sp.externalIPs) external(bytesOf(ip), sp.port, LB_SVC_EXTERNAL_IP, 0, []);
    for (const ip of sp.loadBalancerVIPs) {
      external(bytesOf(ip), sp.port, LB_SVC_LOADBALANCER, sp.loadBalancerSourceRanges.length > 0 ? LB_SVC_SOURCE_RANGES : 0, sp.loadBalancerSourceRanges);
    }

    const groups: FrontendGroup[] = [];
    const seen = new Set<string>();
    for (const f of fronts) {
      const key: LbServiceKey = { addr: f.addr, port: f.port, proto, scope: f.scope };
      const k = entryKey(key);
      // A port's own duplicate frontends (an ExternalIP equal to a VIP): the first one wins.
      if (seen.has(k)) continue;
      seen.add(k);
      const problems: Problem[] = [];
      const entries: Contribution[] = [];
      const add = <M extends LbMapName>(map: M, key: LbEntry<M>['key'], value: LbEntry<M>['value']) => {
        entries.push({ map, k: entryKey(key), entry: { key, value, owners } as LbEntry });
      };
      const serviceId = ids.serviceId(k);
      let list = [...f.backends.filter((e) => e.isLocal).sort(byAddress), ...f.backends.filter((e) => !e.isLocal).sort(byAddress)];
      if (list.length > maxBackends) {
        problems.push({ object, field: 'endpoints', message: `${list.length} backends for ${describe(key)} exceed the limit ${maxBackends}; using ${maxBackends}` });
        list = list.slice(0, maxBackends);
      }
      const backendIds: { id: number; identity: string }[] = [];
      const backendFlags = new Map<number, Contribution>();
      for (const ep of list) {
        const addr = bytesOf(ep.ip);
        const identity = backendIdentity(addr, ep.port, proto);
        const id = ids.backendId(identity);
        const nodeAddr = ep.nodeName && options.nodeAddress ? parseIp(options.nodeAddress(ep.nodeName, sp.family) ?? '') : null;
        const flags = (ep.isLocal ? LB_BE_LOCAL : 0) | (ep.terminating ? LB_BE_TERMINATING : 0);
        const have = backendFlags.get(id);
        if (have) (have.entry.value as LbBackend).flags |= flags;
        else {
          add('lb_backends', id, { addr, port: ep.port, proto, flags, node_addr: nodeAddr?.bytes ?? ZERO_ADDR });
          backendFlags.set(id, entries[entries.length - 1]!);
        }
        backendIds.push({ id, identity });
      }
      backendIds.forEach((b, i) => add('lb_slots', { service_id: serviceId, slot: i + 1 }, b.id));
      add('lb_rev_nat', serviceId, { addr: f.addr, port: f.port, pad: 0 });
      let flags = f.typeFlag | f.extraFlags | (f.hasAny ? f.localFlag : 0);
      if (options.maglev && f.scope === LB_SCOPE_EXTERNAL && backendIds.length > 0) {
        add('lb_maglev', serviceId, maglevTable(backendIds, m));
        flags |= LB_SVC_MAGLEV;
      }
      const ranges = new Set<string>();
      const range = (key: LbSrcRangeKey) => {
        const rk = entryKey(key);
        if (ranges.has(rk)) return;
        ranges.add(rk);
        entries.push({ map: 'lb_src_ranges', k: rk, entry: { key, value: 1, owners } as LbEntry });
      };
      for (const text of f.sourceRanges) {
        const c = parseCidr(text)!;
        range({ prefixlen: 32 + c.prefixLen + (c.family === 'IPv4' ? 96 : 0), service_id: serviceId, addr: c.bytes });
      }
      // A load balancer may loop traffic back through the node with the VIP as source; allow
      // that when the node itself is inside one of the ranges (spec §5.5).
      if (f.sourceRanges.length > 0 && nodeIPs.some((ip) => f.sourceRanges.some((r) => cidrContains(parseCidr(r)!, ip)))) {
        range({ prefixlen: 32 + 128, service_id: serviceId, addr: f.addr });
      }
      add('lb_services', key, {
        service_id: serviceId,
        backend_count: list.length,
        local_backend_count: list.filter((e) => e.isLocal).length,
        flags,
        affinity_timeout: sp.affinityTimeoutSeconds,
      });
      groups.push({ k, key, problems, entries });
    }
    // VIP markers for every service address of this port (not the NodePort wildcard), carrying
    // the address's kind: the tc path refuses unknown ports only on ExternalIPs and LB VIPs.
    const addresses: [string, number][] = [
      [sp.clusterIP, LB_SVC_CLUSTER_IP],
      ...sp.externalIPs.map((ip): [string, number] => [ip, LB_SVC_EXTERNAL_IP]),
      ...sp.loadBalancerVIPs.map((ip): [string, number] => [ip, LB_SVC_LOADBALANCER]),
    ];
    const markers = new Map<string, Contribution>();
    for (const [ip, kind] of addresses) {
      const key: LbServiceKey = { addr: bytesOf(ip), port: 0, proto: 0, scope: LB_SCOPE_EXTERNAL };
      const k = entryKey(key);
      const have = markers.get(k);
      if (have) (have.entry.value as LbServiceValue).flags |= kind;
      else {
        const value: LbServiceValue = { service_id: ids.serviceId(k), backend_count: 0, local_backend_count: 0, flags: LB_SVC_VIP_MARKER | kind, affinity_timeout: 0 };
        markers.set(k, { map: 'lb_services', k, entry: { key, value, owners } as LbEntry });
      }
    }
    return { sp, endpoints: endpointList, summary, groups, markers: [...markers.values()] };
  }
}

/** Builds the wanted contents of every control-plane-written LB map (everything recomputed). */
export function translate(model: TranslateModel, node: TranslateNode, options: TranslateOptions, ids: TranslateIds): TranslateResult {
  const { wanted, problems, servicePorts } = new Translator().translate(model, node, options, ids, 'full');
  return { wanted, problems, servicePorts };
}

function describe(key: LbServiceKey): string {
  const proto = Object.entries(IPPROTO).find(([, v]) => v === key.proto)?.[0] ?? String(key.proto);
  const scope = key.scope === LB_SCOPE_INTERNAL ? 'internal' : 'external';
  return `${formatIp(key.addr)}:${key.port}/${proto} (${scope})`;
}
