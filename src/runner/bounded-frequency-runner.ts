/**
 * @module
 * BoundedFrequencyRunner (spec §5.20), after kube-proxy's: runs one function
 * - when asked (run()), but never more often than a token bucket allows (burst runs, then one
 *   per minInterval), so a burst of changes collapses into few syncs;
 * - at least every maxInterval even when nobody asks (periodic resync);
 * - again after retryInterval when the function throws (or its promise rejects).
 * run() never blocks and never runs the function itself; one timer drives everything, and the
 * clock and timers are injected so tests run on a fake clock.
 */

export type RunnerClock = {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
};

export const systemClock: RunnerClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // The runner must not keep the process alive on its own.
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export type BoundedFrequencyRunnerOptions = {
  /** For log lines and errors. */
  name: string;
  fn: () => void | Promise<void>;
  /** minSyncPeriod in ms; 0 disables rate limiting. */
  minIntervalMs: number;
  /** syncPeriod in ms: the periodic run. */
  maxIntervalMs: number;
  /** Delay before retrying after a failure. @default maxIntervalMs */
  retryIntervalMs?: number;
  /** Back-to-back runs allowed before rate limiting. @default 2 */
  burstRuns?: number;
  /** @default systemClock */
  clock?: RunnerClock;
  /** Called with the error of a failed run (after the retry is scheduled). */
  onError?: (err: unknown) => void;
};

export class BoundedFrequencyRunner {
  readonly name: string;
  readonly #fn: () => void | Promise<void>;
  readonly #min: number;
  readonly #max: number;
  readonly #retry: number;
  readonly #burst: number;
  readonly #clock: RunnerClock;
  readonly #onError?: (err: unknown) => void;
  #tokens: number;
  #refilledAt: number;
  #lastRun: number;
  #pending = false;
  #retryAt: number | null = null;
  #running = false;
  #started = false;
  #timer: unknown = null;
  #timerAt = Infinity;

  constructor(opts: BoundedFrequencyRunnerOptions) {
    const bad = (field: string, v: unknown) => new RangeError(`Invalid ${field} "${String(v)}" for runner "${opts.name}"`);
    if (!(opts.minIntervalMs >= 0)) throw bad('minIntervalMs', opts.minIntervalMs);
    if (!(opts.maxIntervalMs > 0) || opts.maxIntervalMs < opts.minIntervalMs) throw bad('maxIntervalMs', opts.maxIntervalMs);
    const burst = opts.burstRuns ?? 2;
    if (!Number.isInteger(burst) || burst < 1) throw bad('burstRuns', opts.burstRuns);
    const retry = opts.retryIntervalMs ?? opts.maxIntervalMs;
    if (!(retry > 0)) throw bad('retryIntervalMs', opts.retryIntervalMs);
    this.name = opts.name;
    this.#fn = opts.fn;
    this.#min = opts.minIntervalMs;
    this.#max = opts.maxIntervalMs;
    this.#retry = retry;
    this.#burst = burst;
    this.#clock = opts.clock ?? systemClock;
    this.#onError = opts.onError;
    this.#tokens = burst;
    this.#refilledAt = this.#clock.now();
    this.#lastRun = this.#clock.now();
  }

  /** Arms the timers; requests made before start() are honoured now. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#lastRun = this.#clock.now();
    this.#schedule();
  }

  /** Stops all timers; a run in progress finishes. */
  stop(): void {
    this.#started = false;
    this.#setTimer(Infinity);
  }

  /** Requests a run as soon as the rate limit allows. Never blocks; bursts coalesce. */
  run(): void {
    this.#pending = true;
    if (this.#started && !this.#running) this.#tryRun();
  }

  /** Requests a retry after `ms` (or sooner if something else triggers a run). */
  retryAfter(ms: number): void {
    const at = this.#clock.now() + ms;
    this.#retryAt = this.#retryAt === null ? at : Math.min(this.#retryAt, at);
    if (this.#started && !this.#running) this.#schedule();
  }

  #refill(now: number): void {
    if (this.#min === 0) {
      this.#tokens = this.#burst;
    } else {
      this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#refilledAt) / this.#min);
    }
    this.#refilledAt = now;
  }

  /** When a token will be available (now if one is). */
  #tokenAt(now: number): number {
    this.#refill(now);
    return this.#tokens >= 1 ? now : now + (1 - this.#tokens) * this.#min;
  }

  #due(now: number): boolean {
    return this.#pending || now >= this.#lastRun + this.#max || (this.#retryAt !== null && now >= this.#retryAt);
  }

  #tryRun(): void {
    const now = this.#clock.now();
    if (!this.#due(now)) return this.#schedule();
    if (this.#tokenAt(now) > now) return this.#schedule();
    this.#tokens -= 1;
    this.#pending = false;
    this.#retryAt = null;
    this.#lastRun = now;
    this.#running = true;
    this.#setTimer(Infinity);
    let result: void | Promise<void>;
    try {
      result = this.#fn();
    } catch (err) {
      return this.#finish(err, true);
    }
    if (result && typeof (result as Promise<void>).then === 'function') {
      (result as Promise<void>).then(
        () => this.#finish(undefined, false),
        (err) => this.#finish(err, true),
      );
    } else {
      this.#finish(undefined, false);
    }
  }

  #finish(err: unknown, failed: boolean): void {
    this.#running = false;
    if (failed) {
      const at = this.#clock.now() + this.#retry;
      this.#retryAt = this.#retryAt === null ? at : Math.min(this.#retryAt, at);
    }
    if (this.#started) {
      if (this.#pending) this.#tryRun();
      else this.#schedule();
    }
    if (failed) this.#onError?.(err);
  }

  #schedule(): void {
    if (!this.#started || this.#running) return;
    const now = this.#clock.now();
    let at = this.#lastRun + this.#max;
    if (this.#retryAt !== null) at = Math.min(at, this.#retryAt);
    if (this.#pending) at = now;
    if (at <= now || this.#pending) at = Math.max(this.#tokenAt(now), at);
    this.#setTimer(at);
  }

  #setTimer(at: number): void {
    if (at === this.#timerAt) return;
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = at;
    if (at === Infinity) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = null;
      this.#timerAt = Infinity;
      if (this.#started && !this.#running) this.#tryRun();
    }, Math.max(0, at - this.#clock.now()));
  }
}
