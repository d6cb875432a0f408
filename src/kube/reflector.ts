/**
 * @module
 * A reflector/informer for one resource, following client-go's: list (paged, resourceVersion
 * "0" first), then watch from the list's resourceVersion with bookmarks; re-watch when the server
 * ends a watch; re-list with a consistent read when the version is gone (410); back off
 * exponentially (capped) on other failures; periodically re-deliver every cached object
 * (resync). Every change reaches the handler as update(prev, cur): add is (null, obj), delete is
 * (obj, null), so one code path handles all three (style anchor A.3).
 */
import type { Clock, Timers } from '../health/clock.ts';
import { Backoff, type BackoffOptions } from './backoff.ts';
import { ApiStatusError, isGone, type KubeObject, type ListWatch, type WatchEvent } from './list-watch.ts';

export interface ReflectorHandler<T> {
  /** `prev` is what this handler was last told about the object (null on add); `cur` is null on delete. */
  onUpdate(prev: T | null, cur: T | null): void;
  /** The first list has been delivered; called once. */
  onSynced(): void;
}

/** A list, watch or handler failure; the reflector itself keeps going. */
export class ReflectorError extends Error {
  readonly resource: string;
  readonly phase: 'list' | 'watch' | 'handler';

  constructor(resource: string, phase: 'list' | 'watch' | 'handler', cause: unknown) {
    super(`${phase} ${resource}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'ReflectorError';
    this.resource = resource;
    this.phase = phase;
  }
}

export interface ReflectorOptions<T extends KubeObject> {
  /** The resource, for messages and metrics, e.g. `services`. */
  resource: string;
  listWatch: ListWatch<T>;
  handler: ReflectorHandler<T>;
  labelSelector?: string;
  fieldSelector?: string;
  /** Re-deliver every cached object as update(obj, obj) this often; 0 turns it off. @default 0 */
  resyncPeriodMs?: number;
  /** Items per list page. @default 500 */
  pageSize?: number;
  /** A watch asks the server to end it after between this and twice this many seconds. @default 300 */
  minWatchTimeoutSeconds?: number;
  clock: Clock;
  timers: Timers;
  /** @default Math.random */
  random?: () => number;
  backoff?: Omit<BackoffOptions, 'clock' | 'random'>;
  /** Every failure, for logs and metrics. */
  onError?: (err: ReflectorError) => void;
  /**
   * What the cache keeps of each object, when the handler keeps the rest itself: `prev` (and a
   * resync's update(obj, obj)) then carries this form, `cur` the whole object. @default the object
   */
  cacheAs?: (obj: T) => T;
}

/** A watch that ends this fast without a single event is treated as a failure, so we never spin. */
const MIN_WATCH_MS = 1000;

/** Cache key: `namespace/name`, or `name` for cluster-scoped objects. */
export function objectKey(obj: KubeObject): string {
  const m = obj.metadata ?? {};
  return m.namespace ? `${m.namespace}/${m.name ?? ''}` : (m.name ?? '');
}

/**
 * Keeps a local cache of one resource in step with the API server.
 *
 * @example
 * const r = new Reflector({ resource: 'services', listWatch, handler, clock: systemClock, timers: systemTimers });
 * r.start();
 * // ...
 * await r.stop();
 */
export class Reflector<T extends KubeObject> {
  #o: ReflectorOptions<T>;
  #backoff: Backoff;
  #random: () => number;
  #cache = new Map<string, T>();
  #rv = '';
  #synced = false;
  #stopped = false;
  #running: Promise<void> | null = null;
  #abort: AbortController | null = null;
  #sleepTimer: unknown = null;
  #wake: (() => void) | null = null;
  #resyncTimer: unknown = null;

  constructor(options: ReflectorOptions<T>) {
    this.#o = options;
    this.#random = options.random ?? Math.random;
    this.#backoff = new Backoff({ ...options.backoff, clock: options.clock, random: this.#random });
  }

  /** Begin listing and watching. Calling it twice is a bug. */
  start(): void {
    if (this.#running) throw new Error(`Cannot start the ${this.#o.resource} reflector: already started`);
    this.#running = this.#run();
  }

  /** Stop watching, cancel timers and in-flight requests; resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort?.abort();
    if (this.#sleepTimer !== null) this.#o.timers.clearTimeout(this.#sleepTimer);
    this.#wake?.();
    if (this.#resyncTimer !== null) this.#o.timers.clearTimeout(this.#resyncTimer);
    this.#resyncTimer = null;
    await this.#running;
  }

  /** True once the first list was delivered. */
  hasSynced(): boolean {
    return this.#synced;
  }

  /** The resourceVersion the next watch starts from. */
  resourceVersion(): string {
    return this.#rv;
  }

  /** A cached object by key (`namespace/name`, or `name`). */
  get(key: string): T | undefined {
    return this.#cache.get(key);
  }

  /** Every cached object. */
  items(): T[] {
    return [...this.#cache.values()];
  }

  async #run(): Promise<void> {
    let needList = true;
    let consistent = false;
    while (!this.#stopped) {
      if (needList) {
        try {
          await this.#list(consistent ? '' : '0');
          needList = false;
          consistent = false;
        } catch (err) {
          if (this.#stopped) break;
          this.#report('list', err);
          // An expired continue token or version: read again from etcd, right away.
          if (isGone(err) && !consistent) consistent = true;
          else await this.#sleep(this.#backoff.next());
          continue;
        }
      }
      const err = await this.#watch();
      if (this.#stopped) break;
      if (err === null) continue;
      if (isGone(err)) {
        // Our version fell out of the server's history: only a fresh consistent list can tell
        // what changed meanwhile (deletes included).
        needList = true;
        consistent = true;
        continue;
      }
      this.#report('watch', err);
      await this.#sleep(this.#backoff.next());
    }
  }

  /**
   * Lists page by page, each page's objects cached and delivered as it arrives (a page is
   * converted and dropped before the next: the full objects of a whole list are never held at
   * once); after the last page, what the list did not name is deleted. Pages of one list are one
   * snapshot, so the handlers see only states the server had. A list that fails half way leaves
   * what it delivered (newer states of those objects); the next list reconciles the rest.
   */
  async #list(resourceVersion: string): Promise<void> {
    const o = this.#o;
    const abort = (this.#abort = new AbortController());
    const seen = new Set<string>();
    let listRV = '';
    let cont: string | undefined;
    do {
      const base = { labelSelector: o.labelSelector, fieldSelector: o.fieldSelector, limit: o.pageSize ?? 500 };
      const page = await o.listWatch.list(cont ? { ...base, continue: cont } : { ...base, resourceVersion }, abort.signal);
      if (this.#stopped) return;
      for (const obj of page.items) {
        const key = objectKey(obj);
        seen.add(key);
        const prev = this.#cache.get(key) ?? null;
        this.#cache.set(key, o.cacheAs ? o.cacheAs(obj) : obj);
        this.#deliver(prev, obj);
      }
      listRV = page.resourceVersion;
      cont = page.continue || undefined;
    } while (cont !== undefined && !this.#stopped);
    this.#abort = null;
    if (this.#stopped) return;
    this.#finishList(seen, listRV);
  }

  /** Run one watch; null when the server ended it normally, else why it failed. */
  async #watch(): Promise<unknown> {
    const o = this.#o;
    const abort = (this.#abort = new AbortController());
    const min = o.minWatchTimeoutSeconds ?? 300;
    const started = o.clock.now();
    let events = 0;
    let failure: unknown = null;
    const onEvent = (ev: WatchEvent<T>): void => {
      if (failure !== null || this.#stopped) return;
      events++;
      try {
        this.#apply(ev);
      } catch (err) {
        failure = err;
        abort.abort();
      }
    };
    try {
      await o.listWatch.watch({
        labelSelector: o.labelSelector,
        fieldSelector: o.fieldSelector,
        resourceVersion: this.#rv,
        allowWatchBookmarks: true,
        timeoutSeconds: Math.floor(min * (1 + this.#random())),
      }, onEvent, abort.signal);
    } catch (err) {
      if (failure === null) failure = err;
    }
    this.#abort = null;
    if (failure === null && events === 0 && o.clock.now() - started < MIN_WATCH_MS) {
      failure = new Error(`watch from resourceVersion "${this.#rv}" ended at once without events`);
    }
    if (failure === null && events > 0) this.#backoff.reset();
    return failure;
  }

  #apply(ev: WatchEvent<T>): void {
    switch (ev.type) {
      case 'ERROR':
        throw ApiStatusError.fromStatus(`watch ${this.#o.resource}`, ev.object);
      case 'BOOKMARK':
        // A bookmark only moves our resourceVersion forward, so a re-watch need not replay.
        if (ev.object.metadata?.resourceVersion) this.#rv = ev.object.metadata.resourceVersion;
        return;
      case 'ADDED':
      case 'MODIFIED': {
        const key = objectKey(ev.object);
        const prev = this.#cache.get(key) ?? null;
        this.#cache.set(key, this.#o.cacheAs ? this.#o.cacheAs(ev.object) : ev.object);
        this.#setRV(ev.object);
        this.#deliver(prev, ev.object);
        return;
      }
      case 'DELETED': {
        const key = objectKey(ev.object);
        const prev = this.#cache.get(key) ?? ev.object;
        this.#cache.delete(key);
        this.#setRV(ev.object);
        this.#deliver(prev, null);
        return;
      }
      default:
        throw new Error(`unknown watch event type "${(ev as { type: unknown }).type}"`);
    }
  }

  /** The end of a list: what it did not name is deleted; the first one marks the cache synced. */
  #finishList(seen: Set<string>, listRV: string): void {
    for (const [key, prev] of this.#cache) {
      if (seen.has(key)) continue;
      this.#cache.delete(key);
      this.#deliver(prev, null);
    }
    this.#rv = listRV;
    if (!this.#synced) {
      this.#synced = true;
      try {
        this.#o.handler.onSynced();
      } catch (err) {
        this.#report('handler', err);
      }
      this.#scheduleResync();
    }
  }

  #scheduleResync(): void {
    const period = this.#o.resyncPeriodMs ?? 0;
    if (period <= 0 || this.#stopped) return;
    this.#resyncTimer = this.#o.timers.setTimeout(() => {
      this.#resyncTimer = null;
      if (this.#stopped) return;
      for (const obj of [...this.#cache.values()]) this.#deliver(obj, obj);
      this.#scheduleResync();
    }, period);
  }

  #setRV(obj: KubeObject): void {
    if (obj.metadata?.resourceVersion) this.#rv = obj.metadata.resourceVersion;
  }

  #deliver(prev: T | null, cur: T | null): void {
    try {
      this.#o.handler.onUpdate(prev, cur);
    } catch (err) {
      // A handler bug must not stall the cache: the next event or resync delivers again.
      this.#report('handler', err);
    }
  }

  #report(phase: 'list' | 'watch' | 'handler', err: unknown): void {
    this.#o.onError?.(new ReflectorError(this.#o.resource, phase, err));
  }

  #sleep(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      this.#wake = () => {
        this.#wake = null;
        this.#sleepTimer = null;
        resolve();
      };
      this.#sleepTimer = this.#o.timers.setTimeout(() => this.#wake?.(), ms);
    });
  }
}
