/* addon.c: module entry, the registry of owned kernel resources, and small N-API helpers.
 *
 * Handles are N-API externals tagged with a per-kind type tag, so a value that did not come from
 * this addon (or a map handle passed where a program is expected) is a TypeError, never a crash.
 * All handles sit on one process-wide list: the environment cleanup hook closes the fds of its
 * environment when Node exits or a worker thread stops, even if JS never called close(). */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "kpb.h"

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kpb_handle registry = { .prev = &registry, .next = &registry };

/* Random 128-bit tags, one per handle kind. */
static const napi_type_tag kind_tags[] = {
	[KPB_OBJECT] = { 0x6b70622d6f626a01ULL, 0x9d3c41a2f0e75b11ULL },
	[KPB_MAP] = { 0x6b70622d6d617002ULL, 0x1f8e2b7ac6d94e22ULL },
	[KPB_PROG] = { 0x6b70622d70726f03ULL, 0x5a7c93e1b2f04d33ULL },
	[KPB_LINK] = { 0x6b70622d6c6e6b04ULL, 0xc4e6a1d83b9f7244ULL },
	[KPB_WATCH] = { 0x6b70622d77746305ULL, 0x2b91e4c7a05d6f55ULL },
};

static const char *kind_names[] = {
	[KPB_OBJECT] = "BPF object handle",
	[KPB_MAP] = "BPF map handle",
	[KPB_PROG] = "BPF program handle",
	[KPB_LINK] = "BPF link handle",
	[KPB_WATCH] = "netlink watcher handle",
};

/* Close what the handle owns; idempotent. Does not free or unlink the handle. */
void kpb_handle_release(struct kpb_handle *h)
{
	if (h->kind == KPB_WATCH) {
		kpb_watch_release(h);
		return;
	}
	if (h->kind == KPB_OBJECT) {
		if (h->busy)
			return; /* the load worker still uses it; its completion releases it */
		if (h->obj)
			bpf_object__close(h->obj);
		h->obj = NULL;
		free(h->obj_buf);
		h->obj_buf = NULL;
		return;
	}
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
}

static void handle_finalize(napi_env env, void *data, void *hint)
{
	struct kpb_handle *h = data;
	(void)env;
	(void)hint;
	if (h->kind == KPB_OBJECT && h->busy)
		return; /* cannot happen: the pending load holds a reference; never free under a worker */
	kpb_handle_release(h);
	pthread_mutex_lock(&registry_lock);
	h->prev->next = h->next;
	h->next->prev = h->prev;
	pthread_mutex_unlock(&registry_lock);
	free(h);
}

struct kpb_handle *kpb_handle_new(napi_env env, int kind, napi_value *out)
{
	struct kpb_handle *h = calloc(1, sizeof(*h));
	if (!h) {
		napi_throw_error(env, "ENOMEM", "Allocate handle failed: out of memory");
		return NULL;
	}
	h->env = env;
	h->kind = kind;
	h->fd = -1;
	if (napi_create_external(env, h, handle_finalize, NULL, out) != napi_ok) {
		free(h);
		return NULL;
	}
	napi_type_tag_object(env, *out, &kind_tags[kind]);
	pthread_mutex_lock(&registry_lock);
	h->next = &registry;
	h->prev = registry.prev;
	registry.prev->next = h;
	registry.prev = h;
	pthread_mutex_unlock(&registry_lock);
	return h;
}

struct kpb_handle *kpb_handle_arg(napi_env env, napi_value v, int kind, const char *argname)
{
	napi_valuetype t;
	bool ok = false;
	void *data = NULL;
	if (napi_typeof(env, v, &t) != napi_ok)
		return NULL;
	if (t == napi_external && napi_check_object_type_tag(env, v, &kind_tags[kind], &ok) == napi_ok && ok &&
	    napi_get_value_external(env, v, &data) == napi_ok) {
		struct kpb_handle *h = data;
		if ((kind == KPB_OBJECT && !h->obj) || (kind != KPB_OBJECT && h->fd < 0)) {
			kpb_throw(env, EBADF, "use", h->name, "Use %s \"%s\" failed: it is closed", kind_names[kind],
				  h->name);
			return NULL;
		}
		return h;
	}
	kpb_throw_type(env, "Expected %s for \"%s\"", kind_names[kind], argname);
	return NULL;
}

static void cleanup_hook(void *arg)
{
	napi_env env = arg;
	pthread_mutex_lock(&registry_lock);
	for (struct kpb_handle *h = registry.next; h != &registry; h = h->next)
		if (h->env == env)
			kpb_handle_release(h);
	pthread_mutex_unlock(&registry_lock);
}

/* What kind of BPF object an fd is: its fdinfo has "map_type:", "prog_type:" or "link_type:".
 * (The anon inode name is not stable: links read "bpf_link" or "bpf-link" by how they were made.) */
bool kpb_fd_has(int fd, const char *key)
{
	char p[64], line[256];
	bool found = false;
	size_t kl = strlen(key);
	snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(p, "re");
	if (!f)
		return false;
	for (int i = 0; i < 64 && fgets(line, sizeof(line), f); i++)
		if (!strncmp(line, key, kl)) {
			found = true;
			break;
		}
	fclose(f);
	return found;
}

napi_value kpb_undefined(napi_env env)
{
	napi_value u;
	napi_get_undefined(env, &u);
	return u;
}

/* Open the pin at the path in `path_arg` and check, by its fdinfo key ("map_type:", "prog_type:",
 * "link_type:"), that it is what the caller expects; `what` names it in errors. Returns the fd, or
 * -1 with an exception pending. `path` receives the path for the caller's own messages. */
int kpb_open_pinned_fd(napi_env env, napi_value path_arg, const char *fdinfo_key, const char *op,
		       const char *what, char *path, size_t size)
{
	if (!kpb_get_string(env, path_arg, "path", path, size))
		return -1;
	int fd = bpf_obj_get(path);
	if (fd < 0) {
		kpb_throw(env, errno, op, path, "Open pinned %s \"%s\" failed", what, path);
		return -1;
	}
	if (!kpb_fd_has(fd, fdinfo_key)) {
		close(fd);
		kpb_throw(env, EINVAL, op, path, "Open pinned %s \"%s\" failed: it is not a BPF %s", what, path, what);
		return -1;
	}
	return fd;
}

/* Pin any handle's fd at the path in `path_arg`; `what` names it in the error ("map", "program", "link"). */
napi_value kpb_pin_handle(napi_env env, struct kpb_handle *h, napi_value path_arg, const char *op, const char *what)
{
	char path[4096];
	if (!kpb_get_string(env, path_arg, "path", path, sizeof(path)))
		return NULL;
	if (bpf_obj_pin(h->fd, path)) {
		kpb_throw(env, errno, op, h->name, "Pin %s \"%s\" at \"%s\" failed", what, h->name, path);
		return NULL;
	}
	return kpb_undefined(env);
}

bool kpb_is_nullish(napi_env env, napi_value v)
{
	napi_valuetype t;
	if (napi_typeof(env, v, &t) != napi_ok)
		return true;
	return t == napi_undefined || t == napi_null;
}

bool kpb_get_string(napi_env env, napi_value v, const char *argname, char *buf, size_t size)
{
	napi_valuetype t;
	size_t len = 0;
	if (napi_typeof(env, v, &t) != napi_ok)
		return false;
	if (t != napi_string) {
		kpb_throw_type(env, "Expected string for \"%s\"", argname);
		return false;
	}
	if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok)
		return false;
	if (len + 1 > size) {
		napi_throw_range_error(env, "ERANGE", "String argument is too long");
		return false;
	}
	if (napi_get_value_string_utf8(env, v, buf, size, &len) != napi_ok)
		return false;
	if (strlen(buf) != len) {
		kpb_throw_type(env, "Expected string without NUL characters for \"%s\"", argname);
		return false;
	}
	return true;
}

bool kpb_get_u32(napi_env env, napi_value v, const char *argname, uint32_t *out)
{
	napi_valuetype t;
	double d;
	if (napi_typeof(env, v, &t) != napi_ok)
		return false;
	if (t != napi_number || napi_get_value_double(env, v, &d) != napi_ok || d != (double)(uint32_t)d) {
		kpb_throw_type(env, "Expected unsigned 32-bit integer for \"%s\"", argname);
		return false;
	}
	*out = (uint32_t)d;
	return true;
}

bool kpb_get_i32(napi_env env, napi_value v, const char *argname, int32_t *out)
{
	napi_valuetype t;
	double d;
	if (napi_typeof(env, v, &t) != napi_ok)
		return false;
	if (t != napi_number || napi_get_value_double(env, v, &d) != napi_ok || d != (double)(int32_t)d) {
		kpb_throw_type(env, "Expected 32-bit integer for \"%s\"", argname);
		return false;
	}
	*out = (int32_t)d;
	return true;
}

bool kpb_get_buffer(napi_env env, napi_value v, const char *argname, void **data, size_t *len)
{
	bool is = false;
	if (napi_is_buffer(env, v, &is) != napi_ok)
		return false;
	if (!is) {
		napi_is_typedarray(env, v, &is);
		if (is) {
			napi_typedarray_type tt;
			size_t n, off;
			napi_value ab;
			if (napi_get_typedarray_info(env, v, &tt, &n, data, &ab, &off) != napi_ok)
				return false;
			if (tt == napi_uint8_array) {
				*len = n;
				return true;
			}
		}
		kpb_throw_type(env, "Expected Buffer or Uint8Array for \"%s\"", argname);
		return false;
	}
	return napi_get_buffer_info(env, v, data, len) == napi_ok;
}

void kpb_set_u32(napi_env env, napi_value obj, const char *key, uint32_t v)
{
	napi_value x;
	napi_create_uint32(env, v, &x);
	napi_set_named_property(env, obj, key, x);
}

void kpb_set_i64(napi_env env, napi_value obj, const char *key, int64_t v)
{
	napi_value x;
	napi_create_int64(env, v, &x);
	napi_set_named_property(env, obj, key, x);
}

void kpb_set_str(napi_env env, napi_value obj, const char *key, const char *s)
{
	napi_value x;
	if (s)
		napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &x);
	else
		napi_get_null(env, &x);
	napi_set_named_property(env, obj, key, x);
}

void kpb_set_bool(napi_env env, napi_value obj, const char *key, bool v)
{
	napi_value x;
	napi_get_boolean(env, v, &x);
	napi_set_named_property(env, obj, key, x);
}

void kpb_export(napi_env env, napi_value exports, const char *name, kpb_fn fn)
{
	napi_value f;
	if (napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f) == napi_ok)
		napi_set_named_property(env, exports, name, f);
}

/* init(BpfError): the JS error class every native failure is an instance of. */
static napi_value js_init(napi_env env, napi_callback_info info)
{
	KPB_ARGS(1);
	napi_valuetype t;
	KPB_TRY(napi_typeof(env, argv[0], &t));
	if (t != napi_function) {
		kpb_throw_type(env, "Expected class for \"errorClass\"");
		return NULL;
	}
	KPB_TRY(kpb_error_set_class(env, argv[0]));
	return kpb_undefined(env);
}

/* close(handle): release the fd or object now; later use throws EBADF. */
static napi_value js_close(napi_env env, napi_callback_info info)
{
	KPB_ARGS(1);
	napi_valuetype t;
	void *data = NULL;
	KPB_TRY(napi_typeof(env, argv[0], &t));
	for (int k = KPB_OBJECT; t == napi_external && k <= KPB_WATCH; k++) {
		bool ok = false;
		if (napi_check_object_type_tag(env, argv[0], &kind_tags[k], &ok) == napi_ok && ok) {
			KPB_TRY(napi_get_value_external(env, argv[0], &data));
			struct kpb_handle *h = data;
			if (h->kind == KPB_OBJECT && h->busy) {
				kpb_throw(env, EBUSY, "close", h->name, "Close object \"%s\" failed: a load is running",
					  h->name);
				return NULL;
			}
			kpb_handle_release(h);
			return kpb_undefined(env);
		}
	}
	kpb_throw_type(env, "Expected BPF handle for \"handle\"");
	return NULL;
}

/* fd(handle): the kernel fd, for passing to other tools (e.g. a hash-of-maps update). */
static napi_value js_fd(napi_env env, napi_callback_info info)
{
	KPB_ARGS(1);
	napi_valuetype t;
	void *data = NULL;
	napi_value out;
	KPB_TRY(napi_typeof(env, argv[0], &t));
	for (int k = KPB_MAP; t == napi_external && k <= KPB_LINK; k++) {
		bool ok = false;
		if (napi_check_object_type_tag(env, argv[0], &kind_tags[k], &ok) == napi_ok && ok) {
			KPB_TRY(napi_get_value_external(env, argv[0], &data));
			KPB_TRY(napi_create_int32(env, ((struct kpb_handle *)data)->fd, &out));
			return out;
		}
	}
	kpb_throw_type(env, "Expected map, program or link handle for \"handle\"");
	return NULL;
}

static napi_value js_num_possible_cpus(napi_env env, napi_callback_info info)
{
	napi_value out;
	int n = libbpf_num_possible_cpus();
	(void)info;
	if (n < 0) {
		kpb_throw(env, -n, "num_possible_cpus", "", "Read possible CPU count failed");
		return NULL;
	}
	KPB_TRY(napi_create_int32(env, n, &out));
	return out;
}

NAPI_MODULE_INIT()
{
	kpb_error_install_print();
	napi_add_env_cleanup_hook(env, cleanup_hook, env);
	kpb_export(env, exports, "init", js_init);
	kpb_export(env, exports, "close", js_close);
	kpb_export(env, exports, "fd", js_fd);
	kpb_export(env, exports, "numPossibleCpus", js_num_possible_cpus);
	kpb_object_init(env, exports);
	kpb_map_init(env, exports);
	kpb_prog_init(env, exports);
	kpb_link_init(env, exports);
	kpb_probe_init(env, exports);
	kpb_netlink_init(env, exports);
	kpb_host_init(env, exports);
	kpb_iter_init(env, exports);
	return exports;
}
