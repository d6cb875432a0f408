// SPDX-License-Identifier: GPL-2.0
/* live.bpf.c: the generator and the sink of forward.ts's live-frames measurement
 * (BPF_F_TEST_XDP_LIVE_FRAMES). The kernel's live-frames pages are recycled without being
 * re-initialised, so whatever a contender wrote into a frame (NAT, TTL, MACs) would accumulate:
 * the sink, on the far side of node-a's veth, puts the canonical frame back before dropping it,
 * and the generator of the stack contenders does the same before passing it up. Not part of the
 * datapath. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define KPB_LIVE_LEN 60
#define KPB_LIVE_MAGIC_OFF 42 /* UDP payload of an IPv4 frame without options */

/* The canonical frame (set before load): a UDP datagram client -> node-a's NodePort whose payload
 * starts with "KPBLIVE1". */
const volatile __u32 kpb_live_frame[KPB_LIVE_LEN / 4] = {};

static __always_inline int restore(struct xdp_md *ctx)
{
	__u32 *d = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	int i;

	/* Every contender keeps the frame's length (NAT and TTL only). */
	if ((void *)d + KPB_LIVE_LEN > end)
		return -1;
#pragma unroll
	for (i = 0; i < KPB_LIVE_LEN / 4; i++)
		d[i] = kpb_live_frame[i];
	return 0;
}

/* The floor: the cost of a frame that is only sent back out. */
SEC("xdp")
int kpb_live_tx(struct xdp_md *ctx)
{
	return XDP_TX;
}

/* The stack contenders: the canonical frame, passed up node-a's stack. */
SEC("xdp")
int kpb_live_pass(struct xdp_md *ctx)
{
	restore(ctx);
	return XDP_PASS;
}

/* The sink: a benchmark frame (whatever a contender made of it) is restored and dropped; all
 * other traffic of the fabric port passes. */
SEC("xdp")
int kpb_live_sink(struct xdp_md *ctx)
{
	__u8 *d = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;

	if ((void *)(d + KPB_LIVE_MAGIC_OFF + 8) > end)
		return XDP_PASS;
	if (d[12] != 0x08 || d[13] != 0x00 || d[23] != 17)
		return XDP_PASS;
	if (*(__u64 *)(d + KPB_LIVE_MAGIC_OFF) != *(const volatile __u64 *)((const volatile __u8 *)kpb_live_frame + KPB_LIVE_MAGIC_OFF))
		return XDP_PASS;
	restore(ctx);
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
