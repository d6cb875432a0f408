// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* bad_verifier.bpf.c: compiles cleanly but the verifier must reject it (packet read without a
 * bounds check), so the addon's test sees a load failure with a verifier log. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_unchecked(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;

	return data[100] == 1 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
