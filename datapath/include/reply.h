/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* reply.h: answer a packet ourselves when a service has no usable endpoint, the way the stack
 * would for a closed port: TCP gets a RST (RFC 793 reset generation), UDP an ICMP/ICMPv6 port
 * unreachable quoting the packet (RFC 792, RFC 4443). The packet is rewritten in place into the
 * answer and sent back out of the device it came in by (XDP_TX, or tc redirect to egress).
 * Include ctx.h, parse.h and counters.h first. */
#ifndef KPB_REPLY_H
#define KPB_REPLY_H

#define KPB_REPLY_TTL 64

struct kpb_ip4_hdr {
	__u8 vihl, tos;
	__be16 tot_len, id, frag;
	__u8 ttl, proto;
	__u16 csum;
	__be32 src, dst;
};

struct kpb_ip6_hdr {
	__be32 vtcfl;
	__be16 plen;
	__u8 nh, hlim;
	__u8 src[16], dst[16];
};

/* Sum of the IPv6/IPv4 pseudo header, unfolded, for the L4 checksum of a reply. */
static __always_inline __u32 kpb_pseudo_sum(const struct kpb_pkt *p, __u8 proto, __u32 len)
{
	__be32 tail[2] = { bpf_htonl(len), bpf_htonl(proto) };

	if (p->family == KPB_AF_INET) {
		/* Addresses swapped for the answer; order does not change the sum. */
		__be32 a[3];

		__builtin_memcpy(&a[0], p->src + 12, 4);
		__builtin_memcpy(&a[1], p->dst + 12, 4);
		a[2] = bpf_htonl(((__u32)proto << 16) | (len & 0xffff));
		return bpf_csum_diff(NULL, 0, a, sizeof(a), 0);
	}
	return bpf_csum_diff(NULL, 0, (__be32 *)p->src, 16,
			     bpf_csum_diff(NULL, 0, (__be32 *)p->dst, 16,
					   bpf_csum_diff(NULL, 0, tail, sizeof(tail), 0)));
}

static __always_inline __u16 kpb_csum_finish(__u32 sum)
{
	return ~csum_fold32(sum);
}

/* Write a fresh IP header at l3_off for an answer of `l4_len` bytes of protocol `proto`, from
 * the packet's destination back to its source. Options and extension headers are not kept. */
static __always_inline int kpb_reply_ip(kpb_ctx_t *ctx, const struct kpb_pkt *p, __u8 proto, __u32 l4_len)
{
	if (p->family == KPB_AF_INET) {
		struct kpb_ip4_hdr h = {
			.vihl = 0x45, .tot_len = bpf_htons(20 + l4_len), .ttl = KPB_REPLY_TTL, .proto = proto,
		};

		__builtin_memcpy(&h.src, p->dst + 12, 4);
		__builtin_memcpy(&h.dst, p->src + 12, 4);
		h.csum = kpb_csum_finish(bpf_csum_diff(NULL, 0, (__be32 *)&h, sizeof(h), 0));
		return ctx_store(ctx, p->l3_off, &h, sizeof(h));
	} else {
		struct kpb_ip6_hdr h = {
			.vtcfl = bpf_htonl(0x60000000), .plen = bpf_htons(l4_len), .nh = proto, .hlim = KPB_REPLY_TTL,
		};

		__builtin_memcpy(h.src, p->dst, 16);
		__builtin_memcpy(h.dst, p->src, 16);
		return ctx_store(ctx, p->l3_off, &h, sizeof(h));
	}
}

/* Swap the MAC addresses so the answer goes back to whoever sent the packet to us. */
static __always_inline int kpb_reply_eth(kpb_ctx_t *ctx)
{
	__u8 m[12], s[12];

	if (ctx_load(ctx, 0, m, sizeof(m)) < 0)
		return -1;
	__builtin_memcpy(s, m + 6, 6);
	__builtin_memcpy(s + 6, m, 6);
	return ctx_store(ctx, 0, s, sizeof(s));
}

static __always_inline int kpb_reply_send(kpb_ctx_t *ctx)
{
#if defined(KPB_CTX_XDP)
	return XDP_TX;
#else
	return bpf_redirect(ctx->ifindex, 0);
#endif
}

/* TCP RST for a segment to a closed service. Never answers a RST. */
static __always_inline int kpb_reply_rst(kpb_ctx_t *ctx, struct kpb_pkt *p)
{
	struct tcphdr th, rst = {};
	__u32 seglen, l3hdr = p->family == KPB_AF_INET ? 20 : 40;

	if (p->tcp_flags & KPB_TCP_RST)
		return -1;
	if (ctx_load(ctx, p->l4_off, &th, sizeof(th)) < 0)
		return -1;
	seglen = p->l3_len - (p->l4_off - p->l3_off) - th.doff * 4;
	if (p->tcp_flags & KPB_TCP_SYN)
		seglen++;
	if (p->tcp_flags & KPB_TCP_FIN)
		seglen++;
	rst.source = p->dport;
	rst.dest = p->sport;
	rst.doff = 5;
	rst.rst = 1;
	if (p->tcp_flags & KPB_TCP_ACK) {
		rst.seq = th.ack_seq;
	} else {
		rst.ack = 1;
		rst.ack_seq = bpf_htonl(bpf_ntohl(th.seq) + seglen);
	}
	rst.check = kpb_csum_finish(bpf_csum_diff(NULL, 0, (__be32 *)&rst, sizeof(rst),
						  kpb_pseudo_sum(p, KPB_IPPROTO_TCP, sizeof(rst))));
	/* Options and extension headers go: the answer is a bare IP header + TCP header. */
	if (ctx_set_len(ctx, p->l3_off + l3hdr + sizeof(rst)) < 0)
		return -1;
	if (kpb_reply_ip(ctx, p, KPB_IPPROTO_TCP, sizeof(rst)) < 0 ||
	    ctx_store(ctx, p->l3_off + l3hdr, &rst, sizeof(rst)) < 0 || kpb_reply_eth(ctx) < 0)
		return -1;
	return kpb_reply_send(ctx);
}

/* The quoted part of the offending packet: its IP header and the first 8 bytes after it. For
 * IPv6 only packets without extension headers are answered (their quote has a fixed size). */
#define KPB_QUOTE4 (20 + 8)
#define KPB_QUOTE6 (40 + 8)

/* ICMP(v6) error quoting the packet: port unreachable (`mtu` 0) for a UDP datagram to a closed
 * service, or fragmentation needed / packet too big carrying `mtu` when our encapsulation would
 * not fit. */
static __always_inline int kpb_reply_icmp_err(kpb_ctx_t *ctx, struct kpb_pkt *p, __u32 mtu)
{
	__u8 quote[KPB_QUOTE6];
	__u8 icmp[8] = {};
	__u32 qlen, l3hdr;
	__u32 sum;

	if (p->family == KPB_AF_INET) {
		qlen = KPB_QUOTE4;
		l3hdr = 20;
		if (p->l4_off != p->l3_off + 20 || ctx_load(ctx, p->l3_off, quote, KPB_QUOTE4) < 0)
			return -1;
		icmp[0] = 3;              /* destination unreachable */
		icmp[1] = mtu ? 4 : 3;    /* fragmentation needed and DF set : port unreachable */
		if (mtu) {
			icmp[6] = mtu >> 8;  /* next-hop MTU (RFC 1191) */
			icmp[7] = mtu & 0xff;
		}
		sum = bpf_csum_diff(NULL, 0, (__be32 *)quote, KPB_QUOTE4, 0);
	} else {
		qlen = KPB_QUOTE6;
		l3hdr = 40;
		if (p->l4_off != p->l3_off + 40 || ctx_load(ctx, p->l3_off, quote, KPB_QUOTE6) < 0)
			return -1;
		icmp[0] = mtu ? 2 : 1;    /* packet too big : destination unreachable */
		icmp[1] = mtu ? 0 : 4;    /* port unreachable */
		if (mtu) {
			icmp[4] = mtu >> 24;
			icmp[5] = mtu >> 16;
			icmp[6] = mtu >> 8;
			icmp[7] = mtu & 0xff;
		}
		sum = bpf_csum_diff(NULL, 0, (__be32 *)quote, KPB_QUOTE6,
				    kpb_pseudo_sum(p, KPB_IPPROTO_ICMPV6, 8 + KPB_QUOTE6));
	}
	sum = bpf_csum_diff(NULL, 0, (__be32 *)icmp, sizeof(icmp), sum);
	*(__u16 *)&icmp[2] = kpb_csum_finish(sum);

	/* Cut the packet to the quote, open room for the new headers in front of it. */
	if (ctx_set_len(ctx, p->l3_off + qlen) < 0)
		return -1;
	if (ctx_adjust_l3_room(ctx, l3hdr + sizeof(icmp), 0) < 0)
		return -1;
	if (kpb_reply_ip(ctx, p, p->family == KPB_AF_INET ? KPB_IPPROTO_ICMP : KPB_IPPROTO_ICMPV6,
			 sizeof(icmp) + qlen) < 0 ||
	    ctx_store(ctx, p->l3_off + l3hdr, icmp, sizeof(icmp)) < 0 || kpb_reply_eth(ctx) < 0)
		return -1;
	return kpb_reply_send(ctx);
}

#endif /* KPB_REPLY_H */
