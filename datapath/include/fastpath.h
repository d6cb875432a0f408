/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* fastpath.h: the lean established-flow path, tried before the general one (nodeport.h) by
 * every entry point. It handles the common packet of a tracked flow and nothing else: IPv4
 * without options or IPv6 without extension headers, TCP (no SYN, FIN or RST; established) or
 * UDP, not a fragment, TTL > 1, in the linear part of the packet, whose conntrack entry is live,
 * whose backend is known to exist (be_gen) and whose next hop is cached for its size (nh.gen).
 * Anything else returns KPB_FAST_MISS untouched and the general path takes it from the start.
 *
 * What it costs, per packet: one conntrack lookup (two for a packet to a SNAT port that is not a
 * reply), one inlined array read (both generations, one cache line), bpf_jiffies64 (inlined),
 * direct loads and stores, one checksum update per field, and for XDP no helper call at all when
 * the packet leaves by the device it came in on. tc adds bpf_redirect (and bpf_csum_update for a
 * CHECKSUM_COMPLETE IPv4 skb, see ctx.h). The entry's expiry is written at most once a second.
 * Include nodeport.h's dependencies first. */
#ifndef KPB_FASTPATH_H
#define KPB_FASTPATH_H

#define KPB_FAST_MISS -1

enum kpb_fast_kind {
	KPB_FAST_ROUTE,        /* translate, decrement TTL, send to the cached next hop */
	KPB_FAST_LOCAL,        /* tc ingress: DNAT to a local backend, hand to the stack */
	KPB_FAST_REPLY_LOCAL,  /* tc egress: a local backend's reply gets the frontend back */
};

/* Which of the lean cases entry v is, for this hook, or -1. */
static __always_inline int kpb_fast_kind(const struct kpb_ct_value *v, bool egress)
{
	__u16 f = v->flags;

	if (egress)
		return (f & (KPB_CT_LOCAL | KPB_CT_REPLY)) == (KPB_CT_LOCAL | KPB_CT_REPLY) ? KPB_FAST_REPLY_LOCAL : -1;
	if (f & (KPB_CT_DSR | KPB_CT_DSR_BACKEND))
		return -1;
	if (f & KPB_CT_LOCAL) {
#if defined(KPB_CTX_SKB)
		return (f & KPB_CT_REPLY) ? -1 : KPB_FAST_LOCAL;
#else
		return -1;
#endif
	}
	return KPB_FAST_ROUTE;
}

/* Checks common to both families once the entry is found. Returns the kind, or -1. */
static __always_inline int kpb_fast_check(kpb_ctx_t *ctx, struct kpb_ct_value *v, __u8 proto, __u8 ttl,
					  __u32 l3_len, bool egress)
{
	const struct kpb_gens *g = kpb_gens_get();
	__u32 now = kpb_now(), deadline;
	int kind = kpb_fast_kind(v, egress);

	if (kind < 0 || !kpb_ct_live(v, now))
		return -1;
	if (proto == KPB_IPPROTO_TCP && v->tcp_state != KPB_CT_ESTABLISHED)
		return -1;
	if (kind == KPB_FAST_ROUTE) {
		if (ttl <= 1 || v->nh.ifindex == 0 || v->nh.gen != (g ? g->nh : 0))
			return -1;
		if (l3_len > v->nh.mtu && !ctx_is_gso(ctx))
			return -1;
	} else if (kind == KPB_FAST_LOCAL && ttl <= 1 && !(v->flags & KPB_CT_HOST_BACKEND)) {
		return -1;
	}
	if (!(v->flags & KPB_CT_REPLY) && v->be_gen != (g ? g->be : 0))
		return -1;
	deadline = kpb_ct_deadline(now, proto, KPB_CT_ESTABLISHED);
	if ((__s32)(deadline - v->expires) > (__s32)lb_kernel_hz)
		v->expires = deadline;
	return kind;
}

static __always_inline int kpb_fast_reason(int kind, const struct kpb_ct_value *v)
{
	if (kind == KPB_FAST_LOCAL)
		return KPB_CNT_LOCAL_DNAT;
	if (kind == KPB_FAST_REPLY_LOCAL)
		return (v->flags & KPB_CT_DSR_BACKEND) ? KPB_CNT_DSR_REPLY : KPB_CNT_REPLY_LOCAL;
	return (v->flags & KPB_CT_REPLY) ? KPB_CNT_REPLY_FWD : KPB_CNT_REMOTE_FWD;
}

/* No entry for a plain packet's tuple: tell the general path (tail-called next on this CPU) so it
 * does not look the same tuple up again. */
static __always_inline int kpb_fast_missed(void)
{
	struct kpb_np_tmp *t = kpb_np_tmp();

	if (t)
		t->ct_missed = 1;
	return KPB_FAST_MISS;
}

#if KPB_ABL(KPB_ABL_CT_MEMO)
struct kpb_abl_ct { struct kpb_ct4_key k[2]; struct kpb_ct_value v[2]; __u32 used[2]; __u32 next; };
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct kpb_abl_ct);
	__uint(max_entries, 1);
} kpb_abl_ct_map SEC(".maps");

static __always_inline bool kpb_abl_key_eq(const struct kpb_ct4_key *a, const struct kpb_ct4_key *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	return x[0] == y[0] && x[1] == y[1];
}

/* The IPv4 lookup through a two-flow memo (the warm loop alternates two keys). */
static __always_inline struct kpb_ct_value *kpb_abl_ct4(const struct kpb_ct4_key *k)
{
	__u32 zero = 0, i;
	struct kpb_abl_ct *m = bpf_map_lookup_elem(&kpb_abl_ct_map, &zero);
	struct kpb_ct_value *v;

	if (!m)
		return (void *)0;
	if (m->used[0] && kpb_abl_key_eq(&m->k[0], k))
		return &m->v[0];
	if (m->used[1] && kpb_abl_key_eq(&m->k[1], k))
		return &m->v[1];
	v = (void *)0;
	if (kpb_snat_port(k->dport))
		v = kpb_snat4_find(k);
	if (!v)
		v = bpf_map_lookup_elem(&kpb_ct4, k);
	if (!v)
		return (void *)0;
	i = m->next & 1;
	m->next++;
	m->k[i] = *k;
	m->v[i] = *v;
	m->used[i] = 1;
	return &m->v[i];
}
#endif

/* The entry for a tuple: a packet to a port of the SNAT range may be a SNAT flow's reply, found
 * in its reservation slot (an inlined array lookup, conntrack.h). */
#define KPB_FAST_LOOKUP(snat_find, ct_map, k) ({                                      \
	struct kpb_ct_value *_v = NULL;                                                  \
	if (kpb_snat_port((k)->dport))                                                   \
		_v = snat_find(k);                                                       \
	if (!_v)                                                                         \
		_v = bpf_map_lookup_elem(&ct_map, (k));                                  \
	_v;                                                                              \
})

static __always_inline int kpb_fast4(kpb_ctx_t *ctx, __u32 *reason, bool egress)
{
	struct kpb_ct4_key k;
	struct kpb_ct_value *v;
	struct iphdr *ip;
	__be16 *ports;
	__u16 *csum;
	__u32 l3_len, l4len;
	__u64 pseudo, seg, l3;
	__be32 ns, nd;
	__u8 proto;
	int kind;

	if (KPB_ABL(KPB_ABL_FAST_MISS))
		return kpb_fast_missed();
	ip = ctx_ptr(ctx, KPB_ETH_HLEN, sizeof(*ip) + 8);
	if (!ip || *(__u8 *)ip != 0x45 || (ip->frag_off & bpf_htons(0x3fff)))
		return KPB_FAST_MISS;
	proto = ip->protocol;
	l3_len = bpf_ntohs(ip->tot_len);
	if (KPB_ETH_HLEN + l3_len > ctx_len_cheap(ctx))
		return KPB_FAST_MISS;
	if (proto == KPB_IPPROTO_TCP) {
		__u8 *th = ctx_ptr(ctx, KPB_ETH_HLEN + sizeof(*ip), 20);

		/* A header the general path would call malformed (data offset) is left to it. */
		if (!th || (th[13] & (KPB_TCP_SYN | KPB_TCP_FIN | KPB_TCP_RST)) || th[12] < 0x50 ||
		    sizeof(*ip) + (th[12] >> 4) * 4 > l3_len)
			return KPB_FAST_MISS;
		l4len = 20;
	} else if (proto == KPB_IPPROTO_UDP) {
		if (l3_len < 28)
			return KPB_FAST_MISS;
		l4len = 8;
	} else {
		return KPB_FAST_MISS;
	}
	ports = (__be16 *)(ip + 1);
	k.src = ip->saddr;
	k.dst = ip->daddr;
	k.sport = ports[0];
	k.dport = ports[1];
	k.proto = proto;
	k.pad[0] = k.pad[1] = k.pad[2] = 0;
#if KPB_ABL(KPB_ABL_CT_MEMO)
	v = kpb_abl_ct4(&k);
#else
	v = KPB_FAST_LOOKUP(kpb_snat4_find, kpb_ct4, &k);
#endif
	if (!v)
		return kpb_fast_missed();
	kind = kpb_fast_check(ctx, v, proto, ip->ttl, l3_len, egress);
	if (kind < 0)
		return KPB_FAST_MISS;

	/* The verifier forgets bounds across the map calls above: take the headers again, and the
	 * checksum field with them, in one branch per protocol. */
	if (proto == KPB_IPPROTO_TCP) {
		ip = ctx_ptr(ctx, KPB_ETH_HLEN, sizeof(*ip) + 20);
		if (!ip)
			return KPB_FAST_MISS;
		csum = (__u16 *)((__u8 *)(ip + 1) + KPB_TCP_CSUM_OFF);
	} else {
		ip = ctx_ptr(ctx, KPB_ETH_HLEN, sizeof(*ip) + 8);
		if (!ip)
			return KPB_FAST_MISS;
		csum = (__u16 *)((__u8 *)(ip + 1) + KPB_UDP_CSUM_OFF);
	}
	ports = (__be16 *)(ip + 1);
	if (KPB_ABL(KPB_ABL_NAT))
		goto send;
	ns = *(__u32 *)(v->nat_src + 12);
	nd = *(__u32 *)(v->nat_dst + 12);
	pseudo = csum_replace32(csum_replace32(0, ip->saddr, ns), ip->daddr, nd);
	seg = csum_replace16(csum_replace16(0, ports[0], v->nat_sport), ports[1], v->nat_dport);
	l3 = pseudo;
	if (kind == KPB_FAST_ROUTE) {
		l3 = kpb_ip4_dec_ttl(ip, l3);
	}
	ip->saddr = ns;
	ip->daddr = nd;
	kpb_ip4_csum_apply(ip, l3);
	ports[0] = v->nat_sport;
	ports[1] = v->nat_dport;
	ctx_l4_csum_apply(ctx, csum, pseudo, seg, l4len == 8, true, 0);
send:
	if (kind == KPB_FAST_ROUTE) {
		__u8 *eth = ctx_ptr(ctx, 0, 12);

		if (!eth)
			return KPB_FAST_MISS; /* unreachable: the IP header lies behind it */
		kpb_copy12(eth, v->nh.macs);
	}
	*reason = kpb_fast_reason(kind, v);
	return kind == KPB_FAST_ROUTE ? ctx_redirect(ctx, v->nh.ifindex) : CTX_PASS;
}

static __always_inline int kpb_fast6(kpb_ctx_t *ctx, __u32 *reason, bool egress)
{
	struct kpb_ct6_key k;
	struct kpb_ct_value *v;
	struct ipv6hdr *ip6;
	__be16 *ports;
	__u16 *csum;
	__u32 l3_len, l4len;
	__u64 pseudo, seg, hop;
	__u8 proto;
	int kind;

	ip6 = ctx_ptr(ctx, KPB_ETH_HLEN, sizeof(*ip6) + 8);
	if (!ip6 || ip6->version != 6)
		return KPB_FAST_MISS;
	proto = ip6->nexthdr;
	l3_len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
	if (KPB_ETH_HLEN + l3_len > ctx_len_cheap(ctx))
		return KPB_FAST_MISS;
	if (proto == KPB_IPPROTO_TCP) {
		__u8 *th = ctx_ptr(ctx, KPB_ETH_HLEN + sizeof(*ip6), 20);

		if (!th || (th[13] & (KPB_TCP_SYN | KPB_TCP_FIN | KPB_TCP_RST)) || th[12] < 0x50 ||
		    sizeof(*ip6) + (th[12] >> 4) * 4 > l3_len)
			return KPB_FAST_MISS;
		l4len = 20;
	} else if (proto == KPB_IPPROTO_UDP) {
		if (l3_len < 48)
			return KPB_FAST_MISS;
		l4len = 8;
	} else {
		return KPB_FAST_MISS;
	}
	ports = (__be16 *)(ip6 + 1);
	kpb_copy16(k.src, &ip6->saddr);
	kpb_copy16(k.dst, &ip6->daddr);
	k.sport = ports[0];
	k.dport = ports[1];
	k.proto = proto;
	k.pad[0] = k.pad[1] = k.pad[2] = 0;
	v = KPB_FAST_LOOKUP(kpb_snat6_find, kpb_ct6, &k);
	if (!v)
		return kpb_fast_missed();
	kind = kpb_fast_check(ctx, v, proto, ip6->hop_limit, l3_len, egress);
	if (kind < 0)
		return KPB_FAST_MISS;

	if (proto == KPB_IPPROTO_TCP) {
		ip6 = ctx_ptr(ctx, KPB_ETH_HLEN, sizeof(*ip6) + 20);
		if (!ip6)
			return KPB_FAST_MISS;
		csum = (__u16 *)((__u8 *)(ip6 + 1) + KPB_TCP_CSUM_OFF);
	} else {
		ip6 = ctx_ptr(ctx, KPB_ETH_HLEN, sizeof(*ip6) + 8);
		if (!ip6)
			return KPB_FAST_MISS;
		csum = (__u16 *)((__u8 *)(ip6 + 1) + KPB_UDP_CSUM_OFF);
	}
	ports = (__be16 *)(ip6 + 1);
	pseudo = csum_rewrite128(&ip6->saddr, v->nat_src, 0);
	pseudo = csum_rewrite128(&ip6->daddr, v->nat_dst, pseudo);
	seg = csum_replace16(csum_replace16(0, ports[0], v->nat_sport), ports[1], v->nat_dport);
	hop = kind == KPB_FAST_ROUTE ? kpb_ip6_dec_hop(ip6) : 0;
	ports[0] = v->nat_sport;
	ports[1] = v->nat_dport;
	ctx_l4_csum_apply(ctx, csum, pseudo, seg, l4len == 8, false, hop);
	if (kind == KPB_FAST_ROUTE) {
		__u8 *eth = ctx_ptr(ctx, 0, 12);

		if (!eth)
			return KPB_FAST_MISS;
		kpb_copy12(eth, v->nh.macs);
	}
	*reason = kpb_fast_reason(kind, v);
	return kind == KPB_FAST_ROUTE ? ctx_redirect(ctx, v->nh.ifindex) : CTX_PASS;
}

/* The lean path of one entry point (egress: tc egress). */
static __always_inline int kpb_fast(kpb_ctx_t *ctx, __u32 *reason, bool egress)
{
	__be16 *proto = ctx_ptr(ctx, 12, 2);

	if (!proto)
		return KPB_FAST_MISS;
	if (*proto == bpf_htons(KPB_ETH_P_IP))
		return kpb_fast4(ctx, reason, egress);
	if (*proto == bpf_htons(KPB_ETH_P_IPV6))
		return kpb_fast6(ctx, reason, egress);
	return KPB_FAST_MISS;
}

/* An attached north-south entry point: the lean path, and for what it leaves the general program
 * in slot `slot` of `progs` (a tail call), counted under `hook` at the single exit. */
static __always_inline int kpb_fast_or_general(kpb_ctx_t *ctx, void *progs, __u32 slot, __u32 hook, bool egress)
{
	__u32 reason = KPB_CNT_ERROR;
	int verdict = kpb_fast(ctx, &reason, egress);

#if KPB_ABL(KPB_ABL_TAIL)
	if (verdict == KPB_FAST_MISS && !egress)
		verdict = kpb_np_ingress(ctx, &reason);
#endif
	if (verdict == KPB_FAST_MISS)
		verdict = ctx_tail_general(ctx, progs, slot);
	return kpb_count_exit(hook, verdict, reason);
}

#endif /* KPB_FASTPATH_H */
