/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* parse.h: parse Ethernet, IPv4/IPv6 (extension headers bounded by KPB_IPV6_EXT_MAX, the fragment
 * header included) and the TCP/UDP/SCTP/ICMP header into struct kpb_pkt, by direct packet
 * access. Include ctx.h first.
 *
 * Addresses are kept 16 bytes wide, IPv4 v4-mapped (::ffff:a.b.c.d), like the LB map keys. Ports
 * stay in network order. Fragments: the first one (offset 0) is parsed like a whole packet and
 * marked KPB_FRAG_FIRST; a later one has no L4 header, is marked KPB_FRAG_LATER, and gets its
 * ports from frag.h (the caller's job). kpb_parse returns one of enum kpb_parse_ret; only
 * KPB_PARSE_OK leaves every field valid. */
#ifndef KPB_PARSE_H
#define KPB_PARSE_H

#ifndef KPB_IPV6_EXT_MAX
#define KPB_IPV6_EXT_MAX 4 /* extension headers walked before giving up (packet passed) */
#endif

/* Bytes tc pulls into the linear area before parsing: every header we read, in any packet we
 * translate, lies within them (an L4 header starting later is passed as unsupported). */
#define KPB_PULL_LEN 256
#define KPB_L4_OFF_MAX (KPB_PULL_LEN - 20)

enum kpb_parse_ret {
	KPB_PARSE_OK = 0,
	KPB_PARSE_NOT_IP,      /* not IPv4/IPv6 (VLAN, ARP, ...): pass */
	KPB_PARSE_UNSUPP,      /* L4 we do not handle, or headers too long or too many: pass */
	KPB_PARSE_MALFORMED,   /* truncated or inconsistent headers: drop */
};

enum kpb_frag {
	KPB_FRAG_NONE = 0,
	KPB_FRAG_FIRST = 1,    /* offset 0, more to come: has the L4 header */
	KPB_FRAG_LATER = 2,    /* offset > 0: no L4 header, ports from frag.h */
};

struct kpb_pkt {
	__u8 src[16];
	__u8 dst[16];
	__be16 sport;        /* ICMP: 0 */
	__be16 dport;
	__u16 l3_off;        /* always KPB_ETH_HLEN today */
	__u16 l4_off;        /* L4 header; for KPB_FRAG_LATER the fragment's payload */
	__u16 l3_len;        /* IPv4 total length / IPv6 payload length + 40 */
	__u8 family;         /* KPB_AF_INET or KPB_AF_INET6 */
	__u8 proto;          /* L4 protocol after extension headers */
	__u8 tcp_flags;
	__u8 ttl;            /* TTL or hop limit */
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 frag;           /* enum kpb_frag */
	__u8 pad;
	__be32 frag_id;      /* IPv4 identification (16 bits) or IPv6 fragment identification */
};

#define KPB_TCP_FIN 0x01
#define KPB_TCP_SYN 0x02
#define KPB_TCP_RST 0x04
#define KPB_TCP_ACK 0x10

/* Offsets of the fields we rewrite. */
#define KPB_IP4_TTL_OFF 8
#define KPB_IP4_CSUM_OFF 10
#define KPB_IP4_SRC_OFF 12
#define KPB_IP4_DST_OFF 16
#define KPB_IP6_HOPLIMIT_OFF 7
#define KPB_IP6_SRC_OFF 8
#define KPB_IP6_DST_OFF 24
#define KPB_TCP_CSUM_OFF 16
#define KPB_UDP_CSUM_OFF 6
#define KPB_SCTP_CSUM_OFF 8

static __always_inline void kpb_v4_mapped(__u8 *addr16, __be32 a)
{
	__u32 *w = (__u32 *)addr16;

	w[0] = 0;
	w[1] = 0;
	w[2] = bpf_htonl(0xffff);
	w[3] = a;
}

static __always_inline bool kpb_is_v4_mapped(const __u8 *a)
{
	const __u32 *w = (const __u32 *)a;

	return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff);
}

static __always_inline bool kpb_addr_eq(const __u8 *a, const __u8 *b)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;

	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3])) == 0;
}

static __always_inline bool kpb_has_ports(__u8 proto)
{
	return proto == KPB_IPPROTO_TCP || proto == KPB_IPPROTO_UDP || proto == KPB_IPPROTO_SCTP;
}

static __always_inline int kpb_parse_ipv4(kpb_ctx_t *ctx, struct kpb_pkt *p, __u32 len)
{
	struct iphdr *ip = ctx_ptr(ctx, KPB_ETH_HLEN, sizeof(*ip));
	__u32 hlen;

	if (!ip)
		return KPB_PARSE_MALFORMED;
	hlen = ip->ihl * 4;
	if (ip->version != 4 || hlen < sizeof(*ip))
		return KPB_PARSE_MALFORMED;
	p->l3_len = bpf_ntohs(ip->tot_len);
	if (p->l3_len < hlen || KPB_ETH_HLEN + p->l3_len > len)
		return KPB_PARSE_MALFORMED;
	p->family = KPB_AF_INET;
	p->proto = ip->protocol;
	p->ttl = ip->ttl;
	p->l4_off = KPB_ETH_HLEN + hlen;
	kpb_v4_mapped(p->src, ip->saddr);
	kpb_v4_mapped(p->dst, ip->daddr);
	/* MF or a non-zero offset. Only the first fragment (offset 0) carries the L4 header. */
	if (ip->frag_off & bpf_htons(0x3fff)) {
		p->frag = (ip->frag_off & bpf_htons(0x1fff)) ? KPB_FRAG_LATER : KPB_FRAG_FIRST;
		p->frag_id = ip->id;
	}
	return KPB_PARSE_OK;
}

static __always_inline int kpb_parse_ipv6(kpb_ctx_t *ctx, struct kpb_pkt *p, __u32 len)
{
	struct ipv6hdr *ip6 = ctx_ptr(ctx, KPB_ETH_HLEN, sizeof(*ip6));
	__u32 off, end;
	__u8 nh;
	int i;

	if (!ip6)
		return KPB_PARSE_MALFORMED;
	if (ip6->version != 6)
		return KPB_PARSE_MALFORMED;
	p->l3_len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
	if (KPB_ETH_HLEN + p->l3_len > len)
		return KPB_PARSE_MALFORMED;
	end = KPB_ETH_HLEN + p->l3_len;
	p->family = KPB_AF_INET6;
	p->ttl = ip6->hop_limit;
	kpb_copy16(p->src, &ip6->saddr);
	kpb_copy16(p->dst, &ip6->daddr);
	nh = ip6->nexthdr;
	off = KPB_ETH_HLEN + sizeof(*ip6);
#pragma unroll
	for (i = 0; i < KPB_IPV6_EXT_MAX; i++) {
		__u8 *ext;

		if (nh != 0 && nh != 43 && nh != 60 && nh != 51 && nh != 44)
			goto done;
		if (off + 8 > end)
			return KPB_PARSE_MALFORMED;
		ext = ctx_ptr(ctx, off, 8);
		if (!ext)
			return off + 8 > len ? KPB_PARSE_MALFORMED : KPB_PARSE_UNSUPP;
		if (nh == 44) {
			/* Fragment header: next header, reserved, offset (13 bits) | M, identification. */
			__be16 fo = *(__be16 *)(ext + 2);

			if (p->frag)
				return KPB_PARSE_MALFORMED; /* two fragment headers */
			p->frag = (fo & bpf_htons(0xfff8)) ? KPB_FRAG_LATER : KPB_FRAG_FIRST;
			if (p->frag == KPB_FRAG_FIRST && !(fo & bpf_htons(1)))
				p->frag = KPB_FRAG_NONE; /* offset 0, no more fragments: an atomic fragment */
			p->frag_id = *(__be32 *)(ext + 4);
			nh = ext[0];
			off += 8;
			if (p->frag == KPB_FRAG_LATER)
				goto done;
		} else if (nh == 51) {
			/* Authentication header counts 4-byte units. */
			nh = ext[0];
			off += (ext[1] + 2) * 4;
		} else {
			nh = ext[0];
			off += (ext[1] + 1) * 8;
		}
		if (off > end)
			return KPB_PARSE_MALFORMED;
		if (off > KPB_L4_OFF_MAX)
			return KPB_PARSE_UNSUPP;
	}
	/* Still an extension header after the bound: do not guess where L4 starts. */
	if (nh == 0 || nh == 43 || nh == 60 || nh == 51 || nh == 44)
		return KPB_PARSE_UNSUPP;
done:
	p->proto = nh;
	p->l4_off = off;
	return KPB_PARSE_OK;
}

static __always_inline int kpb_parse_l4(kpb_ctx_t *ctx, struct kpb_pkt *p, __u32 len)
{
	__u32 end = p->l3_off + p->l3_len;
	__u32 off = p->l4_off;

	if (p->frag == KPB_FRAG_LATER)
		return kpb_has_ports(p->proto) ? KPB_PARSE_OK : KPB_PARSE_UNSUPP;
	if (off > KPB_L4_OFF_MAX)
		return KPB_PARSE_UNSUPP;
	switch (p->proto) {
	case KPB_IPPROTO_TCP: {
		struct tcphdr *th = ctx_ptr(ctx, off, sizeof(*th));

		if (off + sizeof(*th) > end)
			return KPB_PARSE_MALFORMED;
		if (!th)
			return off + sizeof(*th) > len ? KPB_PARSE_MALFORMED : KPB_PARSE_UNSUPP;
		if (th->doff < 5 || (p->frag == KPB_FRAG_NONE && off + th->doff * 4 > end))
			return KPB_PARSE_MALFORMED;
		p->sport = th->source;
		p->dport = th->dest;
		p->tcp_flags = ((__u8 *)th)[13];
		return KPB_PARSE_OK;
	}
	case KPB_IPPROTO_UDP:
	case KPB_IPPROTO_SCTP: {
		/* Both start with the two ports; SCTP's common header is 12 bytes. */
		__u32 hl = p->proto == KPB_IPPROTO_UDP ? 8 : 12;
		__be16 *ports = ctx_ptr(ctx, off, 12);

		if (off + hl > end)
			return KPB_PARSE_MALFORMED;
		if (!ports) {
			ports = ctx_ptr(ctx, off, 8);
			if (!ports || hl == 12)
				return off + hl > len ? KPB_PARSE_MALFORMED : KPB_PARSE_UNSUPP;
		}
		p->sport = ports[0];
		p->dport = ports[1];
		return KPB_PARSE_OK;
	}
	case KPB_IPPROTO_ICMP:
	case KPB_IPPROTO_ICMPV6: {
		__u8 *h = ctx_ptr(ctx, off, 8);

		if ((p->proto == KPB_IPPROTO_ICMP) != (p->family == KPB_AF_INET) || p->frag)
			return KPB_PARSE_UNSUPP;
		if (off + 8 > end)
			return KPB_PARSE_MALFORMED;
		if (!h)
			return off + 8 > len ? KPB_PARSE_MALFORMED : KPB_PARSE_UNSUPP;
		p->icmp_type = h[0];
		p->icmp_code = h[1];
		return KPB_PARSE_OK;
	}
	case KPB_IPPROTO_IPIP:
	case KPB_IPPROTO_IPV6:
		/* A tunnel (DSR from another node): no ports; the caller decides. */
		return p->frag ? KPB_PARSE_UNSUPP : KPB_PARSE_OK;
	default:
		return KPB_PARSE_UNSUPP;
	}
}

static __noinline int kpb_parse(kpb_ctx_t *ctx, struct kpb_pkt *p)
{
	__u32 len = KPB_ABL(KPB_ABL_PARSE_LEN) ? ctx_len_cheap(ctx) : ctx_len(ctx);
	__be16 *proto;
	int ret;

	__builtin_memset(p, 0, sizeof(*p));
	ctx_pull(ctx, KPB_PULL_LEN);
	proto = ctx_ptr(ctx, 12, 2);
	if (!proto)
		return KPB_PARSE_NOT_IP;
	p->l3_off = KPB_ETH_HLEN;
	if (*proto == bpf_htons(KPB_ETH_P_IP))
		ret = kpb_parse_ipv4(ctx, p, len);
	else if (*proto == bpf_htons(KPB_ETH_P_IPV6))
		ret = kpb_parse_ipv6(ctx, p, len);
	else
		return KPB_PARSE_NOT_IP;
	if (ret != KPB_PARSE_OK)
		return ret;
	return kpb_parse_l4(ctx, p, len);
}

#endif /* KPB_PARSE_H */
