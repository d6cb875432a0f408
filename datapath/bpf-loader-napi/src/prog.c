/* prog.c: program handles: BPF_PROG_TEST_RUN, pin, info. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "kpb.h"

/* Room beyond the input for the output packet: programs may grow it (adjust_head/room, encap),
 * and some kernels copy more than they report. */
#define KPB_TEST_RUN_PAD 4096

int kpb_prog_handle_fill(struct kpb_handle *h, int fd)
{
	struct bpf_prog_info pi;
	uint32_t len = sizeof(pi);
	memset(&pi, 0, sizeof(pi));
	h->fd = fd;
	if (bpf_obj_get_info_by_fd(fd, &pi, &len))
		return -errno;
	h->prog_type = pi.type;
	if (!h->name[0])
		snprintf(h->name, sizeof(h->name), "%s", pi.name);
	return 0;
}

static struct kpb_handle *prog_arg(napi_env env, napi_value v)
{
	return kpb_handle_arg(env, v, KPB_PROG, "program");
}

/* progOpenPinned(path) -> program handle. */
static napi_value js_prog_open_pinned(napi_env env, napi_callback_info info)
{
	KPB_ARGS(1);
	char path[4096];
	napi_value out;
	int fd = kpb_open_pinned_fd(env, argv[0], "prog_type:", "prog_open_pinned", "program", path, sizeof(path));
	if (fd < 0)
		return NULL;
	struct kpb_handle *h = kpb_handle_new(env, KPB_PROG, &out);
	if (!h) {
		close(fd);
		return NULL;
	}
	int err = kpb_prog_handle_fill(h, fd);
	if (err) {
		kpb_handle_release(h);
		kpb_throw(env, -err, "prog_open_pinned", path, "Read info of pinned program \"%s\" failed", path);
		return NULL;
	}
	return out;
}

/* progInfo(program) -> { id, type, name, tag }. */
static napi_value js_prog_info(napi_env env, napi_callback_info info)
{
	KPB_ARGS(1);
	struct kpb_handle *h = prog_arg(env, argv[0]);
	struct bpf_prog_info pi;
	uint32_t len = sizeof(pi);
	napi_value out;
	char tag[2 * BPF_TAG_SIZE + 1];
	if (!h)
		return NULL;
	memset(&pi, 0, sizeof(pi));
	if (bpf_obj_get_info_by_fd(h->fd, &pi, &len)) {
		kpb_throw(env, errno, "prog_info", h->name, "Read info of program \"%s\" failed", h->name);
		return NULL;
	}
	for (int i = 0; i < BPF_TAG_SIZE; i++)
		snprintf(tag + 2 * i, 3, "%02x", pi.tag[i]);
	const char *ts = libbpf_bpf_prog_type_str(pi.type);
	KPB_TRY(napi_create_object(env, &out));
	kpb_set_u32(env, out, "id", pi.id);
	kpb_set_str(env, out, "type", ts ? ts : "unknown");
	kpb_set_str(env, out, "name", pi.name);
	kpb_set_str(env, out, "tag", tag);
	return out;
}

/* progTestRun(program, data, ctx|null, repeat, dataSizeOut|null, checksumComplete)
 *   -> { retval, data, ctx?, durationNs }
 * checksumComplete (BPF_F_TEST_SKB_CHECKSUM_COMPLETE, skb programs, Linux 6.16+): the skb arrives
 * CHECKSUM_COMPLETE with skb->csum over the packet from the network header, and the kernel fails
 * the run with EBADMSG when the program left skb->csum disagreeing with the packet. */
#ifndef BPF_F_TEST_SKB_CHECKSUM_COMPLETE
#define BPF_F_TEST_SKB_CHECKSUM_COMPLETE (1U << 2)
#endif
static napi_value js_prog_test_run(napi_env env, napi_callback_info info)
{
	KPB_ARGS(6);
	struct kpb_handle *h = prog_arg(env, argv[0]);
	void *data = NULL, *ctx = NULL;
	size_t dlen = 0, clen = 0;
	uint32_t repeat = 1, out_size = 0;
	napi_value out, v;
	if (!h || !kpb_get_buffer(env, argv[1], "data", &data, &dlen))
		return NULL;
	if (!kpb_is_nullish(env, argv[2]) && !kpb_get_buffer(env, argv[2], "ctx", &ctx, &clen))
		return NULL;
	if (!kpb_is_nullish(env, argv[3]) && !kpb_get_u32(env, argv[3], "repeat", &repeat))
		return NULL;
	if (!kpb_is_nullish(env, argv[4]) && !kpb_get_u32(env, argv[4], "dataSizeOut", &out_size))
		return NULL;
	bool csum_complete = false;
	if (!kpb_is_nullish(env, argv[5]))
		KPB_TRY(napi_get_value_bool(env, argv[5], &csum_complete));
	if (dlen > UINT32_MAX - KPB_TEST_RUN_PAD) {
		kpb_throw(env, E2BIG, "prog_test_run", h->name, "Test run of program \"%s\" failed: input too big",
			  h->name);
		return NULL;
	}
	if (out_size < dlen + KPB_TEST_RUN_PAD)
		out_size = (uint32_t)dlen + KPB_TEST_RUN_PAD;
	uint32_t ctx_out_size = clen ? (uint32_t)clen + 256 : 0;
	char *dout = calloc(1, out_size);
	char *cout = ctx_out_size ? calloc(1, ctx_out_size) : NULL;
	if (!dout || (ctx_out_size && !cout)) {
		free(dout);
		free(cout);
		kpb_throw(env, ENOMEM, "prog_test_run", h->name, "Test run of program \"%s\" failed", h->name);
		return NULL;
	}
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = dlen ? data : NULL, .data_size_in = (uint32_t)dlen,
		    .data_out = dout, .data_size_out = out_size, .ctx_in = clen ? ctx : NULL,
		    .ctx_size_in = (uint32_t)clen, .ctx_out = cout, .ctx_size_out = ctx_out_size,
		    .repeat = (int)(repeat ? repeat : 1), .flags = csum_complete ? BPF_F_TEST_SKB_CHECKSUM_COMPLETE : 0);
	if (bpf_prog_test_run_opts(h->fd, &opts)) {
		int e = errno;
		free(dout);
		free(cout);
		kpb_throw(env, e, "prog_test_run", h->name, "Test run of program \"%s\" failed", h->name);
		return NULL;
	}
	KPB_TRY(napi_create_object(env, &out));
	kpb_set_u32(env, out, "retval", opts.retval);
	kpb_set_u32(env, out, "durationNs", opts.duration);
	uint32_t n = opts.data_size_out < out_size ? opts.data_size_out : out_size;
	napi_create_buffer_copy(env, n, dout, NULL, &v);
	napi_set_named_property(env, out, "data", v);
	if (cout) {
		uint32_t cn = opts.ctx_size_out < ctx_out_size ? opts.ctx_size_out : ctx_out_size;
		napi_create_buffer_copy(env, cn, cout, NULL, &v);
		napi_set_named_property(env, out, "ctx", v);
	}
	free(dout);
	free(cout);
	return out;
}

/* progTestRunLive(program, data, ctx|null, repeat, batchSize) -> { retval, durationNs }
 * BPF_F_TEST_XDP_LIVE_FRAMES: the kernel runs the XDP program `repeat` times on frames initialised
 * from `data` (in batches of `batchSize`, 0 = the kernel's default) and really sends what it
 * returns XDP_TX/XDP_REDIRECT for, and passes XDP_PASS frames up the stack; nothing is copied
 * back. durationNs is the average per frame, sending included. */
static napi_value js_prog_test_run_live(napi_env env, napi_callback_info info)
{
	KPB_ARGS(5);
	struct kpb_handle *h = prog_arg(env, argv[0]);
	void *data = NULL, *ctx = NULL;
	size_t dlen = 0, clen = 0;
	uint32_t repeat = 1, batch = 0;
	napi_value out;
	if (!h || !kpb_get_buffer(env, argv[1], "data", &data, &dlen))
		return NULL;
	if (!kpb_is_nullish(env, argv[2]) && !kpb_get_buffer(env, argv[2], "ctx", &ctx, &clen))
		return NULL;
	if (!kpb_get_u32(env, argv[3], "repeat", &repeat) || !kpb_get_u32(env, argv[4], "batchSize", &batch))
		return NULL;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = data, .data_size_in = (uint32_t)dlen, .ctx_in = clen ? ctx : NULL,
		    .ctx_size_in = (uint32_t)clen, .repeat = (int)(repeat ? repeat : 1), .flags = BPF_F_TEST_XDP_LIVE_FRAMES,
		    .batch_size = batch);
	if (bpf_prog_test_run_opts(h->fd, &opts)) {
		kpb_throw(env, errno, "prog_test_run", h->name, "Live-frames test run of program \"%s\" failed", h->name);
		return NULL;
	}
	KPB_TRY(napi_create_object(env, &out));
	kpb_set_u32(env, out, "retval", opts.retval);
	kpb_set_u32(env, out, "durationNs", opts.duration);
	return out;
}

/* progPin(program, path). */
static napi_value js_prog_pin(napi_env env, napi_callback_info info)
{
	KPB_ARGS(2);
	struct kpb_handle *h = prog_arg(env, argv[0]);
	return h ? kpb_pin_handle(env, h, argv[1], "prog_pin", "program") : NULL;
}

void kpb_prog_init(napi_env env, napi_value exports)
{
	kpb_export(env, exports, "progOpenPinned", js_prog_open_pinned);
	kpb_export(env, exports, "progInfo", js_prog_info);
	kpb_export(env, exports, "progTestRun", js_prog_test_run);
	kpb_export(env, exports, "progTestRunLive", js_prog_test_run_live);
	kpb_export(env, exports, "progPin", js_prog_pin);
}
