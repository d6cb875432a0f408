/**
 * @module
 * Upgrade of the SNAT port reservations into the reservation table of datapath/include/
 * conntrack.h: kpb_snat4/kpb_snat6 are arrays of slots { owner, key, v }, each reservation in the
 * slot its reply tuple hashes to (snat-slots.ts). Two older shapes are converted:
 * - the hash maps of the same names (key struct kpb_ct4_key/kpb_ct6_key, value struct
 *   kpb_ct_value) of the versions before the table;
 * - a table of another size (--bpf-map-snat changed): the slot index is the hash masked by the
 *   size, so every claimed slot is placed again.
 * A reservation keeps its tuple and value (a live flow's replies keep working). Two reservations
 * that hash to one slot cannot both stay: the second is dropped (counted in the migration's
 * report), and its flow's replies are no longer translated. A slot the new table already holds
 * (a flow the new programs reserved while the old ones still ran) is left alone.
 */
import type { BpfMap } from 'bpf-loader-napi';
import type { ConvertedEntry, MapConverter, MapShape } from './map-migration.ts';
import { claimedSnatSlots, encodeSnatSlot, isSnatSlotTable } from './snat-slots.ts';

const KEY_FIELDS = ['src', 'dst', 'sport', 'dport', 'proto'];
const VALUE_FIELDS = ['nat_src', 'nat_dst', 'nat_sport', 'nat_dport', 'flags', 'expires', 'service_id', 'backend_id', 'tcp_state'];

/** Slots given out by this conversion, per new map (a new map per migration). */
const placed = new WeakMap<BpfMap, Set<number>>();

const pick = (o: Record<string, unknown>, names: Set<string>) => Object.fromEntries(Object.entries(o).filter(([k]) => names.has(k)));

/**
 * The slot entry of reservation (reply tuple `key`, value `v`, decoded by the old map's codecs)
 * in the new table `to`, or null when its slot is taken (by this conversion or by the new
 * programs). Fields the new layout lacks are left out; fields the old one lacked start at zero.
 */
export function placeSnatReservation(to: BpfMap, key: Record<string, unknown>, v: Record<string, unknown>): ConvertedEntry | null {
  const layout = to.valueCodec?.layout.fields ?? [];
  const names = (f: string) => new Set((layout.find((x) => x.name === f)?.fields ?? []).map((x) => x.name));
  const { index, value } = encodeSnatSlot(to, pick(key, names('key')), pick(v, names('v')));
  let mine = placed.get(to);
  if (!mine) placed.set(to, (mine = new Set()));
  if (mine.has(index)) return null;
  const held = to.lookup(to.keyCodec!.encode(index)) as Buffer | undefined;
  if (held && held.some((b) => b !== 0)) return null;
  mine.add(index);
  return { map: to.name, key: index, value };
}

const fieldNames = (l: MapShape['keyLayout']) => new Set((l?.fields ?? []).map((f) => f.name));

/** The converter of kpb_snat4 or kpb_snat6 (`name`), from either older shape. */
function snatConverter(name: 'kpb_snat4' | 'kpb_snat6'): MapConverter {
  return {
    from: name,
    to: [name],
    describe: 'reservations placed in the slots of the reservation table (by the hash of their reply tuple)',
    placesSlots: true,
    entries(old: BpfMap): Iterable<[unknown, unknown]> {
      // A table: only its claimed slots are decoded (a whole table's decode takes seconds).
      return isSnatSlotTable(old) ? claimedSnatSlots(old).map((s) => [s.index, { owner: s.owner, key: s.key, v: s.v }]) : old.entries();
    },
    accepts(old: MapShape): boolean {
      const k = fieldNames(old.keyLayout);
      const v = fieldNames(old.valueLayout);
      if (old.type === 'hash') return KEY_FIELDS.every((f) => k.has(f)) && VALUE_FIELDS.every((f) => v.has(f));
      return old.type === 'array' && v.has('owner') && v.has('key') && v.has('v');
    },
    convert(key: unknown, value: unknown, target?: (name: string) => BpfMap): ConvertedEntry | ConvertedEntry[] | null {
      if (!target) throw new TypeError(`Converting ${name} needs the new maps: its entries are placed by the new table's size`);
      const val = value as Record<string, unknown>;
      if ('owner' in val) {
        if (BigInt(val.owner as bigint | number) === 0n) return []; // a free slot: nothing to carry, nothing lost
        return placeSnatReservation(target(name), val.key as Record<string, unknown>, val.v as Record<string, unknown>);
      }
      return placeSnatReservation(target(name), key as Record<string, unknown>, val);
    },
  };
}

export const SNAT_CONVERTERS: readonly MapConverter[] = [snatConverter('kpb_snat4'), snatConverter('kpb_snat6')];
