/**
 * @module
 * EndpointSlices -> endpoints per service port (spec §5.16). Slices are grouped by the
 * kubernetes.io/service-name label; each slice port becomes a service-port key (port name,
 * protocol, address family) and every endpoint's first address is one EndpointInfo.
 */
import type { EndpointSliceProjection } from '../kube/projections.ts';
import { backendKey, backendKeyV4, type BackendKey } from './backend-key.ts';
import { canonicalIpv4, parseIp, type IpFamily } from './ip.ts';
import { objectRef, type Problem } from './problem.ts';
import { servicePortKey } from './service-port.ts';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const HEADLESS_LABEL = 'service.kubernetes.io/headless';
export const LAST_CHANGE_TRIGGER_TIME_ANNOTATION = 'endpoints.kubernetes.io/last-change-trigger-time';

export type EndpointInfo = {
  /** Canonical address text. */
  ip: string;
  /** Backend identity (address, target port, protocol of the slice port): see backend-key.ts. */
  backend: BackendKey;
  family: IpFamily;
  /** Target port from the slice. */
  port: number;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  nodeName: string;
  zone: string;
  /** nodeName equals this node's name. */
  isLocal: boolean;
  /** hints.forZones names, sorted; empty when absent. */
  zoneHints: string[];
  /** hints.forNodes names, sorted; empty when absent. */
  nodeHints: string[];
};

const IP_PROTOCOLS: Record<string, number> = { TCP: 6, UDP: 17, SCTP: 132 };

const byAddressPort = (a: EndpointInfo, b: EndpointInfo) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : a.port - b.port);

/** Sorts `eps` by address and port unless it is in that order already. */
function inOrder(eps: EndpointInfo[]): void {
  for (let i = 1; i < eps.length; i++) {
    if (byAddressPort(eps[i - 1]!, eps[i]!) > 0) {
      eps.sort(byAddressPort);
      return;
    }
  }
}

/** True when `m` is what mergeSliceEndpoints makes of it alone: keys sorted, lists non-empty and sorted. */
function isCanonical(m: SliceEndpoints): boolean {
  let prev: string | null = null;
  for (const [key, eps] of m) {
    if (eps.length === 0 || (prev !== null && prev >= key)) return false;
    for (let i = 1; i < eps.length; i++) if (byAddressPort(eps[i - 1]!, eps[i]!) > 0) return false;
    prev = key;
  }
  return true;
}

/** True when two endpoint lists say the same (the change tracker drops a change that flapped back). */
export function sameEndpoints(a: readonly EndpointInfo[], b: readonly EndpointInfo[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (x.backend !== y.backend || x.ip !== y.ip || x.port !== y.port || x.ready !== y.ready || x.serving !== y.serving || x.terminating !== y.terminating
      || x.nodeName !== y.nodeName || x.zone !== y.zone || x.isLocal !== y.isLocal || x.family !== y.family
      || x.zoneHints.join() !== y.zoneHints.join() || x.nodeHints.join() !== y.nodeHints.join()) return false;
  }
  return true;
}

/** Shared by every endpoint without hints (most of them); never mutated. */
const NO_HINTS: string[] = [];

/** Endpoints of one slice, by service-port key. */
export type SliceEndpoints = Map<string, EndpointInfo[]>;

/** "namespace/serviceName" a slice belongs to, or null when it is not used by kube-proxy. */
export function sliceServiceName(slice: EndpointSliceProjection): string | null {
  const labels = slice.metadata?.labels ?? {};
  const svc = labels[SERVICE_NAME_LABEL];
  if (!svc) return null;
  // The controller labels slices of headless Services; those are never proxied.
  if (Object.hasOwn(labels, HEADLESS_LABEL)) return null;
  if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') return null;
  return `${slice.metadata?.namespace ?? ''}/${svc}`;
}

/** Converts one slice; problems name the slice and the field. */
export function endpointsFromSlice(slice: EndpointSliceProjection, nodeName: string): { endpoints: SliceEndpoints; problems: Problem[] } {
  const endpoints: SliceEndpoints = new Map();
  const problems: Problem[] = [];
  const service = sliceServiceName(slice);
  if (service === null) return { endpoints, problems };
  const object = objectRef('EndpointSlice', slice.metadata);
  const family = slice.addressType as IpFamily;

  // Per endpoint: its fields but the port's, and its address (a number for canonical IPv4 text,
  // the common case, which needs no parse into bytes).
  const infos: Omit<EndpointInfo, 'port' | 'backend'>[] = [];
  const addrs: (number | Uint8Array)[] = [];
  const seen = new Set<string>();
  const list = slice.endpoints ?? [];
  for (let i = 0; i < list.length; i++) {
    const ep = list[i]!;
    const text = ep.addresses?.[0];
    if (text === undefined) continue;
    let ip = text;
    let addr: number | Uint8Array = family === 'IPv4' ? canonicalIpv4(text) : -1;
    if (addr === -1) {
      const parsed = parseIp(text);
      if (!parsed) {
        problems.push({ object, field: `endpoints[${i}].addresses[0]`, reason: 'invalid_ip', message: `invalid IP address "${text}"; endpoint ignored` });
        continue;
      }
      if (parsed.family !== family) {
        problems.push({ object, field: `endpoints[${i}].addresses[0]`, reason: 'wrong_family', message: `address "${text}" is not ${family}; endpoint ignored` });
        continue;
      }
      // The slice's own string when it is already canonical: one string per address, not two.
      ip = parsed.text === text ? text : parsed.text;
      addr = parsed.bytes;
    }
    if (seen.has(ip)) {
      problems.push({ object, field: `endpoints[${i}].addresses[0]`, reason: 'duplicate', message: `duplicate address "${text}" ignored` });
      continue;
    }
    seen.add(ip);
    const c = ep.conditions ?? {};
    const ready = c.ready ?? true;
    const epNode = ep.nodeName ?? '';
    addrs.push(addr);
    infos.push({
      ip,
      family,
      ready,
      serving: c.serving ?? ready,
      terminating: c.terminating ?? false,
      nodeName: epNode,
      zone: ep.zone ?? '',
      isLocal: epNode !== '' && epNode === nodeName,
      zoneHints: ep.hints?.forZones?.length ? [...new Set(ep.hints.forZones.map((z) => z.name))].sort() : NO_HINTS,
      nodeHints: ep.hints?.forNodes?.length ? [...new Set(ep.hints.forNodes.map((n) => n.name))].sort() : NO_HINTS,
    });
  }

  (slice.ports ?? []).forEach((p, i) => {
    if (p.port === undefined || p.port === null || p.port === 0) return;
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) {
      return problems.push({ object, field: `ports[${i}].port`, reason: 'out_of_range', message: `port ${p.port} out of range 1..65535; port ignored` });
    }
    const protocol = p.protocol ?? 'TCP';
    const key = servicePortKey(service, p.name ?? '', protocol, family);
    if (endpoints.has(key)) return problems.push({ object, field: `ports[${i}].name`, reason: 'duplicate', message: `duplicate port "${p.name ?? ''}"/${protocol} ignored` });
    const proto = IP_PROTOCOLS[protocol] ?? 0;
    const port = p.port;
    const out: EndpointInfo[] = new Array(infos.length);
    for (let j = 0; j < infos.length; j++) {
      const e = infos[j]!;
      const addr = addrs[j]!;
      // Every field written in one order: one object shape for all endpoints.
      out[j] = {
        ip: e.ip, backend: typeof addr === 'number' ? backendKeyV4(addr, port, proto) : backendKey(addr, port, proto), family: e.family, port,
        ready: e.ready, serving: e.serving, terminating: e.terminating, nodeName: e.nodeName, zone: e.zone, isLocal: e.isLocal,
        zoneHints: e.zoneHints, nodeHints: e.nodeHints,
      };
    }
    // In the merged order already, so that a Service's only slice is its merged endpoints as is
    // (mergeSliceEndpoints): one list and one Map per Service instead of two.
    inOrder(out);
    endpoints.set(key, out);
  });
  return { endpoints, problems };
}

/**
 * Merges the slices of one service. The same address:port in several slices (normal while the
 * controller moves endpoints between slices) is kept once, preferring a non-terminating copy.
 * Slices are taken in name order and endpoints sorted, so the result does not depend on event
 * order.
 */
export function mergeSliceEndpoints(slices: Iterable<[string, SliceEndpoints]>): Map<string, EndpointInfo[]> {
  const ordered = [...slices].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  if (ordered.length === 1) {
    // One slice (most Services): its addresses are unique per port already; only the order is made
    // canonical, and endpointsFromSlice made it so (then the slice's own Map is the result: neither
    // is ever mutated).
    const only = ordered[0]![1];
    if (isCanonical(only)) return only;
    const out = new Map<string, EndpointInfo[]>();
    for (const key of [...ordered[0]![1].keys()].sort()) {
      const eps = ordered[0]![1].get(key)!;
      if (eps.length > 0) out.set(key, [...eps].sort(byAddressPort));
    }
    return out;
  }
  const byPort = new Map<string, Map<string | number, EndpointInfo>>();
  for (const [, sliceEps] of ordered) {
    for (const [key, eps] of sliceEps) {
      let set = byPort.get(key);
      if (!set) byPort.set(key, (set = new Map()));
      for (const ep of eps) {
        // The backend key is address and port (the protocol is the port key's).
        const id = ep.backend;
        const existing = set.get(id);
        if (!existing || (existing.terminating && !ep.terminating)) set.set(id, ep);
      }
    }
  }
  const out = new Map<string, EndpointInfo[]>();
  for (const key of [...byPort.keys()].sort()) {
    const eps = [...byPort.get(key)!.values()];
    if (eps.length === 0) continue;
    eps.sort(byAddressPort);
    out.set(key, eps);
  }
  return out;
}
