/* host.c: facts about the calling process's host that would otherwise need a helper program:
 * the network namespace cookie (getsockopt SO_NETNS_COOKIE, which Node cannot call) and mounting
 * bpffs (mount(2), without util-linux's mount); and glibc's malloc statistics and trim, which Node
 * cannot reach either (the agent returns the first list's freed C heap to the kernel); and the
 * release of the read-only file pages the process no longer touches (its own executable's). */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include "kpb.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* netnsCookie() -> bigint: the cookie of the calling thread's network namespace (the value
 * bpf_get_netns_cookie() returns for sockets in it). */
static napi_value js_netns_cookie(napi_env env, napi_callback_info info)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);
	napi_value out;
	(void)info;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		kpb_throw(env, errno, "netns_cookie", "", "Open a socket to read the network namespace cookie failed");
		return NULL;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len)) {
		int e = errno;
		close(fd);
		kpb_throw(env, e, "netns_cookie", "", "Read the network namespace cookie (SO_NETNS_COOKIE) failed");
		return NULL;
	}
	close(fd);
	KPB_TRY(napi_create_bigint_uint64(env, cookie, &out));
	return out;
}

/* mountBpffs(path, mode): mounts a bpffs at `path` (nosuid, nodev, noexec) whose root has
 * permission bits `mode`; `path` must exist. */
static napi_value js_mount_bpffs(napi_env env, napi_callback_info info)
{
	KPB_ARGS(2);
	char path[4096], opts[32];
	uint32_t mode;
	if (!kpb_get_string(env, argv[0], "path", path, sizeof(path)) || !kpb_get_u32(env, argv[1], "mode", &mode))
		return NULL;
	if (mode > 07777) {
		napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "The value of \"mode\" is out of range: 0..0o7777");
		return NULL;
	}
	snprintf(opts, sizeof(opts), "mode=%04o", mode);
	if (mount("bpf", path, "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME, opts)) {
		kpb_throw(env, errno, "mount_bpffs", path, "Mount bpffs at \"%s\" with %s failed", path, opts);
		return NULL;
	}
	return kpb_undefined(env);
}

/* mallocStats() -> { arenaBytes, inUseBytes, freeBytes, mmapBytes, topFreeBytes }: glibc's
 * mallinfo2() over all arenas: bytes taken from the kernel with brk/mmap for small chunks, in use,
 * free in those chunks, in large mmap'd chunks, and free at the top of the main arena. */
static napi_value js_malloc_stats(napi_env env, napi_callback_info info)
{
	struct mallinfo2 mi = mallinfo2();
	napi_value out;
	(void)info;
	KPB_TRY(napi_create_object(env, &out));
	kpb_set_i64(env, out, "arenaBytes", (int64_t)mi.arena);
	kpb_set_i64(env, out, "inUseBytes", (int64_t)mi.uordblks);
	kpb_set_i64(env, out, "freeBytes", (int64_t)mi.fordblks);
	kpb_set_i64(env, out, "mmapBytes", (int64_t)mi.hblkhd);
	kpb_set_i64(env, out, "topFreeBytes", (int64_t)mi.keepcost);
	return out;
}

/* mallocTrim() -> boolean: malloc_trim(0), which returns the free pages of every arena (not only
 * the top of the heap) to the kernel; true when some memory was released. */
static napi_value js_malloc_trim(napi_env env, napi_callback_info info)
{
	napi_value out;
	(void)info;
	KPB_TRY(napi_get_boolean(env, malloc_trim(0) == 1, &out));
	return out;
}

#ifndef MADV_DONTNEED
#define MADV_DONTNEED 4
#endif

struct file_range {
	unsigned long start, end;
	long rss_kb;
};

/* releaseFilePages() -> { mappings, bytes }: unmaps the resident pages of every read-only,
 * file-backed mapping of this process that holds no anonymous (copied-on-write) page, with
 * madvise(MADV_DONTNEED). Such pages are clean copies of the file still in the page cache, so a
 * later touch maps them again with a minor fault and nothing is lost; a mapping with an anonymous
 * page (relocations written after load, then made read-only) is left alone, because DONTNEED
 * would drop the written copy. After start-up most of the executable's pages (the V8 start-up
 * snapshot, the single binary's blob and code cache, ICU data, code run only once) are never
 * touched again but stay counted in the RSS until the kernel needs the memory. `bytes` is the
 * resident size that was unmapped (what is touched again comes back). */
static napi_value js_release_file_pages(napi_env env, napi_callback_info info)
{
	struct file_range ranges[512];
	int n = 0, cur = -1, released = 0;
	long bytes = 0;
	char line[4352];
	napi_value out;
	(void)info;
	FILE *f = fopen("/proc/self/smaps", "re");
	if (!f) {
		kpb_throw(env, errno, "release_file_pages", "/proc/self/smaps", "Open /proc/self/smaps to find file pages failed");
		return NULL;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end, inode;
		char perms[8], dev[16];
		int path_at = 0;
		long kb;
		if (sscanf(line, "%lx-%lx %7s %*x %15s %lu %n", &start, &end, perms, dev, &inode, &path_at) == 5) {
			cur = -1;
			/* A file (not [heap], [stack], [vdso] or anonymous memory), not writable. */
			if (inode != 0 && path_at > 0 && line[path_at] == '/' && perms[1] != 'w' && n < (int)(sizeof(ranges) / sizeof(ranges[0]))) {
				ranges[n] = (struct file_range){ start, end, 0 };
				cur = n++;
			}
			continue;
		}
		if (cur < 0)
			continue;
		if (sscanf(line, "Rss: %ld kB", &kb) == 1)
			ranges[cur].rss_kb = kb;
		else if ((sscanf(line, "Anonymous: %ld kB", &kb) == 1 && kb > 0) || (sscanf(line, "Locked: %ld kB", &kb) == 1 && kb > 0))
			ranges[cur].rss_kb = -1;
	}
	fclose(f);
	for (int i = 0; i < n; i++) {
		if (ranges[i].rss_kb <= 0)
			continue;
		if (madvise((void *)ranges[i].start, ranges[i].end - ranges[i].start, MADV_DONTNEED) == 0) {
			released++;
			bytes += ranges[i].rss_kb * 1024;
		}
	}
	KPB_TRY(napi_create_object(env, &out));
	kpb_set_i64(env, out, "mappings", released);
	kpb_set_i64(env, out, "bytes", bytes);
	return out;
}

void kpb_host_init(napi_env env, napi_value exports)
{
	kpb_export(env, exports, "mallocStats", js_malloc_stats);
	kpb_export(env, exports, "mallocTrim", js_malloc_trim);
	kpb_export(env, exports, "releaseFilePages", js_release_file_pages);
	kpb_export(env, exports, "netnsCookie", js_netns_cookie);
	kpb_export(env, exports, "mountBpffs", js_mount_bpffs);
}
