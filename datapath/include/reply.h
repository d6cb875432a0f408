/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* reply.h: answer a packet ourselves the way the stack would: a closed port (a service without a
 * usable endpoint) gets a TCP RST (RFC 793 reset generation) or an ICMP/ICMPv6 port unreachable
 * quoting the packet (RFC 792, RFC 4443); a packet whose TTL would expire when we forward it gets
 * time exceeded; one our encapsulation would push over the MTU gets fragmentation needed. The
 * packet is rewritten in place into the answer, by direct packet access, and sent back out of the
 * device it came in by (XDP_TX, or tc redirect to egress). Include ctx.h and parse.h first. */
#ifndef KPB_REPLY_H
#define KPB_REPLY_H

#define KPB_REPLY_TTL 64

/* Sum of the IPv4/IPv6 pseudo header of an answer (addresses swapped; the order does not change
 * the sum), unfolded. */
static __always_inline __u64 kpb_pseudo_sum(const struct kpb_pkt *p, __u8 proto, __u32 len)
{
	const __u32 *s = (const __u32 *)p->src, *d = (const __u32 *)p->dst;
	__u64 sum = bpf_htonl(len) + (__u64)bpf_htonl(proto);

	if (p->family == KPB_AF_INET)
		return sum + s[3] + d[3];
	return sum + s[0] + s[1] + s[2] + s[3] + d[0] + d[1] + d[2] + d[3];
}

/* Sum of `n` bytes (n even, a compile-time constant) of packet memory. */
#define KPB_SUM_BYTES(ptr, n) ({                                                   \
	const __u16 *_w = (const __u16 *)(ptr);                                    \
	__u64 _s = 0;                                                              \
	_Pragma("unroll") for (int _i = 0; _i < (n) / 2; _i++) _s += _w[_i];       \
	_s;                                                                        \
})

/* Write a fresh IP header for an answer of `l4_len` bytes of protocol `proto`, from the packet's
 * destination back to its source, and swap the MAC addresses so it goes back to whoever sent
 * the packet to us. The packet already has its final length. Options and extension headers are
 * not kept. */
static __always_inline int kpb_reply_l2l3(kpb_ctx_t *ctx, const struct kpb_pkt *p, __u8 proto, __u32 l4_len)
{
	__u32 m0, m1, m2;
	__u8 *eth;

	if (p->family == KPB_AF_INET) {
		struct iphdr *ip = ctx_ptr(ctx, KPB_ETH_HLEN, sizeof(*ip));

		if (!ip)
			return -1;
		*(__u8 *)ip = 0x45;
		ip->tos = 0;
		ip->tot_len = bpf_htons(20 + l4_len);
		ip->id = 0;
		ip->frag_off = 0;
		ip->ttl = KPB_REPLY_TTL;
		ip->protocol = proto;
		ip->check = 0;
		kpb_copy4(&ip->saddr, p->dst + 12);
		kpb_copy4(&ip->daddr, p->src + 12);
		ip->check = kpb_ip4_csum(ip);
	} else {
		struct ipv6hdr *ip6 = ctx_ptr(ctx, KPB_ETH_HLEN, sizeof(*ip6));

		if (!ip6)
			return -1;
		*(__be32 *)ip6 = bpf_htonl(0x60000000);
		ip6->payload_len = bpf_htons(l4_len);
		ip6->nexthdr = proto;
		ip6->hop_limit = KPB_REPLY_TTL;
		kpb_copy16(&ip6->saddr, p->dst);
		kpb_copy16(&ip6->daddr, p->src);
	}
	eth = ctx_ptr(ctx, 0, 12);
	if (!eth)
		return -1;
	m0 = *(__u32 *)eth;
	m1 = *(__u32 *)(eth + 4);
	m2 = *(__u32 *)(eth + 8);
	/* dst(0..5) <-> src(6..11), as three words: [d0 d1 d2 d3][d4 d5 s0 s1][s2 s3 s4 s5]. */
	*(__u32 *)eth = (m1 >> 16) | (m2 << 16);
	*(__u32 *)(eth + 4) = (m2 >> 16) | (m0 << 16);
	*(__u32 *)(eth + 8) = (m0 >> 16) | (m1 << 16);
	return 0;
}

static __always_inline int kpb_reply_send(kpb_ctx_t *ctx)
{
#if defined(KPB_CTX_XDP)
	return XDP_TX;
#else
	ctx_mark_sent(ctx);
	return bpf_redirect(ctx->ifindex, 0);
#endif
}

/* TCP RST for a segment to a closed service. Never answers a RST. */
static __noinline int kpb_reply_rst(kpb_ctx_t *ctx, struct kpb_pkt *p)
{
	__u32 seglen, l3hdr = p->family == KPB_AF_INET ? 20 : 40;
	__be32 seq = 0, ack = 0;
	__u8 flags = KPB_TCP_RST;
	struct tcphdr *th;

	if (p->tcp_flags & KPB_TCP_RST)
		return -1;
	th = ctx_ptr(ctx, p->l4_off, sizeof(*th));
	if (!th)
		return -1;
	seglen = p->l3_len - (p->l4_off - p->l3_off) - th->doff * 4;
	if (p->tcp_flags & KPB_TCP_SYN)
		seglen++;
	if (p->tcp_flags & KPB_TCP_FIN)
		seglen++;
	if (p->tcp_flags & KPB_TCP_ACK) {
		seq = th->ack_seq;
	} else {
		flags |= KPB_TCP_ACK;
		ack = bpf_htonl(bpf_ntohl(th->seq) + seglen);
	}
	/* Options and extension headers go: the answer is a bare IP header + TCP header. */
	if (ctx_set_len(ctx, KPB_ETH_HLEN + l3hdr + sizeof(*th)) < 0)
		return -1;
	th = ctx_ptr(ctx, KPB_ETH_HLEN + l3hdr, sizeof(*th));
	if (!th)
		return -1;
	__builtin_memset(th, 0, sizeof(*th));
	th->source = p->dport;
	th->dest = p->sport;
	th->seq = seq;
	th->ack_seq = ack;
	((__u8 *)th)[12] = 5 << 4;
	((__u8 *)th)[13] = flags;
	th->check = ~csum_fold(KPB_SUM_BYTES(th, 20) + kpb_pseudo_sum(p, KPB_IPPROTO_TCP, sizeof(*th)));
	if (kpb_reply_l2l3(ctx, p, KPB_IPPROTO_TCP, sizeof(*th)) < 0)
		return -1;
	return kpb_reply_send(ctx);
}

/* The quoted part of the offending packet: its IP header and the first 8 bytes after it. For
 * IPv6 only packets without extension headers are answered (their quote has a fixed size); the
 * caller drops and counts the others. */
#define KPB_QUOTE4 (20 + 8)
#define KPB_QUOTE6 (40 + 8)

enum kpb_icmp_kind {
	KPB_ICMP_PORT_UNREACH = 0,  /* UDP to a service without endpoints */
	KPB_ICMP_FRAG_NEEDED = 1,   /* our encapsulation would exceed the route's MTU (carries it) */
	KPB_ICMP_TIME_EXCEEDED = 2, /* TTL / hop limit would reach 0 when we forward */
};

/* ICMP(v6) error quoting the packet: port unreachable, fragmentation needed / packet too big
 * carrying `mtu`, or time exceeded in transit. The answer comes from the packet's destination
 * (the frontend, or the node address a reply was sent to). */
static __noinline int kpb_reply_icmp_err(kpb_ctx_t *ctx, struct kpb_pkt *p, __u32 kind, __u32 mtu)
{
	bool v4 = p->family == KPB_AF_INET;
	__u32 qlen = v4 ? KPB_QUOTE4 : KPB_QUOTE6, l3hdr = v4 ? 20 : 40;
	__u8 type, code = 0;
	__be32 rest = 0;
	__u64 sum;
	__u8 *icmp;

	if (p->l4_off != KPB_ETH_HLEN + l3hdr)
		return -1;
	if (v4) {
		__u8 *q = ctx_ptr(ctx, KPB_ETH_HLEN, KPB_QUOTE4);

		if (!q)
			return -1;
		sum = KPB_SUM_BYTES(q, KPB_QUOTE4);
		if (kind == KPB_ICMP_TIME_EXCEEDED) {
			type = 11;                /* time exceeded, code 0: TTL exceeded in transit */
		} else if (kind == KPB_ICMP_FRAG_NEEDED) {
			type = 3;                 /* destination unreachable: fragmentation needed */
			code = 4;
			rest = bpf_htonl(mtu & 0xffff); /* next-hop MTU (RFC 1191) */
		} else {
			type = 3;                 /* destination unreachable: port unreachable */
			code = 3;
		}
	} else {
		__u8 *q = ctx_ptr(ctx, KPB_ETH_HLEN, KPB_QUOTE6);

		if (!q)
			return -1;
		sum = KPB_SUM_BYTES(q, KPB_QUOTE6) + kpb_pseudo_sum(p, KPB_IPPROTO_ICMPV6, 8 + KPB_QUOTE6);
		if (kind == KPB_ICMP_TIME_EXCEEDED) {
			type = 3;                 /* time exceeded, code 0: hop limit exceeded in transit */
		} else if (kind == KPB_ICMP_FRAG_NEEDED) {
			type = 2;                 /* packet too big */
			rest = bpf_htonl(mtu);
		} else {
			type = 1;                 /* destination unreachable: port unreachable */
			code = 4;
		}
	}

	/* Cut the packet to the quote, open room for the new headers in front of it. */
	if (ctx_set_len(ctx, KPB_ETH_HLEN + qlen) < 0)
		return -1;
	if (ctx_adjust_l3_room(ctx, l3hdr + 8, 0) < 0)
		return -1;
	icmp = ctx_ptr(ctx, KPB_ETH_HLEN + (v4 ? 20 : 40), 8);
	if (!icmp)
		return -1;
	icmp[0] = type;
	icmp[1] = code;
	*(__u16 *)(icmp + 2) = 0;
	*(__be32 *)(icmp + 4) = rest;
	sum += *(__u16 *)icmp + (__u64)rest;
	*(__u16 *)(icmp + 2) = ~csum_fold(sum);
	if (kpb_reply_l2l3(ctx, p, v4 ? KPB_IPPROTO_ICMP : KPB_IPPROTO_ICMPV6, 8 + qlen) < 0)
		return -1;
	return kpb_reply_send(ctx);
}

#endif /* KPB_REPLY_H */
