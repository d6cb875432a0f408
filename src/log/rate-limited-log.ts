/**
 * @module
 * RateLimitedLog: at most one log line per key (an API object, a map and error kind) per
 * interval, so that nothing an API object does can make the log grow faster than the number of
 * objects allows (issue 11: log volume is bounded everywhere an object can cause a line). The
 * lines it held back are counted and the count rides on the next line of that key. Its memory is
 * bounded too: keys whose interval has passed are forgotten, and past `maxKeys` the oldest go.
 */

export type RateLimitedLogOptions = {
  /** @default 60000 (one minute) */
  intervalMs?: number;
  /** @default 10000 */
  maxKeys?: number;
  now: () => number;
};

export class RateLimitedLog {
  readonly #interval: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  /** key -> time of the last line and lines held back since; Map order is insertion order. */
  #keys = new Map<string, { at: number; held: number }>();

  constructor(o: RateLimitedLogOptions) {
    this.#interval = o.intervalMs ?? 60_000;
    this.#maxKeys = o.maxKeys ?? 10_000;
    this.#now = o.now;
  }

  /**
   * Calls `write(held)` when `key` may log now (`held`: lines held back since its last one) and
   * returns true; otherwise counts the line as held back and returns false.
   */
  log(key: string, write: (held: number) => void): boolean {
    const now = this.#now();
    const e = this.#keys.get(key);
    if (e && now - e.at < this.#interval) {
      e.held++;
      return false;
    }
    const held = e?.held ?? 0;
    this.#keys.delete(key);
    this.#keys.set(key, { at: now, held: 0 });
    this.#prune(now);
    write(held);
    return true;
  }

  /** Forgets `key` (its object was deleted), so a new object of that name logs at once. */
  forget(key: string): void {
    this.#keys.delete(key);
  }

  #prune(now: number): void {
    for (const [k, e] of this.#keys) {
      if (this.#keys.size <= this.#maxKeys && now - e.at < this.#interval) break;
      this.#keys.delete(k);
    }
  }

  get size(): number {
    return this.#keys.size;
  }
}
