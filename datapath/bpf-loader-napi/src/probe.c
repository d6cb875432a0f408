/* probe.c: kernel feature probes by name (libbpf loads tiny programs/maps to find out).
 * Names are libbpf's ("xdp", "sched_cls", "lru_hash"); helpers are the UAPI names with or without
 * the "bpf_" prefix, taken from the kernel header's own helper list so none is hand-copied. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
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

/* libbpf 1.1 recognises a refused helper only by the verifier's older wording ("invalid func",
 * "unknown func"); newer kernels say "program of this type cannot use helper", which libbpf 1.1
 * would report as supported. So load the probe program here and read the log ourselves:
 * call helper; r0 = 0; exit. Returns 1 (usable), 0 (not usable) or a negative errno. */
static int probe_helper(enum bpf_prog_type type, int id)
{
	switch (type) {
	case BPF_PROG_TYPE_TRACING:
	case BPF_PROG_TYPE_LSM:
	case BPF_PROG_TYPE_EXT:
	case BPF_PROG_TYPE_STRUCT_OPS:
		return libbpf_probe_bpf_helper(type, id, NULL); /* need BTF targets; libbpf knows how */
	default:
		break;
	}
	struct bpf_insn insns[] = {
		{ .code = BPF_JMP | BPF_CALL, .imm = id },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	size_t log_size = 64 * 1024;
	char *log = calloc(1, log_size);
	if (!log)
		return -ENOMEM;
	enum bpf_attach_type eat = 0;
	if (type == BPF_PROG_TYPE_CGROUP_SOCK_ADDR)
		eat = BPF_CGROUP_INET4_CONNECT;
	else if (type == BPF_PROG_TYPE_CGROUP_SOCK)
		eat = BPF_CGROUP_INET4_POST_BIND;
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_buf = log, .log_size = (uint32_t)log_size, .log_level = 1,
		    .expected_attach_type = eat);
	int fd = bpf_prog_load(type, NULL, "GPL", insns, sizeof(insns) / sizeof(insns[0]), &opts);
	int err = errno, r;
	if (fd >= 0) {
		close(fd);
		r = 1;
	} else if (strstr(log, "invalid func ") || strstr(log, "unknown func ") || strstr(log, "cannot use helper")) {
		r = 0;
	} else if (err == EPERM) {
		r = -EPERM;
	} else {
		r = 1; /* refused for its arguments or context, so the helper itself is there */
	}
	free(log);
	return r;
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
	return result(env, probe_helper(t, id), "probe_helper", hn);
}

void kpb_probe_init(napi_env env, napi_value exports)
{
	kpb_export(env, exports, "probeProgramType", js_probe_prog_type);
	kpb_export(env, exports, "probeMapType", js_probe_map_type);
	kpb_export(env, exports, "probeHelper", js_probe_helper);
}
