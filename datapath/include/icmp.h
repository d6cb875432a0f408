/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* icmp.h: ICMP/ICMPv6 errors (unreachable, time exceeded, parameter problem, packet too big)
 * that belong to a flow we translate. The error quotes a packet E as one side sent it; the packet
 * a reply to E would be, R = reverse(E), is exactly the tuple a conntrack entry is keyed by, and
 * that entry's translation R' tells what E must look like to the other side: E' = reverse(R').
 * So the quoted addresses and ports are rewritten, the outer destination becomes E'.src, and
 * when the error came from E's destination itself the outer source becomes E'.dst. Checksums:
 * the quoted IPv4 header keeps summing to zero once its own checksum is fixed, so the ICMP
 * checksum only needs the port change (plus quoted IPv6 addresses and, for ICMPv6, the outer
 * pseudo-header); the quoted L4 checksum is not updated (a truncated quote cannot be verified,
 * and no stack does). Include nodeport.h's dependencies first; nodeport.h includes this file. */
#ifndef KPB_ICMP_H
#define KPB_ICMP_H

static __always_inline bool kpb_icmp_is_error(const struct kpb_pkt *p)
{
	if (p->family == KPB_AF_INET)
		return p->icmp_type == 3 || p->icmp_type == 11 || p->icmp_type == 12;
	return p->icmp_type >= 1 && p->icmp_type <= 4;
}

/* Read the quote; only plain headers (no IPv4 options, no IPv6 extension headers). */
static __always_inline int kpb_icmp_quote(kpb_ctx_t *ctx, const struct kpb_pkt *p, struct kpb_icmp_quote *q)
{
	__be16 *ports;

	q->l3_off = p->l4_off + 8;
	__builtin_memset(&q->r, 0, sizeof(q->r));
	q->r.family = p->family;
	if (p->family == KPB_AF_INET) {
		struct iphdr *ip = ctx_ptr(ctx, q->l3_off, sizeof(*ip));

		if (!ip || *(__u8 *)ip != 0x45)
			return -1;
		q->r.proto = ip->protocol;
		kpb_v4_mapped(q->r.src, ip->daddr);
		kpb_v4_mapped(q->r.dst, ip->saddr);
		q->l4_off = q->l3_off + 20;
	} else {
		struct ipv6hdr *ip6 = ctx_ptr(ctx, q->l3_off, sizeof(*ip6));

		if (!ip6)
			return -1;
		q->r.proto = ip6->nexthdr;
		kpb_copy16(q->r.src, &ip6->daddr);
		kpb_copy16(q->r.dst, &ip6->saddr);
		q->l4_off = q->l3_off + 40;
	}
	if (q->r.proto != KPB_IPPROTO_TCP && q->r.proto != KPB_IPPROTO_UDP)
		return -1;
	ports = ctx_ptr(ctx, q->l4_off, 4);
	if (!ports)
		return -1;
	q->r.sport = ports[1];
	q->r.dport = ports[0];
	return 0;
}

/* Rewrite the error per entry `v` (see the header comment), by direct packet access: the quoted
 * ports and addresses (and the quoted IPv4 header's checksum), the outer destination, the outer
 * source when the error came from the quoted packet's destination, then the ICMP checksum and
 * the outer IPv4 checksum once each. */
static __always_inline int kpb_icmp_rewrite(kpb_ctx_t *ctx, struct kpb_pkt *p, const struct kpb_icmp_quote *q,
					    const struct kpb_ct_value *v)
{
	/* Quoted packet E = reverse(R): its source is R.dst, its destination R.src. */
	bool from_dst = kpb_addr_eq(p->src, q->r.src);
	__u64 icmp = 0;
	__be16 *ports;
	__u16 *csum;

	ports = ctx_ptr(ctx, q->l4_off, 4);
	if (!ports)
		return -1;
	icmp = csum_replace16(csum_replace16(0, ports[0], v->nat_dport), ports[1], v->nat_sport);
	ports[0] = v->nat_dport;
	ports[1] = v->nat_sport;
	if (p->family == KPB_AF_INET) {
		struct iphdr *qip = ctx_ptr(ctx, q->l3_off, sizeof(*qip));
		struct iphdr *ip;
		__be32 ns = *(__u32 *)(v->nat_dst + 12), nd = *(__u32 *)(v->nat_src + 12);
		__u64 outer = 0;

		if (!qip)
			return -1;
		/* The quoted header's own checksum absorbs its address change, so the ICMP sum over it
		 * stays the same. */
		kpb_ip4_csum_apply(qip, csum_replace32(csum_replace32(0, qip->saddr, ns), qip->daddr, nd));
		qip->saddr = ns;
		qip->daddr = nd;
		ip = ctx_ptr(ctx, KPB_ETH_HLEN, sizeof(*ip));
		if (!ip)
			return -1;
		outer = csum_replace32(outer, ip->daddr, ns);
		ip->daddr = ns;
		kpb_copy16(p->dst, v->nat_dst);
		if (from_dst) {
			outer = csum_replace32(outer, ip->saddr, nd);
			ip->saddr = nd;
			kpb_copy16(p->src, v->nat_src);
		}
		kpb_ip4_csum_apply(ip, outer);
	} else {
		__u8 *qip = ctx_ptr(ctx, q->l3_off, 40);
		struct ipv6hdr *ip6;

		if (!qip)
			return -1;
		icmp = csum_rewrite128(qip + 8, v->nat_dst, icmp);
		icmp = csum_rewrite128(qip + 24, v->nat_src, icmp);
		ip6 = ctx_ptr(ctx, KPB_ETH_HLEN, sizeof(*ip6));
		if (!ip6)
			return -1;
		/* ICMPv6 sums the pseudo header too. */
		icmp = csum_rewrite128(&ip6->daddr, v->nat_dst, icmp);
		kpb_copy16(p->dst, v->nat_dst);
		if (from_dst) {
			icmp = csum_rewrite128(&ip6->saddr, v->nat_src, icmp);
			kpb_copy16(p->src, v->nat_src);
		}
	}
	csum = ctx_ptr(ctx, p->l4_off + 2, 2);
	if (!csum)
		return -1;
	*csum = csum_apply(*csum, icmp);
	return 0;
}

/* p's quote when p is an ICMP error quoting a TCP or UDP packet with plain headers, read into the
 * per-CPU scratch; else NULL. */
static __always_inline struct kpb_icmp_quote *kpb_icmp_read(kpb_ctx_t *ctx, const struct kpb_pkt *p)
{
	struct kpb_np_tmp *tmp = kpb_np_tmp();

	if (!tmp || !kpb_icmp_is_error(p) || kpb_icmp_quote(ctx, p, &tmp->q) < 0)
		return NULL;
	return &tmp->q;
}

/* Ask the FIB (into *fib) for the way to the error's new destination, v->nat_dst: true when we can
 * send it there ourselves. */
static __always_inline bool kpb_icmp_routable(kpb_ctx_t *ctx, const struct kpb_pkt *p, const struct kpb_ct_value *v,
					      struct kpb_fib *fib)
{
	kpb_fib_lookup(ctx, p->family, p->proto, p->l3_len, p->src, v->nat_dst, false, fib);
	return kpb_fib_usable(fib) && p->ttl > 1;
}

/* Rewrite the error per v, then send it by fib (route: TTL decremented) or hand it on. *reason is
 * kept unless this fails. */
static __always_inline int kpb_icmp_send(kpb_ctx_t *ctx, struct kpb_pkt *p, const struct kpb_icmp_quote *q,
					 const struct kpb_ct_value *v, bool route, const struct kpb_fib *fib, __u32 *reason)
{
	if (kpb_icmp_rewrite(ctx, p, q, v) < 0 || (route && kpb_dec_ttl(ctx, p) < 0)) {
		*reason = KPB_CNT_ERROR;
		return CTX_DROP;
	}
	if (!route)
		return CTX_PASS;
	return kpb_fib_send(ctx, fib, reason);
}

/* Ingress: an ICMP error about a tracked flow. Returns KPB_NP_CONTINUE when it is not ours. */
static __noinline int kpb_np_icmp_ingress(kpb_ctx_t *ctx, struct kpb_pkt *p, __u32 *reason)
{
	struct kpb_np_tmp *tmp = kpb_np_tmp();
	struct kpb_icmp_quote *q = kpb_icmp_read(ctx, p);
	struct kpb_ct_value *v;
	bool route = false;

	if (!tmp || !q)
		return KPB_NP_CONTINUE;
	v = kpb_ct_lookup(&q->r);
	if (!v || (v->flags & KPB_CT_DSR))
		return KPB_NP_CONTINUE;
	if (v->flags & KPB_CT_LOCAL) {
		if (v->flags & KPB_CT_REPLY)
			return KPB_NP_CONTINUE;
		*reason = KPB_CNT_ICMP_XLATE;
	} else {
		route = kpb_icmp_routable(ctx, p, v, &tmp->fib);
		*reason = route ? KPB_CNT_ICMP_XLATE : KPB_CNT_FIB_FAIL;
		if (!route && p->ttl <= 1) {
			/* Our own error about it would be an error about an error: the stack decides. */
#if defined(KPB_CTX_XDP)
			*reason = KPB_CNT_TO_TC;
#endif
			return CTX_PASS;
		}
	}
#if defined(KPB_CTX_XDP)
	if (!route) {
		*reason = KPB_CNT_TO_TC;
		return CTX_PASS;
	}
#endif
	/* Local backend (tc): translated and left to the stack; no route of ours: the same. */
	return kpb_icmp_send(ctx, p, q, v, route, &tmp->fib, reason);
}

#if defined(KPB_CTX_SKB)
/* Egress: a local backend's ICMP error about a client's packet (e.g. UDP port unreachable) gets
 * the frontend back in its quote and as its source. */
static __noinline int kpb_np_icmp_egress(kpb_ctx_t *ctx, struct kpb_pkt *p, __u32 *reason)
{
	struct kpb_icmp_quote *q = kpb_icmp_read(ctx, p);
	struct kpb_ct_value *v;

	if (!q)
		return KPB_NP_CONTINUE;
	v = kpb_ct_lookup(&q->r);
	if (!v || (v->flags & (KPB_CT_LOCAL | KPB_CT_REPLY)) != (KPB_CT_LOCAL | KPB_CT_REPLY))
		return KPB_NP_CONTINUE;
	*reason = KPB_CNT_ICMP_XLATE;
	return kpb_icmp_send(ctx, p, q, v, false, NULL, reason);
}
#endif

#endif /* KPB_ICMP_H */
