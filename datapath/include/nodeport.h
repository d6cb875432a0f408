/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* nodeport.h: the north-south service datapath (NodePort, ExternalIPs, LoadBalancer IPs), one
 * implementation compiled into the XDP object and the tc object through ctx.h.
 *
 *   ingress (XDP or tc): tracked flow -> apply its conntrack entry; new flow to a service ->
 *     source ranges, backend selection, then
 *       local backend:  DNAT and hand to the stack (tc only; XDP passes such packets to tc),
 *       remote backend: DNAT + SNAT to a node address and port, FIB lookup, redirect;
 *     replies of remote backends (to a SNAT port) -> reverse SNAT + DNAT, FIB, redirect.
 *   egress (tc): replies of local backends -> source back to the frontend.
 *
 * XDP never needs the stack: whatever it cannot finish (local backend, no neighbour entry, no
 * route) it passes untouched and tc, seeing the same maps, finishes it. Each function returns a
 * verdict and sets *reason (enum kpb_counter) for the single counting exit of the entry point.
 * Include ctx.h, lb_maps.h, lb_select.h, counters.h, parse.h, conntrack.h, nat.h, svc.h first. */
#ifndef KPB_NODEPORT_H
#define KPB_NODEPORT_H

/* The two conntrack entries a new flow writes are built here, not on the 512-byte stack. */
struct kpb_np_scratch {
	struct kpb_ct_key fk, rk;
	struct kpb_ct_value fv, rv;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct kpb_np_scratch);
	__uint(max_entries, 1);
} kpb_np_scratch_map SEC(".maps");

static __always_inline struct kpb_np_scratch *kpb_np_scratch(void)
{
	__u32 zero = 0;
	struct kpb_np_scratch *s = bpf_map_lookup_elem(&kpb_np_scratch_map, &zero);

	if (s)
		__builtin_memset(s, 0, sizeof(*s));
	return s;
}

/* The backend chosen for a new flow, with the ids its conntrack entries record. */
struct kpb_target {
	struct lb_backend be;
	__u32 service_id;
	__u32 backend_id;
	__u32 ct_flags;        /* extra enum kpb_ct_flags for both entries (DSR backend side) */
};

struct kpb_fib {
	int ret;               /* BPF_FIB_LKUP_RET_* */
	__u32 ifindex;
	__u32 mtu;             /* with BPF_FIB_LKUP_RET_FRAG_NEEDED: the route's MTU */
	__u8 macs[12];         /* destination MAC, then source MAC: the Ethernet header's order */
	__u8 src[16];          /* source address the route prefers (with want_src) */
};

static __always_inline void kpb_fib_lookup(kpb_ctx_t *ctx, __u8 family, __u8 proto, __u16 l3_len,
					   const __u8 *src, const __u8 *dst, bool want_src,
					   struct kpb_fib *r)
{
	struct bpf_fib_lookup f = {};

	f.ifindex = ctx_ifindex(ctx);
	f.l4_protocol = proto;
	f.tot_len = l3_len;
	if (family == KPB_AF_INET) {
		f.family = KPB_AF_INET;
		__builtin_memcpy(&f.ipv4_src, src + 12, 4);
		__builtin_memcpy(&f.ipv4_dst, dst + 12, 4);
	} else {
		f.family = KPB_AF_INET6;
		__builtin_memcpy(f.ipv6_src, src, 16);
		__builtin_memcpy(f.ipv6_dst, dst, 16);
	}
	r->ret = bpf_fib_lookup(ctx, &f, sizeof(f), want_src ? BPF_FIB_LOOKUP_SRC : 0);
	r->ifindex = f.ifindex;
	r->mtu = f.mtu_result;
	__builtin_memcpy(r->macs, f.dmac, 6);
	__builtin_memcpy(r->macs + 6, f.smac, 6);
	if (family == KPB_AF_INET)
		kpb_v4_mapped(r->src, f.ipv4_src);
	else
		__builtin_memcpy(r->src, f.ipv6_src, 16);
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

/* Send a translated packet out where the FIB said. */
static __always_inline int kpb_fib_redirect(kpb_ctx_t *ctx, const struct kpb_fib *r, __u32 *reason)
{
#if defined(KPB_CTX_SKB)
	if (r->ret == BPF_FIB_LKUP_RET_NO_NEIGH)
		return bpf_redirect_neigh(r->ifindex, NULL, 0, 0);
#endif
	if (ctx_store(ctx, 0, r->macs, sizeof(r->macs)) < 0) {
		*reason = KPB_CNT_ERROR;
		return CTX_DROP;
	}
	return ctx_redirect(ctx, r->ifindex);
}

/* Translate per `v` and route the result ourselves (remote backend, or reply to a client). */
static __noinline int kpb_np_forward(kpb_ctx_t *ctx, struct kpb_pkt *p, const struct kpb_ct_value *v,
				   __u32 fwd_reason, __u32 *reason)
{
	struct kpb_fib fib;

	/* tot_len 0 makes tc's FIB lookup check the skb itself (GSO aware); XDP has no aggregates. */
	kpb_fib_lookup(ctx, p->family, p->proto, ctx_is_gso(ctx) ? 0 : p->l3_len, v->nat_src, v->nat_dst, false, &fib);
	if (!kpb_fib_usable(&fib)) {
#if defined(KPB_CTX_XDP)
		*reason = KPB_CNT_TO_TC;
		return CTX_PASS;
#else
		/* No route of ours: translate anyway and let the stack route (or refuse) it. */
		if (kpb_nat_apply(ctx, p, v) < 0) {
			*reason = KPB_CNT_ERROR;
			return CTX_DROP;
		}
		*reason = KPB_CNT_FIB_FAIL;
		return CTX_PASS;
#endif
	}
	if (p->ttl <= 1) {
		*reason = KPB_CNT_TTL;
		return CTX_PASS;
	}
	if (kpb_nat_apply(ctx, p, v) < 0 || kpb_dec_ttl(ctx, p) < 0) {
		*reason = KPB_CNT_ERROR;
		return CTX_DROP;
	}
	*reason = fwd_reason;
	return kpb_fib_redirect(ctx, &fib, reason);
}

#if defined(KPB_CTX_SKB)
/* New flow to a backend on this node: DNAT and hand to the stack; the reply entry lets tc egress
 * put the frontend back as the source. */
static __noinline int kpb_np_new_local(kpb_ctx_t *ctx, struct kpb_pkt *p, const struct kpb_target *t,
				      __u32 *reason)
{
	struct kpb_np_scratch *s = kpb_np_scratch();

	if (!s) {
		*reason = KPB_CNT_ERROR;
		return CTX_DROP;
	}

	__builtin_memcpy(s->rk.src, t->be.addr, 16);
	__builtin_memcpy(s->rk.dst, p->src, 16);
	s->rk.sport = t->be.port;
	s->rk.dport = p->sport;
	s->rk.proto = p->proto;
	__builtin_memcpy(s->rv.nat_src, p->dst, 16);
	__builtin_memcpy(s->rv.nat_dst, p->src, 16);
	s->rv.nat_sport = p->dport;
	s->rv.nat_dport = p->sport;
	s->rv.flags = KPB_CT_LOCAL | KPB_CT_REPLY | t->ct_flags;
	s->rv.service_id = t->service_id;
	s->rv.backend_id = t->backend_id;
	s->rv.expires = kpb_ct_deadline(kpb_ct_lifetime(p->proto, KPB_CT_NEW));

	kpb_ct_key_of(&s->fk, p);
	__builtin_memcpy(s->fv.nat_src, p->src, 16);
	__builtin_memcpy(s->fv.nat_dst, t->be.addr, 16);
	s->fv.nat_sport = p->sport;
	s->fv.nat_dport = t->be.port;
	s->fv.flags = KPB_CT_LOCAL | t->ct_flags;
	s->fv.service_id = t->service_id;
	s->fv.backend_id = t->backend_id;
	s->fv.expires = s->rv.expires;

	if (bpf_map_update_elem(&kpb_ct, &s->rk, &s->rv, BPF_ANY) < 0 ||
	    bpf_map_update_elem(&kpb_ct, &s->fk, &s->fv, BPF_ANY) < 0) {
		*reason = KPB_CNT_CT_FULL;
		return CTX_DROP;
	}
	if (kpb_nat_apply(ctx, p, &s->fv) < 0) {
		*reason = KPB_CNT_ERROR;
		return CTX_DROP;
	}
	*reason = KPB_CNT_LOCAL_DNAT;
	return CTX_PASS;
}
#endif

#include "dsr.h"

/* New flow to a backend on another node, SNAT mode: the source becomes a node address and a port
 * from the SNAT range so the reply comes back through us. */
static __noinline int kpb_np_new_snat(kpb_ctx_t *ctx, struct kpb_pkt *p, const struct kpb_target *t,
				     __u32 *reason)
{
	struct kpb_np_scratch *s = kpb_np_scratch();
	struct kpb_fib fib;
	__u8 snat[16];
	bool cfg = kpb_snat_addr_cfg(p->family, snat);

	if (!s) {
		*reason = KPB_CNT_ERROR;
		return CTX_DROP;
	}

	kpb_fib_lookup(ctx, p->family, p->proto, ctx_is_gso(ctx) ? 0 : p->l3_len, p->src, t->be.addr, !cfg, &fib);
	if (!kpb_fib_usable(&fib)) {
#if defined(KPB_CTX_XDP)
		*reason = KPB_CNT_TO_TC;
#else
		*reason = KPB_CNT_FIB_FAIL;
#endif
		return CTX_PASS;
	}
	if (p->ttl <= 1) {
		*reason = KPB_CNT_TTL;
		return CTX_PASS;
	}
	if (!cfg)
		__builtin_memcpy(snat, fib.src, 16);

	__builtin_memcpy(s->rk.src, t->be.addr, 16);
	__builtin_memcpy(s->rk.dst, snat, 16);
	s->rk.sport = t->be.port;
	s->rk.proto = p->proto;
	__builtin_memcpy(s->rv.nat_src, p->dst, 16);
	__builtin_memcpy(s->rv.nat_dst, p->src, 16);
	s->rv.nat_sport = p->dport;
	s->rv.nat_dport = p->sport;
	s->rv.flags = KPB_CT_REPLY | KPB_CT_SNAT;
	s->rv.service_id = t->service_id;
	s->rv.backend_id = t->backend_id;
	s->rv.expires = kpb_ct_deadline(kpb_ct_lifetime(p->proto, KPB_CT_NEW));
	if (kpb_snat_alloc(&s->rk, &s->rv, p->sport) < 0) {
		*reason = KPB_CNT_SNAT_EXHAUSTED;
		return CTX_DROP;
	}

	kpb_ct_key_of(&s->fk, p);
	__builtin_memcpy(s->fv.nat_src, snat, 16);
	__builtin_memcpy(s->fv.nat_dst, t->be.addr, 16);
	s->fv.nat_sport = s->rk.dport;
	s->fv.nat_dport = t->be.port;
	s->fv.flags = KPB_CT_REMOTE | KPB_CT_SNAT;
	s->fv.service_id = t->service_id;
	s->fv.backend_id = t->backend_id;
	s->fv.expires = s->rv.expires;
	if (bpf_map_update_elem(&kpb_ct, &s->fk, &s->fv, BPF_ANY) < 0) {
		bpf_map_delete_elem(&kpb_ct, &s->rk);
		*reason = KPB_CNT_CT_FULL;
		return CTX_DROP;
	}
	if (kpb_nat_apply(ctx, p, &s->fv) < 0 || kpb_dec_ttl(ctx, p) < 0) {
		*reason = KPB_CNT_ERROR;
		return CTX_DROP;
	}
	*reason = KPB_CNT_REMOTE_FWD;
	return kpb_fib_redirect(ctx, &fib, reason);
}

/* A service with nothing to send to: answer like a closed port (RST, ICMP port unreachable);
 * what cannot be answered is dropped and counted. An eTP=Local entry never answers: its empty
 * case (endpoints only elsewhere) is dropped before this, and a failure on it is dropped too, so
 * a client's load balancer steers by the health check instead of seeing a refusal. Out of line:
 * the answer needs stack room. */
static __noinline int kpb_np_refuse(kpb_ctx_t *ctx, struct kpb_pkt *p, __u32 svc_flags, __u32 *reason)
{
	int ret = -1;

	if (svc_flags & LB_SVC_ETP_LOCAL) {
		*reason = KPB_CNT_NO_BACKEND;
		return CTX_DROP;
	}
	if (p->proto == KPB_IPPROTO_TCP) {
		ret = kpb_reply_rst(ctx, p);
		*reason = KPB_CNT_RST_SENT;
	} else if (p->proto == KPB_IPPROTO_UDP) {
		ret = kpb_reply_icmp_err(ctx, p, 0);
		*reason = KPB_CNT_ICMP_SENT;
	}
	if (ret < 0) {
		*reason = KPB_CNT_NO_BACKEND;
		return CTX_DROP;
	}
	return ret;
}

/* First packet of a flow to a service: admission and backend choice. Returns KPB_NP_CONTINUE
 * with *t filled, or a final verdict. Kept out of line so its frame and the translating
 * function's frame are siblings under the entry point, not stacked (512-byte limit). */
#define KPB_NP_CONTINUE -1

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
	ret = lb_select_backend(svc, &aff, bpf_get_prandom_u32(), kpb_flow_hash(svc, p), &sel);
	/* eTP=Local with endpoints only on other nodes: kube-proxy drops ("has no local endpoints"),
	 * it does not reject (spec §5.7, §5.11). */
	if (ret == LB_SEL_NO_LOCAL_BACKENDS) {
		*reason = KPB_CNT_NO_LOCAL_BACKEND;
		return CTX_DROP;
	}
	if (ret != LB_SEL_OK || !sel.backend)
		return kpb_np_refuse(ctx, p, svc->flags, reason);
	t->be = *sel.backend;
	t->service_id = svc->service_id;
	t->backend_id = sel.backend_id;
	/* A backend of the other family cannot be reached without NAT46/64, which we do not do. */
	if (kpb_is_v4_mapped(t->be.addr) != (p->family == KPB_AF_INET))
		return kpb_np_refuse(ctx, p, svc->flags, reason);
	return KPB_NP_CONTINUE;
}

static __always_inline int kpb_np_new(kpb_ctx_t *ctx, struct kpb_pkt *p, const struct lb_service_value *svc,
				      __u32 *reason)
{
	struct kpb_target t = {};
	int ret = kpb_np_select(ctx, p, svc, &t, reason);

	if (ret != KPB_NP_CONTINUE)
		return ret;
	if (t.be.flags & LB_BE_LOCAL) {
#if defined(KPB_CTX_XDP)
		*reason = KPB_CNT_TO_TC;
		return CTX_PASS;
#else
		return kpb_np_new_local(ctx, p, &t, reason);
#endif
	}
	if (kpb_use_dsr(svc, p))
		return kpb_np_new_dsr(ctx, p, &t, reason);
	return kpb_np_new_snat(ctx, p, &t, reason);
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
		kpb_ct_refresh(ct, p);
		if (kpb_nat_apply(ctx, p, ct) < 0) {
			*reason = KPB_CNT_ERROR;
			return CTX_DROP;
		}
		*reason = KPB_CNT_LOCAL_DNAT;
		return CTX_PASS;
#endif
	}
	if (ct->flags & KPB_CT_DSR) {
		kpb_ct_refresh(ct, p);
		return kpb_dsr_encap(ctx, p, ct->tunnel_dst, reason);
	}
	/* Translate straight from the map value: an LRU value stays valid while we run, and a
	 * concurrent refresh only touches fields we do not read. */
	kpb_ct_refresh(ct, p);
	return kpb_np_forward(ctx, p, ct, (ct->flags & KPB_CT_REPLY) ? KPB_CNT_REPLY_FWD : KPB_CNT_REMOTE_FWD,
			      reason);
}

/* A forward entry whose backend left lb_backends (the endpoint was removed; ids are not reused
 * for a grace period) is dropped so the packet selects again, as a new flow: a TCP connection to
 * the removed pod then gets a RST from the new backend instead of silence. */
static __always_inline bool kpb_ct_backend_gone(const struct kpb_pkt *p, const struct kpb_ct_value *ct)
{
	struct kpb_ct_key k;
	__u32 id = ct->backend_id;

	if (ct->flags & KPB_CT_REPLY)
		return false;
	if (bpf_map_lookup_elem(&lb_backends, &id))
		return false;
	kpb_ct_key_of(&k, p);
	bpf_map_delete_elem(&kpb_ct, &k);
	return true;
}

static __always_inline int kpb_np_ingress(kpb_ctx_t *ctx, __u32 *reason)
{
	struct lb_service_value *svc = NULL;
	struct kpb_ct_value *ct;
	struct kpb_pkt p;

	switch (kpb_parse(ctx, &p)) {
	case KPB_PARSE_OK:
		break;
	case KPB_PARSE_NOT_IP:
		*reason = KPB_CNT_NOT_IP;
		return CTX_PASS;
	case KPB_PARSE_FRAG:
		*reason = KPB_CNT_FRAGMENT;
		return CTX_PASS;
	case KPB_PARSE_MALFORMED:
		*reason = KPB_CNT_MALFORMED;
		return CTX_DROP;
	default:
		*reason = KPB_CNT_UNSUPP_L4;
		return CTX_PASS;
	}
#if defined(KPB_CTX_SKB)
	if ((p.proto == KPB_IPPROTO_IPIP && p.family == KPB_AF_INET) ||
	    (p.proto == KPB_IPPROTO_IPV6 && p.family == KPB_AF_INET6)) {
		if (lb_is_node_addr(p.dst))
			return kpb_dsr_decap(ctx, &p, reason);
	}
#endif
	if (p.proto == KPB_IPPROTO_ICMP || p.proto == KPB_IPPROTO_ICMPV6) {
		int ret = kpb_np_icmp_ingress(ctx, &p, reason);

		if (ret != KPB_NP_CONTINUE)
			return ret;
	}
	if (p.proto != KPB_IPPROTO_TCP && p.proto != KPB_IPPROTO_UDP) {
		*reason = KPB_CNT_UNSUPP_L4;
		return CTX_PASS;
	}
	ct = kpb_ct_lookup(&p);
	if (ct && !kpb_ct_backend_gone(&p, ct))
		return kpb_np_tracked(ctx, &p, ct, reason);
	switch (kpb_svc_lookup(&p, &svc)) {
	case KPB_SVC_FOUND:
		return kpb_np_new(ctx, &p, svc, reason);
	case KPB_SVC_UNKNOWN_PORT:
		*reason = KPB_CNT_VIP_UNKNOWN_PORT;
		return CTX_DROP;
	default:
		*reason = KPB_CNT_NOT_SERVICE;
		return CTX_PASS;
	}
}

#if defined(KPB_CTX_SKB)
/* tc egress: a local backend's reply leaves with the frontend as its source. Never drops: a
 * packet we cannot parse here is the node's own business. */
static __always_inline int kpb_np_egress(kpb_ctx_t *ctx, __u32 *reason)
{
	struct kpb_ct_value *ct;
	struct kpb_pkt p;

	if (kpb_parse(ctx, &p) != KPB_PARSE_OK) {
		*reason = KPB_CNT_NOT_SERVICE;
		return CTX_PASS;
	}
	if (p.proto == KPB_IPPROTO_ICMP || p.proto == KPB_IPPROTO_ICMPV6) {
		int ret = kpb_np_icmp_egress(ctx, &p, reason);

		if (ret != KPB_NP_CONTINUE)
			return ret;
	}
	if (p.proto != KPB_IPPROTO_TCP && p.proto != KPB_IPPROTO_UDP) {
		*reason = KPB_CNT_NOT_SERVICE;
		return CTX_PASS;
	}
	ct = kpb_ct_lookup(&p);
	if (!ct || (ct->flags & (KPB_CT_LOCAL | KPB_CT_REPLY)) != (KPB_CT_LOCAL | KPB_CT_REPLY)) {
		*reason = KPB_CNT_NOT_SERVICE;
		return CTX_PASS;
	}
	kpb_ct_refresh(ct, &p);
	if (kpb_nat_apply(ctx, &p, ct) < 0) {
		*reason = KPB_CNT_ERROR;
		return CTX_DROP;
	}
	*reason = (ct->flags & KPB_CT_DSR_BACKEND) ? KPB_CNT_DSR_REPLY : KPB_CNT_REPLY_LOCAL;
	return CTX_PASS;
}
#endif

#endif /* KPB_NODEPORT_H */
