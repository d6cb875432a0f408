// Test environment of the north-south datapath (xdp.bpf.o + tc.bpf.o): both objects loaded into one
// private pin folder so they share every map, as on a node; helpers that write services the way
// the control plane does (backends, slots, reverse NAT, then the service entry) through the
// codecs the addon derives from BTF; and readers for conntrack entries and counters.
import { rmSync } from 'node:fs';
import { BpfObject } from 'bpf-loader-napi';
import type { BpfMap, BpfProgram, Collection, RodataValue } from 'bpf-loader-napi';
import { addr16, addrText } from './packet.ts';
import { bumpGeneration, type GenerationMap } from '../../src/dataplane/generations.ts';
import { claimedSnatSlots, isSnatSlotTable, snatSlotCount } from '../../src/dataplane/snat-slots.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
/** The objects' folder: build/bpf, or KPB_BPF_DIR (the ablation builds of e2e/bench/ablate.ts). */
export const BPF_OBJ_DIR = process.env.KPB_BPF_DIR ?? `${ROOT}build/bpf`;
export const XDP_OBJ = `${BPF_OBJ_DIR}/xdp.bpf.o`;
export const TC_OBJ = `${BPF_OBJ_DIR}/tc.bpf.o`;

// Constants of the C headers (not layout, so BTF cannot supply them): lb_structs.h, counters.h,
// conntrack.h. Keep in sync by hand.
export const SVC = {
  CLUSTER_IP: 1 << 0, NODEPORT: 1 << 1, EXTERNAL_IP: 1 << 2, LOADBALANCER: 1 << 3, AFFINITY: 1 << 4,
  ETP_LOCAL: 1 << 5, ITP_LOCAL: 1 << 6, SOURCE_RANGES: 1 << 7, DSR: 1 << 8, MAGLEV: 1 << 9,
  TWO_SCOPES: 1 << 11, VIP_MARKER: 1 << 12,
} as const;
export const BE = { LOCAL: 1 << 0, TERMINATING: 1 << 1 } as const;
export const CT = { LOCAL: 1, REMOTE: 2, REPLY: 4, SNAT: 8, DSR: 16, DSR_BACKEND: 32, HOST_BACKEND: 64 } as const;
export const HOOK = { XDP: 0, TC_INGRESS: 1, TC_EGRESS: 2 } as const;
export const CNT = {
  PASS: 0, DROP: 1, TX: 2, REDIRECT: 3, NOT_IP: 4, NOT_SERVICE: 5, UNSUPP_L4: 6, FRAGMENT: 7, MALFORMED: 8,
  SRC_RANGE: 9, NO_BACKEND: 10, SNAT_EXHAUSTED: 11, CT_FULL: 12, LOCAL_DNAT: 13, REMOTE_FWD: 14, REPLY_FWD: 15,
  REPLY_LOCAL: 16, TO_TC: 17, FIB_FAIL: 18, RST_SENT: 19, ICMP_SENT: 20, ICMP_XLATE: 21, DSR_ENCAP: 22,
  DSR_DECAP: 23, DSR_REPLY: 24, FRAG_NEEDED: 25, TTL: 26, ERROR: 27, VIP_UNKNOWN_PORT: 28,
  NO_LOCAL_BACKEND: 29, SNAT_MAP_FULL: 30, SENT_BY_US: 31,
} as const;
export const CNT_MAX = 32;
/** The verdict counters come first (CNT.PASS..REDIRECT): the index into a slot's packets. */
export const VERDICTS = 4;
export const XDP = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3, REDIRECT: 4 } as const;
export const TC = { OK: 0, SHOT: 2, REDIRECT: 7 } as const;

export interface Backend { id: number; addr: string; port: number; local?: boolean; nodeAddr?: string; terminating?: boolean }
export interface Service {
  id: number;
  /** frontend address; null = NodePort wildcard of `family` */
  addr: string | null;
  family?: 4 | 6;
  port: number;
  proto: number;
  flags: number;
  backends: Backend[];
  affinityTimeout?: number;
  /** frontend the replies must show (reverse NAT); defaults to addr:port */
  revAddr?: string;
}

export interface CtEntry {
  /** The map holding it: kpb_ct4/kpb_ct6 (forward and local-reply entries) or kpb_snat4/kpb_snat6. */
  map: string;
  key: { src: string; dst: string; sport: number; dport: number; proto: number };
  natSrc: string; natDst: string; natSport: number; natDport: number; flags: number; serviceId: number; backendId: number;
  tcpState: number; expires: number; beGen: number;
  nh: { gen: number; ifindex: number; mtu: number; macs: Uint8Array };
}

/** The conntrack maps of conntrack.h, and the fragment maps of frag.h. */
export const CT_MAPS = ['kpb_ct4', 'kpb_ct6', 'kpb_snat4', 'kpb_snat6'] as const;
export const FRAG_MAPS = ['kpb_frag4', 'kpb_frag6'] as const;

export class NpEnv {
  readonly pin: string;
  readonly xdp: Collection;
  readonly tc: Collection;

  private constructor(pin: string, xdp: Collection, tc: Collection) {
    this.pin = pin;
    this.xdp = xdp;
    this.tc = tc;
  }

  /**
   * Load both objects (from `dir`: build/bpf unless told) into a fresh pin folder (shared maps).
   * `sizes.kpb_snat4`/`kpb_snat6` size the SNAT slot table as the agent does (--bpf-map-snat:
   * rounded up to a power of two, told to the datapath in kpb_snat_slots).
   */
  static async load(rodata: Record<string, RodataValue> = {}, tag = 'np', sizes: Record<string, number> = {}, dir = BPF_OBJ_DIR): Promise<NpEnv> {
    const pin = `/sys/fs/bpf/kpb-test-${process.pid}-${tag}-${Math.random().toString(36).slice(2, 8)}`;
    const snat = sizes.kpb_snat4 ?? sizes.kpb_snat6;
    const open = (path: string) => {
      const o = BpfObject.open(path);
      const slots = o.variables.some((v) => v.name === 'kpb_snat_slots') && snat !== undefined ? snatSlotCount(snat) : undefined;
      o.setRodata(slots === undefined ? rodata : { kpb_snat_slots: slots, ...rodata });
      for (const [name, n] of Object.entries(sizes)) {
        if (o.maps.some((m) => m.name === name)) o.resizeMap(name, slots !== undefined && (name === 'kpb_snat4' || name === 'kpb_snat6') ? slots : n);
      }
      if (slots !== undefined) for (const name of ['kpb_snat4', 'kpb_snat6']) if (!(name in sizes)) o.resizeMap(name, slots);
      return o;
    };
    try {
      const tc = await open(`${dir}/tc.bpf.o`).load({ pinPath: pin });
      const xdp = await open(`${dir}/xdp.bpf.o`).load({ pinPath: pin });
      return new NpEnv(pin, xdp, tc);
    } catch (err) {
      rmSync(pin, { recursive: true, force: true });
      throw err;
    }
  }

  map(name: string): BpfMap { return this.tc.map(name); }
  get xdpProg(): BpfProgram { return this.xdp.program('kpb_xdp_ingress'); }
  get tcIngress(): BpfProgram { return this.tc.program('kpb_tc_ingress'); }
  get tcEgress(): BpfProgram { return this.tc.program('kpb_tc_egress'); }

  addNodeAddr(addr: string): void {
    this.map('lb_node_addrs').update({ addr: addr16(addr) }, { flags: 0 });
  }

  /** Write a service in the control plane's order: backends, slots, reverse NAT, service entry. */
  addService(s: Service): void {
    for (const b of s.backends) {
      const flags = (b.local ? BE.LOCAL : 0) | (b.terminating ? BE.TERMINATING : 0);
      this.map('lb_backends').update(b.id, {
        addr: addr16(b.addr), port: b.port, proto: s.proto, flags,
        node_addr: b.nodeAddr ? addr16(b.nodeAddr) : new Uint8Array(16),
      });
    }
    s.backends.forEach((b, i) => this.map('lb_slots').update({ service_id: s.id, slot: i + 1 }, b.id));
    const rev = s.revAddr ?? s.addr;
    this.map('lb_rev_nat').update(s.id, { addr: rev ? addr16(rev) : new Uint8Array(16), port: s.port, pad: 0 });
    this.map('lb_services').update(this.svcKey(s), {
      service_id: s.id, backend_count: s.backends.length,
      local_backend_count: s.backends.filter((b) => b.local).length, flags: s.flags,
      affinity_timeout: s.affinityTimeout ?? 0,
    });
  }

  svcKey(s: Pick<Service, 'addr' | 'family' | 'port' | 'proto'>, scope = 0): object {
    // NodePort wildcard: ::ffff:0.0.0.0 for IPv4, :: for IPv6 (lb_structs.h).
    const addr = s.addr ? addr16(s.addr) : s.family === 6 ? new Uint8Array(16) : addr16('0.0.0.0');
    return { addr, port: s.port, proto: s.proto, scope };
  }

  /** Allow `cidr` for service `id` (loadBalancerSourceRanges; IPv4 stored v4-mapped). */
  addSrcRange(id: number, cidr: string): void {
    const [a, len] = cidr.split('/');
    const bits = Number(len) + (a.includes(':') ? 0 : 96);
    this.map('lb_src_ranges').update({ prefixlen: 32 + bits, service_id: id, addr: addr16(a) }, 1);
  }

  /** Every conntrack entry: the LRU maps' entries and the claimed SNAT reservation slots. */
  ctEntries(): CtEntry[] {
    const entriesOf = (m: BpfMap): Iterable<[unknown, unknown]> => (isSnatSlotTable(m) ? claimedSnatSlots(m).map((s) => [s.key, s.v]) : m.entries());
    return CT_MAPS.flatMap((map) => [...entriesOf(this.map(map))].map(([k, v]) => {
      const key = k as { src: Uint8Array | number; dst: Uint8Array | number; sport: number; dport: number; proto: number };
      const val = v as Record<string, unknown>;
      const nh = val.nh as { gen: number; ifindex: number; mtu: number; macs: Uint8Array };
      return {
        map,
        key: { src: keyAddr(key.src), dst: keyAddr(key.dst), sport: key.sport, dport: key.dport, proto: key.proto },
        natSrc: text16(val.nat_src as Uint8Array), natDst: text16(val.nat_dst as Uint8Array),
        natSport: val.nat_sport as number, natDport: val.nat_dport as number, flags: val.flags as number,
        serviceId: val.service_id as number, backendId: val.backend_id as number,
        tcpState: val.tcp_state as number, expires: val.expires as number, beGen: val.be_gen as number, nh,
      };
    }));
  }

  /** Sum over CPUs of counter `c` of `hook`: a reason's slot, or a verdict summed over the slots. */
  counter(hook: number, c: number): number {
    return counterOf(this.map('kpb_np_counters'), hook * CNT_MAX, CNT_MAX, c);
  }

  counters(hook: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, c] of Object.entries(CNT)) {
      const n = this.counter(hook, c);
      if (n) out[name] = n;
    }
    return out;
  }

  /** Empty the conntrack and fragment maps. */
  clearCt(): void {
    for (const name of [...CT_MAPS, ...FRAG_MAPS]) {
      const m = this.map(name);
      // An array's slots cannot be deleted: the claimed ones are written back free (all zero).
      if (isSnatSlotTable(m)) continue;
      const keys = [...m.keys({ raw: true })];
      if (keys.length) m.deleteBatch(keys);
    }
    if (isSnatSlotTable(this.map('kpb_snat4'))) this.clearSnatSlots();
  }

  /** Free every SNAT reservation slot (the forward entries stay). */
  clearSnatSlots(): void {
    for (const name of ['kpb_snat4', 'kpb_snat6']) {
      const m = this.map(name);
      const claimed = claimedSnatSlots(m).map((s) => s.index);
      if (claimed.length) m.updateBatch(claimed, claimed.map(() => Buffer.alloc(m.valueSize)));
    }
  }

  /**
   * Run the SNAT reservations' sweep (snat_gc.h) over `count` slots from `first` (0: to the end;
   * the whole table unless told); returns how many slots it freed.
   */
  snatGc(first = 0, count = 0): number {
    return this.tc.program('kpb_snat_gc').testRun({ data: Buffer.alloc(14), ctx: snatCtx(first, count, 0) }).retval;
  }

  /** The claimed SNAT slots of a family in `count` slots from `first` (0: to the end), as the census program counts them. */
  snatCensus(family: 4 | 6, first = 0, count = 0): number {
    return this.tc.program('kpb_snat_census').testRun({ data: Buffer.alloc(14), ctx: snatCtx(first, count, family) }).retval;
  }

  /** Bump a generation of kpb_gens (nh: routes and neighbours, be: backends), as the agent does. */
  bumpGen(which: 'nh' | 'be'): number {
    return bumpGeneration(this.map('kpb_gens') as unknown as GenerationMap, which);
  }

  close(): void {
    this.xdp.close();
    this.tc.close();
    rmSync(this.pin, { recursive: true, force: true });
  }
}

/** Text of a conntrack key address: a __be32 (IPv4 keys decode it as a number) or 16 bytes. */
function keyAddr(a: Uint8Array | number): string {
  if (typeof a === 'number') {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(a);
    return addrText(b);
  }
  return text16(a);
}

/** Text of a 16-byte map address: v4-mapped shown as dotted IPv4. */
/**
 * Counter `c` of the hook whose slots start at `base` in a counters.h counter map (a slot per
 * reason of struct kpb_counter_slot, packets by verdict), summed over CPUs: a reason (c >= 4) is
 * its slot's total, a verdict (c < 4) that verdict's packets over the hook's `n` slots.
 */
export function counterOf(map: BpfMap, base: number, n: number, c: number): number {
  // An object built before the slots (KPB_BPF_DIR of an older build, for A/B runs): a __u64 per counter.
  if (map.info().valueSize === 8) {
    return ((map.lookup(base + c) as Array<number | bigint> | undefined) ?? []).reduce<number>((t, v) => t + Number(v), 0);
  }
  const total = (key: number, verdict?: number): number => {
    const per = map.lookup(key) as { packets: Array<number | bigint> }[] | undefined;
    return (per ?? []).reduce<number>((t, cpu) => t + cpu.packets.reduce<number>((a, v, i) => a + (verdict === undefined || i === verdict ? Number(v) : 0), 0), 0);
  };
  if (c >= VERDICTS) return total(base + c);
  let sum = 0;
  for (let r = VERDICTS; r < n; r++) sum += total(base + r, c);
  return sum;
}

export function text16(a: Uint8Array): string {
  const v4 = a.subarray(0, 10).every((x) => x === 0) && a[10] === 0xff && a[11] === 0xff;
  return v4 ? addrText(a.subarray(12)) : addrText(a);
}

/** struct xdp_md for a test run arriving on `ifindex` (UAPI layout: ingress_ifindex at 12). */
export function xdpCtx(ifindex: number, len: number): Buffer {
  const b = Buffer.alloc(24);
  b.writeUInt32LE(0, 0);
  b.writeUInt32LE(len, 4);
  b.writeUInt32LE(ifindex, 12);
  return b;
}

/** struct __sk_buff (192 bytes, UAPI) for a test run on `ifindex` (ifindex at 40). */
/** struct __sk_buff of a SNAT sweep or census run (snat_gc.h): cb[0] first slot, cb[1] how many, cb[2] family. */
function snatCtx(first: number, count: number, family: number): Buffer {
  const b = skbCtx(1);
  b.writeUInt32LE(first, 48);
  b.writeUInt32LE(count, 52);
  b.writeUInt32LE(family, 56);
  return b;
}

export function skbCtx(ifindex: number): Buffer {
  const b = Buffer.alloc(192);
  b.writeUInt32LE(ifindex, 40);
  return b;
}
