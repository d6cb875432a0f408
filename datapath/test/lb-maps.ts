// Test-side writer for the shared load-balancing maps (datapath/include/lb_structs.h). Every key and
// value goes through the codecs the addon derives from the object's BTF, encoded by field name;
// nothing here knows an offset. The control plane has its own translation layer; this one exists
// so datapath tests fill maps the way the control plane does (architecture §4 update order).
import { isIPv4, isIPv6 } from 'node:net';
import { endianness } from 'node:os';
import { createMap } from 'bpf-loader-napi';
import type { BpfMap, Collection } from 'bpf-loader-napi';
import { BPF_F_INNER_MAP } from '../../src/dataplane/bpf-map-writer.ts';

// Values mirror enum lb_service_flags / lb_scope / lb_affinity_kind in lb_structs.h. They are
// constants of the C header, not layout, so BTF cannot supply them: keep in sync by hand.
export const SVC = {
  CLUSTER_IP: 1 << 0,
  NODEPORT: 1 << 1,
  EXTERNAL_IP: 1 << 2,
  LOADBALANCER: 1 << 3,
  AFFINITY: 1 << 4,
  ETP_LOCAL: 1 << 5,
  ITP_LOCAL: 1 << 6,
  SOURCE_RANGES: 1 << 7,
  DSR: 1 << 8,
  MAGLEV: 1 << 9,
  LOCALHOST_NODEPORT: 1 << 10,
  TWO_SCOPES: 1 << 11,
  VIP_MARKER: 1 << 12,
} as const;
export const SCOPE_EXTERNAL = 0;
export const SCOPE_INTERNAL = 1;
export const AFFINITY_NETNS = 1; // enum lb_affinity_kind
export const TCP = 6;
export const UDP = 17;

/** 16-byte map address: IPv4 v4-mapped (::ffff:a.b.c.d), IPv6 as is (lb_structs.h convention). */
export function addr16(ip: string): Uint8Array {
  const out = new Uint8Array(16);
  if (isIPv4(ip)) {
    out[10] = 0xff;
    out[11] = 0xff;
    ip.split('.').forEach((p, i) => { out[12 + i] = Number(p); });
    return out;
  }
  if (!isIPv6(ip)) throw new TypeError(`addr16: ${JSON.stringify(ip)} is not an IP address`);
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const words = (s: string | undefined): string[] => (s ? s.split(':') : []);
  const expand = (parts: string[]): number[] => parts.flatMap((p) => {
    if (isIPv4(p)) {
      const b = p.split('.').map(Number);
      return [(b[0] << 8) | b[1], (b[2] << 8) | b[3]];
    }
    return [parseInt(p, 16)];
  });
  const h = expand(words(head));
  const t = tail === undefined ? [] : expand(words(tail));
  const all = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  all.forEach((w, i) => { out[2 * i] = w >> 8; out[2 * i + 1] = w & 0xff; });
  return out;
}

/** Text form of a 16-byte map address (v4-mapped shown as dotted IPv4). */
export function addrText(a: Uint8Array): string {
  const mapped = a.slice(0, 10).every((b) => b === 0) && a[10] === 0xff && a[11] === 0xff;
  if (mapped) return `${a[12]}.${a[13]}.${a[14]}.${a[15]}`;
  const w: string[] = [];
  for (let i = 0; i < 16; i += 2) w.push(((a[i] << 8) | a[i + 1]).toString(16));
  return w.join(':').replace(/(^|:)0(:0)+(:|$)/, '::').replace(/:{3,}/, '::');
}

/** The wildcard NodePort address of a family (lb_structs.h): ::ffff:0.0.0.0 or ::. */
export function wildcard(family: 4 | 6): Uint8Array {
  return family === 4 ? addr16('0.0.0.0') : new Uint8Array(16);
}

/** lb_select.h lb_hash_u64: fold the 64-bit value to 32 bits, then MurmurHash3's fmix32. */
export function lbHashU64(v: bigint): number {
  let h = (Number(v & 0xffffffffn) ^ Number((v >> 32n) & 0xffffffffn)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

export interface BackendSpec { ip: string; port: number; proto?: number; flags?: number }

export interface ServiceSpec {
  /** Frontend address; a family number for the NodePort wildcard entry. */
  ip: string | 4 | 6;
  port: number;
  proto: number;
  scope: number;
  serviceId: number;
  backendIds: number[];
  flags: number;
  affinityTimeout?: number;
  /** backend_count to write when it must differ from backendIds.length (fail-closed tests). */
  count?: number;
}

type Row = Record<string, unknown>;

export class LbMaps {
  readonly coll: Collection;

  constructor(coll: Collection) {
    this.coll = coll;
  }

  map(name: string): BpfMap {
    return this.coll.map(name);
  }

  putBackend(id: number, b: BackendSpec): void {
    this.map('lb_backends').update(id, {
      addr: addr16(b.ip), port: b.port, proto: b.proto ?? TCP, flags: b.flags ?? 0,
      node_addr: new Uint8Array(16),
    });
  }

  deleteBackend(id: number): void {
    this.map('lb_backends').delete(id);
  }

  putNodeAddr(ip: string): void {
    this.map('lb_node_addrs').update({ addr: addr16(ip) }, { flags: 0 });
  }

  /** Marker {VIP, 0, 0, EXTERNAL}: "this address is a VIP" (LB_SVC_VIP_MARKER plus its kind). */
  putVipMarker(ip: string, serviceId: number, kind: number = SVC.CLUSTER_IP): void {
    this.map('lb_services').update(
      { addr: addr16(ip), port: 0, proto: 0, scope: SCOPE_EXTERNAL },
      { service_id: serviceId, backend_count: 0, local_backend_count: 0, flags: SVC.VIP_MARKER | kind, affinity_timeout: 0 },
    );
  }

  /** Slots, then reverse NAT, then the service entry, so the count switches traffic last. */
  putService(s: ServiceSpec): void {
    s.backendIds.forEach((backendId, i) => {
      this.map('lb_slots').update({ service_id: s.serviceId, slot: i + 1 }, backendId);
    });
    const frontend = typeof s.ip === 'number' ? wildcard(s.ip) : addr16(s.ip);
    this.map('lb_rev_nat').update(s.serviceId, { addr: frontend, port: s.port, pad: 0 });
    this.map('lb_services').update(serviceKey(s), {
      service_id: s.serviceId,
      backend_count: s.count ?? s.backendIds.length,
      local_backend_count: 0,
      flags: s.flags,
      affinity_timeout: s.affinityTimeout ?? 0,
    });
  }

  /** Delete a service: its entry first (traffic stops), then slots and reverse NAT. */
  deleteService(s: ServiceSpec): void {
    this.map('lb_services').delete(serviceKey(s));
    for (let slot = 1; slot <= s.backendIds.length; slot++) this.map('lb_slots').delete({ service_id: s.serviceId, slot });
    this.map('lb_rev_nat').delete(s.serviceId);
  }

  /** Shrink or replace a service's backends: new count first, then the slots (architecture §4). */
  setBackends(s: ServiceSpec, backendIds: number[]): void {
    this.map('lb_services').update(serviceKey(s), {
      service_id: s.serviceId, backend_count: backendIds.length, local_backend_count: 0,
      flags: s.flags, affinity_timeout: s.affinityTimeout ?? 0,
    });
    backendIds.forEach((backendId, i) => {
      this.map('lb_slots').update({ service_id: s.serviceId, slot: i + 1 }, backendId);
    });
    for (let slot = backendIds.length + 1; slot <= s.backendIds.length; slot++) {
      this.map('lb_slots').delete({ service_id: s.serviceId, slot });
    }
  }

  /** A Maglev table: a fresh inner array (size = table.length = the object's lb_maglev_m) filled
   * first, then swapped into lb_maglev in one update, as the control plane does. */
  putMaglev(serviceId: number, table: number[]): void {
    const inner = createMap({ type: 'array', keySize: 4, valueSize: 4, maxEntries: table.length, flags: BPF_F_INNER_MAP, name: 'kpb_maglev_in' });
    try {
      inner.updateBatch(table.map((_, i) => i), table);
      this.map('lb_maglev').update(serviceId, inner.fd);
    } finally {
      inner.close(); // lb_maglev holds its own reference
    }
  }

  /** lb_sock_stats summed over CPUs, by field name from BTF. */
  stats(): Record<string, number> {
    const sum: Record<string, number> = {};
    for (const [, perCpu] of this.map('lb_sock_stats').entries()) {
      for (const v of perCpu as unknown as Row[]) {
        for (const [k, n] of Object.entries(v)) sum[k] = (sum[k] ?? 0) + Number(n as number | bigint);
      }
    }
    return sum;
  }

  /** lb_affinity rows of one service: client netns cookie (kind NETNS), backend id and the slot
   * the datapath last saw it in (0: not known yet). */
  affinity(serviceId: number): { netns: bigint; backendId: number; slot: number }[] {
    const rows: { netns: bigint; backendId: number; slot: number }[] = [];
    for (const [k, v] of this.map('lb_affinity').entries()) {
      const key = k as unknown as Row;
      if (Number(key.service_id) !== serviceId || Number(key.kind) !== AFFINITY_NETNS) continue;
      const client = Buffer.from(key.client as Uint8Array);
      const netns = endianness() === 'LE' ? client.readBigUInt64LE(0) : client.readBigUInt64BE(0);
      rows.push({ netns, backendId: Number((v as unknown as Row).backend_id), slot: Number((v as unknown as Row).slot) });
    }
    return rows;
  }

  /** lb_sock_rev_nat rows of one service: socket cookie and the backend it was sent to. */
  sockRevNat(serviceId: number): { cookie: bigint; backend: string; port: number }[] {
    const rows: { cookie: bigint; backend: string; port: number }[] = [];
    for (const [k, v] of this.map('lb_sock_rev_nat').entries()) {
      const key = k as unknown as Row;
      const val = v as unknown as Row;
      if (Number(val.service_id) !== serviceId) continue;
      rows.push({ cookie: BigInt(key.cookie as number | bigint), backend: addrText(key.addr as Uint8Array), port: Number(key.port) });
    }
    return rows;
  }
}

function serviceKey(s: ServiceSpec): Row {
  const addr = typeof s.ip === 'number' ? wildcard(s.ip) : addr16(s.ip);
  return { addr, port: s.port, proto: s.proto, scope: s.scope };
}
