// Plain statistics over samples, and quantiles of Prometheus histograms. Pure functions, so the
// numbers in a results file can be checked by reading this file and its tests.

export interface Summary {
  n: number;
  min: number;
  max: number;
  mean: number;
  stddev: number;
  p50: number;
  p90: number;
  p99: number;
}

/** Linear-interpolation quantile (type 7, what numpy and R default to) of unsorted samples. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  if (q < 0 || q > 1) throw new RangeError(`quantile ${q} outside [0, 1]`);
  const s = [...samples].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export function mean(samples: readonly number[]): number {
  if (samples.length === 0) return Number.NaN;
  let sum = 0;
  for (const x of samples) sum += x;
  return sum / samples.length;
}

/** Sample standard deviation (n - 1); 0 for a single sample. */
export function stddev(samples: readonly number[]): number {
  if (samples.length < 2) return samples.length === 1 ? 0 : Number.NaN;
  const m = mean(samples);
  let ss = 0;
  for (const x of samples) ss += (x - m) ** 2;
  return Math.sqrt(ss / (samples.length - 1));
}

export function summarize(samples: readonly number[]): Summary {
  return {
    n: samples.length,
    min: samples.length ? Math.min(...samples) : Number.NaN,
    max: samples.length ? Math.max(...samples) : Number.NaN,
    mean: mean(samples),
    stddev: stddev(samples),
    p50: quantile(samples, 0.5),
    p90: quantile(samples, 0.9),
    p99: quantile(samples, 0.99),
  };
}

/** Empirical CDF as [value, fraction <= value] points, thinned to at most `maxPoints`. */
export function cdf(samples: readonly number[], maxPoints = 200): Array<[number, number]> {
  const s = [...samples].sort((a, b) => a - b);
  const out: Array<[number, number]> = [];
  const step = Math.max(1, Math.floor(s.length / maxPoints));
  for (let i = 0; i < s.length; i += step) out.push([s[i], (i + 1) / s.length]);
  if (s.length > 0 && out[out.length - 1][1] !== 1) out.push([s[s.length - 1], 1]);
  return out;
}

/** One cumulative bucket of a Prometheus histogram: count of observations <= le. */
export interface Bucket {
  le: number;
  count: number;
}

/**
 * Quantile of a cumulative histogram the way PromQL's histogram_quantile does it: find the bucket
 * holding the rank and interpolate linearly inside it; a rank in the +Inf bucket returns the
 * highest finite bound. NaN when the histogram is empty.
 */
export function histogramQuantile(buckets: readonly Bucket[], q: number): number {
  const b = [...buckets].sort((x, y) => x.le - y.le);
  if (b.length === 0) return Number.NaN;
  const total = b[b.length - 1].count;
  if (total === 0) return Number.NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const { le, count } of b) {
    if (count >= rank) {
      if (le === Number.POSITIVE_INFINITY) return prevLe;
      if (count === prevCount) return le;
      return prevLe + (le - prevLe) * ((rank - prevCount) / (count - prevCount));
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

/** Bucket-wise difference `after - before` (observations made between two scrapes). */
export function histogramDelta(before: readonly Bucket[], after: readonly Bucket[]): Bucket[] {
  const prev = new Map(before.map((x) => [x.le, x.count]));
  return after.map(({ le, count }) => ({ le, count: count - (prev.get(le) ?? 0) }));
}
