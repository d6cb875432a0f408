/**
 * @module
 * Returns the C heap's free pages to the kernel after V8's major garbage collections. Node's
 * ArrayBuffers (map batches, Buffers of the list's pages) and the addon allocate with glibc's
 * malloc; when a burst (the first list, a sync over every Service) is collected, glibc gives back
 * only the top of its heap, and what was freed below stays resident: measured at 10k Services x 10
 * endpoints with e2e/bench/sync-micro.ts, 15-18 MiB of the RSS after the first sync. The trim
 * follows a major GC because that is when V8 frees the backing stores; it runs only when malloc
 * holds at least `minFreeBytes` more free than after the last trim, so steady state costs nothing
 * but one mallinfo2 per major GC (~1 ms per trim at that size).
 */
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';

export interface MallocTrimmerOptions {
  /** glibc's statistics (bpf-loader-napi mallocStats). */
  freeBytes: () => number;
  /** malloc_trim(0) (bpf-loader-napi mallocTrim). */
  trim: () => unknown;
  /** Trim only when this much more is free than after the last trim. @default 4 MiB */
  minFreeBytes?: number;
}

/** A running trimmer: `trims` counts the trims done; stop() disconnects it. */
export interface MallocTrimmer {
  readonly trims: number;
  stop(): void;
}

/**
 * Starts trimming after major GCs.
 *
 * @example
 * const trimmer = startMallocTrimmer({ freeBytes: () => mallocStats().freeBytes, trim: mallocTrim });
 */
export function startMallocTrimmer(options: MallocTrimmerOptions): MallocTrimmer {
  const minFree = options.minFreeBytes ?? 4 * 2 ** 20;
  // Free bytes right after the last trim: trimmed free chunks still count as free in mallinfo2.
  let base = 0;
  let trims = 0;
  const observer = new PerformanceObserver((list) => {
    const major = list.getEntries().some((e: PerformanceEntry & { detail?: unknown }) => (e.detail as { kind?: number } | undefined)?.kind === constants.NODE_PERFORMANCE_GC_MAJOR);
    if (!major) return;
    const free = options.freeBytes();
    // Free memory was reused since the last trim: measure growth from there.
    if (free < base) base = free;
    if (free - base < minFree) return;
    options.trim();
    trims++;
    base = options.freeBytes();
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    get trims() { return trims; },
    stop: () => observer.disconnect(),
  };
}
