/* object.c: open an ELF object (parse only), describe it, edit it before load (globals, map sizes),
 * and load it on the libuv thread pool.
 *
 * After a successful load every map and program fd is duplicated into its own handle and the
 * libbpf object is closed: the rest of the addon works on fds only, so maps, programs and links
 * have independent lifetimes and nothing keeps the ELF image alive. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include "kpb.h"

#define KPB_PATH_MAX 4096

static struct kpb_handle *object_arg(napi_env env, napi_value v)
{
	struct kpb_handle *h = kpb_handle_arg(env, v, KPB_OBJECT, "object");
	if (!h)
		return NULL;
	if (h->busy) {
		kpb_throw(env, EBUSY, "use", h->name, "Use BPF object \"%s\" failed: a load is running", h->name);
		return NULL;
	}
	return h;
}

/* objectOpen(pathOrBuffer, name?) -> object handle. */
static napi_value js_object_open(napi_env env, napi_callback_info info)
{
	KPB_ARGS(2);
	char path[KPB_PATH_MAX] = "", name[64] = "";
	void *data = NULL, *copy = NULL;
	size_t len = 0;
	napi_valuetype t;
	struct bpf_object *obj;
	struct kpb_log log;
	napi_value out;
	int err;

	if (!kpb_is_nullish(env, argv[1]) && !kpb_get_string(env, argv[1], "name", name, sizeof(name)))
		return NULL;
	KPB_TRY(napi_typeof(env, argv[0], &t));
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = name[0] ? name : NULL);
	if (t == napi_string) {
		if (!kpb_get_string(env, argv[0], "source", path, sizeof(path)))
			return NULL;
		kpb_log_begin(&log);
		obj = bpf_object__open_file(path, &opts);
		err = obj ? 0 : errno;
		kpb_log_end(&log);
	} else {
		if (!kpb_get_buffer(env, argv[0], "source", &data, &len))
			return NULL;
		snprintf(path, sizeof(path), "<buffer of %zu bytes>", len);
		if (!len) {
			kpb_throw(env, EINVAL, "open", path, "Open BPF object from %s failed: the buffer is empty", path);
			return NULL;
		}
		/* libbpf keeps pointing into the image it parses, so it gets its own copy. */
		copy = malloc(len);
		if (!copy) {
			kpb_throw(env, ENOMEM, "open", path, "Open BPF object from %s failed", path);
			return NULL;
		}
		memcpy(copy, data, len);
		if (!name[0])
			opts.object_name = "buffer";
		kpb_log_begin(&log);
		obj = bpf_object__open_mem(copy, len, &opts);
		err = obj ? 0 : errno;
		kpb_log_end(&log);
	}
	if (!obj) {
		struct kpb_err e = { 0 };
		free(copy);
		kpb_err_set(&e, err, "open", path, "Open BPF object \"%s\" failed", path);
		kpb_err_take_log(&e, &log);
		kpb_throw_err(env, &e);
		return NULL;
	}
	free(log.buf);
	struct kpb_handle *h = kpb_handle_new(env, KPB_OBJECT, &out);
	if (!h) {
		bpf_object__close(obj);
		free(copy);
		return NULL;
	}
	h->obj = obj;
	h->obj_buf = copy;
	snprintf(h->name, sizeof(h->name), "%s", bpf_object__name(obj));
	return out;
}

/* The internal map backing a data section: libbpf names it "<object prefix><section>". */
static struct bpf_map *section_map(struct bpf_object *obj, const char *sec)
{
	struct bpf_map *m, *best = NULL;
	size_t sl = strlen(sec);
	bpf_object__for_each_map(m, obj) {
		const char *n = bpf_map__name(m);
		size_t nl = strlen(n);
		if (!bpf_map__is_internal(m) || nl < sl)
			continue;
		if (!strcmp(n + nl - sl, sec) || !strcmp(n, sec))
			best = m;
	}
	return best;
}

static napi_value describe_map(napi_env env, const struct btf *btf, struct bpf_map *m)
{
	napi_value o;
	const char *ts = libbpf_bpf_map_type_str(bpf_map__type(m));
	napi_create_object(env, &o);
	kpb_set_str(env, o, "name", bpf_map__name(m));
	kpb_set_str(env, o, "type", ts ? ts : "unknown");
	kpb_set_u32(env, o, "keySize", bpf_map__key_size(m));
	kpb_set_u32(env, o, "valueSize", bpf_map__value_size(m));
	kpb_set_u32(env, o, "maxEntries", bpf_map__max_entries(m));
	kpb_set_u32(env, o, "flags", bpf_map__map_flags(m));
	kpb_set_bool(env, o, "pinByName", bpf_map__pin_path(m) != NULL);
	kpb_set_bool(env, o, "internal", bpf_map__is_internal(m));
	if (!bpf_map__is_internal(m)) {
		napi_set_named_property(env, o, "keyLayout", kpb_btf_layout(env, btf, bpf_map__btf_key_type_id(m)));
		napi_set_named_property(env, o, "valueLayout",
					kpb_btf_layout(env, btf, bpf_map__btf_value_type_id(m)));
	}
	struct bpf_map *inner = bpf_map__inner_map(m);
	if (inner)
		napi_set_named_property(env, o, "innerMap", describe_map(env, btf, inner));
	return o;
}

/* objectDescribe(object) -> { name, maps, programs, variables } from the parsed ELF and its BTF. */
static napi_value js_object_describe(napi_env env, napi_callback_info info)
{
	KPB_ARGS(1);
	struct kpb_handle *h = object_arg(env, argv[0]);
	napi_value out, maps, progs, vars;
	struct bpf_map *m;
	struct bpf_program *p;
	uint32_t i = 0;
	if (!h)
		return NULL;
	const struct btf *btf = bpf_object__btf(h->obj);
	KPB_TRY(napi_create_object(env, &out));
	kpb_set_str(env, out, "name", bpf_object__name(h->obj));
	napi_create_array(env, &maps);
	bpf_object__for_each_map(m, h->obj) napi_set_element(env, maps, i++, describe_map(env, btf, m));
	napi_set_named_property(env, out, "maps", maps);

	napi_create_array(env, &progs);
	i = 0;
	bpf_object__for_each_program(p, h->obj) {
		napi_value o;
		const char *pt = libbpf_bpf_prog_type_str(bpf_program__type(p));
		enum bpf_attach_type eat = bpf_program__expected_attach_type(p);
		/* 0 is also "no expected type": only cgroup_skb really means cgroup_inet_ingress by it. */
		const char *at = (eat == 0 && bpf_program__type(p) != BPF_PROG_TYPE_CGROUP_SKB)
					 ? "none"
					 : libbpf_bpf_attach_type_str(eat);
		napi_create_object(env, &o);
		kpb_set_str(env, o, "name", bpf_program__name(p));
		kpb_set_str(env, o, "section", bpf_program__section_name(p));
		kpb_set_str(env, o, "type", pt ? pt : "unknown");
		kpb_set_str(env, o, "expectedAttachType", at ? at : "unknown");
		napi_set_element(env, progs, i++, o);
	}
	napi_set_named_property(env, out, "programs", progs);

	napi_create_array(env, &vars);
	i = 0;
	for (uint32_t id = 1; btf && id < btf__type_cnt(btf); id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		if (!btf_is_datasec(t))
			continue;
		const char *sec = btf__name_by_offset(btf, t->name_off);
		struct bpf_map *sm = section_map(h->obj, sec);
		const struct btf_var_secinfo *vs = btf_var_secinfos(t);
		if (!sm)
			continue;
		for (uint16_t k = 0; k < btf_vlen(t); k++, vs++) {
			const struct btf_type *vt = btf__type_by_id(btf, vs->type);
			napi_value o;
			if (!vt || !btf_is_var(vt))
				continue;
			napi_create_object(env, &o);
			kpb_set_str(env, o, "name", btf__name_by_offset(btf, vt->name_off));
			kpb_set_str(env, o, "section", sec);
			kpb_set_str(env, o, "mapName", bpf_map__name(sm));
			kpb_set_u32(env, o, "offset", vs->offset);
			kpb_set_u32(env, o, "size", vs->size);
			napi_set_named_property(env, o, "layout", kpb_btf_layout(env, btf, vt->type));
			napi_set_element(env, vars, i++, o);
		}
	}
	napi_set_named_property(env, out, "variables", vars);
	return out;
}

static struct bpf_map *find_map(napi_env env, struct kpb_handle *h, napi_value v, const char *op, char *name,
				size_t size)
{
	struct bpf_map *m;
	if (!kpb_get_string(env, v, "name", name, size))
		return NULL;
	m = bpf_object__find_map_by_name(h->obj, name);
	if (!m)
		kpb_throw(env, ENOENT, op, name, "Find map \"%s\" in object \"%s\" failed: no such map", name,
			  h->name);
	return m;
}

/* objectSetVariable(object, mapName, offset, bytes): write a global's initial value before load. */
static napi_value js_object_set_variable(napi_env env, napi_callback_info info)
{
	KPB_ARGS(4);
	struct kpb_handle *h = object_arg(env, argv[0]);
	char name[128];
	uint32_t off;
	void *data;
	size_t len, size = 0;
	struct bpf_map *m;
	if (!h || !(m = find_map(env, h, argv[1], "set_variable", name, sizeof(name))) ||
	    !kpb_get_u32(env, argv[2], "offset", &off) || !kpb_get_buffer(env, argv[3], "bytes", &data, &len))
		return NULL;
	const void *cur = bpf_map__initial_value(m, &size);
	if (!cur || (size_t)off + len > size) {
		kpb_throw(env, ERANGE, "set_variable", name,
			  "Set variable bytes at offset %u (%zu bytes) of \"%s\" failed: the section holds %zu bytes",
			  off, len, name, size);
		return NULL;
	}
	char *copy = malloc(size);
	if (!copy) {
		kpb_throw(env, ENOMEM, "set_variable", name, "Set variable in \"%s\" failed", name);
		return NULL;
	}
	memcpy(copy, cur, size);
	memcpy(copy + off, data, len);
	int err = bpf_map__set_initial_value(m, copy, size);
	free(copy);
	if (err) {
		kpb_throw(env, -err, "set_variable", name, "Set initial value of \"%s\" failed", name);
		return NULL;
	}
	return kpb_undefined(env);
}

/* objectResizeMap(object, name, maxEntries) before load. */
static napi_value js_object_resize_map(napi_env env, napi_callback_info info)
{
	KPB_ARGS(3);
	struct kpb_handle *h = object_arg(env, argv[0]);
	char name[128];
	uint32_t n;
	struct bpf_map *m;
	if (!h || !(m = find_map(env, h, argv[1], "resize_map", name, sizeof(name))) ||
	    !kpb_get_u32(env, argv[2], "maxEntries", &n))
		return NULL;
	int err = bpf_map__set_max_entries(m, n);
	if (err) {
		kpb_throw(env, -err, "resize_map", name, "Resize map \"%s\" to %u entries failed", name, n);
		return NULL;
	}
	return kpb_undefined(env);
}

/* ---- load ---- */

struct loaded {
	char name[64];
	int fd;
};

struct load_baton {
	struct kpb_handle *h;
	napi_ref ref;       /* keeps the object handle alive while the worker uses it */
	napi_deferred deferred;
	napi_async_work work;
	char pin_path[KPB_PATH_MAX];
	uint32_t log_level;
	struct kpb_err err;
	struct loaded *maps, *progs;
	int n_maps, n_progs;
	char *success_log;  /* libbpf output of a successful load, kept when log_level asked for it */
};

static void append(char *buf, size_t size, const char *fmt, uint32_t have, uint32_t want, const char *what)
{
	size_t l = strlen(buf);
	snprintf(buf + l, size - l, fmt, l ? "; " : "", what, have, want);
}

/* libbpf would also refuse a mismatch, but only with a generic message; checking here first lets
 * the error name the map, the pin and each property that differs. Returns 0 or a positive errno. */
static int check_pinned(struct load_baton *b, struct bpf_map *m, const char *path)
{
	struct bpf_map_info mi;
	uint32_t len = sizeof(mi);
	char diff[512] = "";
	const char *name = bpf_map__name(m);
	int fd;
	if (access(path, F_OK) != 0)
		return 0;
	fd = bpf_obj_get(path);
	if (fd < 0) {
		kpb_err_set(&b->err, errno, "load", name, "Adopt pinned map \"%s\" at \"%s\" failed: cannot open the pin",
			    name, path);
		return b->err.err;
	}
	if (!kpb_fd_has(fd, "map_type:")) {
		close(fd);
		kpb_err_set(&b->err, EINVAL, "load", name, "Adopt pinned map \"%s\" at \"%s\" failed", name, path);
		snprintf(b->err.message, sizeof(b->err.message),
			 "Refuse to adopt pin \"%s\" for map \"%s\": it is not a BPF map", path, name);
		return EINVAL;
	}
	memset(&mi, 0, sizeof(mi));
	if (bpf_obj_get_info_by_fd(fd, &mi, &len)) {
		int e = errno;
		close(fd);
		kpb_err_set(&b->err, e, "load", name, "Read info of pinned map \"%s\" at \"%s\" failed", name, path);
		return b->err.err;
	}
	close(fd);
	if (mi.type != (uint32_t)bpf_map__type(m)) {
		const char *have = libbpf_bpf_map_type_str(mi.type), *want = libbpf_bpf_map_type_str(bpf_map__type(m));
		size_t l = strlen(diff);
		snprintf(diff + l, sizeof(diff) - l, "%stype is %s, the object wants %s", l ? "; " : "",
			 have ? have : "unknown", want ? want : "unknown");
	}
	if (mi.key_size != bpf_map__key_size(m))
		append(diff, sizeof(diff), "%s%s is %u, the object wants %u", mi.key_size, bpf_map__key_size(m),
		       "key size");
	if (mi.value_size != bpf_map__value_size(m))
		append(diff, sizeof(diff), "%s%s is %u, the object wants %u", mi.value_size, bpf_map__value_size(m),
		       "value size");
	if (mi.max_entries != bpf_map__max_entries(m))
		append(diff, sizeof(diff), "%s%s is %u, the object wants %u", mi.max_entries,
		       bpf_map__max_entries(m), "max entries");
	if (mi.map_flags != bpf_map__map_flags(m))
		append(diff, sizeof(diff), "%s%s is 0x%x, the object wants 0x%x", mi.map_flags, bpf_map__map_flags(m),
		       "flags");
	if (!diff[0])
		return 0;
	kpb_err_set(&b->err, EINVAL, "load", name, "x");
	snprintf(b->err.message, sizeof(b->err.message),
		 "Refuse to adopt pinned map \"%s\" at \"%s\": its layout differs: %s", name, path, diff);
	return EINVAL;
}

/* The last "prog 'x'" or "map 'x'" that libbpf reported as failing names the culprit. */
static void find_culprit(const char *log, char *kind, size_t ksize, char *name, size_t nsize)
{
	const char *line = log, *best = NULL;
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t l = nl ? (size_t)(nl - line) : strlen(line);
		if (memmem(line, l, "failed", 6) && (memmem(line, l, "prog '", 6) || memmem(line, l, "map '", 5)))
			best = line;
		line = nl ? nl + 1 : NULL;
	}
	if (!best)
		return;
	const char *nl = strchr(best, '\n');
	size_t l = nl ? (size_t)(nl - best) : strlen(best);
	const char *p = memmem(best, l, "prog '", 6);
	const char *k = "program";
	size_t skip = 6;
	if (!p) {
		p = memmem(best, l, "map '", 5);
		k = "map";
		skip = 5;
	}
	p += skip;
	const char *q = memchr(p, '\'', l - (size_t)(p - best));
	if (!q)
		return;
	snprintf(kind, ksize, "%s", k);
	snprintf(name, nsize, "%.*s", (int)(q - p), p);
}

/* The verifier's reason is its last line before the "processed N insns" summary. */
static void append_verifier_reason(struct kpb_err *e)
{
	const char *v = e->verifier, *best = NULL, *line;
	size_t best_len = 0;
	if (!v)
		return;
	for (line = v; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t l = nl ? (size_t)(nl - line) : strlen(line);
		if (l && strncmp(line, "processed ", 10) && strncmp(line, "verification time", 17)) {
			best = line;
			best_len = l;
		}
		line = nl ? nl + 1 : NULL;
	}
	if (best) {
		size_t ml = strlen(e->message);
		snprintf(e->message + ml, sizeof(e->message) - ml, "; verifier: %.*s", (int)best_len, best);
	}
}

static void load_execute(napi_env env, void *data)
{
	struct load_baton *b = data;
	struct bpf_object *obj = b->h->obj;
	struct kpb_log log;
	struct bpf_map *m;
	struct bpf_program *p;
	int err = 0, n;
	(void)env;

	kpb_log_begin(&log);
	bpf_object__for_each_map(m, obj) {
		char path[KPB_PATH_MAX + 64];
		if (!bpf_map__pin_path(m))
			continue;
		/* Without a pin folder nothing is pinned (libbpf would default to the bpffs root). */
		if (!b->pin_path[0]) {
			bpf_map__set_pin_path(m, NULL);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", b->pin_path, bpf_map__name(m));
		err = bpf_map__set_pin_path(m, path);
		if (err) {
			kpb_err_set(&b->err, err, "load", bpf_map__name(m), "Set pin path \"%s\" failed", path);
			goto out;
		}
		if ((err = check_pinned(b, m, path)))
			goto out;
	}
	if (b->log_level)
		bpf_object__for_each_program(p, obj) bpf_program__set_log_level(p, b->log_level);

	err = bpf_object__load(obj);
	if (err) {
		char kind[16] = "", who[128] = "";
		if (log.buf) {
			log.buf[log.len < log.cap ? log.len : log.cap - 1] = 0;
			find_culprit(log.buf, kind, sizeof(kind), who, sizeof(who));
		}
		if (who[0])
			kpb_err_set(&b->err, err, "load", who, "Load BPF object \"%s\" failed at %s \"%s\"", b->h->name,
				    kind, who);
		else
			kpb_err_set(&b->err, err, "load", b->h->name, "Load BPF object \"%s\" failed", b->h->name);
		goto out;
	}

	n = 0;
	bpf_object__for_each_map(m, obj) n++;
	b->maps = calloc((size_t)n + 1, sizeof(*b->maps));
	n = 0;
	bpf_object__for_each_program(p, obj) n++;
	b->progs = calloc((size_t)n + 1, sizeof(*b->progs));
	if (!b->maps || !b->progs) {
		kpb_err_set(&b->err, ENOMEM, "load", b->h->name, "Load BPF object \"%s\" failed", b->h->name);
		goto out;
	}
	bpf_object__for_each_map(m, obj) {
		struct loaded *l = &b->maps[b->n_maps];
		l->fd = fcntl(bpf_map__fd(m), F_DUPFD_CLOEXEC, 3);
		if (l->fd < 0) {
			kpb_err_set(&b->err, errno, "load", bpf_map__name(m), "Duplicate fd of map \"%s\" failed",
				    bpf_map__name(m));
			goto out;
		}
		snprintf(l->name, sizeof(l->name), "%s", bpf_map__name(m));
		b->n_maps++;
	}
	bpf_object__for_each_program(p, obj) {
		struct loaded *l = &b->progs[b->n_progs];
		if (bpf_program__fd(p) < 0)
			continue; /* autoload disabled */
		l->fd = fcntl(bpf_program__fd(p), F_DUPFD_CLOEXEC, 3);
		if (l->fd < 0) {
			kpb_err_set(&b->err, errno, "load", bpf_program__name(p), "Duplicate fd of program \"%s\" failed",
				    bpf_program__name(p));
			goto out;
		}
		snprintf(l->name, sizeof(l->name), "%s", bpf_program__name(p));
		b->n_progs++;
	}
out:
	kpb_log_end(&log);
	if (b->err.err) {
		kpb_err_take_log(&b->err, &log);
		append_verifier_reason(&b->err);
	} else if (b->log_level && log.buf) {
		log.buf[log.len] = 0;
		b->success_log = log.buf;
	} else {
		free(log.buf);
	}
	/* Loaded or not, the libbpf object has served its purpose; fds live on in the handles. */
	bpf_object__close(obj);
}

static void load_complete(napi_env env, napi_status status, void *data)
{
	struct load_baton *b = data;
	napi_value result = NULL, maps, progs;
	struct kpb_handle *h = b->h;

	h->obj = NULL;
	free(h->obj_buf);
	h->obj_buf = NULL;
	h->busy = false;
	h->loaded = true;
	if (status != napi_ok && !b->err.err)
		kpb_err_set(&b->err, ECANCELED, "load", h->name, "Load BPF object \"%s\" was cancelled", h->name);
	if (b->err.err) {
		for (int i = 0; i < b->n_maps; i++)
			close(b->maps[i].fd);
		for (int i = 0; i < b->n_progs; i++)
			close(b->progs[i].fd);
		napi_reject_deferred(env, b->deferred, kpb_err_to_js(env, &b->err));
		goto done;
	}
	napi_create_object(env, &result);
	napi_create_array(env, &maps);
	napi_create_array(env, &progs);
	for (int i = 0; i < b->n_maps; i++) {
		napi_value o, hv;
		struct kpb_handle *mh = kpb_handle_new(env, KPB_MAP, &hv);
		if (!mh) {
			close(b->maps[i].fd);
			continue;
		}
		snprintf(mh->name, sizeof(mh->name), "%s", b->maps[i].name);
		kpb_map_handle_fill(mh, b->maps[i].fd);
		napi_create_object(env, &o);
		kpb_set_str(env, o, "name", b->maps[i].name);
		napi_set_named_property(env, o, "handle", hv);
		napi_set_element(env, maps, (uint32_t)i, o);
	}
	for (int i = 0; i < b->n_progs; i++) {
		napi_value o, hv;
		struct kpb_handle *ph = kpb_handle_new(env, KPB_PROG, &hv);
		if (!ph) {
			close(b->progs[i].fd);
			continue;
		}
		snprintf(ph->name, sizeof(ph->name), "%s", b->progs[i].name);
		kpb_prog_handle_fill(ph, b->progs[i].fd);
		napi_create_object(env, &o);
		kpb_set_str(env, o, "name", b->progs[i].name);
		napi_set_named_property(env, o, "handle", hv);
		napi_set_element(env, progs, (uint32_t)i, o);
	}
	napi_set_named_property(env, result, "maps", maps);
	napi_set_named_property(env, result, "programs", progs);
	if (b->success_log)
		kpb_set_str(env, result, "log", b->success_log);
	napi_resolve_deferred(env, b->deferred, result);
done:
	{
		bool pending = false;
		napi_is_exception_pending(env, &pending);
		if (pending) {
			napi_value ignored;
			napi_get_and_clear_last_exception(env, &ignored);
		}
	}
	kpb_err_free(&b->err);
	napi_delete_reference(env, b->ref);
	napi_delete_async_work(env, b->work);
	free(b->maps);
	free(b->progs);
	free(b->success_log);
	free(b);
}

/* objectLoad(object, pinPath|null, logLevel) -> Promise<{ maps, programs }>. An object loads once. */
static napi_value js_object_load(napi_env env, napi_callback_info info)
{
	KPB_ARGS(3);
	struct kpb_handle *h = object_arg(env, argv[0]);
	struct load_baton *b;
	napi_value promise, name;
	if (!h)
		return NULL;
	b = calloc(1, sizeof(*b));
	if (!b) {
		kpb_throw(env, ENOMEM, "load", h->name, "Load BPF object \"%s\" failed", h->name);
		return NULL;
	}
	if ((!kpb_is_nullish(env, argv[1]) && !kpb_get_string(env, argv[1], "pinPath", b->pin_path, KPB_PATH_MAX)) ||
	    (!kpb_is_nullish(env, argv[2]) && !kpb_get_u32(env, argv[2], "logLevel", &b->log_level))) {
		free(b);
		return NULL;
	}
	b->h = h;
	if (napi_create_reference(env, argv[0], 1, &b->ref) != napi_ok ||
	    napi_create_promise(env, &b->deferred, &promise) != napi_ok ||
	    napi_create_string_utf8(env, "bpf_object_load", NAPI_AUTO_LENGTH, &name) != napi_ok ||
	    napi_create_async_work(env, NULL, name, load_execute, load_complete, b, &b->work) != napi_ok) {
		free(b);
		return NULL;
	}
	h->busy = true;
	if (napi_queue_async_work(env, b->work) != napi_ok) {
		h->busy = false;
		return NULL;
	}
	return promise;
}

void kpb_object_init(napi_env env, napi_value exports)
{
	kpb_export(env, exports, "objectOpen", js_object_open);
	kpb_export(env, exports, "objectDescribe", js_object_describe);
	kpb_export(env, exports, "objectSetVariable", js_object_set_variable);
	kpb_export(env, exports, "objectResizeMap", js_object_resize_map);
	kpb_export(env, exports, "objectLoad", js_object_load);
}
