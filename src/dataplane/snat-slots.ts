/**
 * @module
 * The agent's side of the SNAT reservation table (datapath/include/conntrack.h, kpb_snat4 and
 * kpb_snat6): arrays of slots { owner, key, v }, where a reservation lives in the slot its reply
 * tuple hashes to. The agent needs the datapath's slot hash (kpb_snat4_hash/kpb_snat6_hash) to
 * place reservations converted from an earlier version's hash maps, the table size rule of
 * --bpf-map-snat (a power of two), and a reader of the claimed slots for `inspect` and tests. The
 * slot's layout (where `key` lies, its size) comes from the map's BTF codec, never from here.
 */
import type { BpfMap, FieldLayout } from 'bpf-loader-napi';
import { MAX_SNAT_SLOTS } from '../config/bpf-options.ts';

/** The reservation maps, IPv4 then IPv6. */
export const SNAT_SLOT_MAPS = ['kpb_snat4', 'kpb_snat6'] as const;


/** The table size for --bpf-map-snat=n: n rounded up to a power of two (the slot index is a mask of the hash). */
export function snatSlotCount(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_SNAT_SLOTS) throw new RangeError(`Invalid SNAT table size "${n}": must be an integer within [1, ${MAX_SNAT_SLOTS}]`);
  let slots = 1;
  while (slots < n) slots *= 2;
  return slots;
}

/** conntrack.h kpb_snat_mix: xor the word, multiply, fold the high bits down. */
function mix(h: number, w: number): number {
  h = Math.imul(h ^ w, 0x85ebca6b) >>> 0;
  return (h ^ (h >>> 13)) >>> 0;
}

/** conntrack.h kpb_snat4_hash/kpb_snat6_hash over a key's bytes, taken as little-endian 32-bit words. */
export function snatSlotHash(key: Uint8Array): number {
  if (key.length % 4 !== 0) throw new RangeError(`Expected a key of whole 32-bit words but received ${key.length} bytes`);
  const b = Buffer.from(key.buffer, key.byteOffset, key.length);
  let h = 0x9e3779b9;
  for (let o = 0; o < b.length; o += 4) h = mix(h, b.readUInt32LE(o));
  h = (h ^ (h >>> 16)) >>> 0;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** A reservation as decoded from its slot: the reply tuple and what it becomes (struct kpb_ct_value). */
export type SnatSlot = { index: number; owner: bigint; key: Record<string, unknown>; v: Record<string, unknown> };

function slotFields(map: BpfMap): { key: FieldLayout; owner: FieldLayout } {
  const fields = map.valueCodec?.layout.fields ?? [];
  const key = fields.find((x) => x.name === 'key');
  const owner = fields.find((x) => x.name === 'owner');
  if (!key || !owner || owner.size !== 8) {
    throw new TypeError(`Map "${map.name}" is not a SNAT slot table: its value has no BTF layout with a 64-bit "owner" and a "key"`);
  }
  return { key, owner };
}

/**
 * The slot index and the encoded slot for a reservation (reply tuple `key`, value `v`, as the
 * codecs of struct kpb_ct4_key/kpb_ct6_key and struct kpb_ct_value take them), claimed once.
 */
export function encodeSnatSlot(map: BpfMap, key: Record<string, unknown>, v: Record<string, unknown>): { index: number; value: Buffer } {
  const f = slotFields(map).key;
  const value = map.valueCodec!.encode({ owner: 1n, key, v });
  const slots = map.maxEntries;
  if ((slots & (slots - 1)) !== 0) throw new RangeError(`SNAT slot table "${map.name}" has ${slots} slots, not a power of two`);
  return { index: snatSlotHash(value.subarray(f.offset, f.offset + f.size)) & (slots - 1), value };
}

/** Whether `map` is a slot table (this version's kpb_snat4/6) rather than an earlier version's hash map. */
export function isSnatSlotTable(map: BpfMap): boolean {
  return map.valueCodec?.layout.fields?.some((x) => x.name === 'owner') === true && map.valueCodec.layout.fields.some((x) => x.name === 'key');
}

/** The claimed slots (owner != 0), read in chunks; only those are decoded. */
export function claimedSnatSlots(map: BpfMap, chunk = 4096): SnatSlot[] {
  const { owner } = slotFields(map);
  const out: SnatSlot[] = [];
  const stride = map.valueSize;
  for (const c of map.lookupPackedChunks(chunk)) {
    for (let i = 0; i < c.count; i++) {
      const off = i * stride;
      if (c.values.readBigUInt64LE(off + owner.offset) === 0n) continue;
      const d = map.valueCodec!.decode(c.values, off) as { owner: bigint | number; key: Record<string, unknown>; v: Record<string, unknown> };
      out.push({ index: c.keys.readUInt32LE(i * 4), owner: BigInt(d.owner), key: d.key, v: d.v });
    }
  }
  return out;
}
