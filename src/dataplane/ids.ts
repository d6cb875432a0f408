/**
 * @module
 * Stable ids for service entries and backends. An id is never 0 (a zeroed key must not match),
 * stays with its key while the key is in use, and after release is quarantined for a grace
 * period before it can be handed out again: a conntrack or affinity entry that still names a
 * removed backend id then finds nothing (and re-selects) instead of silently reaching a new,
 * unrelated backend. At restart the allocator is seeded from the pinned maps, so established
 * flows keep their ids. Pure: the clock is injected.
 */
import { backendIdentity, entryKey } from '../translate/keys.ts';
import type { LbBackend, LbServiceKey, LbServiceValue } from '../translate/lb-types.ts';

export type IdAllocatorOptions = {
  /** Milliseconds; injected for tests. */
  now: () => number;
  /** How long a released id stays unused. @default 600000 (10 minutes) */
  graceMs?: number;
  /** Highest id. @default 0xffffffff */
  maxId?: number;
};

export class IdAllocator {
  readonly #now: () => number;
  readonly #graceMs: number;
  readonly #maxId: number;
  #byKey = new Map<string, number>();
  #used = new Set<number>();
  /** id -> time of release */
  #quarantine = new Map<number, number>();
  #next = 1;

  constructor(opts: IdAllocatorOptions) {
    this.#now = opts.now;
    this.#graceMs = opts.graceMs ?? 600_000;
    this.#maxId = opts.maxId ?? 0xffffffff;
    if (!Number.isInteger(this.#maxId) || this.#maxId < 1 || this.#maxId > 0xffffffff) throw new RangeError(`Invalid maxId "${opts.maxId}"`);
    if (this.#graceMs < 0) throw new RangeError(`Invalid graceMs "${opts.graceMs}"`);
  }

  /**
   * Adopts ids found in pinned maps. Returns the keys that could not be adopted (id 0, out of
   * range, or an id already held by another key); those get fresh ids when next acquired.
   */
  seed(entries: Iterable<[string, number]>): string[] {
    const rejected: string[] = [];
    for (const [key, id] of entries) {
      if (!Number.isInteger(id) || id < 1 || id > this.#maxId || (this.#used.has(id) && this.#byKey.get(key) !== id)) {
        rejected.push(key);
        continue;
      }
      const old = this.#byKey.get(key);
      if (old !== undefined && old !== id) {
        rejected.push(key);
        continue;
      }
      this.#byKey.set(key, id);
      this.#used.add(id);
      this.#next = id >= this.#maxId ? 1 : Math.max(this.#next, id + 1);
    }
    return rejected;
  }

  /** The id of `key`, allocating one if needed. Throws RangeError when every id is taken. */
  acquire(key: string): number {
    const have = this.#byKey.get(key);
    if (have !== undefined) return have;
    const now = this.#now();
    for (let tries = 0; tries < this.#maxId; tries++) {
      const id = this.#next;
      this.#next = id >= this.#maxId ? 1 : id + 1;
      if (this.#used.has(id)) continue;
      const released = this.#quarantine.get(id);
      if (released !== undefined) {
        if (now - released < this.#graceMs) continue;
        this.#quarantine.delete(id);
      }
      this.#byKey.set(key, id);
      this.#used.add(id);
      return id;
    }
    throw new RangeError(`Cannot allocate an id for "${key}": all ${this.#maxId} ids are in use or quarantined`);
  }

  lookup(key: string): number | undefined {
    return this.#byKey.get(key);
  }

  /** Releases `key`'s id into quarantine. */
  release(key: string): void {
    const id = this.#byKey.get(key);
    if (id === undefined) return;
    this.#byKey.delete(key);
    this.#used.delete(id);
    this.#quarantine.set(id, this.#now());
  }

  /** Releases every key not in `keep` (call after a successful sync with the wanted keys). */
  releaseAllExcept(keep: Set<string>): string[] {
    const released: string[] = [];
    for (const key of [...this.#byKey.keys()]) {
      if (!keep.has(key)) {
        this.release(key);
        released.push(key);
      }
    }
    return released;
  }

  /** Releases every key whose id `keepId` rejects (cheaper than building the key set when ids index the wanted state). */
  releaseIdsExcept(keepId: (id: number) => boolean): string[] {
    const released: string[] = [];
    for (const [key, id] of [...this.#byKey]) {
      if (!keepId(id)) {
        this.release(key);
        released.push(key);
      }
    }
    return released;
  }

  /** Keys currently holding an id. */
  keys(): IterableIterator<string> {
    return this.#byKey.keys();
  }

  get size(): number {
    return this.#byKey.size;
  }
}

/** The two id spaces translate needs; keys are entryKey(lb_service_key) and backendIdentity. */
export class LbIds {
  readonly services: IdAllocator;
  readonly backends: IdAllocator;

  constructor(opts: IdAllocatorOptions) {
    this.services = new IdAllocator(opts);
    this.backends = new IdAllocator(opts);
  }

  serviceId(key: string): number {
    return this.services.acquire(key);
  }

  backendId(key: string): number {
    return this.backends.acquire(key);
  }

  /**
   * Seeds both spaces from a dump of the pinned lb_services and lb_backends maps (decoded by the
   * codec). Returns the keys that could not be adopted.
   */
  seedFromMaps(dump: {
    lb_services: Iterable<[LbServiceKey, LbServiceValue]>;
    lb_backends: Iterable<[number, LbBackend]>;
  }): { services: string[]; backends: string[] } {
    const services = this.services.seed(
      (function* () {
        for (const [k, v] of dump.lb_services) yield [entryKey(k), v.service_id] as [string, number];
      })(),
    );
    const backends = this.backends.seed(
      (function* () {
        for (const [id, b] of dump.lb_backends) yield [backendIdentity(b.addr, b.port, b.proto), id] as [string, number];
      })(),
    );
    return { services, backends };
  }
}
