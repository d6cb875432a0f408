/* error.c: BpfError construction and per-operation capture of libbpf's log output.
 *
 * The BpfError class is defined in TypeScript and handed over once by init(); native code only
 * instantiates it, and never replaces an exception that is already pending (an error raised while
 * building the error must stay visible). libbpf has one global print callback, so output is routed
 * to a thread-local buffer: each operation (an open on the main thread, a load on a pool thread)
 * collects exactly its own messages. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kpb.h"

#define KPB_LOG_MAX (8u << 20) /* verifier logs of big programs run to megabytes; keep the head */

static __thread struct kpb_log *current_log;

static int print_cb(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	struct kpb_log *log = current_log;
	va_list aq;
	int n;
	if (!log) {
		/* Output outside any operation (rare) is only of interest when debugging. */
		if (level != LIBBPF_DEBUG && getenv("KPB_LIBBPF_DEBUG"))
			vfprintf(stderr, fmt, ap);
		return 0;
	}
	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n <= 0)
		return 0;
	if (log->len + (size_t)n + 1 > log->cap) {
		size_t cap = log->cap ? log->cap : 4096;
		char *nb;
		while (cap < log->len + (size_t)n + 1)
			cap *= 2;
		if (cap > KPB_LOG_MAX) {
			log->truncated = true;
			return 0;
		}
		nb = realloc(log->buf, cap);
		if (!nb) {
			log->truncated = true;
			return 0;
		}
		log->buf = nb;
		log->cap = cap;
	}
	vsnprintf(log->buf + log->len, (size_t)n + 1, fmt, ap);
	log->len += (size_t)n;
	return 0;
}

void kpb_error_install_print(void)
{
	libbpf_set_print(print_cb);
}

void kpb_log_begin(struct kpb_log *log)
{
	memset(log, 0, sizeof(*log));
	current_log = log;
}

void kpb_log_end(struct kpb_log *log)
{
	(void)log;
	current_log = NULL;
}

/* BpfError constructor, per environment (workers load their own copy of the module state). */
napi_status kpb_error_set_class(napi_env env, napi_value ctor)
{
	napi_ref *old = NULL;
	napi_ref *ref;
	if (napi_get_instance_data(env, (void **)&old) == napi_ok && old) {
		napi_delete_reference(env, *old);
		return napi_create_reference(env, ctor, 1, old);
	}
	ref = calloc(1, sizeof(*ref));
	if (!ref)
		return napi_generic_failure;
	if (napi_create_reference(env, ctor, 1, ref) != napi_ok) {
		free(ref);
		return napi_generic_failure;
	}
	return napi_set_instance_data(env, ref, NULL, NULL);
}

/* ENOTSUPP (524) is kernel-internal, glibc has no name for it, but BPF syscalls return it. */
const char *kpb_errno_code(int err)
{
	static __thread char other[32];
	const char *name;
	switch (err) {
	case 524: return "ENOTSUPP";
	case 4000: return "LIBBPF_ERRNO__LIBELF";
	case 4001: return "LIBBPF_ERRNO__FORMAT";
	case 4002: return "LIBBPF_ERRNO__KVERSION";
	case 4003: return "LIBBPF_ERRNO__ENDIAN";
	case 4004: return "LIBBPF_ERRNO__INTERNAL";
	case 4005: return "LIBBPF_ERRNO__RELOC";
	case 4006: return "LIBBPF_ERRNO__LOAD";
	case 4007: return "LIBBPF_ERRNO__VERIFY";
	case 4008: return "LIBBPF_ERRNO__PROG2BIG";
	case 4009: return "LIBBPF_ERRNO__KVER";
	case 4010: return "LIBBPF_ERRNO__PROGTYPE";
	case 4011: return "LIBBPF_ERRNO__WRNGPID";
	case 4012: return "LIBBPF_ERRNO__INVSEQ";
	case 4013: return "LIBBPF_ERRNO__NLPARSE";
	}
	name = strerrorname_np(err);
	if (name)
		return name;
	snprintf(other, sizeof(other), "E%d", err);
	return other;
}

static const char *describe_errno(int err, char *buf, size_t size)
{
	if (err == 524)
		return "Operation not supported by this kernel";
	if (err >= 4000 && err < 4100) {
		libbpf_strerror(-err, buf, size);
		return buf;
	}
	return strerror_r(err, buf, size);
}

void kpb_err_set(struct kpb_err *e, int err, const char *op, const char *object, const char *fmt, ...)
{
	va_list ap;
	char what[768], sb[128];
	if (err < 0)
		err = -err;
	e->err = err ? err : EINVAL;
	snprintf(e->op, sizeof(e->op), "%s", op);
	snprintf(e->object, sizeof(e->object), "%s", object ? object : "");
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(e->message, sizeof(e->message), "%s: %s (%s)", what, describe_errno(e->err, sb, sizeof(sb)),
		 kpb_errno_code(e->err));
}

/* Split captured libbpf output into the verifier log (between libbpf's BEGIN/END PROG LOAD LOG
 * markers) and the rest, which becomes libbpfMessage. */
void kpb_err_take_log(struct kpb_err *e, struct kpb_log *log)
{
	static const char begin[] = "-- BEGIN PROG LOAD LOG --\n";
	static const char end[] = "-- END PROG LOAD LOG --";
	char *b, *en;
	if (!log->buf || !log->len) {
		free(log->buf);
		log->buf = NULL;
		return;
	}
	log->buf[log->len] = 0;
	b = strstr(log->buf, begin);
	if (b) {
		char *v = b + sizeof(begin) - 1;
		en = strstr(v, end);
		size_t n = en ? (size_t)(en - v) : strlen(v);
		free(e->verifier);
		e->verifier = strndup(v, n);
	}
	free(e->libbpf);
	e->libbpf = log->buf;
	log->buf = NULL;
	log->len = log->cap = 0;
}

void kpb_err_free(struct kpb_err *e)
{
	free(e->libbpf);
	free(e->verifier);
	e->libbpf = e->verifier = NULL;
}

static napi_value str_or_undef(napi_env env, const char *s)
{
	napi_value v;
	if (s)
		napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
	else
		napi_get_undefined(env, &v);
	return v;
}

napi_value kpb_err_to_js(napi_env env, struct kpb_err *e)
{
	napi_value msg, props, args[2], out = NULL, ctor = NULL, v;
	napi_ref *ref = NULL;
	napi_create_string_utf8(env, e->message, NAPI_AUTO_LENGTH, &msg);
	napi_create_object(env, &props);
	kpb_set_str(env, props, "operation", e->op);
	napi_create_int32(env, e->err, &v);
	napi_set_named_property(env, props, "errno", v);
	kpb_set_str(env, props, "code", kpb_errno_code(e->err));
	kpb_set_str(env, props, "objectName", e->object);
	napi_set_named_property(env, props, "libbpfMessage", str_or_undef(env, e->libbpf));
	napi_set_named_property(env, props, "verifierLog", str_or_undef(env, e->verifier));
	args[0] = msg;
	args[1] = props;
	if (napi_get_instance_data(env, (void **)&ref) == napi_ok && ref &&
	    napi_get_reference_value(env, *ref, &ctor) == napi_ok && ctor &&
	    napi_new_instance(env, ctor, 2, args, &out) == napi_ok)
		return out;
	/* init() was not called: a plain Error with the same properties still tells the whole story. */
	bool pending = false;
	napi_is_exception_pending(env, &pending);
	if (pending) {
		napi_value ignored;
		napi_get_and_clear_last_exception(env, &ignored);
	}
	napi_create_error(env, NULL, msg, &out);
	napi_value keys;
	uint32_t n = 0;
	napi_get_property_names(env, props, &keys);
	napi_get_array_length(env, keys, &n);
	for (uint32_t i = 0; i < n; i++) {
		napi_value k, val;
		napi_get_element(env, keys, i, &k);
		napi_get_property(env, props, k, &val);
		napi_set_property(env, out, k, val);
	}
	return out;
}

void kpb_throw_err(napi_env env, struct kpb_err *e)
{
	bool pending = false;
	napi_is_exception_pending(env, &pending);
	if (!pending) {
		napi_value err = kpb_err_to_js(env, e);
		napi_is_exception_pending(env, &pending);
		if (!pending && err)
			napi_throw(env, err);
	}
	kpb_err_free(e);
}

void kpb_throw(napi_env env, int err, const char *op, const char *object, const char *fmt, ...)
{
	struct kpb_err e = { 0 };
	char what[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	kpb_err_set(&e, err, op, object, "%s", what);
	kpb_throw_err(env, &e);
}

void kpb_throw_type(napi_env env, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	bool pending = false;
	napi_is_exception_pending(env, &pending);
	if (pending)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
}
