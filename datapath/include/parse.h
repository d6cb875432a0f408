/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* parse.h: parse Ethernet, IPv4/IPv6 (extension headers bounded by KPB_IPV6_EXT_MAX) and the
 * TCP/UDP/ICMP header into struct kpb_pkt. Include ctx.h first.
 *
 * Addresses are kept 16 bytes wide, IPv4 v4-mapped (::ffff:a.b.c.d), like the LB map keys, so
 * lookups need no per-family copy. Ports stay in network order. kpb_parse returns one of
 * enum kpb_parse_ret; only KPB_PARSE_OK leaves every field valid. */
#ifndef KPB_PARSE_H
#define KPB_PARSE_H

#ifndef KPB_IPV6_EXT_MAX
#define KPB_IPV6_EXT_MAX 4 /* extension headers walked before giving up (packet passed) */
#endif

enum kpb_parse_ret {
	KPB_PARSE_OK = 0,
	KPB_PARSE_NOT_IP,      /* not IPv4/IPv6 (VLAN, ARP, ...): pass */
	KPB_PARSE_UNSUPP,      /* L4 we do not handle, or too many extension headers: pass */
	KPB_PARSE_FRAG,        /* a fragment: pass untranslated */
	KPB_PARSE_MALFORMED,   /* truncated or inconsistent headers: drop */
};

struct kpb_pkt {
	__u8 src[16];
	__u8 dst[16];
	__be16 sport;        /* ICMP: echo identifier, or 0 */
	__be16 dport;
	__u16 l3_off;        /* always KPB_ETH_HLEN today */
	__u16 l4_off;
	__u16 l3_len;        /* IPv4 total length / IPv6 payload length + 40 */
	__u8 family;         /* KPB_AF_INET or KPB_AF_INET6 */
	__u8 proto;          /* L4 protocol after extension headers */
	__u8 tcp_flags;
	__u8 ttl;            /* TTL or hop limit */
	__u8 icmp_type;
	__u8 icmp_code;
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

static __always_inline void kpb_v4_mapped(__u8 *addr16, __be32 a)
{
	__builtin_memset(addr16, 0, 10);
	addr16[10] = 0xff;
	addr16[11] = 0xff;
	__builtin_memcpy(addr16 + 12, &a, 4);
}

static __always_inline bool kpb_is_v4_mapped(const __u8 *a)
{
	const __u32 *w = (const __u32 *)a;

	return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff);
}

static __always_inline int kpb_parse_ipv4(kpb_ctx_t *ctx, struct kpb_pkt *p, __u32 len)
{
	struct iphdr ip;
	__u32 hlen;

	if (ctx_load(ctx, p->l3_off, &ip, sizeof(ip)) < 0)
		return KPB_PARSE_MALFORMED;
	hlen = ip.ihl * 4;
	if (ip.version != 4 || hlen < sizeof(ip))
		return KPB_PARSE_MALFORMED;
	p->l3_len = bpf_ntohs(ip.tot_len);
	if (p->l3_len < hlen || p->l3_off + p->l3_len > len)
		return KPB_PARSE_MALFORMED;
	p->family = KPB_AF_INET;
	p->proto = ip.protocol;
	p->ttl = ip.ttl;
	p->l4_off = p->l3_off + hlen;
	kpb_v4_mapped(p->src, ip.saddr);
	kpb_v4_mapped(p->dst, ip.daddr);
	/* MF set or a non-zero offset: ports are in the first fragment only, never guess. */
	if (ip.frag_off & bpf_htons(0x3fff))
		return KPB_PARSE_FRAG;
	return KPB_PARSE_OK;
}

static __always_inline int kpb_parse_ipv6(kpb_ctx_t *ctx, struct kpb_pkt *p, __u32 len)
{
	struct ipv6hdr ip6;
	struct { __u8 nexthdr; __u8 hdrlen; } ext;
	__u32 off;
	__u8 nh;
	int i;

	if (ctx_load(ctx, p->l3_off, &ip6, sizeof(ip6)) < 0)
		return KPB_PARSE_MALFORMED;
	if (ip6.version != 6)
		return KPB_PARSE_MALFORMED;
	p->l3_len = bpf_ntohs(ip6.payload_len) + sizeof(ip6);
	if (p->l3_off + p->l3_len > len)
		return KPB_PARSE_MALFORMED;
	p->family = KPB_AF_INET6;
	p->ttl = ip6.hop_limit;
	__builtin_memcpy(p->src, &ip6.saddr, 16);
	__builtin_memcpy(p->dst, &ip6.daddr, 16);
	nh = ip6.nexthdr;
	off = p->l3_off + sizeof(ip6);
	for (i = 0; i < KPB_IPV6_EXT_MAX; i++) {
		switch (nh) {
		case 0:   /* hop-by-hop */
		case 43:  /* routing */
		case 60:  /* destination options */
			if (ctx_load(ctx, off, &ext, sizeof(ext)) < 0)
				return KPB_PARSE_MALFORMED;
			nh = ext.nexthdr;
			off += (ext.hdrlen + 1) * 8;
			break;
		case 51:  /* authentication header counts 4-byte units */
			if (ctx_load(ctx, off, &ext, sizeof(ext)) < 0)
				return KPB_PARSE_MALFORMED;
			nh = ext.nexthdr;
			off += (ext.hdrlen + 2) * 4;
			break;
		case 44:  /* fragment */
			return KPB_PARSE_FRAG;
		default:
			goto done;
		}
		if (off > p->l3_off + p->l3_len)
			return KPB_PARSE_MALFORMED;
	}
	/* Still an extension header after the bound: do not guess where L4 starts. */
	if (nh == 0 || nh == 43 || nh == 60 || nh == 51 || nh == 44)
		return KPB_PARSE_UNSUPP;
done:
	p->proto = nh;
	p->l4_off = off;
	return KPB_PARSE_OK;
}

static __always_inline int kpb_parse_l4(kpb_ctx_t *ctx, struct kpb_pkt *p)
{
	__u32 end = p->l3_off + p->l3_len;

	switch (p->proto) {
	case KPB_IPPROTO_TCP: {
		struct tcphdr th;

		if (p->l4_off + sizeof(th) > end || ctx_load(ctx, p->l4_off, &th, sizeof(th)) < 0)
			return KPB_PARSE_MALFORMED;
		if (th.doff < 5 || p->l4_off + th.doff * 4 > end)
			return KPB_PARSE_MALFORMED;
		p->sport = th.source;
		p->dport = th.dest;
		p->tcp_flags = ((__u8 *)&th)[13];
		return KPB_PARSE_OK;
	}
	case KPB_IPPROTO_UDP: {
		struct udphdr uh;

		if (p->l4_off + sizeof(uh) > end || ctx_load(ctx, p->l4_off, &uh, sizeof(uh)) < 0)
			return KPB_PARSE_MALFORMED;
		p->sport = uh.source;
		p->dport = uh.dest;
		return KPB_PARSE_OK;
	}
	case KPB_IPPROTO_ICMP:
	case KPB_IPPROTO_ICMPV6: {
		__u8 h[8];

		if ((p->proto == KPB_IPPROTO_ICMP) != (p->family == KPB_AF_INET))
			return KPB_PARSE_UNSUPP;
		if (p->l4_off + sizeof(h) > end || ctx_load(ctx, p->l4_off, h, sizeof(h)) < 0)
			return KPB_PARSE_MALFORMED;
		p->icmp_type = h[0];
		p->icmp_code = h[1];
		return KPB_PARSE_OK;
	}
	case KPB_IPPROTO_IPIP:
	case KPB_IPPROTO_IPV6:
		/* A tunnel (DSR from another node): no ports; the caller decides. */
		return KPB_PARSE_OK;
	default:
		return KPB_PARSE_UNSUPP;
	}
}

static __noinline int kpb_parse(kpb_ctx_t *ctx, struct kpb_pkt *p)
{
	__u32 len = ctx_len(ctx);
	__be16 proto;
	int ret;

	__builtin_memset(p, 0, sizeof(*p));
	if (ctx_load(ctx, 12, &proto, sizeof(proto)) < 0)
		return KPB_PARSE_NOT_IP;
	p->l3_off = KPB_ETH_HLEN;
	if (proto == bpf_htons(KPB_ETH_P_IP))
		ret = kpb_parse_ipv4(ctx, p, len);
	else if (proto == bpf_htons(KPB_ETH_P_IPV6))
		ret = kpb_parse_ipv6(ctx, p, len);
	else
		return KPB_PARSE_NOT_IP;
	if (ret != KPB_PARSE_OK)
		return ret;
	return kpb_parse_l4(ctx, p);
}

#endif /* KPB_PARSE_H */
