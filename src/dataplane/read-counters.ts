/**
 * @module
 * Reads the datapath's counters into the DatapathSnapshot the metrics expose: the per-CPU
 * north-south counters (kpb_np_counters: a slot per hook and reason, index = hook * KPB_CNT_MAX +
 * reason, holding the packets by verdict, counters.h), the pod-side ones (kpb_pod_counters, the
 * same slots plus the pod's own reasons, pod.h), the
 * socket LB's per-CPU stats (lb_sock_stats, sock_lb.h, one field per event), the fill level of
 * every map and the conntrack entries per family (the kernel's counts where it keeps them,
 * map-entry-counter.ts, else a walk in chunks). Names follow the C enums, lower-cased.
 */
import type { BpfMap } from 'bpf-loader-napi';
import type { DatapathSnapshot } from '../metrics/datapath-metrics.ts';
import { MapEntryCounter } from './map-entry-counter.ts';

/** counters.h enum kpb_counter: the verdicts are the first four (the index into a slot's packets),
 * the reasons the rest (the slot). */
const VERDICTS = ['pass', 'drop', 'tx', 'redirect'] as const;
const REASONS = [
  'not_ip', 'not_service', 'unsupp_l4', 'fragment', 'malformed', 'src_range', 'no_backend', 'snat_exhausted', 'ct_full',
  'local_dnat', 'remote_fwd', 'reply_fwd', 'reply_local', 'to_tc', 'fib_fail', 'rst_sent', 'icmp_sent', 'icmp_xlate',
  'dsr_encap', 'dsr_decap', 'dsr_reply', 'frag_needed', 'ttl', 'error', 'vip_unknown_port',
  'no_local_backend', 'snat_map_full', 'sent_by_us',
] as const;
const HOOKS = ['xdp', 'tc_ingress', 'tc_egress'] as const;
const KPB_CNT_MAX = 32;
/** pod.h: enum kpb_pod_hook, and enum kpb_pod_counter from KPB_CNT_MAX on. */
const POD_HOOKS = ['pod_ingress', 'pod_egress'] as const;
const POD_REASONS = ['hairpin', 'not_pod', 'unallocated', 'bad_scope'] as const;

export type CounterMaps = {
  npCounters?: BpfMap;
  /** kpb_pod_counters: POD_HOOKS.length hooks of max_entries / 2 counters each. */
  podCounters?: BpfMap;
  sockStats?: BpfMap;
  /** Maps whose fill level is reported. */
  sized: BpfMap[];
  /** Conntrack maps per family (kpb_ct4 and the reservations of kpb_snat4, kpb_ct6 and kpb_snat6: conntrack.h). */
  conntrack?: { IPv4: BpfMap[]; IPv6: BpfMap[] };
  /**
   * The kernel's entry counts by map id (MapEntryCounter.counts(), one iterator run); a map whose
   * type keeps no count, or every map without this, is walked. @default walk every map
   */
  kernelCounts?: () => ReadonlyMap<number, number>;
  /**
   * Maps whose entries are counted another way, by name: the SNAT reservation tables are arrays
   * (every slot exists), whose claimed slots a BPF census counts (snat_gc.h).
   */
  counted?: ReadonlyMap<string, (turn: () => Promise<void>) => Promise<number>>;
};

/** Slot `key` of a counter map (struct kpb_counter_slot) summed over CPUs: packets by verdict. */
function slot(map: BpfMap, key: number): number[] {
  const out = VERDICTS.map(() => 0);
  for (const cpu of (map.lookup(key) as { packets: (number | bigint)[] }[] | undefined) ?? []) {
    cpu.packets.forEach((v, i) => { out[i] = (out[i] ?? 0) + Number(v); });
  }
  return out;
}

/**
 * Entries read per batch when counting a map's entries by walking it: a map the kernel keeps no
 * count for (map-entry-counter.ts), or every map on a kernel before 6.6. A walk costs about
 * 0.45 us an entry on this kernel (~45 ms for lb_slots at 10k Services x 10 endpoints, seconds for
 * a full conntrack map), so it is done in chunks with a turn of the event loop between them, and a
 * scrape never holds back a sync for more than a chunk.
 */
export const COUNT_CHUNK = 1024;

const setImmediateTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function count(map: BpfMap, turn: () => Promise<void>, kernel: ReadonlyMap<number, number> | null, own?: CounterMaps['counted']): Promise<number> {
  const census = own?.get(map.name);
  if (census) return census(turn);
  const counted = kernel ? MapEntryCounter.countOf(kernel, map) : undefined;
  if (counted !== undefined) return counted;
  let n = 0;
  for (const c of map.lookupPackedChunks(COUNT_CHUNK)) {
    n += c.count;
    await turn();
  }
  return n;
}

/** The packet counters alone (no map is walked): verdicts and reasons per hook. */
export function readPacketCounters(maps: Omit<CounterMaps, 'sized' | 'conntrack'>): Pick<DatapathSnapshot, 'verdicts' | 'reasons'> {
  const verdicts: { hook: string; verdict: string; packets: number }[] = [];
  const reasons: { hook: string; reason: string; packets: number }[] = [];
  /** One hook's slots: each reason's packets, and each verdict's summed over the reasons. */
  const hookSlots = (map: BpfMap, hook: string, base: number, named: readonly (readonly [string, number])[]): void => {
    const byVerdict = VERDICTS.map(() => 0);
    for (const [reason, index] of named) {
      const s = slot(map, base + index);
      s.forEach((n, v) => { byVerdict[v] = (byVerdict[v] ?? 0) + n; });
      reasons.push({ hook, reason, packets: s.reduce((a, b) => a + b, 0) });
    }
    VERDICTS.forEach((verdict, v) => verdicts.push({ hook, verdict, packets: byVerdict[v] ?? 0 }));
  };
  const shared = REASONS.map((r, i) => [r, VERDICTS.length + i] as const);
  if (maps.npCounters) HOOKS.forEach((hook, h) => hookSlots(maps.npCounters!, hook, h * KPB_CNT_MAX, shared));
  if (maps.podCounters) {
    const pc = maps.podCounters;
    const per = pc.info().maxEntries / POD_HOOKS.length;
    const own = [...shared, ...POD_REASONS.map((r, i) => [r, KPB_CNT_MAX + i] as const)];
    POD_HOOKS.forEach((hook, h) => hookSlots(pc, hook, h * per, own));
  }
  if (maps.sockStats) {
    const per = maps.sockStats.lookup(0) as Record<string, number | bigint>[] | undefined;
    const totals = new Map<string, number>();
    for (const cpu of per ?? []) for (const [k, v] of Object.entries(cpu)) if (!k.startsWith('pad')) totals.set(k, (totals.get(k) ?? 0) + Number(v));
    for (const [reason, packets] of totals) reasons.push({ hook: 'sock', reason, packets });
  }
  return { verdicts, reasons };
}

/**
 * The packet counters, the entries of every sized map and the conntrack entries per family. The
 * maps are walked in chunks with `turn()` (one turn of the event loop) between them.
 */
export async function readCounters(maps: CounterMaps, xdpFallback: DatapathSnapshot['xdpFallback'], turn: () => Promise<void> = setImmediateTurn): Promise<DatapathSnapshot> {
  const { verdicts, reasons } = readPacketCounters(maps);
  const kernel = maps.kernelCounts?.() ?? null;
  const sized: { map: string; entries: number; maxEntries: number }[] = [];
  for (const m of maps.sized) sized.push({ map: m.name, entries: await count(m, turn, kernel, maps.counted), maxEntries: m.info().maxEntries });
  const conntrack: DatapathSnapshot['conntrack'][number][] = [];
  if (maps.conntrack) {
    for (const ipFamily of ['IPv4', 'IPv6'] as const) {
      let entries = 0;
      for (const m of maps.conntrack[ipFamily]) entries += await count(m, turn, kernel, maps.counted);
      conntrack.push({ ipFamily, entries });
    }
  }
  return { verdicts, reasons, maps: sized, conntrack, xdpFallback };
}
