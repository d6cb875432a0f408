/* probe.c: kernel feature probes by name (libbpf loads tiny programs/maps to find out).
 * Names are libbpf's ("xdp", "sched_cls", "lru_hash"); helpers are the UAPI names with or without
 * the "bpf_" prefix, taken from the kernel header's own helper list so none is hand-copied. */
#include <errno.h>
#include <string.h>
#include <linux/bpf.h>
#include "kpb.h"

#define KPB_HELPER(x) { #x, BPF_FUNC_##x }
static const struct {
	const char *name;
	int id;
} helpers[] = { __BPF_FUNC_MAPPER(KPB_HELPER) };

static int prog_type_by_name(const char *name)
{
	for (int t = 0; t < 256; t++) {
		const char *s = libbpf_bpf_prog_type_str(t);
		if (s && !strcmp(s, name))
			return t;
	}
	return -1;
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

static int helper_by_name(const char *name)
{
	if (!strncmp(name, "bpf_", 4))
		name += 4;
	for (size_t i = 1; i < sizeof(helpers) / sizeof(helpers[0]); i++)
		if (!strcmp(helpers[i].name, name))
			return helpers[i].id;
	return -1;
}

static napi_value result(napi_env env, int r, const char *op, const char *what)
{
	napi_value out;
	if (r < 0 && r != -EOPNOTSUPP && r != -524) {
		kpb_throw(env, -r, op, what, "Probe kernel support for \"%s\" failed", what);
		return NULL;
	}
	napi_get_boolean(env, r == 1, &out);
	return out;
}

/* probeProgramType(name) -> boolean. */
static napi_value js_probe_prog_type(napi_env env, napi_callback_info info)
{
	KPB_ARGS(1);
	char name[64];
	if (!kpb_get_string(env, argv[0], "programType", name, sizeof(name)))
		return NULL;
	int t = prog_type_by_name(name);
	if (t < 0) {
		kpb_throw(env, EINVAL, "probe_prog_type", name, "Probe program type \"%s\" failed: unknown to libbpf", name);
		return NULL;
	}
	return result(env, libbpf_probe_bpf_prog_type(t, NULL), "probe_prog_type", name);
}

/* probeMapType(name) -> boolean. */
static napi_value js_probe_map_type(napi_env env, napi_callback_info info)
{
	KPB_ARGS(1);
	char name[64];
	if (!kpb_get_string(env, argv[0], "mapType", name, sizeof(name)))
		return NULL;
	int t = map_type_by_name(name);
	if (t < 0) {
		kpb_throw(env, EINVAL, "probe_map_type", name, "Probe map type \"%s\" failed: unknown to libbpf", name);
		return NULL;
	}
	return result(env, libbpf_probe_bpf_map_type(t, NULL), "probe_map_type", name);
}

/* probeHelper(programType, helperName) -> boolean. */
static napi_value js_probe_helper(napi_env env, napi_callback_info info)
{
	KPB_ARGS(2);
	char pt[64], hn[64];
	if (!kpb_get_string(env, argv[0], "programType", pt, sizeof(pt)) ||
	    !kpb_get_string(env, argv[1], "helper", hn, sizeof(hn)))
		return NULL;
	int t = prog_type_by_name(pt);
	if (t < 0) {
		kpb_throw(env, EINVAL, "probe_helper", pt, "Probe helper \"%s\" failed: unknown program type \"%s\"", hn,
			  pt);
		return NULL;
	}
	int id = helper_by_name(hn);
	if (id < 0) {
		kpb_throw(env, EINVAL, "probe_helper", hn, "Probe helper \"%s\" failed: unknown helper name", hn);
		return NULL;
	}
	return result(env, libbpf_probe_bpf_helper(t, id, NULL), "probe_helper", hn);
}

void kpb_probe_init(napi_env env, napi_value exports)
{
	kpb_export(env, exports, "probeProgramType", js_probe_prog_type);
	kpb_export(env, exports, "probeMapType", js_probe_map_type);
	kpb_export(env, exports, "probeHelper", js_probe_helper);
}
