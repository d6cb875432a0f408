/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* nat.h: rewrite a packet's addresses, ports and TTL in place by direct packet access, with one
 * incremental update per checksum field (IPv4 header; TCP/UDP for addresses, ports; SCTP's
 * CRC32c for ports, sctp.h), and reserve SNAT ports. Include ctx.h, parse.h, conntrack.h
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

#if KPB_ABL(KPB_ABL_SNAT_SLOT)
/* The reservation as a slot of a preallocated array indexed by a hash of the reply tuple, claimed
 * with one compare-and-swap: what a reservation table would cost instead of a hash insert. Not a
 * working reservation (no reply finds it); only the benchmark loads this build. A slot is taken
 * while its owner word carries the current epoch, which the benchmark bumps where it empties
 * the conntrack maps (datapath/test/np-env.ts clearCt). */
struct kpb_abl_slot {
	__u64 owner;           /* epoch << 32 | tuple hash */
	struct kpb_ct_value v;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct kpb_abl_slot);
	__uint(max_entries, KPB_SNAT_MAX_ENTRIES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kpb_abl_snat_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kpb_abl_epoch SEC(".maps");

static __always_inline int kpb_abl_slot_claim(const __u32 *w, __u32 words, const struct kpb_ct_value *rv)
{
	__u32 h = 0x9e3779b9, i, zero = 0;
	struct kpb_abl_slot *s;
	__u32 *epoch = bpf_map_lookup_elem(&kpb_abl_epoch, &zero);
	__u64 old;

	for (i = 0; i < words; i++) {
		h ^= w[i];
		h *= 0x85ebca6b;
		h ^= h >> 13;
	}
	i = h & (KPB_SNAT_MAX_ENTRIES - 1);
	s = bpf_map_lookup_elem(&kpb_abl_snat_slots, &i);
	if (!s || !epoch)
		return -1;
	old = s->owner;
	if ((__u32)(old >> 32) == *epoch + 1)
		return -17; /* EEXIST: the port walk goes on */
	if (__sync_val_compare_and_swap(&s->owner, old, ((__u64)(*epoch + 1) << 32) | h) != old)
		return -17;
	s->v = *rv;
	return 0;
}
#endif

static __always_inline int kpb_snat_insert(__u8 family, const union kpb_ct_key *rk, const struct kpb_ct_value *rv)
{
	if (KPB_ABL(KPB_ABL_SNAT_INSERT))
		return 0;
#if KPB_ABL(KPB_ABL_SNAT_SLOT)
	if (family == KPB_AF_INET)
		return kpb_abl_slot_claim((const __u32 *)&rk->v4, sizeof(rk->v4) / 4, rv);
	return kpb_abl_slot_claim((const __u32 *)&rk->v6, sizeof(rk->v6) / 4, rv);
#endif
	if (family == KPB_AF_INET)
		return bpf_map_update_elem(&kpb_snat4, &rk->v4, rv, BPF_NOEXIST);
	return bpf_map_update_elem(&kpb_snat6, &rk->v6, rv, BPF_NOEXIST);
}

static __always_inline void kpb_rk_set_port(__u8 family, union kpb_ct_key *rk, __be16 port)
{
	if (family == KPB_AF_INET)
		rk->v4.dport = port;
	else
		rk->v6.dport = port;
}

/* Take over the reservation `old` (expired, its flow gone) for the flow `rv`. Two CPUs may try
 * the same one; the compare-and-swap on its expiry (with service_id: a 64-bit word, which every
 * BPF target can swap) lets exactly one win. */
static __always_inline bool kpb_snat_take_over(struct kpb_ct_value *old, const struct kpb_ct_value *rv, __u64 seen)
{
	__u64 *word = (__u64 *)&old->expires;
	__u64 mine = (__u64)rv->expires | ((__u64)rv->service_id << 32);

	if (__sync_val_compare_and_swap(word, seen, mine) != seen)
		return false;
	kpb_copy16(old->nat_src, rv->nat_src);
	kpb_copy16(old->nat_dst, rv->nat_dst);
	old->nat_sport = rv->nat_sport;
	old->nat_dport = rv->nat_dport;
	old->flags = rv->flags;
	old->tcp_state = rv->tcp_state;
	old->backend_id = rv->backend_id;
	old->be_gen = rv->be_gen;
	old->nh = rv->nh;
	return true;
}

/* One try of kpb_snat_alloc's walk, a bpf_loop callback (verified once, whatever the number of
 * tries). The entries being built sit in kpb_np_scratch_map (nodeport.h); rk's port is set here. */
struct kpb_snat_walk {
	__u32 port;            /* host order, the next to try */
	__u32 now;
	__u8 family;
	__u8 done;             /* 1: reserved */
	__u8 full;             /* the map refused a new key: it is full */
	__u8 pad;
};

static long kpb_snat_try(__u64 index, struct kpb_snat_walk *w);
static __always_inline __u32 kpb_rand(void);

/* Reserve a SNAT port by inserting the reply entry rk -> rv into kpb_snat* with NOEXIST. Keeps
 * the client's port when it is inside the range (fewer rewrites), else starts at a random port,
 * then walks linearly, at most KPB_SNAT_RETRIES ports. A reservation that expired and that its
 * flow no longer uses is taken over. rk and rv are the scratch entries (s->rk, s->rv); the chosen
 * port (network order) is left in rk. Returns 0, -1 when every try collided (ports exhausted for
 * this backend), or KPB_SNAT_FULL when the map itself is full. */
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
	return w.full ? KPB_SNAT_FULL : -1;
}

#endif /* KPB_NAT_H */
