/* kpb.h: what the addon's C files share: the handle registry (every kernel object the addon owns),
 * argument guards that throw TypeError naming the argument, and BpfError construction.
 * Each concern lives in its own file: addon.c (exports, registry, cleanup), error.c (errors and
 * libbpf log capture), object.c + btf_layout.c (open, describe, load), map.c, prog.c, link.c,
 * probe.c, netlink.c (links, addresses, change watcher), host.c (netns cookie, bpffs mount),
 * iter.c (BPF iterators, also run inside another network namespace). Nothing here knows about Kubernetes. */
#ifndef KPB_H
#define KPB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <node_api.h>
#include <bpf/libbpf.h>

enum kpb_kind {
	KPB_OBJECT = 1,
	KPB_MAP = 2,
	KPB_PROG = 3,
	KPB_LINK = 4,
	KPB_WATCH = 5,
};

enum kpb_link_kind {
	KPB_LINK_FD = 0, /* a kernel bpf_link (XDP, cgroup): detaches when its last fd closes unless pinned */
	KPB_LINK_TC = 1, /* a netlink tc filter: lives on the device until detached */
};

/* One owned kernel resource. Freed only by the JS finalizer; the fd (or bpf_object) is released
 * by close(), by the finalizer, or by the environment cleanup hook, whichever comes first. */
struct kpb_handle {
	struct kpb_handle *prev, *next;
	napi_env env;
	int kind;
	int fd;
	char name[64];
	/* KPB_MAP */
	uint32_t map_type, key_size, value_size, raw_value_size, max_entries, map_flags;
	/* KPB_PROG */
	uint32_t prog_type;
	/* KPB_LINK */
	int link_kind;
	int tc_ifindex;
	int tc_attach_point;
	uint32_t tc_handle, tc_priority;
	/* KPB_WATCH: owned by netlink.c; fd is its socket, not closed by the generic release */
	struct kpb_watch *watch;
	/* KPB_OBJECT */
	struct bpf_object *obj;
	void *obj_buf;   /* libbpf keeps pointing into the ELF image it opened from memory */
	bool busy;       /* a load is running on the thread pool */
	bool loaded;
};

/* libbpf output captured on the current thread, so each operation reports its own messages. */
struct kpb_log {
	char *buf;
	size_t len, cap;
	bool truncated;
};

/* Details of a failure, filled off the main thread and turned into a BpfError on it. */
struct kpb_err {
	int err;               /* positive errno, 0 = no error */
	char op[48];
	char object[128];
	char message[1024];
	char *libbpf;          /* malloc'd or NULL */
	char *verifier;        /* malloc'd or NULL */
};

/* addon.c */
struct kpb_handle *kpb_handle_new(napi_env env, int kind, napi_value *out);
struct kpb_handle *kpb_handle_arg(napi_env env, napi_value v, int kind, const char *argname);
void kpb_handle_release(struct kpb_handle *h);
napi_value kpb_undefined(napi_env env);
int kpb_open_pinned_fd(napi_env env, napi_value path_arg, const char *fdinfo_key, const char *op,
		       const char *what, char *path, size_t size);
napi_value kpb_pin_handle(napi_env env, struct kpb_handle *h, napi_value path_arg, const char *op, const char *what);
bool kpb_fd_has(int fd, const char *key);
bool kpb_get_string(napi_env env, napi_value v, const char *argname, char *buf, size_t size);
bool kpb_get_u32(napi_env env, napi_value v, const char *argname, uint32_t *out);
bool kpb_get_i32(napi_env env, napi_value v, const char *argname, int32_t *out);
bool kpb_get_buffer(napi_env env, napi_value v, const char *argname, void **data, size_t *len);
bool kpb_is_nullish(napi_env env, napi_value v);
void kpb_set_u32(napi_env env, napi_value obj, const char *key, uint32_t v);
void kpb_set_i64(napi_env env, napi_value obj, const char *key, int64_t v);
void kpb_set_str(napi_env env, napi_value obj, const char *key, const char *s);
void kpb_set_bool(napi_env env, napi_value obj, const char *key, bool v);

/* error.c */
void kpb_error_install_print(void);
napi_status kpb_error_set_class(napi_env env, napi_value ctor);
const char *kpb_errno_code(int err);
void kpb_log_begin(struct kpb_log *log);
void kpb_log_end(struct kpb_log *log);
void kpb_err_set(struct kpb_err *e, int err, const char *op, const char *object, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void kpb_err_take_log(struct kpb_err *e, struct kpb_log *log);
void kpb_err_free(struct kpb_err *e);
napi_value kpb_err_to_js(napi_env env, struct kpb_err *e);
void kpb_throw_err(napi_env env, struct kpb_err *e);
/* Throw a BpfError for a failed call with positive errno `err`; message gets ": <strerror>". */
void kpb_throw(napi_env env, int err, const char *op, const char *object, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void kpb_throw_type(napi_env env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Registration of each file's exported functions. */
typedef napi_value (*kpb_fn)(napi_env, napi_callback_info);
void kpb_export(napi_env env, napi_value exports, const char *name, kpb_fn fn);
void kpb_object_init(napi_env env, napi_value exports);
void kpb_map_init(napi_env env, napi_value exports);
void kpb_prog_init(napi_env env, napi_value exports);
void kpb_link_init(napi_env env, napi_value exports);
void kpb_probe_init(napi_env env, napi_value exports);
void kpb_netlink_init(napi_env env, napi_value exports);
void kpb_host_init(napi_env env, napi_value exports);
void kpb_iter_init(napi_env env, napi_value exports);

/* netlink.c: stop a watcher handle's thread and release what it owns. */
void kpb_watch_release(struct kpb_handle *h);

/* map.c: fill a map handle from a kernel fd (takes ownership of fd). */
int kpb_map_handle_fill(struct kpb_handle *h, int fd);
int kpb_prog_handle_fill(struct kpb_handle *h, int fd);

/* btf_layout.c: a JS layout object for BTF type `id`, or undefined when there is none. */
napi_value kpb_btf_layout(napi_env env, const struct btf *btf, uint32_t id);

/* Guards: return early (with the exception already pending) when a napi call fails. */
#define KPB_ARGS(n)                                                                   \
	size_t argc = (n);                                                            \
	napi_value argv[(n) > 0 ? (n) : 1];                                           \
	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok)          \
		return NULL;                                                          \
	for (size_t _i = argc; _i < (size_t)(n); _i++)                                \
		napi_get_undefined(env, &argv[_i]);

#define KPB_TRY(call)                   \
	do {                            \
		if ((call) != napi_ok)  \
			return NULL;    \
	} while (0)

#endif /* KPB_H */
