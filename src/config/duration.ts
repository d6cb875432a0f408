/**
 * @module
 * Go `time.Duration` strings, as KubeProxyConfiguration and kube-proxy's flags use them. Parsing
 * follows time.ParseDuration (units ns, us, µs, ms, s, m, h; fractions; sign; `0` alone) and
 * formatting follows Duration.String(), so a file written with --write-config-to reads the same as
 * upstream's (`1h0m0s`, `1.5s`, `250ms`).
 */

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Parses a Go duration string into nanoseconds; throws SyntaxError naming the input. */
export function parseDurationNs(input: string): number {
  let s = input;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw new SyntaxError(`Cannot parse duration "${input}": it is empty`);
  let total = 0;
  const re = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/;
  while (s.length > 0) {
    const m = re.exec(s);
    if (!m || (m[1] === '' && (m[2] === undefined || m[2] === ''))) {
      throw new SyntaxError(`Cannot parse duration "${input}": expected a number followed by a unit (ns, us, ms, s, m, h)`);
    }
    const value = Number(`${m[1] || '0'}.${m[2] ?? '0'}`);
    total += value * UNIT_NS[m[3]];
    s = s.slice(m[0].length);
  }
  return sign * Math.round(total);
}

/** Parses a Go duration string into (possibly fractional) milliseconds. */
export function parseDuration(input: string): number {
  return parseDurationNs(input) / 1e6;
}

/** Formats nanoseconds as Go's Duration.String() does. */
export function formatDurationNs(ns: number): string {
  ns = Math.round(ns);
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let u = Math.abs(ns);
  let out: string;
  if (u < 1e9) {
    // Sub-second values use the largest unit that keeps an integer part, with a trimmed fraction.
    const [unit, div] = u < 1e3 ? ['ns', 1] : u < 1e6 ? ['µs', 1e3] : ['ms', 1e6];
    out = trimFraction(u, div) + unit;
  } else {
    const h = Math.floor(u / 3600e9);
    u -= h * 3600e9;
    const m = Math.floor(u / 60e9);
    u -= m * 60e9;
    out = `${trimFraction(u, 1e9)}s`;
    if (h > 0 || m > 0) out = `${m}m${out}`;
    if (h > 0) out = `${h}h${out}`;
  }
  return neg ? `-${out}` : out;
}

/** Formats milliseconds as a Go duration string. */
export function formatDuration(ms: number): string {
  return formatDurationNs(ms * 1e6);
}

function trimFraction(value: number, div: number): string {
  const whole = Math.floor(value / div);
  const rest = value - whole * div;
  if (rest === 0) return String(whole);
  const digits = String(div).length - 1;
  return `${whole}.${String(rest).padStart(digits, '0').replace(/0+$/, '')}`;
}
