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
	int verdict = kpb_np_ingress(ctx, &reason);

	kpb_count_exit(KPB_HOOK_TC_INGRESS, verdict, reason);
	return verdict;
}

SEC("tc")
int kpb_tc_general_egress(struct __sk_buff *ctx)
{
	__u32 reason = KPB_CNT_ERROR;
	int verdict = kpb_np_egress(ctx, &reason);

	kpb_count_exit(KPB_HOOK_TC_EGRESS, verdict, reason);
	return verdict;
}

/* key: 0 ingress, 1 egress; value: the general programs, written by libbpf at each load. Pinned by
 * name so that it outlives the agent with the attached programs (see xdp.bpf.c). */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, __u32);
	__array(values, int(struct __sk_buff *));
} kpb_tc_next SEC(".maps") = {
	.values = { [0] = (void *)&kpb_tc_general_ingress, [1] = (void *)&kpb_tc_general_egress },
};

SEC("tc")
int kpb_tc_ingress(struct __sk_buff *ctx)
{
	__u32 reason = KPB_CNT_ERROR;
	int verdict = kpb_fast(ctx, &reason, false);

#if KPB_ABL(KPB_ABL_TAIL)
	if (verdict == KPB_FAST_MISS)
		verdict = kpb_np_ingress(ctx, &reason);
#endif
	if (verdict == KPB_FAST_MISS) {
		bpf_tail_call(ctx, &kpb_tc_next, 0);
		verdict = CTX_PASS; /* only if the program array were empty */
	}
	kpb_count_exit(KPB_HOOK_TC_INGRESS, verdict, reason);
	return verdict;
}

SEC("tc")
int kpb_tc_egress(struct __sk_buff *ctx)
{
	__u32 reason = KPB_CNT_ERROR;
	int verdict;

	if (ctx->tc_index == KPB_TC_INDEX_SENT) {
		ctx->tc_index = 0;
		kpb_count_exit(KPB_HOOK_TC_EGRESS, CTX_PASS, KPB_CNT_SENT_BY_US);
		return CTX_PASS;
	}
	verdict = kpb_fast(ctx, &reason, true);
	if (verdict == KPB_FAST_MISS) {
		bpf_tail_call(ctx, &kpb_tc_next, 1);
		verdict = CTX_PASS;
	}
	kpb_count_exit(KPB_HOOK_TC_EGRESS, verdict, reason);
	return verdict;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
