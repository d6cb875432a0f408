/**
 * @module
 * Upgrade of the packet counter maps (kpb_np_counters, kpb_pod_counters) from a __u64 per verdict
 * and one per reason, index hook * stride + counter, to one slot per hook and reason holding the
 * packets by verdict (datapath/include/counters.h, struct kpb_counter_slot): the programs then
 * write one slot per packet instead of two.
 *
 * The old maps count each packet once under its verdict and once under its reason, on the same
 * CPU, so per CPU and hook the two sums agree; which verdict each reason's packets got is not
 * recorded. The conversion spreads each reason's count over the verdicts still unassigned (in
 * reason order), so that every total the agent exposes (per hook, verdict and reason) carries over
 * unchanged; only the split of a reason by verdict before the upgrade is made up. The old map is
 * read in key order (an array), so a hook's four verdict counters come before its reasons.
 */
import type { ConvertedEntry, MapConverter, MapShape } from './map-migration.ts';

/** counters.h: the verdict counters are the first four of each hook (the index into packets[]). */
const VERDICTS = 4;

type Slot = { packets: number[] };

/**
 * The converter of one counter map whose hooks are `stride` counters apart (counters.h KPB_CNT_MAX
 * for kpb_np_counters, pod.h KPB_POD_CNT_MAX for kpb_pod_counters).
 */
export function counterSlotsConverter(name: string, stride: number): MapConverter {
  /** Per hook and CPU: the verdict counts not yet given to a reason. */
  const unassigned = new Map<number, number[][]>();
  return {
    from: name,
    to: [name],
    describe: 'one slot per reason holding the packets by verdict; every total carries over',
    accepts(old: MapShape): boolean {
      return old.type === 'percpu_array' && old.keySize === 4 && old.valueSize === 8 && old.maxEntries % stride === 0;
    },
    convert(key: unknown, value: unknown): ConvertedEntry {
      const k = Number(key);
      const hook = Math.floor(k / stride);
      const counter = k % stride;
      const perCpu = (Array.isArray(value) ? value : [value]).map((v) => Number(v ?? 0));
      if (counter < VERDICTS) {
        if (counter === 0 || !unassigned.has(hook)) unassigned.set(hook, perCpu.map(() => new Array<number>(VERDICTS).fill(0)));
        perCpu.forEach((n, cpu) => { unassigned.get(hook)![cpu]![counter] = n; });
        // The verdict numbers' own slots are unused in the new layout.
        return { map: name, key: k, value: perCpu.map((): Slot => ({ packets: new Array<number>(VERDICTS).fill(0) })) };
      }
      const left = unassigned.get(hook);
      const slots = perCpu.map((n, cpu): Slot => {
        const packets = new Array<number>(VERDICTS).fill(0);
        const budget = left?.[cpu];
        for (let v = 0; v < VERDICTS && n > 0; v++) {
          const take = Math.min(n, budget?.[v] ?? 0);
          packets[v]! += take;
          if (budget) budget[v]! -= take;
          n -= take;
        }
        // Packets counted under a reason but not yet under a verdict (the old programs ran between
        // the two reads): kept, under pass, so the reason's total stays right.
        packets[0]! += n;
        return { packets };
      });
      return { map: name, key: k, value: slots };
    },
  };
}

/** pod.h KPB_POD_CNT_MAX; counters.h KPB_CNT_MAX. */
export const COUNTER_CONVERTERS: readonly MapConverter[] = [
  counterSlotsConverter('kpb_np_counters', 32),
  counterSlotsConverter('kpb_pod_counters', 40),
];
