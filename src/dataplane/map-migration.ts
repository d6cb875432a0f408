/**
 * @module
 * Migration of pinned maps (issue 11 item 2, architecture §4 "Restart and upgrade"): a restart with
 * other map sizes, or a version whose key/value layout changed, keeps the state of established
 * flows instead of refusing the pin or starting empty. In four steps:
 * 1. plan(), before any object loads: every pin in the pin folder is compared with the map the new
 *    objects declare under its name (type, sizes, flags, and the key/value layouts of the BTF the
 *    kernel keeps for the pin). Equal: adopted as is. Otherwise a converter is chosen: a copy when
 *    only max_entries or flags differ; a registered converter for the map (or for an old map that
 *    no longer exists under that name, e.g. one split in two); else a conversion by field name when
 *    the value only gained fields (missing ones start at zero); a program array is replaced (the
 *    load fills the new one with the new programs). None fits: a MigrationError that
 *    names the map and each difference, and nothing has been touched.
 * 2. moveAside(): each pin to migrate is renamed into <pin>/migrate/, so the load creates the new
 *    map at the usual path (the old one lives on while the old programs still use it).
 * 3. copy(), after the load and before any program is replaced: every entry is copied or converted
 *    into the new maps (in batches; an entry the new map refuses, because it is smaller, is counted
 *    as dropped, never fatal).
 * 4. finish(), once every program runs on the new maps (the agent calls it after the first sync
 *    that attached the devices and programmed the maps): entries the old programs created in
 *    datapath-written maps (conntrack, affinity, socket reverse NAT) since step 3 are copied once
 *    more (only where the new map has none), then the old pins are removed. Agent-written maps are
 *    not copied again: the first full sync has already made them right.
 * A migration cut short (the agent died between steps) is picked up at the next start: a pin left
 * in migrate/ is copied again (new entries only), and restored first if its new map was never made.
 */
import { existsSync, readdirSync, renameSync, unlinkSync } from 'node:fs';
import { openMapById, openPinnedMap, type BpfMap, type Layout, type MapSpec } from 'bpf-loader-napi';
import { checkPin } from './pin-folder.ts';

/** What a map looks like: the object's spec, or a pin's kernel info plus its BTF layouts. */
export type MapShape = {
  name: string;
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  keyLayout?: Layout | undefined;
  valueLayout?: Layout | undefined;
};

/** One converted entry: where it goes and what it is (decoded objects, or raw Buffers). */
export type ConvertedEntry = { map: string; key: unknown; value: unknown };

/**
 * How the entries of one old pinned map become entries of the new objects' maps. Registered per
 * old map name; the old map is opened with its own BTF layouts, so `convert` gets decoded keys and
 * values (Buffers when the pin has no BTF) and may return decoded objects for the target's codec.
 */
export interface MapConverter {
  /** The old pinned map's name. */
  from: string;
  /** The new maps it writes into (maps the new objects declare). */
  to: readonly string[];
  /** Whether this converter understands the old map; false makes the migration refuse it. */
  accepts(old: MapShape): boolean;
  /**
   * The new entry (or entries) for one old entry; none drops it. `target(name)` gives a new map
   * (a converter that places entries by the new map's size or contents needs it; the migration
   * always passes it).
   */
  convert(key: unknown, value: unknown, target?: (name: string) => BpfMap): ConvertedEntry | ConvertedEntry[] | null;
  /**
   * The converter itself returns nothing for an array slot the new map already holds, so its
   * entries into arrays are written even where only new keys may be (an array's entries always
   * exist: a write that must not replace would never write).
   */
  placesSlots?: boolean;
  /**
   * How to read the old map's entries, when not every entry needs decoding (an array's free slots
   * are most of it, and decoding each costs ~25 us). @default every entry, decoded
   */
  entries?(old: BpfMap): Iterable<[unknown, unknown]>;
  /** What the conversion is, for the log ("split by family", ...). */
  describe: string;
}

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

type Kind = 'copy' | 'convert' | 'by-name' | 'replace' | 'orphan';

type Item = {
  name: string;
  kind: Kind;
  why: string;
  old: MapShape;
  /** Open handle of the old map (with its BTF layouts) while the migration runs. */
  map: BpfMap;
  converter?: MapConverter;
  /** Where the old pin lives during the migration: under migrate/, or its own place (an orphan). */
  aside: string;
  /** Picked up from a previous run's migrate/ folder. */
  resumed: boolean;
};

export type MigrationReport = { map: string; kind: Kind; why: string; copied: number; dropped: number; into: string[] };

const PAD = /^(_?pad\d*|__pad\d*|reserved\d*)$/;

function shapeOfSpec(s: MapSpec): MapShape {
  return { name: s.name, type: s.type, keySize: s.keySize, valueSize: s.valueSize, maxEntries: s.maxEntries, flags: s.flags, keyLayout: s.keyLayout, valueLayout: s.valueLayout };
}

/** Opens a pinned map with the layouts of its own BTF; returns the handle and its shape. */
function openPin(path: string, name: string): { map: BpfMap; shape: MapShape } {
  const probe = openPinnedMap(path);
  let layouts: { key?: Layout; value?: Layout };
  try {
    layouts = probe.btfLayouts();
  } finally {
    probe.close();
  }
  const map = openPinnedMap(path, { keyLayout: layouts.key, valueLayout: layouts.value });
  const info = map.info();
  return {
    map,
    shape: { name, type: info.type, keySize: info.keySize, valueSize: info.valueSize, maxEntries: info.maxEntries, flags: info.flags, keyLayout: layouts.key, valueLayout: layouts.value },
  };
}

/**
 * Layouts equal in what matters for bytes: sizes, kinds, field names and offsets (type names may
 * differ). A side without BTF (libbpf creates map-in-map outer maps without it) cannot differ by
 * layout; its sizes are compared elsewhere.
 */
function sameLayout(a: Layout | undefined, b: Layout | undefined): boolean {
  if (a === undefined || b === undefined) return true;
  if (a.size !== b.size || a.kind !== b.kind || (a.elemCount ?? 0) !== (b.elemCount ?? 0)) return false;
  if (a.elem || b.elem) if (!sameLayout(a.elem, b.elem)) return false;
  const fa = a.fields ?? [];
  const fb = b.fields ?? [];
  if (fa.length !== fb.length) return false;
  return fa.every((f, i) => f.name === fb[i]!.name && f.offset === fb[i]!.offset && (f.bitOffset ?? 0) === (fb[i]!.bitOffset ?? 0) && (f.bitSize ?? 0) === (fb[i]!.bitSize ?? 0) && sameLayout(f, fb[i]));
}

/** The differences between a pin and what the objects want, for messages. */
export function describeDifferences(old: MapShape, want: MapShape): string[] {
  const d: string[] = [];
  if (old.type !== want.type) d.push(`type ${old.type} -> ${want.type}`);
  if (old.keySize !== want.keySize) d.push(`key size ${old.keySize} -> ${want.keySize}`);
  if (old.valueSize !== want.valueSize) d.push(`value size ${old.valueSize} -> ${want.valueSize}`);
  if (old.maxEntries !== want.maxEntries) d.push(`max entries ${old.maxEntries} -> ${want.maxEntries}`);
  if (old.flags !== want.flags) d.push(`flags 0x${old.flags.toString(16)} -> 0x${want.flags.toString(16)}`);
  if (old.keySize === want.keySize && !sameLayout(old.keyLayout, want.keyLayout)) d.push('key layout');
  if (old.valueSize === want.valueSize && !sameLayout(old.valueLayout, want.valueLayout)) d.push('value layout');
  return d;
}

/**
 * Why a conversion by field name is impossible, or null when it is possible: same type and key,
 * every old value field (padding aside) has a field of the same name, kind and size in the new
 * value (the new one may have more, which start at zero).
 */
export function byNameObstacle(old: MapShape, want: MapShape): string | null {
  if (old.type !== want.type) return `the map type changed (${old.type} -> ${want.type})`;
  if (!old.keyLayout || !want.keyLayout || !old.valueLayout || !want.valueLayout) return 'the old or the new map has no BTF layout';
  if (!sameLayout(old.keyLayout, want.keyLayout)) return 'the key layout changed';
  if (old.valueLayout.kind !== 'struct' || want.valueLayout.kind !== 'struct') return 'the value is not a struct';
  for (const f of old.valueLayout.fields ?? []) {
    if (PAD.test(f.name)) continue;
    const n = (want.valueLayout.fields ?? []).find((x) => x.name === f.name);
    if (!n) return `value field "${f.name}" is gone`;
    if (n.size !== f.size || n.kind !== f.kind || !sameLayout({ ...f, name: '' }, { ...n, name: '', offset: f.offset } as Layout)) return `value field "${f.name}" changed its type`;
  }
  return null;
}

/** Whole-entry copy: the same bytes (a map-in-map value is an inner map id, written back as its fd). */
const MAP_IN_MAP = new Set(['hash_of_maps', 'array_of_maps']);

export type MigrationInput = {
  pinPath: string;
  /** The pinned-by-name maps of the new objects (after resizing), by name. */
  wanted: ReadonlyMap<string, MapSpec>;
  converters: readonly MapConverter[];
  /** Maps the datapath writes (copied once more by finish()). */
  datapathWritten: ReadonlySet<string>;
};

export class MapMigration {
  readonly #pinPath: string;
  readonly #items: Item[];
  readonly #datapathWritten: ReadonlySet<string>;
  #reports: MigrationReport[] = [];

  private constructor(pinPath: string, items: Item[], datapathWritten: ReadonlySet<string>) {
    this.#pinPath = pinPath;
    this.#items = items;
    this.#datapathWritten = datapathWritten;
  }

  /** The maps this migration handles (empty when every pin is adopted as is). */
  get items(): readonly { name: string; kind: Kind; why: string; resumed: boolean }[] {
    return this.#items.map(({ name, kind, why, resumed }) => ({ name, kind, why, resumed }));
  }

  /**
   * Step 1: compares every pin with the objects' maps and decides, or throws MigrationError (with
   * every refusal listed) before anything changed. Pins are checked (pin-folder.ts) before opening.
   */
  static plan(input: MigrationInput): MapMigration {
    const { pinPath, wanted, converters } = input;
    const items: Item[] = [];
    const refusals: string[] = [];
    const migrateDir = `${pinPath}/migrate`;
    const opened: BpfMap[] = [];
    /** A free name under migrate/ for `name` (a resumed pin may already hold the plain one). */
    const asideFor = (name: string): string => {
      let p = `${migrateDir}/${name}`;
      for (let n = 1; existsSync(p) || items.some((i) => i.aside === p); n++) p = `${migrateDir}/${name}@${n}`;
      return p;
    };
    const decide = (name: string, path: string, resumed: boolean): void => {
      checkPin(path);
      const { map, shape } = openPin(path, name);
      opened.push(map);
      const want = wanted.get(name);
      if (want && !resumed && describeDifferences(shape, shapeOfSpec(want)).length === 0) {
        map.close();
        opened.pop();
        return;
      }
      const conv = converters.find((c) => c.from === name && c.accepts(shape));
      // Orphans are not moved: finish() removes them where they are.
      const item = { name, old: shape, map, aside: resumed || (!want && !conv) ? path : asideFor(name), resumed };
      if (!want) {
        if (conv) items.push({ ...item, kind: 'convert', why: conv.describe, converter: conv });
        else items.push({ ...item, kind: 'orphan', why: 'the new version has no map of this name' });
        return;
      }
      const diffs = describeDifferences(shape, shapeOfSpec(want));
      const why = diffs.length > 0 ? diffs.join(', ') : 'left by an unfinished migration';
      const layoutsEqual = shape.type === want.type && shape.keySize === want.keySize && shape.valueSize === want.valueSize
        && sameLayout(shape.keyLayout, want.keyLayout) && sameLayout(shape.valueLayout, want.valueLayout);
      if (conv) items.push({ ...item, kind: 'convert', why: `${why} (${conv.describe})`, converter: conv });
      // A program array's values are program ids of the old version: the load fills the new one
      // with its own programs, and the old one stays (aside) for the old programs until finish().
      else if (shape.type === 'prog_array' && want.type === 'prog_array') items.push({ ...item, kind: 'replace', why: `${why} (filled by the new programs)` });
      else if (layoutsEqual) items.push({ ...item, kind: 'copy', why });
      else {
        const obstacle = byNameObstacle(shape, shapeOfSpec(want));
        if (obstacle === null) items.push({ ...item, kind: 'by-name', why: `${why} (converted by field name; new fields start at zero)` });
        else refusals.push(`pinned map "${name}" at ${path} differs (${why}) and cannot be converted: ${obstacle}, and no converter for it is registered`);
      }
    };
    try {
      // A previous migration cut short: its pins are resumed, or put back when their new map was
      // never made (the agent stopped between moveAside() and the load).
      const leftovers = existsSync(migrateDir) ? readdirSync(migrateDir).sort() : [];
      for (const file of leftovers) {
        const name = file.split('@')[0]!;
        const aside = `${migrateDir}/${file}`;
        if (!existsSync(`${pinPath}/${name}`) && wanted.has(name)) {
          renameSync(aside, `${pinPath}/${name}`);
          continue;
        }
        decide(name, aside, true);
      }
      for (const entry of readdirSync(pinPath, { withFileTypes: true })) {
        if (!entry.isDirectory()) decide(entry.name, `${pinPath}/${entry.name}`, false);
      }
    } catch (err) {
      for (const m of opened) m.close();
      throw err;
    }
    // The freshest state last: entries of this run's pins overwrite, resumed ones only fill gaps.
    items.sort((a, b) => Number(a.resumed) - Number(b.resumed));
    if (refusals.length > 0) {
      for (const m of opened) m.close();
      throw new MigrationError(`Refuse to adopt the pinned maps in ${pinPath}: ${refusals.join('; ')}. Remove those pins (their state is lost: established flows through them are re-selected) or run a version that can convert them`);
    }
    return new MapMigration(pinPath, items, input.datapathWritten);
  }

  /** Step 2: moves the pins to migrate into <pin>/migrate/ (orphans stay until finish()). */
  moveAside(): void {
    for (const it of this.#items) {
      if (it.aside !== `${this.#pinPath}/${it.name}`) {
        if (!it.resumed) renameSync(`${this.#pinPath}/${it.name}`, it.aside);
      }
    }
  }

  /**
   * Step 3 (after the new objects loaded, before their programs replace the old ones): copies or
   * converts every entry into the new maps. `target(name)` gives a new map by name.
   */
  copy(target: (name: string) => BpfMap): MigrationReport[] {
    this.#reports = this.#items.filter((it) => it.kind !== 'orphan' && it.kind !== 'replace').map((it) => this.#transfer(it, target, it.resumed ? 'noexist' : 'any'));
    return this.#reports;
  }

  /**
   * Step 4 (every program now runs on the new maps): copies what the old programs created in
   * datapath-written maps since copy() (only keys the new maps lack), then removes the old pins.
   * Returns per map how many late entries were copied.
   */
  finish(target: (name: string) => BpfMap): { map: string; late: number; removed: string }[] {
    const out: { map: string; late: number; removed: string }[] = [];
    for (const it of this.#items) {
      let late = 0;
      if (it.kind !== 'orphan' && it.kind !== 'replace' && this.#datapathWritten.has(it.name)) late = this.#transfer(it, target, 'noexist').copied;
      it.map.close();
      if (existsSync(it.aside)) unlinkSync(it.aside);
      out.push({ map: it.name, late, removed: it.aside });
    }
    this.#items.length = 0;
    return out;
  }

  /** Releases the old maps' handles without removing anything (the agent stops before finish()). */
  close(): void {
    for (const it of this.#items) it.map.close();
  }

  #transfer(it: Item, target: (name: string) => BpfMap, flags: 'any' | 'noexist'): MigrationReport {
    const byMap = new Map<string, { keys: unknown[]; values: unknown[] }>();
    const into = new Set<string>();
    let dropped = 0;
    const add = (e: ConvertedEntry) => {
      let b = byMap.get(e.map);
      if (!b) byMap.set(e.map, (b = { keys: [], values: [] }));
      b.keys.push(e.key);
      b.values.push(e.value);
      into.add(e.map);
    };
    const inMap = MAP_IN_MAP.has(it.old.type);
    const inners: BpfMap[] = [];
    try {
      if (it.kind === 'convert') {
        for (const [k, v] of it.converter!.entries?.(it.map) ?? it.map.entries()) {
          const r = it.converter!.convert(k, v, target);
          if (r === null) dropped++;
          else for (const e of Array.isArray(r) ? r : [r]) add(e);
        }
      } else if (it.kind === 'by-name') {
        const keep = new Set((target(it.name).valueCodec?.layout.fields ?? []).map((f) => f.name));
        for (const [k, v] of it.map.entries()) {
          const value = Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([f]) => keep.has(f)));
          add({ map: it.name, key: k, value });
        }
      } else {
        for (const [k, v] of it.map.entries({ raw: true })) {
          if (!inMap) {
            add({ map: it.name, key: k, value: v });
            continue;
          }
          // The value of a map-in-map is the inner map's id; an update wants its fd.
          const inner = openMapById((v as Buffer).readUInt32LE(0));
          inners.push(inner);
          const fd = Buffer.alloc(4);
          fd.writeUInt32LE(inner.fd);
          add({ map: it.name, key: k, value: fd });
        }
      }
      let copied = 0;
      for (const [name, b] of byMap) {
        const to = target(name);
        const r = writeAll(to, b.keys, b.values, it.converter?.placesSlots && to.type === 'array' ? 'any' : flags);
        copied += r.written;
        dropped += r.failed;
      }
      return { map: it.name, kind: it.kind, why: it.why, copied, dropped, into: [...into] };
    } finally {
      for (const m of inners) m.close();
    }
  }
}

/** Writes in batches of 4096; a batch the kernel refuses is retried entry by entry. */
function writeAll(map: BpfMap, keys: unknown[], values: unknown[], flags: 'any' | 'noexist'): { written: number; failed: number } {
  let written = 0;
  let failed = 0;
  for (let i = 0; i < keys.length; i += 4096) {
    const ks = keys.slice(i, i + 4096);
    const vs = values.slice(i, i + 4096);
    try {
      if (flags === 'any') {
        written += map.updateBatch(ks, vs, 'any');
        continue;
      }
    } catch {
      // fall through to one by one (a full map, or an entry the new map refuses)
    }
    for (let j = 0; j < ks.length; j++) {
      try {
        map.update(ks[j], vs[j], flags);
        written++;
      } catch (err) {
        // noexist: the new map already has the entry, fresher than the old one.
        if (!(flags === 'noexist' && (err as { code?: string }).code === 'EEXIST')) failed++;
      }
    }
  }
  return { written, failed };
}
