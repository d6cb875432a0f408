/**
 * @module
 * Exponential backoff for re-list and re-watch, shaped like client-go's reflector backoff:
 * 800ms doubling up to a 30s cap, with jitter, reset after 2 minutes without failure.
 */
import type { Clock } from '../health/clock.ts';

export interface BackoffOptions {
  clock: Clock;
  /** @default 800 */
  initialMs?: number;
  /** @default 30000 */
  maxMs?: number;
  /** A failure after this long without one starts again from initialMs. @default 120000 */
  resetAfterMs?: number;
  /** Up to this fraction is added at random, so many nodes do not hit the server in step. @default 1 */
  jitter?: number;
  /** @default Math.random */
  random?: () => number;
}

/** Computes the wait before the next attempt. */
export class Backoff {
  #clock: Clock;
  #initial: number;
  #max: number;
  #resetAfter: number;
  #jitter: number;
  #random: () => number;
  #current = 0;
  #lastFailure: number | null = null;

  constructor(options: BackoffOptions) {
    this.#clock = options.clock;
    this.#initial = options.initialMs ?? 800;
    this.#max = options.maxMs ?? 30_000;
    this.#resetAfter = options.resetAfterMs ?? 120_000;
    this.#jitter = options.jitter ?? 1;
    this.#random = options.random ?? Math.random;
    if (!(this.#initial > 0) || !(this.#max >= this.#initial)) {
      throw new RangeError(`Cannot create backoff: need 0 < initialMs (${this.#initial}) <= maxMs (${this.#max})`);
    }
  }

  /** Record a failure and return how long to wait before retrying; never more than maxMs. */
  next(): number {
    const now = this.#clock.now();
    if (this.#lastFailure === null || now - this.#lastFailure >= this.#resetAfter) this.#current = this.#initial;
    else this.#current = Math.min(this.#current * 2, this.#max);
    this.#lastFailure = now;
    return Math.min(this.#max, Math.round(this.#current * (1 + this.#jitter * this.#random())));
  }

  /** Forget past failures (after a success that proves the server is fine). */
  reset(): void {
    this.#lastFailure = null;
  }
}
