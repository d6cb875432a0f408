/**
 * @module
 * One memory-reducing, compacting garbage collection, for after a burst that will not come back
 * (the first list and the full sync at start). V8 sizes its old space for the burst's peak and
 * keeps the pages it compacts into only when its memory reducer runs, which needs a quiet period
 * the agent rarely has (watch events, /metrics scrapes). Measured with e2e/bench/sync-micro.ts at
 * 10k Services x 10 endpoints: heapTotal 134 -> 68 MiB right after the first sync (65 MiB live),
 * and RSS after the 200 changes 153 -> 123 MiB; the collection takes about as long as one full GC
 * of the peak heap, once. Needs the gc extension (--expose-gc, in the agent's V8 flags, node-flags.ts).
 */

/** What one compaction did: the V8 heap before and after, and how long it took. */
export interface HeapCompaction {
  heapTotalBefore: number;
  heapTotalAfter: number;
  heapUsedAfter: number;
  ms: number;
}

type GcExtension = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/**
 * Collects with V8's "last resort" flavour (CollectAllAvailableGarbage: repeated full GCs that
 * reduce the memory footprint and compact), synchronously. Returns null, doing nothing, when the
 * process runs without the gc extension (the agent from source without its V8 flags).
 *
 * @example
 * const c = compactHeap();
 * if (c) logger.info('Compacted the heap', { mib: c.heapTotalAfter >> 20 });
 */
export function compactHeap(gc: unknown = (globalThis as { gc?: unknown }).gc): HeapCompaction | null {
  if (typeof gc !== 'function') return null;
  const before = process.memoryUsage();
  const t0 = performance.now();
  (gc as GcExtension)({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  const after = process.memoryUsage();
  return { heapTotalBefore: before.heapTotal, heapTotalAfter: after.heapTotal, heapUsedAfter: after.heapUsed, ms: performance.now() - t0 };
}
