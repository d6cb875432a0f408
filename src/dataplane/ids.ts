/**
 * @module
 * Stable, dense ids for service entries and backends. An id is never 0 (a zeroed key must not
 * match), stays with its key while the key is in use, and after release is quarantined for a
 * grace period before it can be handed out again: a conntrack or affinity entry that still names
 * a removed backend id then finds nothing (and re-selects) instead of silently reaching a new,
 * unrelated backend. Released ids are reused oldest-first once their grace has passed, otherwise a
 * new id just above the highest one is taken, so ids stay dense (the LB state indexes typed arrays
 * by them). At restart the allocator is seeded from the pinned maps, so established flows keep
 * their ids. Pure: the clock is injected.
 */
import type { BackendKey } from '../model/backend-key.ts';
import type { FrontendKey } from '../translate/compile-port.ts';

export type IdAllocatorOptions = {
  /** Milliseconds; injected for tests. */
  now: () => number;
  /** How long a released id stays unused. @default 600000 (10 minutes) */
  graceMs?: number;
  /** Highest id. @default 0xffffffff */
  maxId?: number;
};

/**
 * Number key -> id, open addressing (linear probing, deletion by backward shift) over one typed
 * array of ids, the keys kept by id: 100k backends cost about 2 MB and no heap number or Map
 * entry each (an IPv4 backend key is a double above 2^31, which a Map would box).
 */
class NumberIds {
  /** Slot -> id; 0: empty (ids are never 0). */
  #slots = new Uint32Array(64);
  #mask = 63;
  /** Id -> key (NaN: none). */
  keyOf = new Float64Array(0);
  size = 0;

  #home(key: number): number {
    // murmur3's finalizer over both halves: every key bit reaches the low bits used.
    let h = (key >>> 0) ^ Math.imul((key / 4294967296) >>> 0, 0x9e3779b1);
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) & this.#mask;
  }

  get(key: number): number | undefined {
    for (let i = this.#home(key); ; i = (i + 1) & this.#mask) {
      const id = this.#slots[i]!;
      if (id === 0) return undefined;
      if (this.keyOf[id] === key) return id;
    }
  }

  /** Binds a key that holds no id to `id`, which holds no key. */
  add(key: number, id: number): void {
    if (id >= this.keyOf.length) {
      const grown = new Float64Array(Math.max(64, id + 1, this.keyOf.length * 2)).fill(NaN);
      grown.set(this.keyOf);
      this.keyOf = grown;
    }
    this.keyOf[id] = key;
    if ((this.size + 1) * 2 > this.#slots.length) this.#grow();
    this.#place(key, id);
    this.size++;
  }

  #place(key: number, id: number): void {
    let i = this.#home(key);
    while (this.#slots[i] !== 0) i = (i + 1) & this.#mask;
    this.#slots[i] = id;
  }

  delete(key: number): void {
    let i = this.#home(key);
    for (; ; i = (i + 1) & this.#mask) {
      const id = this.#slots[i]!;
      if (id === 0) return;
      if (this.keyOf[id] === key) break;
    }
    this.keyOf[this.#slots[i]!] = NaN;
    // Backward shift: move later entries of the run into the hole when their home allows it.
    for (let j = (i + 1) & this.#mask; this.#slots[j] !== 0; j = (j + 1) & this.#mask) {
      const home = this.#home(this.keyOf[this.#slots[j]!]!);
      if (((j - home) & this.#mask) >= ((j - i) & this.#mask)) {
        this.#slots[i] = this.#slots[j]!;
        i = j;
      }
    }
    this.#slots[i] = 0;
    this.size--;
  }

  *keys(): IterableIterator<number> {
    for (let i = 0; i < this.#slots.length; i++) if (this.#slots[i] !== 0) yield this.keyOf[this.#slots[i]!]!;
  }

  #grow(): void {
    const old = this.#slots;
    this.#slots = new Uint32Array(old.length * 2);
    this.#mask = old.length * 2 - 1;
    for (let i = 0; i < old.length; i++) if (old[i] !== 0) this.#place(this.keyOf[old[i]!]!, old[i]!);
  }
}

export class IdAllocator<K extends string | number = string> {
  readonly #now: () => number;
  readonly #graceMs: number;
  readonly #maxId: number;
  // Keys are strings (a Map) or numbers (NumberIds); by id: a number key (NaN: none) or a string key.
  #byText = new Map<string, number>();
  #byNumber = new NumberIds();
  #textOf: (string | undefined)[] = [];
  /** Released ids, oldest first, with their release times (a ring: head index). */
  #quarantine: number[] = [];
  #releasedAt: number[] = [];
  #qHead = 0;
  #high = 0;

  constructor(opts: IdAllocatorOptions) {
    this.#now = opts.now;
    this.#graceMs = opts.graceMs ?? 600_000;
    this.#maxId = opts.maxId ?? 0xffffffff;
    if (!Number.isInteger(this.#maxId) || this.#maxId < 1 || this.#maxId > 0xffffffff) throw new RangeError(`Invalid maxId "${opts.maxId}"`);
    if (this.#graceMs < 0) throw new RangeError(`Invalid graceMs "${opts.graceMs}"`);
  }

  #get(key: K): number | undefined {
    return typeof key === 'number' ? this.#byNumber.get(key) : this.#byText.get(key);
  }

  #bind(key: K, id: number): void {
    if (typeof key === 'number') {
      this.#byNumber.add(key, id);
    } else {
      this.#byText.set(key, id);
      this.#textOf[id] = key;
    }
  }

  /**
   * Adopts ids found in pinned maps. Returns the keys that could not be adopted (id 0, above
   * `bound`, or an id or key already taken); those get fresh ids when next acquired. Ids above
   * the bound are left unused, so a sparse id from an older allocator never stretches the dense
   * arrays of the LB state.
   */
  seed(entries: Iterable<[K, number]>, bound = this.#maxId): K[] {
    const rejected: K[] = [];
    for (const [key, id] of entries) {
      const valid = Number.isInteger(id) && id >= 1 && id <= Math.min(bound, this.#maxId);
      const held = valid ? this.keyOf(id) : undefined;
      const have = this.#get(key);
      if (!valid || (held !== undefined && held !== key) || (have !== undefined && have !== id)) {
        rejected.push(key);
        continue;
      }
      if (have === undefined) this.#bind(key, id);
      if (id > this.#high) this.#high = id;
    }
    return rejected;
  }

  /** The id of `key`, allocating one if needed. Throws RangeError when every id is taken. */
  acquire(key: K): number {
    const have = this.#get(key);
    if (have !== undefined) return have;
    let id = 0;
    if (this.#qHead < this.#quarantine.length && this.#now() - this.#releasedAt[this.#qHead]! >= this.#graceMs) {
      id = this.#quarantine[this.#qHead]!;
      this.#qHead++;
      if (this.#qHead > 1024 && this.#qHead * 2 > this.#quarantine.length) {
        this.#quarantine = this.#quarantine.slice(this.#qHead);
        this.#releasedAt = this.#releasedAt.slice(this.#qHead);
        this.#qHead = 0;
      }
    } else {
      do {
        if (this.#high >= this.#maxId) throw new RangeError(`Cannot allocate an id for "${key}": all ${this.#maxId} ids are in use or quarantined`);
        id = ++this.#high;
      } while (this.keyOf(id) !== undefined);
    }
    this.#bind(key, id);
    return id;
  }

  lookup(key: K): number | undefined {
    return this.#get(key);
  }

  /** The key holding `id`, if any. */
  keyOf(id: number): K | undefined {
    const n = this.#byNumber.keyOf[id];
    if (n !== undefined && !Number.isNaN(n)) return n as K;
    return this.#textOf[id] as K | undefined;
  }

  /** Releases `key`'s id into quarantine. */
  release(key: K): void {
    const id = this.#get(key);
    if (id === undefined) return;
    if (typeof key === 'number') {
      this.#byNumber.delete(key);
    } else {
      this.#byText.delete(key);
      this.#textOf[id] = undefined;
    }
    this.#quarantine.push(id);
    this.#releasedAt.push(this.#now());
  }

  /** Releases every key whose id `keepId` rejects. */
  releaseIdsExcept(keepId: (id: number) => boolean): K[] {
    const released: K[] = [];
    for (let id = 1; id <= this.#high; id++) {
      const key = this.keyOf(id);
      if (key !== undefined && !keepId(id)) {
        this.release(key);
        released.push(key);
      }
    }
    return released;
  }

  /** Keys currently holding an id. */
  *keys(): IterableIterator<K> {
    yield* this.#byText.keys() as IterableIterator<K>;
    yield* this.#byNumber.keys() as IterableIterator<K>;
  }

  get size(): number {
    return this.#byText.size + this.#byNumber.size;
  }

  /** The highest id ever handed out or adopted: the LB state sizes its arrays by it. */
  get highWater(): number {
    return this.#high;
  }
}

/** The two id spaces of the LB maps; keys are frontendKey() and backendKey(). */
export class LbIds {
  readonly services: IdAllocator<FrontendKey>;
  readonly backends: IdAllocator<BackendKey>;

  constructor(opts: IdAllocatorOptions) {
    this.services = new IdAllocator<FrontendKey>(opts);
    this.backends = new IdAllocator<BackendKey>(opts);
  }
}
