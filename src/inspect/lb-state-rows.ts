/**
 * @module
 * Pure conversion of decoded map entries (keys and values as the BTF-derived codecs give them)
 * into what `kube-proxy inspect` prints: services with their frontends, flags and backends,
 * backends, and conntrack entries. Field names are the C structs' (lb_structs.h, conntrack.h);
 * nothing here knows an offset.
 */
import { formatIp } from '../model/ip.ts';
import {
  LB_BE_LOCAL, LB_BE_TERMINATING, LB_SVC_AFFINITY, LB_SVC_CLUSTER_IP, LB_SVC_DSR, LB_SVC_ETP_LOCAL, LB_SVC_EXTERNAL_IP,
  LB_SVC_ITP_LOCAL, LB_SVC_LOADBALANCER, LB_SVC_LOCALHOST_NODEPORT, LB_SVC_MAGLEV, LB_SVC_NODEPORT, LB_SVC_SOURCE_RANGES,
  LB_SVC_TWO_SCOPES, LB_SVC_VIP_MARKER,
} from '../translate/lb-types.ts';

type Bytes = ArrayLike<number>;
export type Decoded = Record<string, unknown>;

const SERVICE_FLAGS: [number, string][] = [
  [LB_SVC_CLUSTER_IP, 'ClusterIP'], [LB_SVC_NODEPORT, 'NodePort'], [LB_SVC_EXTERNAL_IP, 'ExternalIP'],
  [LB_SVC_LOADBALANCER, 'LoadBalancer'], [LB_SVC_AFFINITY, 'affinity'], [LB_SVC_ETP_LOCAL, 'eTP=Local'],
  [LB_SVC_ITP_LOCAL, 'iTP=Local'], [LB_SVC_SOURCE_RANGES, 'source-ranges'], [LB_SVC_DSR, 'DSR'], [LB_SVC_MAGLEV, 'maglev'],
  [LB_SVC_LOCALHOST_NODEPORT, 'localhost-nodeport'], [LB_SVC_TWO_SCOPES, 'two-scopes'], [LB_SVC_VIP_MARKER, 'vip-marker'],
];
const PROTOS: Record<number, string> = { 0: 'any', 6: 'TCP', 17: 'UDP', 132: 'SCTP' };
const SCOPES = ['external', 'internal'];

export const protoName = (p: number): string => PROTOS[p] ?? String(p);

/** Names of the set bits of lb_service_value.flags; unknown bits as `0x...`. */
export function serviceFlagNames(flags: number): string[] {
  const out: string[] = [];
  let rest = flags;
  for (const [bit, name] of SERVICE_FLAGS) {
    if (flags & bit) out.push(name);
    rest &= ~bit;
  }
  if (rest !== 0) out.push(`0x${rest.toString(16)}`);
  return out;
}

/**
 * `a.b.c.d` or the IPv6 text of an address field in any of the datapath's forms: 16 bytes
 * (IPv4 v4-mapped), 4 bytes, or a `__be32` the codec gave as a number. The all-zero and
 * v4-mapped-zero wildcards print as `*(v6)`/`*(v4)`.
 */
export function addrText(b: Bytes | number): string {
  if (typeof b === 'number') return [b >>> 24, (b >>> 16) & 0xff, (b >>> 8) & 0xff, b & 0xff].join('.');
  if (b.length === 4) return Array.from(b).join('.');
  const bytes = Array.from(b);
  if (bytes.every((x, i) => x === 0 || (i >= 10 && i < 12 && x === 0xff))) return bytes[10] === 0xff ? '*(v4)' : '*(v6)';
  return formatIp(bytes);
}

export const hostPort = (addr: string, port: number): string => (addr.includes(':') && !addr.startsWith('*') ? `[${addr}]:${port}` : `${addr}:${port}`);

export type BackendRow = { id: number; address: string; port: number; protocol: string; state: 'active' | 'terminating'; local: boolean; nodeAddress: string };

export function backendRow(id: number, v: Decoded): BackendRow {
  const flags = Number(v.flags);
  return {
    id, address: addrText(v.addr as Bytes), port: Number(v.port), protocol: protoName(Number(v.proto)),
    state: flags & LB_BE_TERMINATING ? 'terminating' : 'active', local: (flags & LB_BE_LOCAL) !== 0,
    nodeAddress: (v.node_addr as Bytes) && Array.from(v.node_addr as Bytes).some((x) => x !== 0) ? formatIp(Array.from(v.node_addr as Bytes)) : '',
  };
}

export type ServiceRow = {
  frontend: { address: string; port: number; protocol: string; scope: string };
  serviceId: number;
  flags: string[];
  backendCount: number;
  localBackendCount: number;
  affinityTimeout: number;
  /** Slots 1..backendCount in order; a missing backend shows as id only. */
  backends: (BackendRow | { id: number; missing: true })[];
};

/**
 * Joins lb_services with lb_slots and lb_backends: one row per frontend, sorted by address, port,
 * protocol and scope.
 */
export function serviceRows(services: [Decoded, Decoded][], slots: ReadonlyMap<string, number>, backends: ReadonlyMap<number, Decoded>): ServiceRow[] {
  const rows = services.map(([k, v]): ServiceRow => {
    const id = Number(v.service_id);
    const count = Number(v.backend_count);
    const list: ServiceRow['backends'] = [];
    for (let slot = 1; slot <= count && slot <= 65535; slot++) {
      const be = slots.get(`${id}/${slot}`);
      if (be === undefined) continue;
      const b = backends.get(be);
      list.push(b ? backendRow(be, b) : { id: be, missing: true });
    }
    return {
      frontend: { address: addrText(k.addr as Bytes), port: Number(k.port), protocol: protoName(Number(k.proto)), scope: SCOPES[Number(k.scope)] ?? String(k.scope) },
      serviceId: id, flags: serviceFlagNames(Number(v.flags)), backendCount: count,
      localBackendCount: Number(v.local_backend_count), affinityTimeout: Number(v.affinity_timeout), backends: list,
    };
  });
  const key = (r: ServiceRow) => `${r.frontend.address}|${String(r.frontend.port).padStart(5, '0')}|${r.frontend.protocol}|${r.frontend.scope}`;
  return rows.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

const KPB_CT_FLAGS: [number, string][] = [[1, 'local'], [2, 'remote'], [4, 'reply'], [8, 'snat'], [16, 'dsr'], [32, 'dsr-backend'], [64, 'host-backend'],
  // pod.h, in kpb_pod_ct4/6 only
  [1 << 14, 'hairpin'], [1 << 15, 'routed']];
const TCP_STATES = ['new', 'established', 'closing'];

export type ConntrackRow = {
  protocol: string; source: string; destination: string; natSource: string; natDestination: string;
  flags: string[]; tcpState: string; serviceId: number; backendId: number; expiresInSeconds: number | null;
};

/**
 * One row per conntrack entry (kpb_ct, or kpb_ct4/6, and the reservations of kpb_snat4/6: the
 * tuple and value of a claimed slot, snat-slots.ts). `nowJiffies`/`hz` turn
 * `expires` into seconds from now (null when the clock is unknown); a 32-bit `expires` holds the
 * low bits of jiffies and is compared wrap-safe, as the datapath does.
 */
export function conntrackRow(k: Decoded, v: Decoded, nowJiffies: bigint | null, hz: number): ConntrackRow {
  const proto = Number(k.proto);
  const flags = Number(v.flags);
  const expires = BigInt(v.expires as bigint | number);
  const left = nowJiffies === null ? null
    : typeof v.expires === 'number' ? Number(BigInt.asIntN(32, expires - BigInt.asUintN(32, nowJiffies))) : Number(expires - nowJiffies);
  return {
    protocol: protoName(proto),
    source: hostPort(addrText(k.src as Bytes | number), Number(k.sport)),
    destination: hostPort(addrText(k.dst as Bytes | number), Number(k.dport)),
    natSource: hostPort(addrText(v.nat_src as Bytes), Number(v.nat_sport)),
    natDestination: hostPort(addrText(v.nat_dst as Bytes), Number(v.nat_dport)),
    flags: KPB_CT_FLAGS.filter(([bit]) => flags & bit).map(([, n]) => n),
    tcpState: proto === 6 ? (TCP_STATES[Number(v.tcp_state)] ?? String(v.tcp_state)) : '',
    serviceId: Number(v.service_id), backendId: Number(v.backend_id),
    expiresInSeconds: left === null ? null : left / hz,
  };
}

/** Whether a conntrack row involves `address` (any of its four addresses) and `port` (any port). */
export function conntrackMatches(r: ConntrackRow, address: string | undefined, port: number | undefined): boolean {
  const ends = [r.source, r.destination, r.natSource, r.natDestination];
  const split = (e: string) => {
    const i = e.lastIndexOf(':');
    return { a: e.slice(0, i).replace(/^\[|\]$/g, ''), p: Number(e.slice(i + 1)) };
  };
  if (address !== undefined && !ends.some((e) => split(e).a === address)) return false;
  if (port !== undefined && !ends.some((e) => split(e).p === port)) return false;
  return true;
}
