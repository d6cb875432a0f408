/**
 * @module
 * Client-side token bucket for API requests (`--kube-api-qps`, `--kube-api-burst`), like
 * client-go's: `burst` requests may go at once, then `qps` per second. Each request reserves a
 * token; a reservation in the future is waited out.
 */
import type { Clock, Timers } from '../health/clock.ts';

export interface RateLimiterOptions {
  /** Tokens per second; <= 0 disables limiting. */
  qps: number;
  /** Bucket size; at least 1 when limiting. */
  burst: number;
  clock: Clock;
  timers: Timers;
}

/** A token bucket. */
export class RateLimiter {
  #qps: number;
  #burst: number;
  #clock: Clock;
  #timers: Timers;
  #tokens: number;
  #last: number;

  constructor(options: RateLimiterOptions) {
    if (options.qps > 0 && !(options.burst >= 1)) {
      throw new RangeError(`Cannot create the API rate limiter: burst ${options.burst} must be >= 1 when qps (${options.qps}) > 0`);
    }
    this.#qps = options.qps;
    this.#burst = options.burst;
    this.#clock = options.clock;
    this.#timers = options.timers;
    this.#tokens = options.burst;
    this.#last = options.clock.now();
  }

  /**
   * Take a token, waiting until one is due. Resolves with the milliseconds waited (for the
   * rest_client_rate_limiter_duration_seconds metric); rejects if `signal` aborts first.
   */
  wait(signal?: AbortSignal): Promise<number> {
    if (this.#qps <= 0) return Promise.resolve(0);
    const now = this.#clock.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#qps);
    this.#last = now;
    this.#tokens -= 1;
    if (this.#tokens >= 0) return Promise.resolve(0);
    const ms = Math.ceil((-this.#tokens / this.#qps) * 1000);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.#timers.clearTimeout(handle);
        // Give the reservation back: the request will not be sent.
        this.#tokens += 1;
        reject(signal?.reason ?? new Error('rate limiter wait aborted'));
      };
      const handle = this.#timers.setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve(ms);
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
