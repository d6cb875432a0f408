/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* nodeport.h: the general north-south service datapath (NodePort, ExternalIPs, LoadBalancer
 * IPs), one implementation compiled into the XDP object and the tc object through ctx.h. The
 * entry points try fastpath.h first; whatever it leaves comes here.
 *
 * TCP, UDP and SCTP (whose CRC32c sctp.h fixes when ports change).
 *
 *   ingress (XDP or tc): tracked flow -> apply its conntrack entry; new flow to a service ->
 *     source ranges, backend selection, then
 *       local backend:  DNAT and hand to the stack (tc only; XDP passes such packets to tc),
 *       remote backend: DNAT + SNAT to a node address and port (or DSR, dsr.h), route, send;
 *     replies of remote backends (to a SNAT port) -> reverse SNAT + DNAT, route, send.
 *   egress (tc): replies of local backends -> source back to the frontend.
 *
 * Routing ourselves means: the next hop cached in the flow's entry (conntrack.h, struct kpb_nh;
 * bpf_fib_lookup only when it is missing, stale by kpb_gens.nh, or too small for the packet),
 * TTL / hop limit decremented, and a packet whose TTL would expire answered with ICMP time
 * exceeded (reply.h) instead of being passed on. Fragments follow their first fragment's flow
 * (frag.h). XDP never needs the stack: whatever it cannot finish (local backend, no neighbour
 * entry, no route) it passes untouched and tc, seeing the same maps, finishes it. Each function
 * returns a verdict and sets *reason (enum kpb_counter) for the single counting exit of the
 * entry point. Include north_south.h's other headers first. */
#ifndef KPB_NODEPORT_H
#define KPB_NODEPORT_H

/* A step's "not decided yet, go on", and kpb_np_select's "answer like a closed port" (every
 * verdict is >= 0). */
#define KPB_NP_CONTINUE -1
#define KPB_NP_REFUSE -2

/* The backend chosen for a new flow, with the ids its conntrack entries record. */
struct kpb_target {
	struct lb_backend be;
	__u32 service_id;
	__u32 backend_id;
	__u32 ct_flags;        /* extra enum kpb_ct_flags for both entries (DSR backend side) */
};

/* A FIB question and its answer. */
struct kpb_fib {
	__u8 src[16];          /* in: the packet's source; out, with want_src: the one the route prefers */
	__u8 dst[16];          /* in */
	__u16 l3_len;          /* in: 0 skips the MTU check (GSO) */
	__u8 family;           /* in */
	__u8 proto;            /* in */
	__u8 want_src;         /* in */
	__u8 pad[3];
	int ret;               /* BPF_FIB_LKUP_RET_* */
	__u32 ifindex;
	__u32 mtu;             /* with BPF_FIB_LKUP_RET_FRAG_NEEDED: the route's MTU */
	__u8 macs[12];         /* destination MAC, then source MAC: the Ethernet header's order */
};

/* An ICMP error's quoted packet (icmp.h). */
struct kpb_icmp_quote {
	__u32 l3_off;          /* the quoted IP header */
	__u32 l4_off;          /* its ports */
	struct kpb_pkt r;      /* R = reverse of the quoted packet, as a tuple for kpb_ct_lookup */
};

/* Next hops by destination: what the FIB answered for packets to `dst` arriving on `ifindex`
 * (with the source address the route prefers), so that a new flow to a backend (or a node)
 * others already reach costs one lookup instead of bpf_fib_lookup. Valid while nh.gen equals
 * kpb_gens.nh, like a flow's own next hop. */
struct kpb_nh_key {
	__u8 dst[16];
	__u32 ifindex;         /* the arrival device the FIB was asked for */
};

struct kpb_nh_val {
	struct kpb_nh nh;
	__u8 src[16];          /* the source address the route prefers */
};

/* key: struct kpb_nh_key; value: struct kpb_nh_val. Writer: datapath (new flows, FIB answers).
 * Per object and not pinned: a restart starts it empty. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct kpb_nh_key);
	__type(value, struct kpb_nh_val);
	__uint(max_entries, 16384);
} kpb_nh_cache SEC(".maps");

/* The general path's working state, per CPU, not on the 512-byte stack: the packet being
 * handled, one FIB question at a time, an ICMP error's quote. Not zeroed: each user fills what it
 * reads. */
struct kpb_np_tmp {
	struct kpb_pkt pkt;
	struct kpb_fib fib;
	struct bpf_fib_lookup fl;
	struct kpb_icmp_quote q;
	struct kpb_target target;
	struct kpb_nh_val nv;  /* kpb_fib_lookup_cached's new cache entry */
	__u32 rand;            /* xorshift32 state (kpb_rand) */
	__u32 ct_missed;       /* the lean path looked this packet's tuple up and found nothing */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct kpb_np_tmp);
	__uint(max_entries, 1);
} kpb_np_tmp_map SEC(".maps");

static __always_inline struct kpb_np_tmp *kpb_np_tmp(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&kpb_np_tmp_map, &zero);
}

/* A cheap per-CPU pseudo-random number (xorshift32, seeded once from bpf_get_prandom_u32): backend
 * choice and SNAT port start need spread, not secrecy, and a helper call costs ~20 ns here. */
static __always_inline __u32 kpb_rand(void)
{
	struct kpb_np_tmp *t = kpb_np_tmp();
	__u32 x;

	if (!t)
		return bpf_get_prandom_u32();
	x = t->rand;
	if (x == 0)
		x = bpf_get_prandom_u32() | 1;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	t->rand = x;
	return x;
}

/* The two conntrack entries a new flow writes are built here, not on the 512-byte stack. */
struct kpb_np_scratch {
	union kpb_ct_key fk, rk;
	struct kpb_ct_value fv, rv;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct kpb_np_scratch);
	__uint(max_entries, 1);
} kpb_np_scratch_map SEC(".maps");

static __always_inline struct kpb_np_scratch *kpb_np_scratch_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&kpb_np_scratch_map, &zero);
}

static long kpb_snat_try(__u64 index, struct kpb_snat_walk *w)
{
	struct kpb_np_scratch *s = kpb_np_scratch_get();
	__u32 min = kpb_snat_port_min, max = kpb_snat_port_max;
	int r;

	if (!s)
		return 1;
	kpb_rk_set_port(w->family, &s->rk, bpf_htons((__u16)w->port));
	r = kpb_snat_claim(w->family, &s->rk, &s->rv, w->now);
	if (r == KPB_SNAT_CLAIMED) {
		w->done = 1;
		return 1;
	}
	if (r == KPB_SNAT_TAKEN_SAME)
		w->same++;
	else
		w->other++;
	w->port = w->port >= max ? min : w->port + 1;
	return 0;
}

/* The scratch entries, zeroed. */
static __always_inline struct kpb_np_scratch *kpb_np_scratch(void)
{
	__u32 zero = 0;
	struct kpb_np_scratch *s = bpf_map_lookup_elem(&kpb_np_scratch_map, &zero);

	if (s && !KPB_ABL(KPB_ABL_ZERO))
		__builtin_memset(s, 0, sizeof(*s));
	return s;
}


static __noinline void kpb_fib_ask(kpb_ctx_t *ctx, struct kpb_fib *r)
{
	struct kpb_np_tmp *t = kpb_np_tmp();
	struct bpf_fib_lookup *f;

	r->ret = -1;
	if (!t)
		return;
	f = &t->fl;
	__builtin_memset(f, 0, sizeof(*f));
	f->ifindex = ctx_ifindex(ctx);
	f->l4_protocol = r->proto;
	f->tot_len = r->l3_len;
	if (r->family == KPB_AF_INET) {
		f->family = KPB_AF_INET;
		kpb_copy4(&f->ipv4_src, r->src + 12);
		kpb_copy4(&f->ipv4_dst, r->dst + 12);
	} else {
		f->family = KPB_AF_INET6;
		kpb_copy16(f->ipv6_src, r->src);
		kpb_copy16(f->ipv6_dst, r->dst);
	}
	r->ret = bpf_fib_lookup(ctx, f, sizeof(*f), r->want_src ? BPF_FIB_LOOKUP_SRC : 0);
	r->ifindex = f->ifindex;
	r->mtu = f->mtu_result;
	__builtin_memcpy(r->macs, f->dmac, 6);
	__builtin_memcpy(r->macs + 6, f->smac, 6);
	if (r->family == KPB_AF_INET)
		kpb_v4_mapped(r->src, f->ipv4_src);
	else
		kpb_copy16(r->src, f->ipv6_src);
}

static __always_inline void kpb_fib_lookup(kpb_ctx_t *ctx, __u8 family, __u8 proto, __u16 l3_len,
					   const __u8 *src, const __u8 *dst, bool want_src, struct kpb_fib *r)
{
	kpb_copy16(r->src, src);
	kpb_copy16(r->dst, dst);
	r->l3_len = l3_len;
	r->family = family;
	r->proto = proto;
	r->want_src = want_src;
	kpb_fib_ask(ctx, r);
}

/* kpb_fib_lookup through kpb_nh_cache: a complete answer for the destination, fresh and known to
 * carry packets of this size, is taken from the cache; otherwise the FIB is asked and a complete
 * answer remembered. */
#if KPB_ABL(KPB_ABL_FIB_MEMO)
struct kpb_abl_fib { struct kpb_nh_key k; struct kpb_nh_val v; __u32 used; };
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct kpb_abl_fib);
	__uint(max_entries, 1);
} kpb_abl_fib_map SEC(".maps");
#endif

static __noinline void kpb_fib_lookup_cached(kpb_ctx_t *ctx, __u8 family, __u16 l3_len, const __u8 *dst, struct kpb_fib *r)
{
	struct kpb_nh_key k = { .ifindex = ctx_ifindex(ctx) };
	struct kpb_np_tmp *t = kpb_np_tmp();
	struct kpb_nh_val *c, *nv;
	__u32 gen = kpb_gen_nh();
#if KPB_ABL(KPB_ABL_FIB_MEMO)
	__u32 zero = 0;
	struct kpb_abl_fib *m = bpf_map_lookup_elem(&kpb_abl_fib_map, &zero);
#endif

	if (!t) {
		r->ret = -1;
		return;
	}
	nv = &t->nv;
	kpb_copy16(k.dst, dst);
#if KPB_ABL(KPB_ABL_FIB_MEMO)
	if (m && m->used && kpb_addr_eq(m->k.dst, k.dst) && m->k.ifindex == k.ifindex) {
		c = &m->v;
	} else {
		c = bpf_map_lookup_elem(&kpb_nh_cache, &k);
		if (c && m) {
			m->k = k;
			m->v = *c;
			m->used = 1;
		}
	}
#else
	c = bpf_map_lookup_elem(&kpb_nh_cache, &k);
#endif
	if (c && c->nh.ifindex && c->nh.gen == gen && (l3_len <= c->nh.mtu || l3_len == 0)) {
		r->ret = BPF_FIB_LKUP_RET_SUCCESS;
		r->ifindex = c->nh.ifindex;
		kpb_copy12(r->macs, c->nh.macs);
		kpb_copy16(r->src, c->src);
		return;
	}
	/* Asked with no source: the answer (and the source it picks) is the destination's. */
	__builtin_memset(r->src, 0, sizeof(r->src));
	kpb_copy16(r->dst, dst);
	r->l3_len = l3_len;
	r->family = family;
	r->proto = 0;
	r->want_src = 1;
	kpb_fib_ask(ctx, r);
	if (r->ret != BPF_FIB_LKUP_RET_SUCCESS)
		return;
	__builtin_memset(nv, 0, sizeof(*nv));
	if (c && c->nh.ifindex == r->ifindex && c->nh.gen == gen && c->nh.mtu > l3_len)
		nv->nh.mtu = c->nh.mtu;
	else
		nv->nh.mtu = l3_len;
	nv->nh.gen = gen;
	nv->nh.ifindex = r->ifindex;
	kpb_copy12(nv->nh.macs, r->macs);
	kpb_copy16(nv->src, r->src);
	bpf_map_update_elem(&kpb_nh_cache, &k, nv, BPF_ANY);
}

/* Can this hook send the packet out itself after the FIB answered? XDP needs a complete answer
 * (route and neighbour); tc can resolve the neighbour with bpf_redirect_neigh. */
static __always_inline bool kpb_fib_usable(const struct kpb_fib *r)
{
#if defined(KPB_CTX_XDP)
	return r->ret == BPF_FIB_LKUP_RET_SUCCESS;
#else
	return r->ret == BPF_FIB_LKUP_RET_SUCCESS || r->ret == BPF_FIB_LKUP_RET_NO_NEIGH;
#endif
}

/* Remember a complete FIB answer in a flow's entry, for packets up to l3_len bytes (0 for a GSO
 * aggregate, whose size says nothing about the segments). The size only grows while the route
 * stays the same. */
static __always_inline void kpb_nh_store(struct kpb_nh *nh, const struct kpb_fib *r, __u32 l3_len, __u32 gen)
{
	__u16 mtu = l3_len > 0xffff ? 0xffff : (__u16)l3_len;

	if (r->ret != BPF_FIB_LKUP_RET_SUCCESS)
		return;
	if (nh->ifindex == r->ifindex && nh->gen == gen && nh->mtu > mtu)
		mtu = nh->mtu;
	nh->gen = gen;
	nh->ifindex = r->ifindex;
	nh->mtu = mtu;
	kpb_copy12(nh->macs, r->macs);
}

static __always_inline bool kpb_nh_valid(kpb_ctx_t *ctx, const struct kpb_nh *nh, __u32 gen, __u32 l3_len)
{
	return nh->ifindex != 0 && nh->gen == gen && (l3_len <= nh->mtu || ctx_is_gso(ctx));
}

/* Send a translated packet to a complete next hop. */
static __always_inline int kpb_nh_send(kpb_ctx_t *ctx, const struct kpb_nh *nh, __u32 *reason)
{
	__u8 *eth = ctx_ptr(ctx, 0, 12);

	if (!eth) {
		*reason = KPB_CNT_ERROR;
		return CTX_DROP;
	}
	kpb_copy12(eth, nh->macs);
	return ctx_redirect(ctx, nh->ifindex);
}

/* Send to what the FIB answered: tc resolves a missing neighbour itself. */
static __always_inline int kpb_fib_send(kpb_ctx_t *ctx, const struct kpb_fib *r, __u32 *reason)
{
	struct kpb_nh nh = { .ifindex = r->ifindex };

#if defined(KPB_CTX_SKB)
	if (r->ret == BPF_FIB_LKUP_RET_NO_NEIGH) {
		ctx_mark_sent(ctx);
		return bpf_redirect_neigh(r->ifindex, NULL, 0, 0);
	}
#endif
	kpb_copy12(nh.macs, r->macs);
	return kpb_nh_send(ctx, &nh, reason);
}

/* A packet whose TTL / hop limit would expire when we forward it: ICMP time exceeded back to
 * its source, like a router; a later fragment or an IPv6 packet with extension headers (whose
 * quote we do not build) is dropped. Counted KPB_CNT_TTL either way. */
static __always_inline int kpb_ttl_exceeded(kpb_ctx_t *ctx, struct kpb_pkt *p, __u32 *reason)
{
	int ret;

	*reason = KPB_CNT_TTL;
	if (p->frag == KPB_FRAG_LATER)
		return CTX_DROP;
	ret = kpb_reply_icmp_err(ctx, p, KPB_ICMP_TIME_EXCEEDED, 0);
	return ret < 0 ? CTX_DROP : ret;
}

/* Translate per `v` in place and hand the packet on (the stack delivers or routes it); `ok` is the
 * reason it is counted under. */
static __always_inline int kpb_nat_pass(kpb_ctx_t *ctx, struct kpb_pkt *p, const struct kpb_ct_value *v, __u32 ok,
					__u32 *reason)
{
	if (kpb_nat_rewrite(ctx, p, v, false) < 0) {
		*reason = KPB_CNT_ERROR;
		return CTX_DROP;
	}
	*reason = ok;
	return CTX_PASS;
}

/* A tracked packet the stack takes on: its entry refreshed, its fragments followed, translated. */
static __always_inline int kpb_ct_apply_pass(kpb_ctx_t *ctx, struct kpb_pkt *p, struct kpb_ct_value *ct, __u32 ok,
					     __u32 *reason)
{
	kpb_ct_refresh(ct, p);
	kpb_frag_record(p);
	return kpb_nat_pass(ctx, p, ct, ok, reason);
}

/* Translate per `v` and route the result ourselves (remote backend, or reply to a client). */
static __noinline int kpb_np_forward(kpb_ctx_t *ctx, struct kpb_pkt *p, struct kpb_ct_value *v,
				     __u32 fwd_reason, __u32 *reason)
{
	__u32 gen = kpb_gen_nh();
	struct kpb_np_tmp *t;
	struct kpb_fib *fib;

	if (!kpb_nh_valid(ctx, &v->nh, gen, p->l3_len)) {
		t = kpb_np_tmp();
		if (!t) {
			*reason = KPB_CNT_ERROR;
			return CTX_DROP;
		}
		fib = &t->fib;
		/* tot_len 0 makes tc's FIB lookup check the skb itself (GSO aware). */
		kpb_fib_lookup(ctx, p->family, p->proto, ctx_is_gso(ctx) ? 0 : p->l3_len, v->nat_src, v->nat_dst, false, fib);
		if (!kpb_fib_usable(fib)) {
#if defined(KPB_CTX_XDP)
			*reason = KPB_CNT_TO_TC;
			return CTX_PASS;
#else
			/* No route of ours: translate anyway and let the stack route (or refuse) it. */
			return kpb_nat_pass(ctx, p, v, KPB_CNT_FIB_FAIL, reason);
#endif
		}
		if (fib->ret != BPF_FIB_LKUP_RET_SUCCESS) {
			/* tc, no neighbour entry yet: the kernel resolves it; nothing to cache. */
			if (kpb_nat_rewrite(ctx, p, v, true) < 0) {
				*reason = KPB_CNT_ERROR;
				return CTX_DROP;
			}
			*reason = fwd_reason;
			return kpb_fib_send(ctx, fib, reason);
		}
		kpb_nh_store(&v->nh, fib, ctx_is_gso(ctx) ? 0 : p->l3_len, gen);
	}
	if (kpb_nat_rewrite(ctx, p, v, true) < 0) {
		*reason = KPB_CNT_ERROR;
		return CTX_DROP;
	}
	*reason = fwd_reason;
	return kpb_nh_send(ctx, &v->nh, reason);
}

#if defined(KPB_CTX_SKB)
/* New flow to a backend on this node: DNAT and hand to the stack; the reply entry lets tc egress
 * put the frontend back as the source. A backend at a node address (host network) is delivered,
 * not routed, so its packets keep whatever TTL they have. */
static __noinline int kpb_np_new_local(kpb_ctx_t *ctx, struct kpb_pkt *p, const struct kpb_target *t,
				       __u32 *reason)
{
	struct kpb_np_scratch *s;
	__u16 host = lb_is_node_addr(t->be.addr) ? KPB_CT_HOST_BACKEND : 0;
	__u32 now = kpb_now();

	if (!host && p->ttl <= 1)
		return kpb_ttl_exceeded(ctx, p, reason);
	s = kpb_np_scratch();
	if (!s) {
		*reason = KPB_CNT_ERROR;
		return CTX_DROP;
	}
	kpb_ct_key_make(&s->rk, p->family, t->be.addr, p->src, t->be.port, p->sport, p->proto);
	kpb_copy16(s->rv.nat_src, p->dst);
	kpb_copy16(s->rv.nat_dst, p->src);
	s->rv.nat_sport = p->dport;
	s->rv.nat_dport = p->sport;
	s->rv.flags = KPB_CT_LOCAL | KPB_CT_REPLY | t->ct_flags | host;
	s->rv.service_id = t->service_id;
	s->rv.backend_id = t->backend_id;
	s->rv.expires = kpb_ct_deadline(now, p->proto, KPB_CT_NEW);

	kpb_ct_key_make(&s->fk, p->family, p->src, p->dst, p->sport, p->dport, p->proto);
	kpb_copy16(s->fv.nat_src, p->src);
	kpb_copy16(s->fv.nat_dst, t->be.addr);
	s->fv.nat_sport = p->sport;
	s->fv.nat_dport = t->be.port;
	s->fv.flags = KPB_CT_LOCAL | t->ct_flags | host;
	s->fv.service_id = t->service_id;
	s->fv.backend_id = t->backend_id;
	s->fv.be_gen = kpb_gen_be();
	s->fv.expires = s->rv.expires;

	if (kpb_ct_put(p->family, &s->rk, &s->rv) < 0 || kpb_ct_put(p->family, &s->fk, &s->fv) < 0) {
		*reason = KPB_CNT_CT_FULL;
		return CTX_DROP;
	}
	kpb_frag_record(p);
	return kpb_nat_pass(ctx, p, &s->fv, KPB_CNT_LOCAL_DNAT, reason);
}
#endif

#include "dsr.h"

/* New flow to a backend on another node, SNAT mode: the source becomes a node address and a port
 * from the SNAT range so the reply comes back through us. */
static __noinline int kpb_np_new_snat(kpb_ctx_t *ctx, struct kpb_pkt *p, const struct kpb_target *t,
				      __u32 *reason)
{
	struct kpb_np_scratch *s;
	struct kpb_np_tmp *tmp = kpb_np_tmp();
	struct kpb_fib *fib;
	__u8 snat[16];
	bool cfg = kpb_snat_addr_cfg(p->family, snat);
	__u32 now = kpb_now();
	int err;

	if (!tmp) {
		*reason = KPB_CNT_ERROR;
		return CTX_DROP;
	}
	fib = &tmp->fib;
	/* The route to the backend, and the source it prefers (the SNAT address unless configured). */
	kpb_fib_lookup_cached(ctx, p->family, ctx_is_gso(ctx) ? 0 : p->l3_len, t->be.addr, fib);
	if (!kpb_fib_usable(fib)) {
#if defined(KPB_CTX_XDP)
		*reason = KPB_CNT_TO_TC;
#else
		*reason = KPB_CNT_FIB_FAIL;
#endif
		return CTX_PASS;
	}
	if (p->ttl <= 1)
		return kpb_ttl_exceeded(ctx, p, reason);
	s = kpb_np_scratch();
	if (!s) {
		*reason = KPB_CNT_ERROR;
		return CTX_DROP;
	}
	if (!cfg)
		kpb_copy16(snat, fib->src);

	kpb_ct_key_make(&s->rk, p->family, t->be.addr, snat, t->be.port, 0, p->proto);
	kpb_copy16(s->rv.nat_src, p->dst);
	kpb_copy16(s->rv.nat_dst, p->src);
	s->rv.nat_sport = p->dport;
	s->rv.nat_dport = p->sport;
	s->rv.flags = KPB_CT_REPLY | KPB_CT_SNAT;
	s->rv.service_id = t->service_id;
	s->rv.backend_id = t->backend_id;
	s->rv.expires = kpb_ct_deadline(now, p->proto, KPB_CT_NEW);
	err = kpb_snat_alloc(p->family, p->sport);
	if (err < 0) {
		*reason = err == KPB_SNAT_FULL ? KPB_CNT_SNAT_MAP_FULL : KPB_CNT_SNAT_EXHAUSTED;
		return CTX_DROP;
	}

	kpb_ct_key_make(&s->fk, p->family, p->src, p->dst, p->sport, p->dport, p->proto);
	kpb_copy16(s->fv.nat_src, snat);
	kpb_copy16(s->fv.nat_dst, t->be.addr);
	s->fv.nat_sport = p->family == KPB_AF_INET ? s->rk.v4.dport : s->rk.v6.dport;
	s->fv.nat_dport = t->be.port;
	s->fv.flags = KPB_CT_REMOTE | KPB_CT_SNAT;
	s->fv.service_id = t->service_id;
	s->fv.backend_id = t->backend_id;
	s->fv.be_gen = kpb_gen_be();
	s->fv.expires = s->rv.expires;
	kpb_nh_store(&s->fv.nh, fib, ctx_is_gso(ctx) ? 0 : p->l3_len, kpb_gen_nh());
	if (kpb_ct_put(p->family, &s->fk, &s->fv) < 0) {
		kpb_snat_release(p->family, &s->rk);
		*reason = KPB_CNT_CT_FULL;
		return CTX_DROP;
	}
	kpb_frag_record(p);
	if (kpb_nat_rewrite(ctx, p, &s->fv, true) < 0) {
		*reason = KPB_CNT_ERROR;
		return CTX_DROP;
	}
	*reason = KPB_CNT_REMOTE_FWD;
	return kpb_fib_send(ctx, fib, reason);
}

/* A service with nothing to send to: answer like a closed port (RST, ICMP port unreachable);
 * what cannot be answered is dropped and counted. An eTP=Local entry never answers: its empty
 * case (endpoints only elsewhere) is dropped before this, and a failure on it is dropped too, so
 * a client's load balancer steers by the health check instead of seeing a refusal. Out of line:
 * the answer needs stack room. */
static __noinline int kpb_np_refuse(kpb_ctx_t *ctx, struct kpb_pkt *p, __u32 svc_flags, __u32 *reason)
{
	int ret = -1;

	if ((svc_flags & LB_SVC_ETP_LOCAL) || p->frag == KPB_FRAG_LATER) {
		*reason = KPB_CNT_NO_BACKEND;
		return CTX_DROP;
	}
	if (p->proto == KPB_IPPROTO_TCP) {
		ret = kpb_reply_rst(ctx, p);
		*reason = KPB_CNT_RST_SENT;
	} else if (p->proto == KPB_IPPROTO_UDP) {
		ret = kpb_reply_icmp_err(ctx, p, KPB_ICMP_PORT_UNREACH, 0);
		*reason = KPB_CNT_ICMP_SENT;
	}
	if (ret < 0) {
		*reason = KPB_CNT_NO_BACKEND;
		return CTX_DROP;
	}
	return ret;
}

/* First packet of a flow to a service: admission and backend choice. Returns KPB_NP_CONTINUE
 * with *t filled, KPB_NP_REFUSE, or a final verdict. Kept out of line so its frame and the translating
 * function's frame are siblings under the entry point, not stacked (512-byte limit). */
static __noinline int kpb_np_select(kpb_ctx_t *ctx, struct kpb_pkt *p, const struct lb_service_value *svc,
				    struct kpb_target *t, __u32 *reason)
{
	struct lb_affinity_key aff = {};
	struct lb_selected sel = {};
	int ret;

	if (!kpb_src_allowed(svc, p)) {
		*reason = KPB_CNT_SRC_RANGE;
		return CTX_DROP;
	}
	__builtin_memcpy(aff.client, p->src, 16);
	aff.kind = LB_AFFINITY_ADDR;
	ret = lb_select_backend(svc, &aff, kpb_rand(), kpb_flow_hash(svc, p), &sel);
	/* eTP=Local with endpoints only on other nodes: kube-proxy drops ("has no local endpoints"),
	 * it does not reject (spec §5.7, §5.11). */
	if (ret == LB_SEL_NO_LOCAL_BACKENDS) {
		*reason = KPB_CNT_NO_LOCAL_BACKEND;
		return CTX_DROP;
	}
	if (ret != LB_SEL_OK || !sel.backend)
		return KPB_NP_REFUSE;
	t->be = *sel.backend;
	t->service_id = svc->service_id;
	t->backend_id = sel.backend_id;
	/* A backend of the other family cannot be reached without NAT46/64, which we do not do. */
	if (kpb_is_v4_mapped(t->be.addr) != (p->family == KPB_AF_INET))
		return KPB_NP_REFUSE;
	return KPB_NP_CONTINUE;
}

#if KPB_ABL(KPB_ABL_SVC_MEMO)
struct kpb_abl_svc { __u8 dst[16]; __be16 dport; __u8 proto; __u8 used; struct lb_service_value svc; struct kpb_target t; };
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct kpb_abl_svc);
	__uint(max_entries, 1);
} kpb_abl_svc_map SEC(".maps");

static __always_inline struct kpb_abl_svc *kpb_abl_svc(const struct kpb_pkt *p)
{
	__u32 zero = 0;
	struct kpb_abl_svc *m = bpf_map_lookup_elem(&kpb_abl_svc_map, &zero);

	if (m && m->used == 2 && kpb_addr_eq(m->dst, p->dst) && m->dport == p->dport && m->proto == p->proto)
		return m;
	return (void *)0;
}
#endif

static __always_inline int kpb_np_new(kpb_ctx_t *ctx, struct kpb_pkt *p, const struct lb_service_value *svc,
				      struct kpb_target *t, __u32 *reason)
{
	int ret;
#if KPB_ABL(KPB_ABL_SVC_MEMO)
	__u32 zero = 0;
	struct kpb_abl_svc *m = kpb_abl_svc(p);

	if (m) {
		*t = m->t;
		ret = KPB_NP_CONTINUE;
	} else {
		__builtin_memset(t, 0, sizeof(*t));
		ret = kpb_np_select(ctx, p, svc, t, reason);
		m = bpf_map_lookup_elem(&kpb_abl_svc_map, &zero);
		if (m && ret == KPB_NP_CONTINUE) {
			kpb_copy16(m->dst, p->dst);
			m->dport = p->dport;
			m->proto = p->proto;
			m->svc = *svc;
			m->t = *t;
			m->used = 2;
		}
	}
#else
	__builtin_memset(t, 0, sizeof(*t));
	ret = kpb_np_select(ctx, p, svc, t, reason);
#endif
	if (ret == KPB_NP_REFUSE)
		return kpb_np_refuse(ctx, p, svc->flags, reason);
	if (ret != KPB_NP_CONTINUE)
		return ret;
	if (t->be.flags & LB_BE_LOCAL) {
#if defined(KPB_CTX_XDP)
		*reason = KPB_CNT_TO_TC;
		return CTX_PASS;
#else
		return kpb_np_new_local(ctx, p, t, reason);
#endif
	}
	if (kpb_use_dsr(svc, p)) {
		struct kpb_np_scratch *s;

		ret = kpb_np_new_dsr(ctx, p, t, reason);
		if (ret != KPB_NP_CONTINUE)
			return ret;
		s = kpb_np_scratch_get();
		if (!s) {
			*reason = KPB_CNT_ERROR;
			return CTX_DROP;
		}
		return kpb_dsr_encap(ctx, p, &s->fv, reason);
	}
	return kpb_np_new_snat(ctx, p, t, reason);
}

#include "icmp.h"

/* A packet of a flow we track. */
static __always_inline int kpb_np_tracked(kpb_ctx_t *ctx, struct kpb_pkt *p, struct kpb_ct_value *ct,
					  __u32 *reason)
{
	if (ct->flags & KPB_CT_LOCAL) {
		if (ct->flags & KPB_CT_REPLY) {
			/* A local backend's reply arriving from outside (hairpin): not ours. */
			*reason = KPB_CNT_NOT_SERVICE;
			return CTX_PASS;
		}
#if defined(KPB_CTX_XDP)
		*reason = KPB_CNT_TO_TC;
		return CTX_PASS;
#else
		if (!(ct->flags & KPB_CT_HOST_BACKEND) && p->ttl <= 1)
			return kpb_ttl_exceeded(ctx, p, reason);
		return kpb_ct_apply_pass(ctx, p, ct, KPB_CNT_LOCAL_DNAT, reason);
#endif
	}
	if (p->ttl <= 1)
		return kpb_ttl_exceeded(ctx, p, reason);
	kpb_ct_refresh(ct, p);
	kpb_frag_record(p);
	if (ct->flags & KPB_CT_DSR)
		return kpb_dsr_encap(ctx, p, ct, reason);
	/* Translate straight from the map value: an LRU value stays valid while we run, and a
	 * concurrent refresh only touches fields we do not read. */
	return kpb_np_forward(ctx, p, ct, (ct->flags & KPB_CT_REPLY) ? KPB_CNT_REPLY_FWD : KPB_CNT_REMOTE_FWD,
			      reason);
}

/* A forward entry (of the map pair map4/map6) whose backend left lb_backends (the endpoint was
 * removed; ids are not reused for a grace period) is dropped so the packet selects again, as a
 * new flow: a TCP connection to the removed pod then gets a RST from the new backend instead of
 * silence. lb_backends is read only when the agent bumped kpb_gens.be since the entry last
 * checked. Returns true when it dropped the entry. */
static __always_inline bool kpb_ct_drop_gone_backend(void *map4, void *map6, const struct kpb_pkt *p,
						     struct kpb_ct_value *ct)
{
	union kpb_ct_key *k;
	__u32 gen, id = ct->backend_id;

	if (ct->flags & KPB_CT_REPLY)
		return false;
	gen = kpb_gen_be();
	if (ct->be_gen == gen)
		return false;
	if (bpf_map_lookup_elem(&lb_backends, &id)) {
		ct->be_gen = gen;
		return false;
	}
	k = kpb_ct_key_build(p);
	if (!k)
		return false;
	kpb_ct_remove(map4, map6, p->family, k);
	return true;
}

/* The general path's first step: parse the packet into the per-CPU scratch (*tp, its pkt).
 * Returns KPB_NP_CONTINUE, or the verdict, with *reason, of a packet that is no IP, of an L4
 * protocol we do not parse, or malformed (`malformed`: the verdict the hook gives those). */
static __always_inline int kpb_np_parse(kpb_ctx_t *ctx, struct kpb_np_tmp **tp, int malformed, __u32 *reason)
{
	struct kpb_np_tmp *tmp = kpb_np_tmp();

	if (!tmp) {
		*reason = KPB_CNT_ERROR;
		return CTX_DROP;
	}
	*tp = tmp;
	switch (kpb_parse(ctx, &tmp->pkt)) {
	case KPB_PARSE_OK:
		return KPB_NP_CONTINUE;
	case KPB_PARSE_NOT_IP:
		*reason = KPB_CNT_NOT_IP;
		return CTX_PASS;
	case KPB_PARSE_MALFORMED:
		*reason = KPB_CNT_MALFORMED;
		return malformed;
	default:
		*reason = KPB_CNT_UNSUPP_L4;
		return CTX_PASS;
	}
}

/* Can p be matched to a flow by its ports? Not when its protocol has none (*reason UNSUPP_L4),
 * when it is an SCTP fragment (its CRC32c covers bytes we do not see; SCTP avoids IP
 * fragmentation), or a later fragment whose first one we did not follow (*reason FRAGMENT). */
static __always_inline bool kpb_np_check_ports(struct kpb_pkt *p, __u32 *reason)
{
	if (!kpb_has_ports(p->proto)) {
		*reason = KPB_CNT_UNSUPP_L4;
		return false;
	}
	if ((p->proto == KPB_IPPROTO_SCTP && p->frag) || (p->frag == KPB_FRAG_LATER && !kpb_frag_ports(p))) {
		*reason = KPB_CNT_FRAGMENT;
		return false;
	}
	return true;
}

static __noinline int kpb_np_ingress(kpb_ctx_t *ctx, __u32 *reason)
{
	struct lb_service_value *svc = NULL;
	struct kpb_np_tmp *tmp;
	struct kpb_ct_value *ct;
	struct kpb_pkt *p;
	int ret = kpb_np_parse(ctx, &tmp, CTX_DROP, reason);

	if (ret != KPB_NP_CONTINUE)
		return ret;
	p = &tmp->pkt;
#if defined(KPB_CTX_SKB)
	if ((p->proto == KPB_IPPROTO_IPIP && p->family == KPB_AF_INET) ||
	    (p->proto == KPB_IPPROTO_IPV6 && p->family == KPB_AF_INET6)) {
		if (lb_is_node_addr(p->dst))
			return kpb_dsr_decap(ctx, p, reason);
	}
#endif
	if (p->proto == KPB_IPPROTO_ICMP || p->proto == KPB_IPPROTO_ICMPV6) {
		ret = kpb_np_icmp_ingress(ctx, p, reason);
		if (ret != KPB_NP_CONTINUE)
			return ret;
	}
	if (!kpb_np_check_ports(p, reason))
		return CTX_PASS;
	/* The lean path just looked this very tuple up and found nothing: no second lookup. */
	ct = tmp->ct_missed ? NULL : kpb_ct_lookup(p);
	tmp->ct_missed = 0;
	if (ct && !kpb_ct_drop_gone_backend(&kpb_ct4, &kpb_ct6, p, ct))
		return kpb_np_tracked(ctx, p, ct, reason);
	if (p->frag == KPB_FRAG_LATER) {
		/* Its flow ended between the first fragment and this one: nothing to follow. */
		*reason = KPB_CNT_FRAGMENT;
		return CTX_PASS;
	}
#if KPB_ABL(KPB_ABL_SVC_MEMO)
	{
		struct kpb_abl_svc *m = kpb_abl_svc(p);

		if (m)
			return kpb_np_new(ctx, p, &m->svc, &tmp->target, reason);
	}
#endif
	switch (kpb_svc_lookup(p, &svc)) {
	case KPB_SVC_FOUND:
		return kpb_np_new(ctx, p, svc, &tmp->target, reason);
	case KPB_SVC_UNKNOWN_PORT:
		*reason = KPB_CNT_VIP_UNKNOWN_PORT;
		return CTX_DROP;
	default:
		*reason = KPB_CNT_NOT_SERVICE;
		return CTX_PASS;
	}
}

#if defined(KPB_CTX_SKB)
/* tc egress: a local backend's reply leaves with the frontend as its source. Never drops what is
 * not ours: a packet we cannot parse here is the node's own business. The stack routed it
 * already, so its TTL is not ours to check. */
static __noinline int kpb_np_egress(kpb_ctx_t *ctx, __u32 *reason)
{
	struct kpb_np_tmp *tmp;
	struct kpb_ct_value *ct;
	struct kpb_pkt *p;
	int ret = kpb_np_parse(ctx, &tmp, CTX_PASS, reason);

	if (ret != KPB_NP_CONTINUE) {
		if (ret == CTX_PASS)
			*reason = KPB_CNT_NOT_SERVICE;
		return ret;
	}
	p = &tmp->pkt;
	if (p->proto == KPB_IPPROTO_ICMP || p->proto == KPB_IPPROTO_ICMPV6) {
		ret = kpb_np_icmp_egress(ctx, p, reason);
		if (ret != KPB_NP_CONTINUE)
			return ret;
	}
	if (!kpb_np_check_ports(p, reason)) {
		*reason = KPB_CNT_NOT_SERVICE;
		return CTX_PASS;
	}
	ct = kpb_ct_lookup(p);
	if (!ct || (ct->flags & (KPB_CT_LOCAL | KPB_CT_REPLY)) != (KPB_CT_LOCAL | KPB_CT_REPLY)) {
		*reason = KPB_CNT_NOT_SERVICE;
		return CTX_PASS;
	}
	return kpb_ct_apply_pass(ctx, p, ct, (ct->flags & KPB_CT_DSR_BACKEND) ? KPB_CNT_DSR_REPLY : KPB_CNT_REPLY_LOCAL,
				 reason);
}
#endif

#endif /* KPB_NODEPORT_H */
