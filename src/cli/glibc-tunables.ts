/**
 * @module
 * The glibc malloc tunables the agent runs with, and the environment that sets them. glibc reads
 * GLIBC_TUNABLES once, when the process starts, so the single binary re-executes itself with them
 * (scripts/sea-main.ts) unless they are set already.
 *
 * One arena: glibc gives each thread that meets contention its own arena (up to 8 per core), and
 * each arena keeps what its thread's bursts freed, fragmented: V8's compiler and GC helper threads
 * and the libuv pool. Measured with e2e/bench (control part, 2,000 Services x 10 endpoints, real
 * apiserver, shared machine): thread arenas 40-44 MiB of a 133-135 MiB RSS after the changes; with
 * one arena 96-98 MiB, the main arena 3-5 MiB larger. Capping the arenas from inside the process
 * (mallopt M_ARENA_MAX) came too late: threads that had one kept it (33 MiB).
 */

/** The tunables the agent wants, as GLIBC_TUNABLES items. */
export const AGENT_GLIBC_TUNABLES: readonly string[] = ['glibc.malloc.arena_max=1'];

/**
 * The GLIBC_TUNABLES value to re-execute with, or null when `current` (the inherited value) sets
 * every wanted tunable already, to any value: an operator's own setting wins, and a re-executed
 * process never re-executes again.
 *
 * @example
 * tunablesToSet(undefined) // 'glibc.malloc.arena_max=1'
 * tunablesToSet('glibc.malloc.arena_max=4') // null
 */
export function tunablesToSet(current: string | undefined, wanted: readonly string[] = AGENT_GLIBC_TUNABLES): string | null {
  const items = (current ?? '').split(':').filter((s) => s !== '');
  const names = new Set(items.map((s) => s.split('=')[0]));
  const missing = wanted.filter((w) => !names.has(w.split('=')[0]));
  if (missing.length === 0) return null;
  return [...items, ...missing].join(':');
}
