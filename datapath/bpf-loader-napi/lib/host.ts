/**
 * Host facts that would otherwise need a helper program: the network namespace cookie (Node has
 * no getsockopt) and a bpffs mount (mount(2) without util-linux); glibc's malloc statistics and
 * trim (Node has neither).
 * @module
 */
import { native, type MallocStats } from './binding.ts';
import { checkString, checkUint } from './errors.ts';

/** The cookie of the caller's network namespace: what bpf_get_netns_cookie() gives for its sockets. */
export function netnsCookie(): bigint {
  return native.netnsCookie();
}

/**
 * Mounts a bpffs at `path` (which must exist), nosuid, nodev and noexec, its root with permission
 * bits `mode`. @default mode 0o700: only root may create or open pins.
 */
export function mountBpffs(path: string, options: { mode?: number } = {}): void {
  checkString('path', path);
  const mode = options.mode ?? 0o700;
  checkUint('mode', mode, 0o7777);
  native.mountBpffs(path, mode);
}

export type { MallocStats };

/** glibc's malloc statistics over all arenas (mallinfo2), in bytes. */
export function mallocStats(): MallocStats {
  return native.mallocStats();
}

/**
 * Returns the free pages of every malloc arena to the kernel (glibc malloc_trim(0)); true when
 * some were released. glibc trims only the top of the main arena on its own, so what a burst
 * (the first list's JSON, the first sync's buffers) freed in the middle stays resident otherwise.
 */
export function mallocTrim(): boolean {
  return native.mallocTrim();
}

/**
 * Unmaps the resident pages of the process's read-only file mappings that hold no copied-on-write
 * page (madvise MADV_DONTNEED): clean copies of the executable and libraries, still in the page
 * cache, mapped again on their next touch. After start-up most of them (the V8 start-up snapshot,
 * the single binary's blob and code cache, code run once) are never touched again, yet count in
 * the RSS until the kernel reclaims them. Returns how many mappings and resident bytes were
 * released (what is still used comes back).
 */
export function releaseFilePages(): { mappings: number; bytes: number } {
  return native.releaseFilePages();
}
