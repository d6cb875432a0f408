// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xdp.bpf.c: north-south services at XDP on the node's external devices. Handles what it can
 * finish alone (remote backends, replies from them) before an skb exists; passes the rest, untouched,
 * to the tc object on the same device. See nodeport.h. */
#define KPB_CTX_XDP
#include "north_south.h"

SEC("xdp")
int kpb_xdp_ingress(struct xdp_md *ctx)
{
	__u32 reason = KPB_CNT_ERROR;
	int verdict = kpb_np_ingress(ctx, &reason);

	kpb_count_exit(KPB_HOOK_XDP, verdict, reason);
	return verdict;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
