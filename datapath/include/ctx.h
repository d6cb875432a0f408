/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* ctx.h: the context abstraction that lets one north-south implementation compile into both the
 * XDP object (define KPB_CTX_XDP) and the tc object (define KPB_CTX_SKB) before including.
 *
 * Packet bytes are reached by direct packet access: ctx_ptr() gives a pointer to `len` bytes at
 * `off` (from the start of the Ethernet header) that the verifier has seen bounds-checked, or NULL.
 * tc first pulls the headers into the skb's linear area (ctx_pull); XDP frames are linear. Every
 * helper that changes the packet (tc checksum helpers, head/tail changes, the load/store helpers
 * the rare paths keep) invalidates such pointers, so callers take them again afterwards.
 *
 * Checksums are one's complement sums kept unfolded in a __u64 (csum_*), applied with one inline
 * update per checksum field, in tc as in XDP. tc's L4 checksum depends on how the skb carries it,
 * which tc reads from the kernel's sk_buff (ctx_ip_summed): CHECKSUM_PARTIAL (the field holds
 * only the pseudo-header sum; veth traffic from local sockets arrives so) gets the address change
 * alone; CHECKSUM_COMPLETE also has skb->csum follow what the checksum fields do not absorb (an
 * IPv4 address change, an IPv6 hop limit, ports under a UDP checksum 0), the one case that still
 * calls a helper (bpf_csum_update). The kernel's bpf_l4_csum_replace does the same, at one helper
 * call (~20 ns here) per field update. */
#ifndef KPB_CTX_H
#define KPB_CTX_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include "ablate.h"

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
#define KPB_IPPROTO_SCTP 132
#define KPB_TC_ACT_OK 0
#define KPB_TC_ACT_SHOT 2
#define KPB_TC_ACT_REDIRECT 7
#ifndef BPF_F_PSEUDO_HDR
#define BPF_F_PSEUDO_HDR (1ULL << 4)
#define BPF_F_MARK_MANGLED_0 (1ULL << 5)
#endif
#define KPB_AF_INET 2
#define KPB_AF_INET6 10

/* Offsets into the packet are masked with this before use, so the verifier sees them bounded;
 * parse.h never produces a header offset beyond it. */
#define KPB_OFF_MASK 0x3ff

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

/* The packet's start and end, read by one instruction each: left to itself, LLVM may compute
 * ctx + offsetof(data) once and load through it later, which the verifier rejects ("modified ctx
 * ptr"). */
static __always_inline void *ctx_data(kpb_ctx_t *ctx)
{
	void *d;

	asm volatile("%[d] = *(u32 *)(%[c] + %[o])" : [d] "=r"(d) : [c] "r"(ctx), [o] "i"(__builtin_offsetof(kpb_ctx_t, data)));
	return d;
}

static __always_inline void *ctx_data_end(kpb_ctx_t *ctx)
{
	void *e;

	asm volatile("%[e] = *(u32 *)(%[c] + %[o])" : [e] "=r"(e) : [c] "r"(ctx), [o] "i"(__builtin_offsetof(kpb_ctx_t, data_end)));
	return e;
}

/* `len` directly accessible bytes at `off`, or NULL when the packet (its linear part, for tc)
 * ends before them. A macro: the verifier must see the comparison in the caller's code. */
#define ctx_ptr(ctx, off, len) ({                                                  \
	void *_d = ctx_data(ctx);                                                  \
	void *_p = _d + ((__u32)(off) & KPB_OFF_MASK);                             \
	(_p + (len) > ctx_data_end(ctx)) ? (void *)0 : _p;                         \
})

static __always_inline __u32 ctx_len(kpb_ctx_t *ctx)
{
#if defined(KPB_CTX_XDP)
	return bpf_xdp_get_buff_len(ctx);
#else
	return ctx->len;
#endif
}

/* The packet length without a helper call: an XDP frame's linear part (a multi-buffer frame
 * looks shorter, and the lean path leaves it to the general one), an skb's whole length. */
static __always_inline __u32 ctx_len_cheap(kpb_ctx_t *ctx)
{
#if defined(KPB_CTX_XDP)
	return ctx_data_end(ctx) - ctx_data(ctx);
#else
	return ctx->len;
#endif
}

/* Make the first min(len, packet length) bytes directly accessible. XDP frames are linear up to
 * data_end (a multi-buffer frame keeps its headers in the first buffer); an skb may hold part of
 * its headers in fragments, and is pulled only then (bpf_skb_pull_data also unclones it). */
static __always_inline void ctx_pull(kpb_ctx_t *ctx, __u32 len)
{
#if defined(KPB_CTX_SKB)
	__u32 have = ctx_data_end(ctx) - ctx_data(ctx);

	if (have >= len || have >= ctx->len)
		return;
	bpf_skb_pull_data(ctx, len < ctx->len ? len : ctx->len);
#endif
}

/* Byte loads and stores by offset through helpers: for the rare paths (answers we build, quoted
 * headers of ICMP errors) where the verifier cannot follow a computed offset cheaply. */
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

/* Unaligned-safe word copies: packet headers sit at offsets like 14 + 12, and a byte-wise
 * __builtin_memcpy of unknown alignment is what the BPF backend would otherwise emit. x86 and
 * arm64 load and store unaligned words, and the verifier allows it for packet and map memory. */
/* Each copy ends with a compiler barrier: without it LLVM gathers the loads of several copies
 * ahead of their stores, keeps them all alive and spills them to the stack (BPF has few
 * registers), which costs more than the copies and inflates the frame toward the 512-byte limit. */
#define kpb_compiler_barrier() asm volatile("" ::: "memory")

static __always_inline void kpb_copy4(void *dst, const void *src)
{
	*(__u32 *)dst = *(const __u32 *)src;
}

static __always_inline void kpb_copy16(void *dst, const void *src)
{
	((__u32 *)dst)[0] = ((const __u32 *)src)[0];
	((__u32 *)dst)[1] = ((const __u32 *)src)[1];
	((__u32 *)dst)[2] = ((const __u32 *)src)[2];
	((__u32 *)dst)[3] = ((const __u32 *)src)[3];
	kpb_compiler_barrier();
}

/* 12 bytes: destination then source MAC, in the Ethernet header's order. */
static __always_inline void kpb_copy12(void *dst, const void *src)
{
	((__u32 *)dst)[0] = ((const __u32 *)src)[0];
	((__u32 *)dst)[1] = ((const __u32 *)src)[1];
	((__u32 *)dst)[2] = ((const __u32 *)src)[2];
	kpb_compiler_barrier();
}

/* --- One's complement arithmetic (RFC 1071, RFC 1624). Sums are byte-order independent as long
 * as words are loaded and stored the same way, so fields are used as they sit in memory. A change
 * is accumulated unfolded in 64 bits (plain adds, no carries to propagate until the fold). */

/* Fold to 16 bits, not complemented. */
static __always_inline __u16 csum_fold(__u64 s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/* Kept for the rare paths that sum with bpf_csum_diff. */
static __always_inline __u16 csum_fold32(__u64 s)
{
	return csum_fold(s);
}

/* Add the change of one 32-bit word (from -> to) to `sum`: ~from + to. */
static __always_inline __u64 csum_replace32(__u64 sum, __u32 from, __u32 to)
{
	return sum + (__u32)~from + to;
}

static __always_inline __u64 csum_replace16(__u64 sum, __u16 from, __u16 to)
{
	return sum + (__u16)~from + to;
}

/* Make LLVM compute `v` here: otherwise it defers a sum to its last use and keeps every addend
 * alive until then, which with BPF's few registers means spilling them to the stack. */
#define kpb_materialize(v) asm volatile("" : "+r"(v))

/* Overwrite the 16-byte address at `pkt` (packet memory) with `to`, adding the change to `sum`,
 * word by word. */
static __always_inline __u64 csum_rewrite128(void *pkt, const __u8 *to, __u64 sum)
{
	__u32 *d = pkt;
	const __u32 *t = (const __u32 *)to;
	__u32 n;

	n = t[0]; sum = csum_replace32(sum, d[0], n); d[0] = n; kpb_materialize(sum);
	n = t[1]; sum = csum_replace32(sum, d[1], n); d[1] = n; kpb_materialize(sum);
	n = t[2]; sum = csum_replace32(sum, d[2], n); d[2] = n; kpb_materialize(sum);
	n = t[3]; sum = csum_replace32(sum, d[3], n); d[3] = n; kpb_materialize(sum);
	return sum;
}

/* A checksum field after a change whose unfolded difference is `diff` (HC' = ~(~HC + m)). */
static __always_inline __u16 csum_apply(__u16 field, __u64 diff)
{
	return ~csum_fold(diff + (__u16)~field);
}

/* The checksum of a 20-byte IPv4 header whose check field is 0. */
static __always_inline __u16 kpb_ip4_csum(const struct iphdr *ip)
{
	const __u16 *w = (const __u16 *)ip;
	__u64 sum = 0;
	int i;

#pragma unroll
	for (i = 0; i < 10; i++)
		sum += w[i];
	return ~csum_fold(sum);
}

/* Decrement an IPv4 TTL and return the change to the header's sum. The TTL shares a 16-bit word
 * with the protocol; the word is rewritten whole (a byte store and a word load of the same bytes
 * may be reordered under the C aliasing rules). */
static __always_inline __u64 kpb_ip4_dec_ttl(struct iphdr *ip, __u64 sum)
{
	__u16 *w = (__u16 *)&ip->ttl;
	__u16 old = *w, new = old - bpf_htons(0x0100);

	*w = new;
	return csum_replace16(sum, old, new);
}

/* Decrement an IPv6 hop limit and return the change of its 16-bit word (shared with the next
 * header field), which no checksum covers but skb->csum does (ctx_l4_csum_apply's `hop`). */
static __always_inline __u64 kpb_ip6_dec_hop(struct ipv6hdr *ip6)
{
	__u16 *w = (__u16 *)&ip6->nexthdr;
	__u16 old = *w, new = old - bpf_htons(0x0001);

	*w = new;
	return csum_replace16(0, old, new);
}

/* Account a change in the IPv4 header at `ip` (directly accessible, 20 bytes checked). */
static __always_inline void kpb_ip4_csum_apply(struct iphdr *ip, __u64 diff)
{
	ip->check = csum_apply(ip->check, diff);
}

#if defined(KPB_CTX_SKB)
/* The kernel's names for skb->ip_summed (include/linux/skbuff.h), which vmlinux.h cannot carry. */
#define KPB_CHECKSUM_COMPLETE 2
#define KPB_CHECKSUM_PARTIAL 3

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

/* skb->ip_summed, read from the kernel's sk_buff: the cast is a kfunc the verifier turns into a
 * register move, and the read is one load (CO-RE finds the bit field), so no helper call. */
static __always_inline __u8 ctx_ip_summed(kpb_ctx_t *ctx)
{
	struct sk_buff *skb = bpf_cast_to_kern_ctx(ctx);

	return BPF_CORE_READ_BITFIELD(skb, ip_summed);
}
#endif

/* Update the TCP/UDP checksum field `f` (directly accessible) for a change of `pseudo` (addresses:
 * the pseudo header) and `seg` (ports, inside the segment), as the kernel's
 * inet_proto_csum_replace_by_diff does. `udp`: a 0 field means "no checksum" and is left alone,
 * and a computed 0 is sent as 0xffff (BPF_F_MARK_MANGLED_0). `v4`: an IPv4 packet. `hop`: IPv6,
 * the change of the hop limit's 16-bit word when we decremented it (no checksum of its own
 * covers it), else 0. tc:
 *   CHECKSUM_PARTIAL: the field holds the pseudo header's sum, not complemented; whoever completes
 *     the checksum later sums the segment, ports included, so only `pseudo` is added.
 *   CHECKSUM_COMPLETE: skb->csum sums the packet from the IP header on, and must follow it. An
 *     IPv4 header keeps its sum (its own checksum follows addresses and TTL) while the segment's
 *     drops by `pseudo` (its checksum field absorbs the rest); an IPv6 header gains `pseudo` and
 *     `hop`, so the net change is `hop` (the kernel's BPF_F_IPV6 case). A field left alone
 *     absorbs nothing: the segment gains `seg`. This is the one case that calls a helper
 *     (bpf_csum_update).
 *   Otherwise the field is a plain checksum, as in XDP. */
static __always_inline void ctx_l4_csum_apply(kpb_ctx_t *ctx, __u16 *f, __u64 pseudo, __u64 seg, bool udp, bool v4, __u64 hop)
{
	__u16 v;
#if defined(KPB_CTX_SKB)
	__u8 summed = ctx_ip_summed(ctx);
	__u32 wire;

	if (summed == KPB_CHECKSUM_PARTIAL) {
		v = csum_fold(pseudo + *f);
		*f = (udp && v == 0) ? 0xffff : v;
		return;
	}
	if (udp && *f == 0) {
		wire = csum_fold(v4 ? seg : seg + pseudo + hop);
	} else {
		v = csum_apply(*f, pseudo + seg);
		*f = (udp && v == 0) ? 0xffff : v;
		wire = v4 ? ~(__u32)csum_fold(pseudo) : csum_fold(hop);
	}
	if (summed == KPB_CHECKSUM_COMPLETE && wire && wire != 0xffffffff)
		bpf_csum_update(ctx, wire);
#else
	(void)ctx;
	(void)v4;
	(void)hop;
	if (udp && *f == 0)
		return;
	v = csum_apply(*f, pseudo + seg);
	*f = (udp && v == 0) ? 0xffff : v;
#endif
}

/* ctx_l4_csum_apply on the field at `off`; -1 when it is not in the accessible part. */
static __always_inline int ctx_l4_csum_update(kpb_ctx_t *ctx, __u32 off, __u64 pseudo, __u64 seg, bool udp, bool v4, __u64 hop)
{
	__u16 *f = ctx_ptr(ctx, off, 2);

	if (!f)
		return -1;
	ctx_l4_csum_apply(ctx, f, pseudo, seg, udp, v4, hop);
	return 0;
}

/* --- The helper-based checksum fix-ups the rare paths use (ICMP errors, quoted headers). */

#if defined(KPB_CTX_XDP)
/* XDP has no checksum helpers: RFC 1624 by hand on a field reached by offset. */
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

/* Account a change whose unfolded difference is `diff` in the IPv4 header checksum at `off`. */
static __always_inline int ctx_l3_csum_diff(kpb_ctx_t *ctx, __u32 off, __u32 diff)
{
#if defined(KPB_CTX_XDP)
	return ctx_csum_apply(ctx, off, diff, false);
#else
	return bpf_l3_csum_replace(ctx, off, 0, diff, 0);
#endif
}

/* Account a pseudo-header change (addresses) in the L4 checksum at `off`. */
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

/* Add (len > 0) or remove (len < 0) room right after the Ethernet header, for encapsulation.
 * skb_flags (BPF_F_ADJ_ROOM_*) tell the tc helper what the room is for; XDP ignores them. */
static __always_inline int ctx_adjust_l3_room(kpb_ctx_t *ctx, __s32 len, __u64 skb_flags)
{
#if defined(KPB_CTX_XDP)
	__u32 w0, w1, w2;
	__u16 w3;
	__u8 *eth = ctx_ptr(ctx, 0, KPB_ETH_HLEN);

	/* XDP can only move the start of the packet: keep the MAC header, move, write it back. */
	if (!eth)
		return -1;
	w0 = *(__u32 *)eth;
	w1 = *(__u32 *)(eth + 4);
	w2 = *(__u32 *)(eth + 8);
	w3 = *(__u16 *)(eth + 12);
	if (bpf_xdp_adjust_head(ctx, -len) < 0)
		return -1;
	eth = ctx_ptr(ctx, 0, KPB_ETH_HLEN);
	if (!eth)
		return -1;
	*(__u32 *)eth = w0;
	*(__u32 *)(eth + 4) = w1;
	*(__u32 *)(eth + 8) = w2;
	*(__u16 *)(eth + 12) = w3;
	return 0;
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

#if defined(KPB_CTX_SKB)
/* tc: a packet our ingress program translated and sends out carries this in skb->tc_index, so that
 * our egress program on the way out passes it without parsing it again (tc_index is otherwise
 * unused since the tcindex classifier left the kernel). */
#define KPB_TC_INDEX_SENT 0x6b70

static __always_inline void ctx_mark_sent(kpb_ctx_t *ctx)
{
	ctx->tc_index = KPB_TC_INDEX_SENT;
}
#endif

/* Send the packet out of `ifindex` as it is (MAC header already written). XDP sends it back out
 * of the arrival device without a helper call. */
static __always_inline int ctx_redirect(kpb_ctx_t *ctx, __u32 ifindex)
{
#if defined(KPB_CTX_XDP)
	if (ifindex == ctx->ingress_ifindex)
		return XDP_TX;
	return bpf_redirect(ifindex, 0);
#else
	ctx_mark_sent(ctx);
	return bpf_redirect(ifindex, 0);
#endif
}

/* A program array of an object's general programs, pinned by name: the kernel empties a program
 * array when no file descriptor or pin holds it any more, and the attached lean program outlives
 * the agent (restart, upgrade, SIGKILL), so without the pin every packet off the lean path would
 * lose its tail call the moment the agent exits. A new load rewrites the slots with its own
 * programs, which the still-attached one then reaches too (same maps, same contract). Initialise
 * it with `= { .values = { [slot] = (void *)&prog, ... } }`; libbpf fills it at each load. */
#define KPB_PROG_ARRAY(name, slots)                                  \
	struct {                                                     \
		__uint(type, BPF_MAP_TYPE_PROG_ARRAY);               \
		__uint(max_entries, slots);                          \
		__uint(pinning, LIBBPF_PIN_BY_NAME);                 \
		__type(key, __u32);                                  \
		__array(values, int(kpb_ctx_t *));                   \
	} name SEC(".maps")

/* Leave the packet to the general program in slot `slot` of `progs` (a tail call: it starts on a
 * fresh stack). Returns only if the slot were empty: then the packet is passed. */
static __always_inline int ctx_tail_general(kpb_ctx_t *ctx, void *progs, __u32 slot)
{
	bpf_tail_call(ctx, progs, slot);
	return CTX_PASS;
}

#endif /* KPB_CTX_H */
