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
	int verdict = kpb_pod_general(ctx, false, &reason);

	kpb_pod_count_exit(KPB_POD_HOOK_INGRESS, verdict, reason);
	return verdict;
}

SEC("tc")
int kpb_pod_general_egress(struct __sk_buff *ctx)
{
	__u32 reason = KPB_CNT_ERROR;
	int verdict = kpb_pod_general(ctx, true, &reason);

	kpb_pod_count_exit(KPB_POD_HOOK_EGRESS, verdict, reason);
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
} kpb_pod_next SEC(".maps") = {
	.values = { [0] = (void *)&kpb_pod_general_ingress, [1] = (void *)&kpb_pod_general_egress },
};

SEC("tc")
int kpb_pod_ingress(struct __sk_buff *ctx)
{
	__u32 reason = KPB_CNT_ERROR;
	int verdict = kpb_pod_fast(ctx, &reason, false);

	if (verdict < 0) {
		bpf_tail_call(ctx, &kpb_pod_next, 0);
		verdict = CTX_PASS; /* only if the program array were empty */
	}
	kpb_pod_count_exit(KPB_POD_HOOK_INGRESS, verdict, reason);
	return verdict;
}

SEC("tc")
int kpb_pod_egress(struct __sk_buff *ctx)
{
	__u32 reason = KPB_CNT_ERROR;
	int verdict = kpb_pod_fast(ctx, &reason, true);

	if (verdict < 0) {
		bpf_tail_call(ctx, &kpb_pod_next, 1);
		verdict = CTX_PASS;
	}
	kpb_pod_count_exit(KPB_POD_HOOK_EGRESS, verdict, reason);
	return verdict;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
