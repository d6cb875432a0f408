/**
 * @module
 * Upgrade of the datapath's generations from two pinned maps of one __u32 each (kpb_nh_gen,
 * kpb_be_gen) to one struct kpb_gens { nh, be } in kpb_gens (datapath/include/conntrack.h). Each
 * becomes its old value plus one: every conntrack entry recorded a generation no later than the
 * old value, so after the upgrade each flow re-learns its next hop and re-checks its backend once,
 * as after a bump. Starting at 0 instead would make entries filled under generation 0, and stale
 * since, look current again.
 */
import type { ConvertedEntry, MapConverter, MapShape } from './map-migration.ts';
import type { Generations } from './generations.ts';

/**
 * The converters of kpb_nh_gen and kpb_be_gen. They share what they have read, so that the one
 * that runs second writes both fields (each write replaces the whole value).
 */
export function generationConverters(): MapConverter[] {
  const gens: Generations = { nh: 0, be: 0 };
  const one = (from: string, field: keyof Generations): MapConverter => ({
    from,
    to: ['kpb_gens'],
    describe: `kpb_gens.${field} (one past the old value: each flow re-checks once)`,
    accepts: (old: MapShape) => old.type === 'array' && old.keySize === 4 && old.valueSize === 4 && old.maxEntries === 1,
    convert(key: unknown, value: unknown): ConvertedEntry | null {
      if (Number(key) !== 0) return null;
      gens[field] = (Number(value ?? 0) + 1) >>> 0;
      return { map: 'kpb_gens', key: 0, value: { ...gens } };
    },
  });
  return [one('kpb_nh_gen', 'nh'), one('kpb_be_gen', 'be')];
}
