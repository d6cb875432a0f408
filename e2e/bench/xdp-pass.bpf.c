// SPDX-License-Identifier: GPL-2.0
// XDP_PASS on the fabric side of node-a's veth. A veth delivers frames that its peer XDP_TX'd only
// when it has an XDP program of its own (the same requirement as XDP_REDIRECT into a veth), so the
// bench attaches this no-op there for every contender alike; it is not part of our datapath.
// No headers: nothing here needs more than the verdict value (XDP_PASS is 2 in the UAPI).
struct xdp_md;

__attribute__((section("xdp"), used)) int kpb_bench_pass(struct xdp_md *ctx)
{
	return 2; /* XDP_PASS */
}

char LICENSE[] __attribute__((section("license"), used)) = "GPL";
