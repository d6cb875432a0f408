/**
 * @module
 * diff(wanted, applied) -> the ordered writes that turn the applied map contents into the wanted
 * ones without ever exposing a half-written service to the datapath (architecture §4,
 * "Consistency when updating"):
 *   1. upsert backends, then slots, then reverse NAT, Maglev tables, source ranges and node
 *      addresses: everything a service entry may point at exists before it does;
 *   2. upsert service entries (internal scope before external, so an external entry flagged
 *      TWO_SCOPES never lacks its internal twin); a changed backend_count switches traffic
 *      atomically, and a shrink lowers the count here, before its trailing slots go;
 *   3. delete service entries (external before internal), then slots, reverse NAT, Maglev
 *      tables and source ranges, then backends nobody points at, then node addresses.
 */
import { LB_SCOPE_INTERNAL, type LbEntry, type LbMapName, type LbServiceKey, type LbState } from '../translate/lb-types.ts';

export type LbOp = {
  kind: 'update' | 'delete';
  map: LbMapName;
  /** Canonical key string (entryKey). */
  keyString: string;
  key: unknown;
  /** For updates. */
  value?: unknown;
  /** Services ("namespace/name") the entry belongs to; empty for shared or adopted entries. */
  owners: string[];
};

/** Deep equality for map values: numbers, byte/word arrays (Buffer included) and plain objects. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    const x = a as unknown as ArrayLike<number>;
    const y = b as unknown as ArrayLike<number>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  }
  if (typeof a === 'bigint' || typeof b === 'bigint') return BigInt(a as number) === BigInt(b as number);
  if (a && b && typeof a === 'object' && typeof b === 'object' && !ArrayBuffer.isView(a) && !ArrayBuffer.isView(b)) {
    const ka = Object.keys(a as object);
    const kb = Object.keys(b as object);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => Object.hasOwn(b as object, k) && sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return false;
}

const isInternal = (e: LbEntry) => (e.key as LbServiceKey).scope === LB_SCOPE_INTERNAL;

/**
 * The ordered ops; an empty list means the maps already hold the wanted contents. With `only`,
 * just those keys per map are compared (the keys an incremental translate touched; the caller
 * vouches that every other key already holds its wanted value).
 */
export function diff(wanted: LbState, applied: LbState, only?: ReadonlyMap<LbMapName, ReadonlySet<string>>): LbOp[] {
  const keysOf = (map: LbMapName, side: LbState): Iterable<string> => only ? only.get(map) ?? [] : (side[map] as Map<string, LbEntry>).keys();
  const upserts = (map: LbMapName, order?: (e: LbEntry) => number): LbOp[] => {
    const out: { op: LbOp; rank: number }[] = [];
    for (const k of keysOf(map, wanted)) {
      const e = (wanted[map] as Map<string, LbEntry>).get(k);
      if (!e) continue;
      const have = (applied[map] as Map<string, LbEntry>).get(k);
      if (have && sameValue(have.value, e.value)) continue;
      out.push({ op: { kind: 'update', map, keyString: k, key: e.key, value: e.value, owners: e.owners }, rank: order ? order(e) : 0 });
    }
    return out.sort((a, b) => a.rank - b.rank).map((x) => x.op);
  };
  const deletes = (map: LbMapName, order?: (e: LbEntry) => number): LbOp[] => {
    const out: { op: LbOp; rank: number }[] = [];
    for (const k of keysOf(map, applied)) {
      const e = (applied[map] as Map<string, LbEntry>).get(k);
      if (!e || (wanted[map] as Map<string, LbEntry>).has(k)) continue;
      out.push({ op: { kind: 'delete', map, keyString: k, key: e.key, owners: e.owners }, rank: order ? order(e) : 0 });
    }
    return out.sort((a, b) => a.rank - b.rank).map((x) => x.op);
  };
  return [
    ...upserts('lb_backends'),
    ...upserts('lb_slots'),
    ...upserts('lb_rev_nat'),
    ...upserts('lb_maglev'),
    ...upserts('lb_src_ranges'),
    ...upserts('lb_node_addrs'),
    ...upserts('lb_services', (e) => (isInternal(e) ? 0 : 1)),
    ...deletes('lb_services', (e) => (isInternal(e) ? 1 : 0)),
    ...deletes('lb_slots'),
    ...deletes('lb_rev_nat'),
    ...deletes('lb_maglev'),
    ...deletes('lb_src_ranges'),
    ...deletes('lb_backends'),
    ...deletes('lb_node_addrs'),
  ];
}
