/**
 * @module
 * Upgrade of the north-south conntrack from the single map of earlier versions (kpb_ct: 40-byte
 * keys with v4-mapped addresses, forward entries and SNAT reservations together in one LRU) to
 * the per-family maps of datapath/include/conntrack.h: kpb_ct4/kpb_ct6 (LRU) and the SNAT
 * reservations kpb_snat4/kpb_snat6 (the reservation table, never evicted).
 *
 * Each old entry becomes one new entry of its family: {REPLY, SNAT} entries go to kpb_snat*,
 * every other one to kpb_ct*; nat fields, ports, flags, ids and tcp_state carry over; expires
 * keeps its low 32 bits (the datapath compares them wrap-safe); a DSR entry's tunnel_dst becomes
 * its nat_dst; be_gen and the cached next hop start empty, so each flow's first packet after the
 * upgrade re-checks its backend and asks the FIB once. A reservation is placed in the slot its
 * reply tuple hashes to (convert-snat.ts). The old pin is read with its own BTF
 * (map-migration.ts), so fields are taken by name; no offset is written down here.
 */
import type { BpfMap } from 'bpf-loader-napi';
import type { ConvertedEntry, MapConverter, MapShape } from './map-migration.ts';
import { placeSnatReservation } from './convert-snat.ts';

/** conntrack.h enum kpb_ct_flags bits the conversion looks at. */
const CT_REPLY = 1 << 2;
const CT_SNAT = 1 << 3;
const CT_DSR = 1 << 4;

export type ConntrackMapName = 'kpb_ct4' | 'kpb_ct6' | 'kpb_snat4' | 'kpb_snat6';

/** An old entry as its codec decodes it (struct kpb_ct_v1_key / kpb_ct_v1_value). */
export type LegacyKey = { src: Uint8Array; dst: Uint8Array; sport: number; dport: number; proto: number };
export type LegacyValue = {
  nat_src: Uint8Array; nat_dst: Uint8Array; nat_sport: number; nat_dport: number; flags: number;
  expires: bigint | number; service_id: number; backend_id: number; tunnel_dst: Uint8Array; tcp_state: number;
};

export type ConvertedConntrackEntry = { map: ConntrackMapName; key: Record<string, unknown>; value: Record<string, unknown> };

const isV4Mapped = (a: Uint8Array): boolean => a.subarray(0, 10).every((b) => b === 0) && a[10] === 0xff && a[11] === 0xff;
/** The __be32 of a v4-mapped address, as the codec takes a __be32 field (its network-order value). */
const be32 = (a: Uint8Array): number => Buffer.from(a.subarray(12, 16)).readUInt32BE(0);

/** The new entry for one old entry, or null for one that mixes families (never written). */
export function convertLegacyEntry(k: LegacyKey, v: LegacyValue): ConvertedConntrackEntry | null {
  const v4 = isV4Mapped(k.src);
  if (v4 !== isV4Mapped(k.dst)) return null;
  const snat = (v.flags & CT_REPLY) !== 0 && (v.flags & CT_SNAT) !== 0;
  const map = `${snat ? 'kpb_snat' : 'kpb_ct'}${v4 ? '4' : '6'}` as ConntrackMapName;
  const key = v4
    ? { src: be32(k.src), dst: be32(k.dst), sport: k.sport, dport: k.dport, proto: k.proto }
    : { src: Uint8Array.from(k.src), dst: Uint8Array.from(k.dst), sport: k.sport, dport: k.dport, proto: k.proto };
  const value = {
    nat_src: Uint8Array.from(v.nat_src),
    nat_dst: Uint8Array.from((v.flags & CT_DSR) !== 0 ? v.tunnel_dst : v.nat_dst),
    nat_sport: v.nat_sport, nat_dport: v.nat_dport,
    flags: v.flags & 0xffff, tcp_state: v.tcp_state,
    expires: Number(BigInt.asUintN(32, BigInt(v.expires))),
    service_id: v.service_id, backend_id: v.backend_id,
    // be_gen and nh stay 0: re-validated by the first packet.
  };
  return { map, key, value };
}

const OLD_KEY_FIELDS = ['src', 'dst', 'sport', 'dport', 'proto'];
const OLD_VALUE_FIELDS = ['nat_src', 'nat_dst', 'nat_sport', 'nat_dport', 'flags', 'expires', 'service_id', 'backend_id', 'tunnel_dst', 'tcp_state'];

/**
 * The converter map-migration.ts runs for a pinned kpb_ct: the old pin is opened with its own
 * BTF, so entries arrive decoded by field name. A pin of that name with another shape (or
 * without BTF) is not ours to guess at: the migration refuses it.
 */
export const LEGACY_CONNTRACK_CONVERTER: MapConverter = {
  from: 'kpb_ct',
  to: ['kpb_ct4', 'kpb_ct6', 'kpb_snat4', 'kpb_snat6'],
  describe: 'split by IP family into kpb_ct4/kpb_ct6, SNAT reservations into the slots of kpb_snat4/kpb_snat6',
  placesSlots: true,
  accepts(old: MapShape): boolean {
    const names = (l: MapShape['keyLayout']) => new Set((l?.fields ?? []).map((f) => f.name));
    const k = names(old.keyLayout);
    const v = names(old.valueLayout);
    return old.keySize === 40 && old.valueSize === 80 && OLD_KEY_FIELDS.every((f) => k.has(f)) && OLD_VALUE_FIELDS.every((f) => v.has(f));
  },
  convert(key: unknown, value: unknown, target?: (name: string) => BpfMap): ConvertedEntry | null {
    const e = convertLegacyEntry(key as LegacyKey, value as LegacyValue);
    if (e === null || (e.map !== 'kpb_snat4' && e.map !== 'kpb_snat6')) return e;
    if (!target) throw new TypeError('Converting kpb_ct needs the new maps: SNAT reservations are placed by the new table\'s size');
    return placeSnatReservation(target(e.map), e.key, e.value);
  },
};
