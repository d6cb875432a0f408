// Reads a benchmark part's figures from its results by field name, so that the report and the
// charts show a new figure without code of their own. The convention (issue 12's progcost and
// forward results follow it):
//   - a figure is a numeric field named <contender><measure><unit>, e.g. xdpEstablishedP50Ns,
//     oursTcNsPerPkt, nftablesNsPerPkt, floorP50Ns;
//   - the unit is the name's suffix (UNITS); a field without one is not a figure;
//   - the contender is the name's first words (CONTENDER_PREFIXES; else the first word);
//   - when the part measured several rounds, `perRound` (or `rounds`) is an array of objects with
//     the same fields, one per round, and the top-level figure is their median.
import { isNotRun } from './context.ts';

export interface Figure {
  field: string;
  contender: string;
  /** The words between contender and unit, lower case: "established p50", "" for none. */
  measure: string;
  unit: string;
  value: number;
  /** Each round's value, in order; empty when the part reports no rounds. */
  rounds: number[];
}

/** Name suffix -> unit, longest first. */
export const UNITS: ReadonlyArray<readonly [string, string]> = [
  ['NsPerPkt', 'ns/packet'], ['Ns', 'ns'], ['Us', 'µs'], ['Ms', 'ms'], ['MiB', 'MiB'], ['Seconds', 's'], ['Pps', 'packets/s'],
];

/** First words of a figure's name -> contender, longest first; the names the charts colour. */
export const CONTENDER_PREFIXES: ReadonlyArray<readonly [string, string]> = [
  ['xdpTxFloor', 'XDP_TX floor'], ['xdpPassFloor', 'XDP_PASS floor'], ['tcPassFloor', 'TC_ACT_OK floor'], ['floor', 'XDP_PASS floor'],
  ['oursXdp', 'ours XDP'], ['oursTc', 'ours tc'], ['ours', 'ours'], ['xdp', 'ours XDP'], ['tc', 'ours tc'],
  ['nftables', 'kube-proxy nftables'], ['iptables', 'kube-proxy iptables'], ['routing', 'routing (no NAT)'],
];

const words = (camel: string): string[] => camel.split(/(?=[A-Z][a-z])|(?<=[a-z0-9])(?=[A-Z])/).filter(Boolean);

/** Contender, measure and unit of a figure's field name, or undefined when it has no unit suffix. */
export function parseFigureName(field: string): { contender: string; measure: string; unit: string } | undefined {
  const unit = UNITS.find(([suffix]) => field.endsWith(suffix) && field.length > suffix.length);
  if (!unit) return undefined;
  const stem = field.slice(0, -unit[0].length);
  // A prefix counts only at a word boundary: "tc" is not the start of "tcpFoo".
  const prefix = CONTENDER_PREFIXES.find(([p]) => stem.startsWith(p) && (stem.length === p.length || /[A-Z0-9]/.test(stem[p.length])));
  const contenderWords = prefix ? prefix[0] : words(stem)[0];
  const measure = words(stem.slice(contenderWords.length)).join(' ').toLowerCase();
  return { contender: prefix ? prefix[1] : contenderWords, measure, unit: unit[1] };
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The per-round objects of a part's result: `perRound` or `rounds`, when an array of objects. */
export function roundsOf(o: unknown): Array<Record<string, unknown>> {
  if (typeof o !== 'object' || o === null) return [];
  const r = (o as Record<string, unknown>).perRound ?? (o as Record<string, unknown>).rounds;
  return Array.isArray(r) ? r.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null) : [];
}

/** Every figure of a part's result (its top-level numeric fields with a unit), optionally filtered by name. */
export function figures(o: unknown, match?: RegExp): Figure[] {
  if (typeof o !== 'object' || o === null || Array.isArray(o) || isNotRun(o)) return [];
  const rounds = roundsOf(o);
  const out: Figure[] = [];
  for (const [field, value] of Object.entries(o)) {
    if (!finite(value) || (match && !match.test(field))) continue;
    const name = parseFigureName(field);
    if (!name) continue;
    out.push({ field, ...name, value, rounds: rounds.map((r) => r[field]).filter(finite) });
  }
  return out;
}

/** min and max of a figure's rounds, when there were at least two. */
export function spread(f: { rounds: readonly number[] }): { lo: number; hi: number } | undefined {
  return f.rounds.length >= 2 ? { lo: Math.min(...f.rounds), hi: Math.max(...f.rounds) } : undefined;
}
