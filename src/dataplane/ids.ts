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

export class IdAllocator<K extends string | number = string> {
  readonly #now: () => number;
  readonly #graceMs: number;
  readonly #maxId: number;
  #byKey = new Map<K, number>();
  #keyOf: (K | undefined)[] = [];
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

  /**
   * Adopts ids found in pinned maps. Returns the keys that could not be adopted (id 0, above
   * `bound`, or an id or key already taken); those get fresh ids when next acquired. Ids above
   * the bound are left unused, so a sparse id from an older allocator never stretches the dense
   * arrays of the LB state.
   */
  seed(entries: Iterable<[K, number]>, bound = this.#maxId): K[] {
    const rejected: K[] = [];
    for (const [key, id] of entries) {
      const held = this.#keyOf[id];
      if (!Number.isInteger(id) || id < 1 || id > Math.min(bound, this.#maxId) || (held !== undefined && held !== key) || (this.#byKey.has(key) && this.#byKey.get(key) !== id)) {
        rejected.push(key);
        continue;
      }
      this.#byKey.set(key, id);
      this.#keyOf[id] = key;
      if (id > this.#high) this.#high = id;
    }
    return rejected;
  }

  /** The id of `key`, allocating one if needed. Throws RangeError when every id is taken. */
  acquire(key: K): number {
    const have = this.#byKey.get(key);
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
      } while (this.#keyOf[id] !== undefined);
    }
    this.#byKey.set(key, id);
    this.#keyOf[id] = key;
    return id;
  }

  lookup(key: K): number | undefined {
    return this.#byKey.get(key);
  }

  /** The key holding `id`, if any. */
  keyOf(id: number): K | undefined {
    return this.#keyOf[id];
  }

  /** Releases `key`'s id into quarantine. */
  release(key: K): void {
    const id = this.#byKey.get(key);
    if (id === undefined) return;
    this.#byKey.delete(key);
    this.#keyOf[id] = undefined;
    this.#quarantine.push(id);
    this.#releasedAt.push(this.#now());
  }

  /** Releases every key whose id `keepId` rejects. */
  releaseIdsExcept(keepId: (id: number) => boolean): K[] {
    const released: K[] = [];
    for (const [key, id] of [...this.#byKey]) {
      if (!keepId(id)) {
        this.release(key);
        released.push(key);
      }
    }
    return released;
  }

  /** Keys currently holding an id. */
  keys(): IterableIterator<K> {
    return this.#byKey.keys();
  }

  get size(): number {
    return this.#byKey.size;
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
