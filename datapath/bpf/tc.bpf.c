// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* tc.bpf.c: north-south services at tc (clsact) ingress and egress of the node's external
 * devices: everything XDP left (local backends, neighbour resolution) or all of it when the device
 * has no native XDP. See nodeport.h. */
#define KPB_CTX_SKB
#include "north_south.h"

SEC("tc")
int kpb_tc_ingress(struct __sk_buff *ctx)
{
	__u32 reason = KPB_CNT_ERROR;
	int verdict = kpb_np_ingress(ctx, &reason);

	kpb_count_exit(KPB_HOOK_TC_INGRESS, verdict, reason);
	return verdict;
}

SEC("tc")
int kpb_tc_egress(struct __sk_buff *ctx)
{
	__u32 reason = KPB_CNT_ERROR;
	int verdict = kpb_np_egress(ctx, &reason);

	kpb_count_exit(KPB_HOOK_TC_EGRESS, verdict, reason);
	return verdict;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
