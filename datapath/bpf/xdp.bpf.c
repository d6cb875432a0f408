// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xdp.bpf.c: north-south services at XDP on the node's external devices. Handles what it can
 * finish alone (remote backends, replies from them) before an skb exists; passes the rest, untouched,
 * to the tc object on the same device.
 *
 * kpb_xdp_ingress is what is attached: the lean established-flow path (fastpath.h), and for
 * everything else a tail call into kpb_xdp_general (nodeport.h). The tail call starts the general
 * path on a fresh stack, so the lean path's frame never adds to the general path's deepest chain
 * (512 bytes); it costs one indirect jump, paid only by packets the lean path does not take. */
#define KPB_CTX_XDP
#include "north_south.h"

SEC("xdp")
int kpb_xdp_general(struct xdp_md *ctx)
{
	__u32 reason = KPB_CNT_ERROR;
	int verdict = kpb_np_ingress(ctx, &reason);

	kpb_count_exit(KPB_HOOK_XDP, verdict, reason);
	return verdict;
}

/* key: 0; value: kpb_xdp_general, written by libbpf at each load. Pinned by name: the kernel empties
 * a program array when no file descriptor or pin holds it any more, and the attached program
 * outlives the agent (restart, upgrade, SIGKILL), so without the pin every packet off the lean
 * path would lose its tail call the moment the agent exits. A new load rewrites the slot with its
 * own program, which the still-attached one then reaches too (same maps, same contract). */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, __u32);
	__array(values, int(struct xdp_md *));
} kpb_xdp_next SEC(".maps") = {
	.values = { [0] = (void *)&kpb_xdp_general },
};

SEC("xdp")
int kpb_xdp_ingress(struct xdp_md *ctx)
{
	__u32 reason = KPB_CNT_ERROR;
	int verdict = kpb_fast(ctx, &reason, false);

#if KPB_ABL(KPB_ABL_TAIL)
	if (verdict == KPB_FAST_MISS)
		verdict = kpb_np_ingress(ctx, &reason);
#endif
	if (verdict == KPB_FAST_MISS) {
		bpf_tail_call(ctx, &kpb_xdp_next, 0);
		/* Only if the program array were empty: leave the packet to tc, counted as an error. */
		verdict = CTX_PASS;
	}
	kpb_count_exit(KPB_HOOK_XDP, verdict, reason);
	return verdict;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
