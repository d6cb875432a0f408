/**
 * @module
 * Every flag's value as pflag prints it (`Value.String()`), for `/flagz`: explicit flags as
 * given (after conversion), the others at their defaults. klog's legacy flags are left out, as
 * upstream's /flagz leaves out the Go flag set.
 */
import type { FlagValue } from './convert-flag-value.ts';
import { FLAGS } from './flags.ts';

/** [name, value] for every flag, sorted by name. */
export function flagValues(explicit: ReadonlyMap<string, FlagValue>): [string, string][] {
  return FLAGS.filter((f) => f.group !== 'legacy')
    .map((f): [string, string] => [f.name, explicit.has(f.name) ? formatFlagValue(explicit.get(f.name)!) : f.default])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** pflag's text for a converted value. */
export function formatFlagValue(v: FlagValue): string {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) {
    if (v.length > 0 && typeof v[0] === 'object') return (v as { filePattern: string; verbosity: number }[]).map((m) => `${m.filePattern}=${m.verbosity}`).join(',');
    return `[${(v as string[]).join(',')}]`;
  }
  if ('min' in v && 'max' in v && typeof v.min === 'number') return `${v.min}-${v.max}`;
  return Object.keys(v).sort().map((k) => `${k}=${(v as Record<string, boolean>)[k]}`).join(',');
}
