// SPDX-License-Identifier: GPL-2.0
// A no-op XDP program for the fabric side of each node's veth. A veth delivers the frames its peer
// sends back with XDP_TX only when it runs an XDP program itself; a physical NIC needs nothing of
// the sort, so `make demo` attaches this to make the namespace fabric behave like a wire. It is not
// part of our datapath. No headers: XDP_PASS is 2 in the UAPI.
struct xdp_md;

__attribute__((section("xdp"), used)) int kpb_demo_pass(struct xdp_md *ctx)
{
	return 2; /* XDP_PASS */
}

char LICENSE[] __attribute__((section("license"), used)) = "GPL";
