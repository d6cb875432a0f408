/**
 * @module
 * Histogram bucket layouts used by kube-proxy's metrics, built the way component-base builds them.
 */

/** `count` buckets starting at `start`, each `factor` times the previous (prometheus.ExponentialBuckets). */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  if (start <= 0 || factor <= 1 || count < 1) {
    throw new RangeError(`Cannot build exponential buckets (start ${start}, factor ${factor}, count ${count}): need start > 0, factor > 1, count >= 1`);
  }
  const out: number[] = [];
  for (let i = 0, v = start; i < count; i++, v *= factor) out.push(v);
  return out;
}

/** `count` buckets starting at `start`, `width` apart (prometheus.LinearBuckets). */
export function linearBuckets(start: number, width: number, count: number): number[] {
  if (width <= 0 || count < 1) {
    throw new RangeError(`Cannot build linear buckets (width ${width}, count ${count}): need width > 0, count >= 1`);
  }
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(start + i * width);
  return out;
}

/** Sync latency buckets: 1ms doubling 15 times, up to about 16.4s. */
export const SYNC_DURATION_BUCKETS: readonly number[] = Object.freeze(exponentialBuckets(0.001, 2, 15));

/**
 * Network programming latency buckets: 0.25 and 0.5, then each second to 59, every 5s to 115 and
 * every 30s to 300. The fine low end matters because the SLO is about seconds, the tail about minutes.
 */
export const NETWORK_PROGRAMMING_BUCKETS: readonly number[] = Object.freeze([
  ...linearBuckets(0.25, 0.25, 2),
  ...linearBuckets(1, 1, 59),
  ...linearBuckets(60, 5, 12),
  ...linearBuckets(120, 30, 7),
]);

/** client-go's request latency buckets (rest_client_request_duration_seconds and the rate limiter's). */
export const REST_CLIENT_BUCKETS: readonly number[] = Object.freeze([0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60]);
