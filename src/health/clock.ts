/**
 * @module
 * The clock every time-dependent part of health, metrics and kube takes, so tests control time.
 */

/** Wall-clock time in milliseconds since the Unix epoch. */
export interface Clock {
  now(): number;
}

/** The real clock. */
export const systemClock: Clock = { now: () => Date.now() };
