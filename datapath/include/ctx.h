/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* ctx.h: the context abstraction that lets one north-south implementation compile into both the
 * XDP object (define KPB_CTX_XDP) and the tc object (define KPB_CTX_SKB) before including.
 *
 * Everything that touches the packet goes through these helpers: byte loads and stores by
 * offset (the helpers bounds-check for us and also work on non-linear skbs), checksum fix-ups,
 * head room and tail changes, redirects and verdicts. Offsets are from the start of the
 * Ethernet header. Helpers return 0 on success and a negative errno otherwise. */
#ifndef KPB_CTX_H
#define KPB_CTX_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* UAPI macros that vmlinux.h cannot carry. */
#define KPB_ETH_HLEN 14
#define KPB_ETH_P_IP 0x0800
#define KPB_ETH_P_IPV6 0x86DD
#define KPB_IPPROTO_ICMP 1
#define KPB_IPPROTO_IPIP 4
#define KPB_IPPROTO_TCP 6
#define KPB_IPPROTO_UDP 17
#define KPB_IPPROTO_IPV6 41
#define KPB_IPPROTO_ICMPV6 58
#define KPB_TC_ACT_OK 0
#define KPB_TC_ACT_SHOT 2
#define KPB_TC_ACT_REDIRECT 7
#ifndef BPF_F_PSEUDO_HDR
#define BPF_F_PSEUDO_HDR (1ULL << 4)
#define BPF_F_MARK_MANGLED_0 (1ULL << 5)
#endif
#define KPB_AF_INET 2
#define KPB_AF_INET6 10

/* Verdicts the shared code returns; the entry points pass them through unchanged. */
#if defined(KPB_CTX_XDP)
#define kpb_ctx_t struct xdp_md /* a macro, not a typedef: libbpf 1.1 cannot relocate CO-RE accesses through a typedef */
#define CTX_PASS XDP_PASS
#define CTX_DROP XDP_DROP
#define CTX_TX XDP_TX
#define CTX_REDIRECT XDP_REDIRECT
#elif defined(KPB_CTX_SKB)
#define kpb_ctx_t struct __sk_buff
#define CTX_PASS KPB_TC_ACT_OK
#define CTX_DROP KPB_TC_ACT_SHOT
#define CTX_TX KPB_TC_ACT_REDIRECT
#define CTX_REDIRECT KPB_TC_ACT_REDIRECT
#else
#error "define KPB_CTX_XDP or KPB_CTX_SKB before including ctx.h"
#endif

static __always_inline int ctx_load(kpb_ctx_t *ctx, __u32 off, void *buf, __u32 len)
{
#if defined(KPB_CTX_XDP)
	return bpf_xdp_load_bytes(ctx, off, buf, len);
#else
	return bpf_skb_load_bytes(ctx, off, buf, len);
#endif
}

static __always_inline int ctx_store(kpb_ctx_t *ctx, __u32 off, const void *buf, __u32 len)
{
#if defined(KPB_CTX_XDP)
	return bpf_xdp_store_bytes(ctx, off, (void *)buf, len);
#else
	return bpf_skb_store_bytes(ctx, off, buf, len, 0);
#endif
}

static __always_inline __u32 ctx_len(kpb_ctx_t *ctx)
{
#if defined(KPB_CTX_XDP)
	return bpf_xdp_get_buff_len(ctx);
#else
	return ctx->len;
#endif
}

/* The device the packet arrived on (XDP, tc ingress) or leaves by (tc egress). */
static __always_inline __u32 ctx_ifindex(kpb_ctx_t *ctx)
{
#if defined(KPB_CTX_XDP)
	return ctx->ingress_ifindex;
#else
	return ctx->ifindex;
#endif
}

/* A GSO/GRO aggregate (tc only): its length is not what goes on the wire, so MTU checks must
 * be left to the kernel, which checks the segments. */
static __always_inline bool ctx_is_gso(kpb_ctx_t *ctx)
{
#if defined(KPB_CTX_XDP)
	return false;
#else
	return ctx->gso_size != 0;
#endif
}

/* Fold a 32-bit one's complement sum to 16 bits (not complemented). */
static __always_inline __u16 csum_fold32(__u64 s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

#if defined(KPB_CTX_XDP)
/* XDP has no checksum helpers: apply RFC 1624 (HC' = ~(~HC + ~m + m')) by hand. `diff` is the
 * unfolded sum of ~old + new, as bpf_csum_diff returns it. mangled0 keeps the UDP rule that 0
 * means "no checksum": such a field is left alone and a computed 0 is sent as 0xffff. */
static __always_inline int ctx_csum_apply(kpb_ctx_t *ctx, __u32 off, __u32 diff, bool mangled0)
{
	__u16 old, new;

	if (ctx_load(ctx, off, &old, 2) < 0)
		return -1;
	if (mangled0 && old == 0)
		return 0;
	new = ~csum_fold32((__u64)(__u16)~old + diff);
	if (mangled0 && new == 0)
		new = 0xffff;
	return ctx_store(ctx, off, &new, 2);
}
#endif

/* Account a change of 16 bits (from -> to, both as stored in the packet) in the IPv4 header
 * checksum at `off`. */
static __always_inline int ctx_l3_csum_replace16(kpb_ctx_t *ctx, __u32 off, __u16 from, __u16 to)
{
#if defined(KPB_CTX_XDP)
	return ctx_csum_apply(ctx, off, (__u32)(__u16)~from + to, false);
#else
	return bpf_l3_csum_replace(ctx, off, from, to, 2);
#endif
}

/* Account a change whose unfolded one's complement difference is `diff` in the IPv4 header
 * checksum at `off`. */
static __always_inline int ctx_l3_csum_diff(kpb_ctx_t *ctx, __u32 off, __u32 diff)
{
#if defined(KPB_CTX_XDP)
	return ctx_csum_apply(ctx, off, diff, false);
#else
	return bpf_l3_csum_replace(ctx, off, 0, diff, 0);
#endif
}

/* Account a pseudo-header change (addresses) in the L4 checksum at `off`. In tc the helper also
 * handles CHECKSUM_PARTIAL skbs, whose field holds only the pseudo-header sum. */
static __always_inline int ctx_l4_csum_diff(kpb_ctx_t *ctx, __u32 off, __u32 diff, bool udp)
{
#if defined(KPB_CTX_XDP)
	return ctx_csum_apply(ctx, off, diff, udp);
#else
	return bpf_l4_csum_replace(ctx, off, 0, diff, BPF_F_PSEUDO_HDR | (udp ? BPF_F_MARK_MANGLED_0 : 0));
#endif
}

/* Account a change inside the L4 payload (no pseudo-header part), given as an unfolded diff. */
static __always_inline int ctx_l4_csum_diff_payload(kpb_ctx_t *ctx, __u32 off, __u32 diff)
{
#if defined(KPB_CTX_XDP)
	return ctx_csum_apply(ctx, off, diff, false);
#else
	return bpf_l4_csum_replace(ctx, off, 0, diff, 0);
#endif
}

/* Account a 16-bit change inside the L4 header or payload (ports) in the L4 checksum at `off`. */
static __always_inline int ctx_l4_csum_replace16(kpb_ctx_t *ctx, __u32 off, __u16 from, __u16 to, bool udp)
{
#if defined(KPB_CTX_XDP)
	return ctx_csum_apply(ctx, off, (__u32)(__u16)~from + to, udp);
#else
	return bpf_l4_csum_replace(ctx, off, from, to, 2 | (udp ? BPF_F_MARK_MANGLED_0 : 0));
#endif
}

/* Add (len > 0) or remove (len < 0) room right after the Ethernet header, for encapsulation.
 * skb_flags (BPF_F_ADJ_ROOM_*) tell the tc helper what the room is for; XDP ignores them. */
static __always_inline int ctx_adjust_l3_room(kpb_ctx_t *ctx, __s32 len, __u64 skb_flags)
{
#if defined(KPB_CTX_XDP)
	__u8 eth[KPB_ETH_HLEN];

	/* XDP can only move the start of the packet: save the MAC header, move, write it back. */
	if (ctx_load(ctx, 0, eth, sizeof(eth)) < 0)
		return -1;
	if (bpf_xdp_adjust_head(ctx, -len) < 0)
		return -1;
	return ctx_store(ctx, 0, eth, sizeof(eth));
#else
	return bpf_skb_adjust_room(ctx, len, BPF_ADJ_ROOM_MAC, skb_flags);
#endif
}

/* Set the packet length to `len` bytes (used to trim a packet we turn into a reply). */
static __always_inline int ctx_set_len(kpb_ctx_t *ctx, __u32 len)
{
#if defined(KPB_CTX_XDP)
	return bpf_xdp_adjust_tail(ctx, (int)len - (int)ctx_len(ctx));
#else
	return bpf_skb_change_tail(ctx, len, 0);
#endif
}

/* Send the packet out of `ifindex` as it is (MAC header already written). */
static __always_inline int ctx_redirect(kpb_ctx_t *ctx, __u32 ifindex)
{
#if defined(KPB_CTX_XDP)
	if (ifindex == ctx->ingress_ifindex)
		return XDP_TX;
	return bpf_redirect(ifindex, 0);
#else
	return bpf_redirect(ifindex, 0);
#endif
}

#endif /* KPB_CTX_H */
