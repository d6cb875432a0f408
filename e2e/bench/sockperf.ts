// Parser for `sockperf ping-pong` output (version 3.x): run time and messages of the valid
// window, average round trip and the percentile lines. Pure; the numbers are microseconds.
export interface SockperfResult {
  runTimeS: number;
  received: number;
  /** Round trips per second over the valid window. */
  ratePerS: number;
  avgUs: number;
  percentilesUs: Record<string, number>;
}

export function parseSockperf(out: string): SockperfResult {
  // eslint-disable-next-line no-control-regex
  const text = out.replace(/\x1b\[[0-9;]*m/g, '');
  const valid = /\[Valid Duration\] RunTime=([\d.]+) sec; SentMessages=(\d+); ReceivedMessages=(\d+)/.exec(text);
  if (!valid) throw new Error(`sockperf: no [Valid Duration] line in output:\n${text.slice(-1500)}`);
  const avg = /avg-(?:rtt|latency)=([\d.]+)/.exec(text);
  const percentilesUs: Record<string, number> = {};
  for (const m of text.matchAll(/---> percentile ([\d.]+) =\s+([\d.]+)/g)) percentilesUs[m[1]] = Number(m[2]);
  const max = /---> <MAX> observation =\s+([\d.]+)/.exec(text);
  if (max) percentilesUs.max = Number(max[1]);
  const runTimeS = Number(valid[1]);
  const received = Number(valid[3]);
  return { runTimeS, received, ratePerS: runTimeS > 0 ? received / runTimeS : 0, avgUs: avg ? Number(avg[1]) : Number.NaN, percentilesUs };
}
