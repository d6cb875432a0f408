/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* nat.h: rewrite a packet's addresses, ports and TTL in place by direct packet access, with one
 * incremental update per checksum field (IPv4 header; TCP/UDP for addresses, ports; SCTP's
 * CRC32c for ports, sctp.h), and reserve SNAT ports in the reservation slots (conntrack.h).
 * Include ctx.h, parse.h, conntrack.h
 * and sctp.h first. */
#ifndef KPB_NAT_H
#define KPB_NAT_H

#ifndef KPB_SNAT_RETRIES
#define KPB_SNAT_RETRIES 32 /* ports tried per new flow before counting KPB_CNT_SNAT_EXHAUSTED */
#endif

/* SNAT source addresses; all zero = ask the FIB for the source of the route to the backend. */
const volatile __u8 kpb_snat_addr4[4] __attribute__((aligned(4))) = {};
const volatile __u8 kpb_snat_addr6[16] __attribute__((aligned(4))) = {};

static __always_inline __u32 kpb_l4_csum_off(const struct kpb_pkt *p)
{
	return p->l4_off + (p->proto == KPB_IPPROTO_TCP ? KPB_TCP_CSUM_OFF : KPB_UDP_CSUM_OFF);
}

/* Rewrite the packet to the tuple `v` names (its nat_* fields), decrementing the TTL / hop limit
 * when we route it ourselves (`route`; the caller has checked it is > 1). A later fragment has
 * no L4 header: only its addresses change. p follows the packet. Returns 0, or -1 when the
 * headers are not where parse.h found them. */
static __noinline int kpb_nat_rewrite(kpb_ctx_t *ctx, struct kpb_pkt *p, const struct kpb_ct_value *v, bool route)
{
	__u64 pseudo, seg;
	__be16 *ports;
	__u32 old_ports;
	__u64 hop = 0;

	if (KPB_ABL(KPB_ABL_NAT))
		return 0;
	if (p->family == KPB_AF_INET) {
		struct iphdr *ip = ctx_ptr(ctx, KPB_ETH_HLEN, sizeof(*ip));
		__be32 ns = *(__u32 *)(v->nat_src + 12), nd = *(__u32 *)(v->nat_dst + 12);
		__u64 l3;

		if (!ip)
			return -1;
		pseudo = csum_replace32(csum_replace32(0, ip->saddr, ns), ip->daddr, nd);
		l3 = pseudo;
		if (route)
			l3 = kpb_ip4_dec_ttl(ip, l3);
		ip->saddr = ns;
		ip->daddr = nd;
		kpb_ip4_csum_apply(ip, l3);
	} else {
		struct ipv6hdr *ip6 = ctx_ptr(ctx, KPB_ETH_HLEN, sizeof(*ip6));

		if (!ip6)
			return -1;
		pseudo = csum_rewrite128(&ip6->saddr, v->nat_src, 0);
		pseudo = csum_rewrite128(&ip6->daddr, v->nat_dst, pseudo);
		if (route)
			hop = kpb_ip6_dec_hop(ip6);
	}
	kpb_copy16(p->src, v->nat_src);
	kpb_copy16(p->dst, v->nat_dst);
	if (route)
		p->ttl--;
	if (p->frag == KPB_FRAG_LATER) {
		p->sport = v->nat_sport;
		p->dport = v->nat_dport;
		return 0;
	}
	ports = ctx_ptr(ctx, p->l4_off, 4);
	if (!ports)
		return -1;
	old_ports = *(__u32 *)ports;
	seg = csum_replace16(csum_replace16(0, ports[0], v->nat_sport), ports[1], v->nat_dport);
	ports[0] = v->nat_sport;
	ports[1] = v->nat_dport;
	p->sport = v->nat_sport;
	p->dport = v->nat_dport;
	if (p->proto == KPB_IPPROTO_SCTP)
		return kpb_sctp_csum_fix(ctx, p, old_ports);
	return ctx_l4_csum_update(ctx, kpb_l4_csum_off(p), pseudo, seg, p->proto == KPB_IPPROTO_UDP, p->family == KPB_AF_INET, hop);
}

/* Decrement the TTL / hop limit of a packet we route without NAT (DSR encapsulation of the inner
 * packet). The caller has checked it is > 1. */
static __always_inline int kpb_dec_ttl(kpb_ctx_t *ctx, struct kpb_pkt *p)
{
	if (p->family == KPB_AF_INET) {
		struct iphdr *ip = ctx_ptr(ctx, KPB_ETH_HLEN, sizeof(*ip));

		if (!ip)
			return -1;
		kpb_ip4_csum_apply(ip, kpb_ip4_dec_ttl(ip, 0));
	} else {
		struct ipv6hdr *ip6 = ctx_ptr(ctx, KPB_ETH_HLEN, sizeof(*ip6));

		if (!ip6)
			return -1;
		ip6->hop_limit--;
	}
	p->ttl--;
	return 0;
}

/* The SNAT address for a packet of this family, or false when the FIB must supply it. */
static __always_inline bool kpb_snat_addr_cfg(__u8 family, __u8 *out16)
{
	const volatile __u32 *a6 = (const volatile __u32 *)kpb_snat_addr6;
	__u32 *o = (__u32 *)out16;

	if (family == KPB_AF_INET) {
		__be32 a = *(const volatile __u32 *)kpb_snat_addr4;

		kpb_v4_mapped(out16, a);
		return a != 0;
	}
	o[0] = a6[0];
	o[1] = a6[1];
	o[2] = a6[2];
	o[3] = a6[3];
	return (o[0] | o[1] | o[2] | o[3]) != 0;
}

#define KPB_SNAT_FULL -2

/* What one claim of a reservation slot found (kpb_snat_claim). */
enum kpb_snat_claim_result {
	KPB_SNAT_CLAIMED = 0,
	KPB_SNAT_TAKEN_SAME = 1,   /* the slot holds this very tuple, alive: the port is in use */
	KPB_SNAT_TAKEN_OTHER = 2,  /* the slot holds another tuple's live reservation: the table is short */
};

/* Claim the slot of reply tuple rk for the flow rv, at `now`. A free slot, or one whose
 * reservation expired and that its flow no longer uses (taken over), is claimed by one
 * compare-and-swap on its owner word; of two CPUs claiming the same slot exactly one wins. The
 * winner then writes the tuple and the value: a reply cannot arrive before the flow's first
 * packet has left with the port. */
#define KPB_SNAT_CLAIM_FN(name, slot_type, key_type, slot_of, key_eq, fam)                           \
	static __always_inline int name(const key_type *rk, const struct kpb_ct_value *rv, __u32 now)  \
	{                                                                                               \
		slot_type *s = slot_of(rk);                                                             \
		__u64 owner, mine;                                                                      \
                                                                                                        \
		if (!s)                                                                                 \
			return KPB_SNAT_TAKEN_OTHER;                                                    \
		owner = *(volatile __u64 *)&s->owner;                                                   \
		if (owner && (kpb_ct_live(&s->v, now) ||                                                \
			      kpb_snat_in_use(fam, (const union kpb_ct_key *)&s->key, &s->v, now)))     \
			return key_eq(&s->key, rk) ? KPB_SNAT_TAKEN_SAME : KPB_SNAT_TAKEN_OTHER;        \
		mine = owner + 1 ? owner + 1 : 1;                                                       \
		if (__sync_val_compare_and_swap(&s->owner, owner, mine) != owner)                       \
			return KPB_SNAT_TAKEN_OTHER;                                                    \
		s->key = *rk;                                                                           \
		s->v = *rv;                                                                             \
		return KPB_SNAT_CLAIMED;                                                                \
	}

KPB_SNAT_CLAIM_FN(kpb_snat4_claim, struct kpb_snat4_slot, struct kpb_ct4_key, kpb_snat4_slot_of, kpb_ct4_key_eq, KPB_AF_INET)
KPB_SNAT_CLAIM_FN(kpb_snat6_claim, struct kpb_snat6_slot, struct kpb_ct6_key, kpb_snat6_slot_of, kpb_ct6_key_eq, KPB_AF_INET6)

static __always_inline int kpb_snat_claim(__u8 family, const union kpb_ct_key *rk, const struct kpb_ct_value *rv, __u32 now)
{
	if (KPB_ABL(KPB_ABL_SNAT_INSERT))
		return KPB_SNAT_CLAIMED;
	if (family == KPB_AF_INET)
		return kpb_snat4_claim(&rk->v4, rv, now);
	return kpb_snat6_claim(&rk->v6, rv, now);
}

/* Give back the slot just claimed for rk (the flow could not be recorded after all). */
static __always_inline void kpb_snat_release(__u8 family, const union kpb_ct_key *rk)
{
	if (family == KPB_AF_INET) {
		struct kpb_snat4_slot *s = kpb_snat4_slot_of(&rk->v4);

		if (s && s->owner && kpb_ct4_key_eq(&s->key, &rk->v4))
			s->owner = 0;
	} else {
		struct kpb_snat6_slot *s = kpb_snat6_slot_of(&rk->v6);

		if (s && s->owner && kpb_ct6_key_eq(&s->key, &rk->v6))
			s->owner = 0;
	}
}

static __always_inline void kpb_rk_set_port(__u8 family, union kpb_ct_key *rk, __be16 port)
{
	if (family == KPB_AF_INET)
		rk->v4.dport = port;
	else
		rk->v6.dport = port;
}

/* One try of kpb_snat_alloc's walk, a bpf_loop callback (verified once, whatever the number of
 * tries). The entries being built sit in kpb_np_scratch_map (nodeport.h); rk's port is set here. */
struct kpb_snat_walk {
	__u32 port;            /* host order, the next to try */
	__u32 now;
	__u8 family;
	__u8 done;             /* 1: reserved */
	__u8 same;             /* tries whose port this very tuple holds */
	__u8 other;            /* tries whose slot another tuple holds */
};

static long kpb_snat_try(__u64 index, struct kpb_snat_walk *w);
static __always_inline __u32 kpb_rand(void);

/* Reserve a SNAT port by claiming the slot of the reply tuple rk (kpb_snat_claim). Keeps the
 * client's port when it is inside the range (fewer rewrites), else starts at a random port, then
 * walks linearly, at most KPB_SNAT_RETRIES ports; each port hashes to another slot. rk and rv are
 * the scratch entries (s->rk, s->rv); the chosen port (network order) is left in rk. Returns 0,
 * -1 when the ports tried are in use for this backend, or KPB_SNAT_FULL when most tries found
 * their slot held by other tuples (the table, --bpf-map-snat, is short). */
static __always_inline int kpb_snat_alloc(__u8 family, __be16 client_port)
{
	__u32 min = kpb_snat_port_min, max = kpb_snat_port_max;
	struct kpb_snat_walk w = { .now = kpb_now(), .family = family };

	if (max < min)
		return -1;
	w.port = bpf_ntohs(client_port);
	if (w.port < min || w.port > max)
		w.port = min + kpb_rand() % (max - min + 1);
	/* The first try (almost always the last) without bpf_loop's call overhead. */
	if (kpb_snat_try(0, &w) == 0)
		bpf_loop(KPB_SNAT_RETRIES - 1, kpb_snat_try, &w, 0);
	if (w.done)
		return 0;
	return w.other > w.same ? KPB_SNAT_FULL : -1;
}

#endif /* KPB_NAT_H */
