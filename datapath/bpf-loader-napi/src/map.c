/* map.c: synchronous map operations on a map fd (lookups and updates are single quick syscalls).
 *
 * Every handle remembers the map's key and value sizes from the kernel, so a key or value of the
 * wrong length is refused here before the kernel would read or write past the caller's buffer.
 * For per-CPU maps the value is one 8-byte-aligned slot per possible CPU, as the kernel expects. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include "kpb.h"

static bool is_percpu(uint32_t type)
{
	return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       type == BPF_MAP_TYPE_LRU_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

int kpb_map_handle_fill(struct kpb_handle *h, int fd)
{
	struct bpf_map_info mi;
	uint32_t len = sizeof(mi);
	memset(&mi, 0, sizeof(mi));
	h->fd = fd;
	if (bpf_obj_get_info_by_fd(fd, &mi, &len))
		return -errno;
	h->map_type = mi.type;
	h->key_size = mi.key_size;
	h->raw_value_size = mi.value_size;
	h->value_size = mi.value_size;
	if (is_percpu(mi.type)) {
		int n = libbpf_num_possible_cpus();
		h->value_size = ((mi.value_size + 7) & ~7u) * (uint32_t)(n > 0 ? n : 1);
	}
	h->max_entries = mi.max_entries;
	h->map_flags = mi.map_flags;
	if (!h->name[0])
		snprintf(h->name, sizeof(h->name), "%s", mi.name);
	return 0;
}

static struct kpb_handle *map_arg(napi_env env, napi_value v)
{
	return kpb_handle_arg(env, v, KPB_MAP, "map");
}

static bool sized_arg(napi_env env, struct kpb_handle *h, napi_value v, const char *what, uint32_t want, void **data)
{
	size_t len;
	if (!kpb_get_buffer(env, v, what, data, &len))
		return false;
	if (len != want) {
		kpb_throw(env, EINVAL, what[0] == 'k' ? "map_key" : "map_value", h->name,
			  "Use %s of %zu bytes with map \"%s\" failed: the map's %s size is %u bytes", what, len, h->name,
			  what, want);
		return false;
	}
	return true;
}

static int map_type_by_name(const char *name)
{
	for (int t = 0; t < 256; t++) {
		const char *s = libbpf_bpf_map_type_str(t);
		if (s && !strcmp(s, name))
			return t;
	}
	return -1;
}

/* mapCreate(type, keySize, valueSize, maxEntries, flags, name, innerMap|null) -> map handle.
 * For maps created at run time, e.g. a fresh inner map swapped into a hash-of-maps. */
static napi_value js_map_create(napi_env env, napi_callback_info info)
{
	KPB_ARGS(7);
	char type[64], name[BPF_OBJ_NAME_LEN] = "";
	uint32_t ks, vs, max, flags;
	struct kpb_handle *inner = NULL;
	napi_value out;
	if (!kpb_get_string(env, argv[0], "type", type, sizeof(type)) || !kpb_get_u32(env, argv[1], "keySize", &ks) ||
	    !kpb_get_u32(env, argv[2], "valueSize", &vs) || !kpb_get_u32(env, argv[3], "maxEntries", &max) ||
	    !kpb_get_u32(env, argv[4], "flags", &flags) ||
	    (!kpb_is_nullish(env, argv[5]) && !kpb_get_string(env, argv[5], "name", name, sizeof(name))))
		return NULL;
	if (!kpb_is_nullish(env, argv[6]) && !(inner = kpb_handle_arg(env, argv[6], KPB_MAP, "innerMap")))
		return NULL;
	int t = map_type_by_name(type);
	if (t < 0) {
		kpb_throw(env, EINVAL, "map_create", name, "Create map \"%s\" failed: unknown map type \"%s\"", name, type);
		return NULL;
	}
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = flags, .inner_map_fd = inner ? (uint32_t)inner->fd : 0);
	int fd = bpf_map_create((enum bpf_map_type)t, name[0] ? name : NULL, ks, vs, max, &opts);
	if (fd < 0) {
		kpb_throw(env, errno, "map_create", name, "Create %s map \"%s\" (key %u, value %u, %u entries) failed", type,
			  name, ks, vs, max);
		return NULL;
	}
	struct kpb_handle *h = kpb_handle_new(env, KPB_MAP, &out);
	if (!h) {
		close(fd);
		return NULL;
	}
	snprintf(h->name, sizeof(h->name), "%s", name);
	if (kpb_map_handle_fill(h, fd)) {
		kpb_throw(env, errno, "map_create", name, "Read info of new map \"%s\" failed", name);
		return NULL;
	}
	return out;
}

/* mapOpenPinned(path) -> map handle. */
static napi_value js_map_open_pinned(napi_env env, napi_callback_info info)
{
	KPB_ARGS(1);
	char path[4096];
	napi_value out;
	int fd = kpb_open_pinned_fd(env, argv[0], "map_type:", "map_open_pinned", "map", path, sizeof(path));
	if (fd < 0)
		return NULL;
	struct kpb_handle *h = kpb_handle_new(env, KPB_MAP, &out);
	if (!h) {
		close(fd);
		return NULL;
	}
	int err = kpb_map_handle_fill(h, fd);
	if (err) {
		kpb_handle_release(h);
		kpb_throw(env, -err, "map_open_pinned", path, "Read info of pinned map \"%s\" failed", path);
		return NULL;
	}
	return out;
}

/* mapOpenById(id) -> map handle: a map the caller knows by id (a map-in-map value, a link's map). */
static napi_value js_map_open_by_id(napi_env env, napi_callback_info info)
{
	KPB_ARGS(1);
	uint32_t id;
	napi_value out;
	char what[32];
	if (!kpb_get_u32(env, argv[0], "id", &id))
		return NULL;
	snprintf(what, sizeof(what), "map id %u", id);
	int fd = bpf_map_get_fd_by_id(id);
	if (fd < 0) {
		kpb_throw(env, errno, "map_open_by_id", what, "Open %s failed", what);
		return NULL;
	}
	struct kpb_handle *h = kpb_handle_new(env, KPB_MAP, &out);
	if (!h) {
		close(fd);
		return NULL;
	}
	int err = kpb_map_handle_fill(h, fd);
	if (err) {
		kpb_handle_release(h);
		kpb_throw(env, -err, "map_open_by_id", what, "Read info of %s failed", what);
		return NULL;
	}
	return out;
}

/* mapBtfLayouts(map) -> { key?, value? }: the key and value layouts from the BTF the map was
 * created with (as the kernel keeps it), so a pinned map's layout can be compared with an
 * object's. Empty when the map has no BTF. */
static napi_value js_map_btf_layouts(napi_env env, napi_callback_info info)
{
	KPB_ARGS(1);
	struct kpb_handle *h = map_arg(env, argv[0]);
	struct bpf_map_info mi;
	uint32_t len = sizeof(mi);
	napi_value out;
	if (!h)
		return NULL;
	memset(&mi, 0, sizeof(mi));
	if (bpf_obj_get_info_by_fd(h->fd, &mi, &len)) {
		kpb_throw(env, errno, "map_btf_layouts", h->name, "Read info of map \"%s\" failed", h->name);
		return NULL;
	}
	KPB_TRY(napi_create_object(env, &out));
	if (!mi.btf_id)
		return out;
	struct btf *btf = btf__load_from_kernel_by_id(mi.btf_id);
	if (!btf) {
		kpb_throw(env, errno, "map_btf_layouts", h->name, "Load BTF %u of map \"%s\" failed", mi.btf_id, h->name);
		return NULL;
	}
	if (mi.btf_key_type_id)
		napi_set_named_property(env, out, "key", kpb_btf_layout(env, btf, mi.btf_key_type_id));
	if (mi.btf_value_type_id)
		napi_set_named_property(env, out, "value", kpb_btf_layout(env, btf, mi.btf_value_type_id));
	btf__free(btf);
	return out;
}

/* mapInfo(map) -> { id, type, keySize, valueSize, maxEntries, flags, name } from the kernel. */
static napi_value js_map_info(napi_env env, napi_callback_info info)
{
	KPB_ARGS(1);
	struct kpb_handle *h = map_arg(env, argv[0]);
	struct bpf_map_info mi;
	uint32_t len = sizeof(mi);
	napi_value out;
	if (!h)
		return NULL;
	memset(&mi, 0, sizeof(mi));
	if (bpf_obj_get_info_by_fd(h->fd, &mi, &len)) {
		kpb_throw(env, errno, "map_info", h->name, "Read info of map \"%s\" failed", h->name);
		return NULL;
	}
	const char *ts = libbpf_bpf_map_type_str(mi.type);
	KPB_TRY(napi_create_object(env, &out));
	kpb_set_u32(env, out, "id", mi.id);
	kpb_set_str(env, out, "type", ts ? ts : "unknown");
	kpb_set_u32(env, out, "keySize", mi.key_size);
	kpb_set_u32(env, out, "valueSize", mi.value_size);
	kpb_set_u32(env, out, "maxEntries", mi.max_entries);
	kpb_set_u32(env, out, "flags", mi.map_flags);
	kpb_set_str(env, out, "name", mi.name);
	kpb_set_u32(env, out, "valueBufferSize", h->value_size);
	return out;
}

/* mapLookup(map, key) -> Buffer | undefined. */
static napi_value js_map_lookup(napi_env env, napi_callback_info info)
{
	KPB_ARGS(2);
	struct kpb_handle *h = map_arg(env, argv[0]);
	void *key, *val;
	napi_value out;
	if (!h || !sized_arg(env, h, argv[1], "key", h->key_size, &key))
		return NULL;
	KPB_TRY(napi_create_buffer(env, h->value_size, &val, &out));
	if (bpf_map_lookup_elem(h->fd, key, val)) {
		if (errno == ENOENT)
			return kpb_undefined(env);
		kpb_throw(env, errno, "map_lookup", h->name, "Look up key in map \"%s\" failed", h->name);
		return NULL;
	}
	return out;
}

/* mapUpdate(map, key, value, flags). */
static napi_value js_map_update(napi_env env, napi_callback_info info)
{
	KPB_ARGS(4);
	struct kpb_handle *h = map_arg(env, argv[0]);
	void *key, *val;
	uint32_t flags = 0;
	if (!h || !sized_arg(env, h, argv[1], "key", h->key_size, &key) ||
	    !sized_arg(env, h, argv[2], "value", h->value_size, &val) ||
	    (!kpb_is_nullish(env, argv[3]) && !kpb_get_u32(env, argv[3], "flags", &flags)))
		return NULL;
	if (bpf_map_update_elem(h->fd, key, val, flags)) {
		kpb_throw(env, errno, "map_update", h->name, "Update key in map \"%s\" failed", h->name);
		return NULL;
	}
	return kpb_undefined(env);
}

/* mapDelete(map, key) -> true when an entry was removed. */
static napi_value js_map_delete(napi_env env, napi_callback_info info)
{
	KPB_ARGS(2);
	struct kpb_handle *h = map_arg(env, argv[0]);
	void *key;
	napi_value out;
	if (!h || !sized_arg(env, h, argv[1], "key", h->key_size, &key))
		return NULL;
	bool removed = bpf_map_delete_elem(h->fd, key) == 0;
	if (!removed && errno != ENOENT) {
		kpb_throw(env, errno, "map_delete", h->name, "Delete key from map \"%s\" failed", h->name);
		return NULL;
	}
	KPB_TRY(napi_get_boolean(env, removed, &out));
	return out;
}

/* mapNextKey(map, key|null) -> Buffer | undefined at the end. */
static napi_value js_map_next_key(napi_env env, napi_callback_info info)
{
	KPB_ARGS(2);
	struct kpb_handle *h = map_arg(env, argv[0]);
	void *key = NULL, *next;
	napi_value out;
	if (!h)
		return NULL;
	if (!kpb_is_nullish(env, argv[1]) && !sized_arg(env, h, argv[1], "key", h->key_size, &key))
		return NULL;
	KPB_TRY(napi_create_buffer(env, h->key_size, &next, &out));
	if (bpf_map_get_next_key(h->fd, key, next)) {
		if (errno == ENOENT)
			return kpb_undefined(env);
		kpb_throw(env, errno, "map_next_key", h->name, "Iterate map \"%s\" failed", h->name);
		return NULL;
	}
	return out;
}

/* Batch arguments: n keys packed back to back (and n values). */
static bool batch_arg(napi_env env, struct kpb_handle *h, napi_value v, const char *what, uint32_t elem,
		      void **data, uint32_t *n)
{
	size_t len;
	if (!kpb_get_buffer(env, v, what, data, &len))
		return false;
	if (!elem || len % elem) {
		kpb_throw(env, EINVAL, "map_batch", h->name,
			  "Use packed %s of %zu bytes with map \"%s\" failed: not a multiple of %u bytes", what, len,
			  h->name, elem);
		return false;
	}
	*n = (uint32_t)(len / elem);
	return true;
}

static bool batch_unsupported(int e)
{
	return e == EINVAL || e == 524 /* ENOTSUPP */ || e == EOPNOTSUPP || e == ENOSYS;
}

/* mapUpdateBatch(map, keys, values, flags) -> count. Falls back to one update per key. */
static napi_value js_map_update_batch(napi_env env, napi_callback_info info)
{
	KPB_ARGS(4);
	struct kpb_handle *h = map_arg(env, argv[0]);
	void *keys, *vals;
	uint32_t nk, nv, flags = 0, count;
	napi_value out;
	if (!h || !batch_arg(env, h, argv[1], "keys", h->key_size, &keys, &nk) ||
	    !batch_arg(env, h, argv[2], "values", h->value_size, &vals, &nv) ||
	    (!kpb_is_nullish(env, argv[3]) && !kpb_get_u32(env, argv[3], "flags", &flags)))
		return NULL;
	if (nk != nv) {
		kpb_throw(env, EINVAL, "map_update_batch", h->name,
			  "Update map \"%s\" in batch failed: %u keys but %u values", h->name, nk, nv);
		return NULL;
	}
	count = nk;
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = flags);
	if (nk && bpf_map_update_batch(h->fd, keys, vals, &count, &opts)) {
		int e = errno;
		if (!batch_unsupported(e) && e != E2BIG && e != EEXIST && e != ENOENT) {
			kpb_throw(env, e, "map_update_batch", h->name, "Update map \"%s\" in batch failed", h->name);
			return NULL;
		}
		/* Redo the rest one by one: either the map type has no batch support or one key failed,
		 * and a per-key error says which. */
		if (count > nk)
			count = 0;
		for (uint32_t i = count; i < nk; i++) {
			if (bpf_map_update_elem(h->fd, (char *)keys + (size_t)i * h->key_size,
						(char *)vals + (size_t)i * h->value_size, flags)) {
				kpb_throw(env, errno, "map_update_batch", h->name,
					  "Update entry %u of %u in map \"%s\" failed", i, nk, h->name);
				return NULL;
			}
		}
		count = nk;
	}
	KPB_TRY(napi_create_uint32(env, count, &out));
	return out;
}

/* mapDeleteBatch(map, keys) -> number of entries removed (absent keys are skipped). */
static napi_value js_map_delete_batch(napi_env env, napi_callback_info info)
{
	KPB_ARGS(2);
	struct kpb_handle *h = map_arg(env, argv[0]);
	void *keys;
	uint32_t nk, count, removed;
	napi_value out;
	if (!h || !batch_arg(env, h, argv[1], "keys", h->key_size, &keys, &nk))
		return NULL;
	count = nk;
	removed = nk;
	if (nk && bpf_map_delete_batch(h->fd, keys, &count, NULL)) {
		int e = errno;
		if (!batch_unsupported(e) && e != ENOENT) {
			kpb_throw(env, e, "map_delete_batch", h->name, "Delete from map \"%s\" in batch failed", h->name);
			return NULL;
		}
		if (count > nk)
			count = 0;
		removed = count;
		for (uint32_t i = count; i < nk; i++) {
			if (!bpf_map_delete_elem(h->fd, (char *)keys + (size_t)i * h->key_size))
				removed++;
			else if (errno != ENOENT) {
				kpb_throw(env, errno, "map_delete_batch", h->name,
					  "Delete entry %u of %u from map \"%s\" failed", i, nk, h->name);
				return NULL;
			}
		}
	}
	KPB_TRY(napi_create_uint32(env, removed, &out));
	return out;
}

struct grow {
	char *keys, *vals;
	size_t n, cap;
};

static bool grow_to(struct grow *g, struct kpb_handle *h, size_t want)
{
	if (want <= g->cap)
		return true;
	size_t cap = g->cap ? g->cap : 64;
	while (cap < want)
		cap *= 2;
	char *k = realloc(g->keys, cap * h->key_size);
	if (!k)
		return false;
	g->keys = k;
	char *v = realloc(g->vals, cap * h->value_size);
	if (!v)
		return false;
	g->vals = v;
	g->cap = cap;
	return true;
}

/* Walk with get_next_key when the map type has no batch lookup (LPM trie, older kernels). */
static int lookup_by_iteration(struct kpb_handle *h, struct grow *g)
{
	char *prev = malloc(h->key_size ? h->key_size : 1);
	bool have_prev = false;
	int err = 0;
	if (!prev)
		return ENOMEM;
	/* Concurrent deletes can restart a hash walk from the top; bound the walk. */
	uint64_t limit = (uint64_t)h->max_entries * 2 + 64;
	for (uint64_t step = 0; step < limit; step++) {
		if (!grow_to(g, h, g->n + 1)) {
			err = ENOMEM;
			break;
		}
		char *k = g->keys + g->n * h->key_size;
		if (bpf_map_get_next_key(h->fd, have_prev ? prev : NULL, k)) {
			err = errno == ENOENT ? 0 : errno;
			break;
		}
		memcpy(prev, k, h->key_size);
		have_prev = true;
		if (bpf_map_lookup_elem(h->fd, k, g->vals + g->n * h->value_size)) {
			if (errno == ENOENT)
				continue; /* deleted meanwhile: skip it */
			err = errno;
			break;
		}
		g->n++;
	}
	free(prev);
	return err;
}

/* The packed result of a batch read, { keys, values, count }; frees g's buffers. */
static napi_value packed_entries(napi_env env, const struct kpb_handle *h, struct grow *g)
{
	napi_value out, kb, vb;

	napi_create_buffer_copy(env, g->n * h->key_size, g->keys ? g->keys : "", NULL, &kb);
	napi_create_buffer_copy(env, g->n * h->value_size, g->vals ? g->vals : "", NULL, &vb);
	free(g->keys);
	free(g->vals);
	g->keys = g->vals = NULL;
	if (napi_create_object(env, &out) != napi_ok)
		return NULL;
	napi_set_named_property(env, out, "keys", kb);
	napi_set_named_property(env, out, "values", vb);
	kpb_set_u32(env, out, "count", (uint32_t)g->n);
	return out;
}

/* mapLookupBatch(map) -> { keys, values, count }: every entry, packed. */
static napi_value js_map_lookup_batch(napi_env env, napi_callback_info info)
{
	KPB_ARGS(1);
	struct kpb_handle *h = map_arg(env, argv[0]);
	struct grow g = { 0 };
	int err = 0;
	if (!h)
		return NULL;
	uint32_t tok_size = h->key_size > 8 ? h->key_size : 8;
	char *in = calloc(1, tok_size), *outb = calloc(1, tok_size);
	uint32_t chunk = 256;
	bool first = true;
	if (!in || !outb) {
		err = ENOMEM;
		goto done;
	}
	for (int rounds = 0; rounds < 1 << 20; rounds++) {
		uint32_t count = chunk;
		if (!grow_to(&g, h, g.n + chunk)) {
			err = ENOMEM;
			goto done;
		}
		int r = bpf_map_lookup_batch(h->fd, first ? NULL : in, outb, g.keys + g.n * h->key_size,
					     g.vals + g.n * h->value_size, &count, NULL);
		int e = r ? errno : 0;
		if (r && e == ENOSPC && count == 0 && chunk < (1u << 20)) {
			chunk *= 2; /* one hash bucket holds more than a chunk */
			continue;
		}
		if (r && e != ENOENT) {
			if (first && batch_unsupported(e)) {
				g.n = 0;
				err = lookup_by_iteration(h, &g);
				goto done;
			}
			err = e;
			goto done;
		}
		g.n += count;
		if (r)
			break; /* ENOENT: walked past the last entry */
		memcpy(in, outb, tok_size);
		first = false;
	}
done:
	free(in);
	free(outb);
	if (err) {
		free(g.keys);
		free(g.vals);
		kpb_throw(env, err, "map_lookup_batch", h->name, "Read all entries of map \"%s\" failed", h->name);
		return NULL;
	}
	return packed_entries(env, h, &g);
}

/* mapLookupBatchChunk(map, token | null, max) -> { keys, values, count, token }: up to about `max`
 * entries from where `token` (the previous chunk's) left off, so a caller can read a large map in
 * parts and do other work between them; token is null once the walk is past the last entry. A
 * hash map's batch walks whole buckets, so a chunk may hold more than `max` when one bucket does.
 * Maps without batch lookup are read whole in the first chunk. */
static napi_value js_map_lookup_batch_chunk(napi_env env, napi_callback_info info)
{
	KPB_ARGS(3);
	struct kpb_handle *h = map_arg(env, argv[0]);
	struct grow g = { 0 };
	napi_value out, tb;
	napi_valuetype tt;
	uint32_t max = 0;
	int err = 0;
	bool done = false;
	if (!h)
		return NULL;
	uint32_t tok_size = h->key_size > 8 ? h->key_size : 8;
	void *tok = NULL;
	size_t tok_len = 0;
	KPB_TRY(napi_typeof(env, argv[1], &tt));
	if (tt != napi_null && tt != napi_undefined) {
		bool isbuf = false;
		KPB_TRY(napi_is_buffer(env, argv[1], &isbuf));
		if (isbuf)
			KPB_TRY(napi_get_buffer_info(env, argv[1], &tok, &tok_len));
		if (!isbuf || tok_len != tok_size) {
			napi_throw_type_error(env, NULL, "token must be null or the token of the previous chunk");
			return NULL;
		}
	}
	if (napi_get_value_uint32(env, argv[2], &max) != napi_ok || max == 0) {
		napi_throw_type_error(env, NULL, "max must be a positive integer");
		return NULL;
	}
	char *in = calloc(1, tok_size), *outb = calloc(1, tok_size);
	if (!in || !outb) {
		err = ENOMEM;
		goto done;
	}
	if (tok)
		memcpy(in, tok, tok_size);
	for (uint32_t chunk = max;;) {
		uint32_t count = chunk;
		if (!grow_to(&g, h, chunk)) {
			err = ENOMEM;
			goto done;
		}
		int r = bpf_map_lookup_batch(h->fd, tok ? in : NULL, outb, g.keys, g.vals, &count, NULL);
		int e = r ? errno : 0;
		if (r && e == ENOSPC && count == 0 && chunk < (1u << 20)) {
			chunk *= 2; /* one hash bucket holds more than a chunk */
			continue;
		}
		if (r && e != ENOENT) {
			if (!tok && batch_unsupported(e)) {
				g.n = 0;
				err = lookup_by_iteration(h, &g);
				done = true;
				goto done;
			}
			err = e;
			goto done;
		}
		g.n = count;
		done = r != 0; /* ENOENT: walked past the last entry */
		break;
	}
done:
	free(in);
	if (err) {
		free(outb);
		free(g.keys);
		free(g.vals);
		kpb_throw(env, err, "map_lookup_batch", h->name, "Read a chunk of the entries of map \"%s\" failed", h->name);
		return NULL;
	}
	if (done)
		napi_get_null(env, &tb);
	else
		napi_create_buffer_copy(env, tok_size, outb, NULL, &tb);
	free(outb);
	out = packed_entries(env, h, &g);
	if (out)
		napi_set_named_property(env, out, "token", tb);
	return out;
}

/* mapPin(map, path). */
static napi_value js_map_pin(napi_env env, napi_callback_info info)
{
	KPB_ARGS(2);
	struct kpb_handle *h = map_arg(env, argv[0]);
	return h ? kpb_pin_handle(env, h, argv[1], "map_pin", "map") : NULL;
}

void kpb_map_init(napi_env env, napi_value exports)
{
	kpb_export(env, exports, "mapCreate", js_map_create);
	kpb_export(env, exports, "mapOpenPinned", js_map_open_pinned);
	kpb_export(env, exports, "mapInfo", js_map_info);
	kpb_export(env, exports, "mapOpenById", js_map_open_by_id);
	kpb_export(env, exports, "mapBtfLayouts", js_map_btf_layouts);
	kpb_export(env, exports, "mapLookup", js_map_lookup);
	kpb_export(env, exports, "mapUpdate", js_map_update);
	kpb_export(env, exports, "mapDelete", js_map_delete);
	kpb_export(env, exports, "mapNextKey", js_map_next_key);
	kpb_export(env, exports, "mapUpdateBatch", js_map_update_batch);
	kpb_export(env, exports, "mapDeleteBatch", js_map_delete_batch);
	kpb_export(env, exports, "mapLookupBatch", js_map_lookup_batch);
	kpb_export(env, exports, "mapLookupBatchChunk", js_map_lookup_batch_chunk);
	kpb_export(env, exports, "mapPin", js_map_pin);
}
