/**
 * @module
 * Turns one flag's raw text into its typed value with pflag's rules and error wording, so a bad
 * value reads like kube-proxy's: invalid argument "x" for "--kube-api-burst" flag: <reason>.
 */
import { formatDurationNs, parseDurationNs } from '../config/duration.ts';
import type { VModuleItem } from '../config/types.ts';
import { parseIp } from '../model/ip.ts';
import type { FlagSpec } from './flags.ts';

export type FlagValue = string | boolean | number | string[] | Record<string, boolean> | VModuleItem[] | { min: number; max: number };

const BOOL_TRUE = ['1', 't', 'T', 'TRUE', 'true', 'True'];
const BOOL_FALSE = ['0', 'f', 'F', 'FALSE', 'false', 'False'];

/** pflag's strconv.ParseBool, or undefined when `text` is not a bool. */
export function parseBool(text: string): boolean | undefined {
  if (BOOL_TRUE.includes(text)) return true;
  if (BOOL_FALSE.includes(text)) return false;
  return undefined;
}

/** Converts every occurrence of one flag (in command-line order) into its value; throws TypeError. */
export function convertFlagValue(flag: FlagSpec, occurrences: string[]): FlagValue {
  const fail = (raw: string, reason: string) =>
    new TypeError(`invalid argument ${JSON.stringify(raw)} for "${flag.short ? `-${flag.short}, ` : ''}--${flag.name}" flag: ${reason}`);
  const last = occurrences[occurrences.length - 1];
  switch (flag.type) {
    case 'string':
      return last;
    case 'ip':
      if (last.trim() !== last || parseIp(last) === null) throw fail(last, `${JSON.stringify(last)} is not a valid IP address`);
      return last;
    case 'bool': {
      const b = parseBool(last);
      if (b === undefined) throw fail(last, `strconv.ParseBool: parsing ${JSON.stringify(last)}: invalid syntax`);
      return b;
    }
    case 'int32':
    case 'level': {
      const ok = flag.type === 'level' ? /^\+?\d+$/.test(last) : /^[+-]?\d+$/.test(last);
      const n = Number(last);
      const [lo, hi] = flag.type === 'level' ? [0, 2 ** 32 - 1] : [-(2 ** 31), 2 ** 31 - 1];
      if (!ok) throw fail(last, `strconv.ParseInt: parsing ${JSON.stringify(last)}: invalid syntax`);
      if (n < lo || n > hi) throw fail(last, `strconv.ParseInt: parsing ${JSON.stringify(last)}: value out of range`);
      return n;
    }
    case 'float': {
      const n = Number(last);
      if (last.trim() === '' || !Number.isFinite(n)) throw fail(last, `strconv.ParseFloat: parsing ${JSON.stringify(last)}: invalid syntax`);
      return n;
    }
    case 'duration':
      try {
        return formatDurationNs(parseDurationNs(last));
      } catch {
        throw fail(last, `time: invalid duration ${JSON.stringify(last)}`);
      }
    case 'quantity':
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+|[KMGTPE]i|[numkMGTPE])?$/.test(last)) throw fail(last, 'quantities must match the regular expression \'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$\'');
      return last;
    case 'strings':
      // pflag's StringSlice splits each occurrence on commas and appends across repeats.
      return occurrences.flatMap((o) => (o === '' ? [] : o.split(',').map((s) => s.trim())));
    case 'mapStringBool': {
      const out: Record<string, boolean> = {};
      for (const o of occurrences) {
        for (const pair of o.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
          const eq = pair.indexOf('=');
          if (eq < 0) throw fail(o, `missing bool value for ${pair}`);
          const b = parseBool(pair.slice(eq + 1).trim());
          if (b === undefined) throw fail(o, `invalid value of ${pair.slice(0, eq)}=${pair.slice(eq + 1)}, err: strconv.ParseBool: parsing ${JSON.stringify(pair.slice(eq + 1))}: invalid syntax`);
          out[pair.slice(0, eq).trim()] = b;
        }
      }
      return out;
    }
    case 'vmodule': {
      const out: VModuleItem[] = [];
      for (const o of occurrences) {
        for (const part of o.split(',').filter((s) => s !== '')) {
          const m = /^([^=]+)=(\d+)$/.exec(part.trim());
          if (!m) throw fail(o, `expect comma-separated list of pattern=N, got ${JSON.stringify(part)}`);
          out.push({ filePattern: m[1], verbosity: Number(m[2]) });
        }
      }
      return out;
    }
    case 'portRange': {
      const m = /^(\d+)-(\d+)$/.exec(last.trim());
      if (!m) throw fail(last, 'must be MIN-MAX, e.g. 61000-65535');
      return { min: Number(m[1]), max: Number(m[2]) };
    }
  }
}
