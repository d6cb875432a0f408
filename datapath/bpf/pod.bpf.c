// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* pod.bpf.c: per-packet service translation at tc ingress and egress of the node side of the pod
 * interfaces, for --bpf-socket-lb=host-namespace-only (pod.h explains what and why). Built on the
 * north-south implementation (parsing, conntrack entries, NAT rewrite, next-hop cache, answers),
 * with maps of its own for the pods' flows.
 *
 * kpb_pod_ingress and kpb_pod_egress are what the agent attaches: the lean path, and for the rest
 * a tail call into kpb_pod_general_ingress/_egress, which start on a fresh stack (see xdp.bpf.c). */
#define KPB_CTX_SKB
/* The north-south entry functions (kpb_np_ingress/_egress) come along unused; the compiler drops them. */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunused-function"
#include "north_south.h"
#pragma clang diagnostic pop
#include "sock_lb.h"
#include "pod.h"

SEC("tc")
int kpb_pod_general_ingress(struct __sk_buff *ctx)
{
	__u32 reason = KPB_CNT_ERROR;

	return kpb_pod_count_exit(KPB_POD_HOOK_INGRESS, kpb_pod_general(ctx, false, &reason), reason);
}

SEC("tc")
int kpb_pod_general_egress(struct __sk_buff *ctx)
{
	__u32 reason = KPB_CNT_ERROR;

	return kpb_pod_count_exit(KPB_POD_HOOK_EGRESS, kpb_pod_general(ctx, true, &reason), reason);
}

/* key: 0 ingress, 1 egress; value: the general programs (ctx.h's KPB_PROG_ARRAY). */
KPB_PROG_ARRAY(kpb_pod_next, 2) = {
	.values = { [0] = (void *)&kpb_pod_general_ingress, [1] = (void *)&kpb_pod_general_egress },
};

/* The lean path of one hook, and for the rest its general program. */
static __always_inline int kpb_pod_hook(struct __sk_buff *ctx, __u32 hook, bool egress)
{
	__u32 reason = KPB_CNT_ERROR;
	int verdict = kpb_pod_fast(ctx, &reason, egress);

	if (verdict < 0)
		verdict = ctx_tail_general(ctx, &kpb_pod_next, hook);
	return kpb_pod_count_exit(hook, verdict, reason);
}

SEC("tc")
int kpb_pod_ingress(struct __sk_buff *ctx)
{
	return kpb_pod_hook(ctx, KPB_POD_HOOK_INGRESS, false);
}

SEC("tc")
int kpb_pod_egress(struct __sk_buff *ctx)
{
	return kpb_pod_hook(ctx, KPB_POD_HOOK_EGRESS, true);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
