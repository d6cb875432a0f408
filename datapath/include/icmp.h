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

struct kpb_icmp_quote {
	__u32 l3_off;          /* the quoted IP header */
	__u32 l4_off;          /* its ports */
	struct kpb_pkt r;      /* R = reverse of the quoted packet, as a tuple for kpb_ct_lookup */
};

static __always_inline bool kpb_icmp_is_error(const struct kpb_pkt *p)
{
	if (p->family == KPB_AF_INET)
		return p->icmp_type == 3 || p->icmp_type == 11 || p->icmp_type == 12;
	return p->icmp_type >= 1 && p->icmp_type <= 4;
}

/* Read the quote; only plain headers (no IPv4 options, no IPv6 extension headers). */
static __always_inline int kpb_icmp_quote(kpb_ctx_t *ctx, const struct kpb_pkt *p, struct kpb_icmp_quote *q)
{
	__be16 ports[2];

	q->l3_off = p->l4_off + 8;
	__builtin_memset(&q->r, 0, sizeof(q->r));
	q->r.family = p->family;
	if (p->family == KPB_AF_INET) {
		struct iphdr ip;

		if (ctx_load(ctx, q->l3_off, &ip, sizeof(ip)) < 0 || ip.ihl != 5)
			return -1;
		q->r.proto = ip.protocol;
		kpb_v4_mapped(q->r.src, ip.daddr);
		kpb_v4_mapped(q->r.dst, ip.saddr);
		q->l4_off = q->l3_off + 20;
	} else {
		struct ipv6hdr ip6;

		if (ctx_load(ctx, q->l3_off, &ip6, sizeof(ip6)) < 0)
			return -1;
		q->r.proto = ip6.nexthdr;
		__builtin_memcpy(q->r.src, &ip6.daddr, 16);
		__builtin_memcpy(q->r.dst, &ip6.saddr, 16);
		q->l4_off = q->l3_off + 40;
	}
	if (q->r.proto != KPB_IPPROTO_TCP && q->r.proto != KPB_IPPROTO_UDP)
		return -1;
	if (ctx_load(ctx, q->l4_off, ports, sizeof(ports)) < 0)
		return -1;
	q->r.sport = ports[1];
	q->r.dport = ports[0];
	return 0;
}

/* Replace one outer address of an ICMP error (`src`: the source, else the destination). The
 * ICMPv4 checksum covers no pseudo header; the ICMPv6 one does, so a v6 change goes into it. */
static __always_inline int kpb_icmp_outer_addr(kpb_ctx_t *ctx, struct kpb_pkt *p, __u8 *cur, const __u8 *to,
					       bool src)
{
	__u32 diff;

	if (kpb_addr_eq(cur, to))
		return 0;
	if (p->family == KPB_AF_INET)
		return kpb_nat_addr(ctx, p, cur, to, src ? KPB_IP4_SRC_OFF : KPB_IP4_DST_OFF, false);
	diff = bpf_csum_diff((__be32 *)cur, 16, (__be32 *)to, 16, 0);
	if (kpb_nat_addr(ctx, p, cur, to, src ? KPB_IP6_SRC_OFF : KPB_IP6_DST_OFF, false) < 0)
		return -1;
	return ctx_l4_csum_diff(ctx, p->l4_off + 2, diff, false);
}

/* Rewrite the error per entry `v` (see the header comment). */
static __always_inline int kpb_icmp_rewrite(kpb_ctx_t *ctx, struct kpb_pkt *p, const struct kpb_icmp_quote *q,
					    const struct kpb_ct_value *v)
{
	__u32 csum_off = p->l4_off + 2;
	__u8 old[32], new[32];
	__be16 oldp[2], newp[2];
	bool from_dst;
	__u32 diff;

	/* Quoted packet E = reverse(R): its source is R.dst, its destination R.src. */
	from_dst = kpb_addr_eq(p->src, q->r.src);
	newp[0] = v->nat_dport;
	newp[1] = v->nat_sport;
	if (ctx_load(ctx, q->l4_off, oldp, sizeof(oldp)) < 0 || ctx_store(ctx, q->l4_off, newp, sizeof(newp)) < 0)
		return -1;
	diff = bpf_csum_diff((__be32 *)oldp, 4, (__be32 *)newp, 4, 0);
	if (p->family == KPB_AF_INET) {
		if (ctx_load(ctx, q->l3_off + 12, old, 8) < 0)
			return -1;
		__builtin_memcpy(new, v->nat_dst + 12, 4);
		__builtin_memcpy(new + 4, v->nat_src + 12, 4);
		if (ctx_store(ctx, q->l3_off + 12, new, 8) < 0 ||
		    ctx_l3_csum_diff(ctx, q->l3_off + 10, bpf_csum_diff((__be32 *)old, 8, (__be32 *)new, 8, 0)) < 0)
			return -1;
	} else {
		if (ctx_load(ctx, q->l3_off + 8, old, 32) < 0)
			return -1;
		__builtin_memcpy(new, v->nat_dst, 16);
		__builtin_memcpy(new + 16, v->nat_src, 16);
		if (ctx_store(ctx, q->l3_off + 8, new, 32) < 0)
			return -1;
		diff = bpf_csum_diff((__be32 *)old, 32, (__be32 *)new, 32, diff);
	}
	if (ctx_l4_csum_diff_payload(ctx, csum_off, diff) < 0)
		return -1;

	/* Outer header. */
	if (kpb_icmp_outer_addr(ctx, p, p->dst, v->nat_dst, false) < 0)
		return -1;
	if (from_dst && kpb_icmp_outer_addr(ctx, p, p->src, v->nat_src, true) < 0)
		return -1;
	return 0;
}

/* Ingress: an ICMP error about a tracked flow. Returns KPB_NP_CONTINUE when it is not ours. */
static __noinline int kpb_np_icmp_ingress(kpb_ctx_t *ctx, struct kpb_pkt *p, __u32 *reason)
{
	struct kpb_icmp_quote q;
	struct kpb_ct_value *v;
	struct kpb_fib fib;

	if (!kpb_icmp_is_error(p) || kpb_icmp_quote(ctx, p, &q) < 0)
		return KPB_NP_CONTINUE;
	v = kpb_ct_lookup(&q.r);
	if (!v || (v->flags & KPB_CT_DSR))
		return KPB_NP_CONTINUE;
	if (v->flags & KPB_CT_LOCAL) {
		if (v->flags & KPB_CT_REPLY)
			return KPB_NP_CONTINUE;
#if defined(KPB_CTX_XDP)
		*reason = KPB_CNT_TO_TC;
		return CTX_PASS;
#else
		if (kpb_icmp_rewrite(ctx, p, &q, v) < 0) {
			*reason = KPB_CNT_ERROR;
			return CTX_DROP;
		}
		*reason = KPB_CNT_ICMP_XLATE;
		return CTX_PASS;
#endif
	}
	kpb_fib_lookup(ctx, p->family, p->proto, p->l3_len, p->src, v->nat_dst, false, &fib);
	if (!kpb_fib_usable(&fib) || p->ttl <= 1) {
#if defined(KPB_CTX_XDP)
		*reason = KPB_CNT_TO_TC;
		return CTX_PASS;
#else
		*reason = KPB_CNT_FIB_FAIL;
		if (p->ttl > 1 && kpb_icmp_rewrite(ctx, p, &q, v) < 0) {
			*reason = KPB_CNT_ERROR;
			return CTX_DROP;
		}
		return CTX_PASS;
#endif
	}
	if (kpb_icmp_rewrite(ctx, p, &q, v) < 0 || kpb_dec_ttl(ctx, p) < 0) {
		*reason = KPB_CNT_ERROR;
		return CTX_DROP;
	}
	*reason = KPB_CNT_ICMP_XLATE;
	return kpb_fib_redirect(ctx, &fib, reason);
}

#if defined(KPB_CTX_SKB)
/* Egress: a local backend's ICMP error about a client's packet (e.g. UDP port unreachable) gets
 * the frontend back in its quote and as its source. */
static __noinline int kpb_np_icmp_egress(kpb_ctx_t *ctx, struct kpb_pkt *p, __u32 *reason)
{
	struct kpb_icmp_quote q;
	struct kpb_ct_value *v;

	if (!kpb_icmp_is_error(p) || kpb_icmp_quote(ctx, p, &q) < 0)
		return KPB_NP_CONTINUE;
	v = kpb_ct_lookup(&q.r);
	if (!v || (v->flags & (KPB_CT_LOCAL | KPB_CT_REPLY)) != (KPB_CT_LOCAL | KPB_CT_REPLY))
		return KPB_NP_CONTINUE;
	if (kpb_icmp_rewrite(ctx, p, &q, v) < 0) {
		*reason = KPB_CNT_ERROR;
		return CTX_DROP;
	}
	*reason = KPB_CNT_ICMP_XLATE;
	return CTX_PASS;
}
#endif

#endif /* KPB_ICMP_H */
