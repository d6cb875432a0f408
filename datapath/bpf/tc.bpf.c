// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* tc.bpf.c: north-south services at tc (clsact) ingress and egress of the node's external
 * devices: everything XDP left (local backends, neighbour resolution) or all of it when the device
 * has no native XDP. Also the SNAT reservations' sweep, which the agent runs (BPF_PROG_TEST_RUN)
 * from time to time; see snat_gc.h.
 *
 * kpb_tc_ingress and kpb_tc_egress are what is attached: the lean established-flow path
 * (fastpath.h), and for everything else a tail call into kpb_tc_general_ingress/_egress
 * (nodeport.h), which start on a fresh stack (see xdp.bpf.c). */
#define KPB_CTX_SKB
#include "north_south.h"
#include "snat_gc.h"

SEC("tc")
int kpb_tc_general_ingress(struct __sk_buff *ctx)
{
	__u32 reason = KPB_CNT_ERROR;

	return kpb_count_exit(KPB_HOOK_TC_INGRESS, kpb_np_ingress(ctx, &reason), reason);
}

SEC("tc")
int kpb_tc_general_egress(struct __sk_buff *ctx)
{
	__u32 reason = KPB_CNT_ERROR;

	return kpb_count_exit(KPB_HOOK_TC_EGRESS, kpb_np_egress(ctx, &reason), reason);
}

/* key: 0 ingress, 1 egress; value: the general programs (ctx.h's KPB_PROG_ARRAY). */
KPB_PROG_ARRAY(kpb_tc_next, 2) = {
	.values = { [0] = (void *)&kpb_tc_general_ingress, [1] = (void *)&kpb_tc_general_egress },
};

SEC("tc")
int kpb_tc_ingress(struct __sk_buff *ctx)
{
	return kpb_fast_or_general(ctx, &kpb_tc_next, 0, KPB_HOOK_TC_INGRESS, false);
}

SEC("tc")
int kpb_tc_egress(struct __sk_buff *ctx)
{
	if (ctx->tc_index == KPB_TC_INDEX_SENT) {
		ctx->tc_index = 0;
		return kpb_count_exit(KPB_HOOK_TC_EGRESS, CTX_PASS, KPB_CNT_SENT_BY_US);
	}
	return kpb_fast_or_general(ctx, &kpb_tc_next, 1, KPB_HOOK_TC_EGRESS, true);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
