/**
 * BpfMap: synchronous map operations. Keys and values are either raw bytes (Buffer/Uint8Array in,
 * Buffer out) or plain JS values encoded through the map's StructCodecs (object in, object out).
 * Per-CPU maps hold one value per possible CPU: decoded values are arrays, raw values are the
 * kernel's packed buffer (each CPU's slot rounded up to 8 bytes).
 *
 * Lifetime: a BpfMap owns one fd. close() releases it (the map itself lives on while pinned or used
 * by a program); an unreachable BpfMap is closed by the garbage collector, and all are closed when
 * the Node environment exits.
 * @module
 */
import { native, type Handle } from './binding.ts';
import { StructCodec, scalarLayout, type Layout } from './codec.ts';
import { checkString, invalidParameterError, isBytes } from './errors.ts';

/** Update flags: any (create or replace), noexist (create only), exist (replace only). */
export type UpdateFlag = 'any' | 'noexist' | 'exist';
const FLAGS: Record<UpdateFlag, number> = { any: 0, noexist: 1, exist: 2 };

const PERCPU = new Set(['percpu_hash', 'percpu_array', 'lru_percpu_hash', 'percpu_cgroup_storage']);

/** Optional layouts for a map opened without its object (openPinnedMap). */
export interface MapLayouts {
  keyLayout?: Layout | undefined;
  valueLayout?: Layout | undefined;
}

/** Kernel-reported facts about a map. */
export interface MapInfo {
  id: number;
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
}

function flagValue(flags: UpdateFlag | undefined): number {
  if (flags === undefined) return 0;
  const v = FLAGS[flags];
  if (v === undefined) throw invalidParameterError('flags', "'any', 'noexist' or 'exist'", flags);
  return v;
}

export class BpfMap {
  readonly name: string;
  readonly type: string;
  readonly keySize: number;
  /** Size of one value as declared (one CPU's share for per-CPU maps). */
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly perCpu: boolean;
  /** Number of per-CPU slots in a value (1 for other maps). */
  readonly cpus: number;
  readonly keyCodec: StructCodec | undefined;
  readonly valueCodec: StructCodec | undefined;
  readonly #h: Handle;
  readonly #valueBufferSize: number;
  /** @internal */
  get handle(): Handle {
    return this.#h;
  }
  #closed = false;

  /** @internal Built by Collection and openPinnedMap. */
  constructor(handle: Handle, name: string, layouts: MapLayouts = {}) {
    this.#h = handle;
    const info = native.mapInfo(handle);
    this.name = name || info.name;
    this.type = info.type;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.flags = info.flags;
    this.perCpu = PERCPU.has(info.type);
    this.cpus = this.perCpu ? native.numPossibleCpus() : 1;
    this.#valueBufferSize = info.valueBufferSize;
    const kl = layouts.keyLayout ?? scalarLayout(info.keySize);
    const vl = layouts.valueLayout ?? scalarLayout(info.valueSize);
    this.keyCodec = kl && kl.size === info.keySize ? new StructCodec(kl) : undefined;
    this.valueCodec = vl && vl.size === info.valueSize ? new StructCodec(vl) : undefined;
  }

  /** The kernel fd (e.g. to store this map as a hash-of-maps value). */
  get fd(): number {
    return native.fd(this.#h);
  }

  #key(key: unknown): Uint8Array {
    if (isBytes(key)) {
      if (key.length !== this.keySize) throw new RangeError(`Expected key of ${this.keySize} bytes for map "${this.name}" but received ${key.length}`);
      return key;
    }
    if (!this.keyCodec) throw invalidParameterError('key', `a Buffer of ${this.keySize} bytes (map "${this.name}" has no key layout)`, key);
    return this.keyCodec.encode(key);
  }

  #value(value: unknown): Uint8Array {
    if (isBytes(value)) {
      if (value.length !== this.#valueBufferSize) {
        throw new RangeError(`Expected value of ${this.#valueBufferSize} bytes for map "${this.name}" but received ${value.length}`);
      }
      return value;
    }
    const codec = this.valueCodec;
    if (!codec) throw invalidParameterError('value', `a Buffer of ${this.#valueBufferSize} bytes (map "${this.name}" has no value layout)`, value);
    if (!this.perCpu) return codec.encode(value);
    // One value per CPU, or one value copied to every CPU.
    const slot = (this.valueSize + 7) & ~7;
    const buf = Buffer.alloc(this.#valueBufferSize);
    const values = Array.isArray(value) ? value : Array.from({ length: this.cpus }, () => value);
    if (values.length !== this.cpus) throw new RangeError(`Expected ${this.cpus} per-CPU values for map "${this.name}" but received ${values.length}`);
    values.forEach((v, i) => codec.encodeInto(buf, i * slot, v));
    return buf;
  }

  #decodeValue(buf: Buffer, offset = 0): unknown {
    const codec = this.valueCodec!;
    if (!this.perCpu) return codec.decode(buf, offset);
    const slot = (this.valueSize + 7) & ~7;
    return Array.from({ length: this.cpus }, (_, i) => codec.decode(buf, offset + i * slot));
  }

  #decodeKey(buf: Buffer, offset = 0): unknown {
    return this.keyCodec!.decode(buf, offset);
  }

  /** The value for `key`, or undefined. Bytes in -> Buffer out; a JS value in -> decoded value out. */
  lookup(key: Uint8Array): Buffer | undefined;
  lookup(key: unknown): unknown;
  lookup(key: unknown): unknown {
    const raw = isBytes(key);
    const v = native.mapLookup(this.#h, this.#key(key));
    if (v === undefined || raw || !this.valueCodec) return v;
    return this.#decodeValue(v);
  }

  /** Create or replace an entry. @param flags default 'any' */
  update(key: unknown, value: unknown, flags?: UpdateFlag): void {
    native.mapUpdate(this.#h, this.#key(key), this.#value(value), flagValue(flags));
  }

  /** Remove an entry; false when it did not exist. */
  delete(key: unknown): boolean {
    return native.mapDelete(this.#h, this.#key(key));
  }

  /** Write many entries in one syscall where the kernel supports it, else one by one. */
  updateBatch(keys: readonly unknown[], values: readonly unknown[], flags?: UpdateFlag): number {
    if (!Array.isArray(keys)) throw invalidParameterError('keys', 'an array', keys);
    if (!Array.isArray(values)) throw invalidParameterError('values', 'an array', values);
    if (keys.length !== values.length) throw new RangeError(`Expected as many values as keys (${keys.length}) but received ${values.length}`);
    if (keys.length === 0) return 0;
    const kb = Buffer.concat(keys.map((k) => this.#key(k)));
    const vb = Buffer.concat(values.map((v) => this.#value(v)));
    return native.mapUpdateBatch(this.#h, kb, vb, flagValue(flags));
  }

  /** Remove many entries; returns how many existed. */
  deleteBatch(keys: readonly unknown[]): number {
    if (!Array.isArray(keys)) throw invalidParameterError('keys', 'an array', keys);
    if (keys.length === 0) return 0;
    return native.mapDeleteBatch(this.#h, Buffer.concat(keys.map((k) => this.#key(k))));
  }

  /**
   * Write entries laid out back to back as the kernel expects them (`keys`: n × keySize bytes,
   * `values`: n × the value buffer size), in one syscall where the kernel supports it; nothing is
   * copied or encoded, so callers can fill preallocated buffers at fixed offsets.
   */
  updatePacked(keys: Uint8Array, values: Uint8Array, flags?: UpdateFlag): number {
    if (!isBytes(keys)) throw invalidParameterError('keys', 'a Buffer of packed keys', keys);
    if (!isBytes(values)) throw invalidParameterError('values', 'a Buffer of packed values', values);
    return native.mapUpdateBatch(this.#h, keys, values, flagValue(flags));
  }

  /** Remove entries whose keys are packed back to back; returns how many existed. */
  deletePacked(keys: Uint8Array): number {
    if (!isBytes(keys)) throw invalidParameterError('keys', 'a Buffer of packed keys', keys);
    return native.mapDeleteBatch(this.#h, keys);
  }

  /** Every entry, packed as the kernel returns them: `count` keys and values back to back. */
  lookupPacked(): { keys: Buffer; values: Buffer; count: number } {
    return native.mapLookupBatch(this.#h);
  }

  /**
   * Every entry, packed like lookupPacked(), in chunks of about `max` entries (more when one hash
   * bucket holds more), so a large map is read with other work between the chunks. Entries
   * written or deleted between two chunks may or may not be seen (the kernel's batch walk).
   */
  *lookupPackedChunks(max = 256): Generator<{ keys: Buffer; values: Buffer; count: number }, void, void> {
    if (!Number.isInteger(max) || max < 1) throw invalidParameterError('max', 'a positive integer', max);
    let token: Buffer | null = null;
    for (let first = true; first || token !== null; first = false) {
      const c: { keys: Buffer; values: Buffer; count: number; token: Buffer | null } = native.mapLookupBatchChunk(this.#h, token, max);
      token = c.token;
      yield { keys: c.keys, values: c.values, count: c.count };
    }
  }

  /**
   * Every entry in chunks of about `max` (lookupPackedChunks()), with only the named key and value
   * members decoded (StructCodec.picker), and the keys also packed as the kernel returned them (for
   * deletePacked): a scan of a large map that needs a few fields is several times faster than
   * decoding whole entries. Needs both layouts and one value per entry (not per-CPU).
   */
  *pickedChunks(max: number, fields: { key: readonly string[]; value: readonly string[] }): Generator<{ keys: Buffer; entries: Array<[Record<string, unknown>, Record<string, unknown>]> }, void, void> {
    if (!this.keyCodec || !this.valueCodec || this.perCpu) {
      throw new TypeError(`Read chosen members of map "${this.name}" failed: it needs key and value layouts and one value per entry`);
    }
    const pk = this.keyCodec.picker(fields.key);
    const pv = this.valueCodec.picker(fields.value);
    for (const c of this.lookupPackedChunks(max)) {
      const entries: Array<[Record<string, unknown>, Record<string, unknown>]> = [];
      for (let i = 0; i < c.count; i++) entries.push([pk(c.keys, i * this.keySize), pv(c.values, i * this.#valueBufferSize)]);
      yield { keys: c.keys, entries };
    }
  }

  /** Every entry, read in batches where the kernel supports it. Decoded when layouts are known. */
  lookupBatch(options: { raw?: boolean } = {}): Array<[unknown, unknown]> {
    const { keys, values, count } = native.mapLookupBatch(this.#h);
    return this.#unpack(keys, values, count, options);
  }

  #unpack(keys: Buffer, values: Buffer, count: number, options: { raw?: boolean }): Array<[unknown, unknown]> {
    const decode = !options.raw && this.keyCodec && this.valueCodec;
    const out: Array<[unknown, unknown]> = [];
    for (let i = 0; i < count; i++) {
      const ko = i * this.keySize;
      const vo = i * this.#valueBufferSize;
      out.push(decode
        ? [this.#decodeKey(keys, ko), this.#decodeValue(values, vo)]
        : [Buffer.from(keys.subarray(ko, ko + this.keySize)), Buffer.from(values.subarray(vo, vo + this.#valueBufferSize))]);
    }
    return out;
  }

  /** Every entry (see lookupBatch). */
  entries(options: { raw?: boolean } = {}): Iterable<[unknown, unknown]> {
    return this.lookupBatch(options);
  }

  /** Keys one at a time with get_next_key (raw Buffers unless a key layout is known). */
  *keys(options: { raw?: boolean } = {}): Generator<unknown> {
    let prev: Buffer | null = null;
    // A hash walk can restart when entries are deleted meanwhile; bound it.
    for (let i = 0; i <= this.maxEntries * 2 + 64; i++) {
      const next = native.mapNextKey(this.#h, prev);
      if (!next) return;
      yield !options.raw && this.keyCodec ? this.#decodeKey(next) : next;
      prev = next;
    }
  }

  /** Pin the map at a bpffs path. */
  pin(path: string): void {
    checkString('path', path);
    native.mapPin(this.#h, path);
  }

  info(): MapInfo {
    const { valueBufferSize: _v, ...info } = native.mapInfo(this.#h);
    return info;
  }

  /**
   * The key and value layouts of the BTF the kernel keeps for this map (from the object that
   * created it), whatever layouts this handle was opened with; empty when it has none.
   */
  btfLayouts(): { key?: Layout; value?: Layout } {
    return native.mapBtfLayouts(this.#h);
  }

  /** Release the fd; further use throws BpfError EBADF. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    native.close(this.#h);
  }
}

/** Open a map pinned in bpffs. Layouts make object keys/values possible. */
export function openPinnedMap(path: string, layouts: MapLayouts = {}): BpfMap {
  checkString('path', path);
  return new BpfMap(native.mapOpenPinned(path), '', layouts);
}

/** Open a map by its kernel id (e.g. the inner map a map-in-map entry holds). */
export function openMapById(id: number, layouts: MapLayouts = {}): BpfMap {
  if (!Number.isInteger(id) || id < 1 || id > 0xffffffff) throw new RangeError(`Expected id between 1 and 4294967295 but received ${id}`);
  return new BpfMap(native.mapOpenById(id), '', layouts);
}

/** What createMap needs; a MapSpec (e.g. `spec.innerMap` of a hash-of-maps) fits as is. */
export interface CreateMapOptions extends MapLayouts {
  /** libbpf's map type name: 'array', 'hash', 'lru_hash', 'hash_of_maps', … */
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** BPF_F_* map flags. @default 0 */
  flags?: number | undefined;
  /** Kernel-visible name (at most 15 characters). @default no name */
  name?: string | undefined;
  /** Template for a map-in-map's values (required by the kernel for *_of_maps types). */
  innerTemplate?: BpfMap | undefined;
}

/** Create a map at run time, e.g. a new inner map to swap into a hash-of-maps atomically. */
export function createMap(options: CreateMapOptions): BpfMap {
  if (typeof options !== 'object' || options === null) throw invalidParameterError('options', 'an object', options);
  const { type, keySize, valueSize, maxEntries, flags = 0, name, innerTemplate, keyLayout, valueLayout } = options;
  checkString('type', type);
  for (const [k, v] of [['keySize', keySize], ['valueSize', valueSize], ['maxEntries', maxEntries], ['flags', flags]] as const) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) throw invalidParameterError(k, 'an unsigned 32-bit integer', v);
  }
  if (name !== undefined) {
    checkString('name', name);
    if (name.length > 15) throw new RangeError(`Expected name of at most 15 characters but received '${name}'`);
  }
  if (innerTemplate !== undefined && !(innerTemplate instanceof BpfMap)) throw invalidParameterError('innerTemplate', 'a BpfMap', innerTemplate);
  const h = native.mapCreate(type, keySize, valueSize, maxEntries, flags, name ?? null, innerTemplate?.handle ?? null);
  return new BpfMap(h, name ?? '', { keyLayout, valueLayout });
}
