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

	return kpb_count_exit(KPB_HOOK_XDP, kpb_np_ingress(ctx, &reason), reason);
}

/* key: 0; value: kpb_xdp_general (ctx.h's KPB_PROG_ARRAY says why it is pinned). */
KPB_PROG_ARRAY(kpb_xdp_next, 1) = {
	.values = { [0] = (void *)&kpb_xdp_general },
};

/* Only if the program array were empty does a packet the lean path left come back: it is left to
 * tc, counted as an error. */
SEC("xdp")
int kpb_xdp_ingress(struct xdp_md *ctx)
{
	return kpb_fast_or_general(ctx, &kpb_xdp_next, 0, KPB_HOOK_XDP, false);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
