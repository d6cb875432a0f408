/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* pod.h: per-packet service translation for the node's pods, used when the socket LB is limited
 * to the node's own network namespace (--bpf-socket-lb=host-namespace-only). A pod's packets then
 * reach the node still addressed to the frontend (ClusterIP, NodePort on a node address,
 * ExternalIP, LB IP), so the pod itself, and a service mesh inside it, keeps seeing that frontend
 * as its peer. tc programs on the node side of the pod interfaces (pod.bpf.c; the agent finds the
 * interfaces by kube-proxy's --detect-local-mode) translate them:
 *
 *   ingress (from the pod): a tracked flow's packet gets its entry's translation. A new flow to a
 *     service selects a backend, with the socket LB's lookup order (internal scope first, so iTP
 *     applies and eTP=Local falls back to the cluster set; NodePorts on node addresses; a known VIP
 *     on an unknown port is refused), and writes a forward and a reply entry:
 *       local backend (a pod of this node): DNAT and redirect straight to it (next hop cached in
 *         the entry, bpf_fib_lookup on a miss); its replies, seen at the ingress of its own
 *         interface, go straight back the same way;
 *       the pod itself (hairpin): DNAT, and SNAT to the frontend address (a pod drops packets
 *         from its own address), sent back out of the interface it came in by;
 *       remote backend, or one at a node address (host network): DNAT and hand to the stack,
 *         which routes it; its reply reaches the pod through the node and is translated at the
 *         pod interface's egress.
 *   egress (to the pod): replies of remote and host-network backends get the frontend back.
 * The pod's source address is kept (kube-proxy does not masquerade pod traffic to a ClusterIP,
 * spec §5.13) except for hairpin; its source port changes only when the translated tuple would
 * clash with another flow's (two sockets of a pod sharing a port toward two frontends with one
 * backend), as netfilter's NAT clash resolution does. Both directions of a flow to a local backend
 * bypass the stack, so netfilter on the node sees either the whole flow or none of it.
 *
 * Entries live in maps of their own, kpb_pod_ct4/kpb_pod_ct6, keyed and valued like conntrack.h's
 * (so the lifetimes, the agent's stale-UDP cleanup and `inspect conntrack` apply unchanged): a
 * remote backend's reply to a pod crosses the node's external device, where an entry in kpb_ct*
 * would make the north-south programs translate and route it themselves.
 *
 * Which packets are a pod's (kpb_pod_cfg, written by the agent): for --detect-local-mode
 * ClusterCIDR and NodeCIDR the programs run on every non-external Ethernet device of the node and
 * translate only sources (ingress) or destinations (egress) inside that family's CIDR, the same
 * test kube-proxy's rules make; a family without a CIDR translates nothing (kube-proxy's detector
 * is then a no-op). For BridgeInterface and InterfaceNamePrefix the interfaces themselves are the
 * test and every packet on them counts.
 * Include north_south.h and sock_lb.h first. */
#ifndef KPB_POD_H
#define KPB_POD_H

/* struct kpb_ct_value.flags bits of the pod maps only, above conntrack.h's enum kpb_ct_flags. The
 * conntrack.h bits keep their meaning: LOCAL/REMOTE (where the backend is), REPLY (the entry of
 * the backend's direction), SNAT (the source changes), HOST_BACKEND (a node address). */
#define KPB_POD_CT_ROUTE (1 << 15)   /* deliver by redirect to the cached next hop, not the stack */
#define KPB_POD_CT_HAIRPIN (1 << 14) /* the pod reached itself; its source became the frontend */

/* Source ports tried for a new flow before it is dropped (KPB_CNT_SNAT_EXHAUSTED): its own, then
 * random ones of the SNAT range (kpb_snat_port_min..max). */
#define KPB_POD_PORT_TRIES 4

/* key: struct kpb_ct4_key (network order, the tuple as the packet shows it at the pod interface);
 * value: struct kpb_ct_value (what it becomes). Writer: pod programs; the agent deletes entries of
 * UDP flows to backends that stopped serving. Sized by --bpf-map-conntrack. */
KPB_CT_LRU_MAP(kpb_pod_ct4, struct kpb_ct4_key);

/* key: struct kpb_ct6_key (network order); value: struct kpb_ct_value. As kpb_pod_ct4. */
KPB_CT_LRU_MAP(kpb_pod_ct6, struct kpb_ct6_key);

enum kpb_pod_cfg_flags {
	KPB_POD_V4_CIDR = 1 << 0, /* IPv4 pods are the addresses in net4/mask4 */
	KPB_POD_V4_NONE = 1 << 1, /* no IPv4 packet is a pod's */
	KPB_POD_V6_CIDR = 1 << 2, /* IPv6 pods are the addresses in net6/mask6 */
	KPB_POD_V6_NONE = 1 << 3, /* no IPv6 packet is a pod's */
};

/* Neither flag of a family: every packet of that family on a pod interface is a pod's. */
struct kpb_pod_cfg {
	__u32 flags;           /* enum kpb_pod_cfg_flags */
	__be32 net4;           /* network order, already masked */
	__be32 mask4;
	__u32 pad;
	__u8 net6[16];
	__u8 mask6[16];
};

/* key: 0; value: struct kpb_pod_cfg. Writer: the agent, from --detect-local-mode and its CIDRs,
 * before it attaches the programs. An array lookup with a constant key is inlined. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct kpb_pod_cfg);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kpb_pod_cfg SEC(".maps");

/* Counters of the two pod hooks: index = hook * KPB_POD_CNT_MAX + reason, where reason is one of
 * counters.h's enum kpb_counter (shared reasons) or one of the pod's own below. */
enum kpb_pod_hook {
	KPB_POD_HOOK_INGRESS = 0,
	KPB_POD_HOOK_EGRESS = 1,
	KPB_POD_HOOK_MAX = 2,
};

enum kpb_pod_counter {
	KPB_POD_CNT_HAIRPIN = KPB_CNT_MAX + 0,     /* a pod reached itself: translated and sent back to it */
	KPB_POD_CNT_NOT_POD = KPB_CNT_MAX + 1,     /* not a pod's address (detect-local CIDR): passed */
	KPB_POD_CNT_UNALLOCATED = KPB_CNT_MAX + 2, /* in a service CIDR, not a service address: dropped */
	KPB_POD_CNT_BAD_SCOPE = KPB_CNT_MAX + 3,   /* an eTP=Local frontend without its internal twin: dropped */
	KPB_POD_CNT_MAX = KPB_CNT_MAX + 8,
};

/* key: hook * KPB_POD_CNT_MAX + reason; value: struct kpb_counter_slot (packets by verdict, as
 * counters.h's kpb_np_counters). Per-CPU, written by the pod programs without atomics (only this
 * CPU writes its slot); read by the agent for metrics. */
KPB_COUNTER_MAP(kpb_pod_counters, KPB_POD_HOOK_MAX * KPB_POD_CNT_MAX);

static __always_inline int kpb_pod_count_exit(__u32 hook, int verdict, __u32 reason)
{
	return kpb_count_verdict(&kpb_pod_counters, KPB_POD_CNT_MAX, hook, verdict, reason);
}

/* --- Which packets are a pod's. */

static __always_inline struct kpb_pod_cfg *kpb_pod_cfg_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&kpb_pod_cfg, &zero);
}

static __always_inline bool kpb_pod_addr4(__be32 a)
{
	struct kpb_pod_cfg *c = kpb_pod_cfg_get();

	if (!c || (c->flags & KPB_POD_V4_NONE))
		return false;
	return !(c->flags & KPB_POD_V4_CIDR) || (a & c->mask4) == c->net4;
}

static __always_inline bool kpb_pod_addr6(const __u8 *a)
{
	struct kpb_pod_cfg *c = kpb_pod_cfg_get();
	const __u32 *w, *n, *m;

	if (!c || (c->flags & KPB_POD_V6_NONE))
		return false;
	if (!(c->flags & KPB_POD_V6_CIDR))
		return true;
	w = (const __u32 *)a;
	n = (const __u32 *)c->net6;
	m = (const __u32 *)c->mask6;
	return (((w[0] & m[0]) ^ n[0]) | ((w[1] & m[1]) ^ n[1]) | ((w[2] & m[2]) ^ n[2]) | ((w[3] & m[3]) ^ n[3])) == 0;
}

/* Is the 16-byte address (IPv4 v4-mapped) of a packet of `family` a pod's? */
static __always_inline bool kpb_pod_addr(__u8 family, const __u8 *a)
{
	if (family == KPB_AF_INET)
		return kpb_pod_addr4(*(const __be32 *)(a + 12));
	return kpb_pod_addr6(a);
}

/* --- The pod conntrack maps, through conntrack.h's helpers for a map pair. */

static __always_inline struct kpb_ct_value *kpb_pod_ct_get(__u8 family, const union kpb_ct_key *k)
{
	return kpb_ct_find(&kpb_pod_ct4, &kpb_pod_ct6, family, k);
}

static __always_inline long kpb_pod_ct_put(__u8 family, const union kpb_ct_key *k, const struct kpb_ct_value *v, __u64 flags)
{
	return kpb_ct_store(&kpb_pod_ct4, &kpb_pod_ct6, family, k, v, flags);
}

static __always_inline void kpb_pod_ct_del(__u8 family, const union kpb_ct_key *k)
{
	kpb_ct_remove(&kpb_pod_ct4, &kpb_pod_ct6, family, k);
}

/* The live entry for this tuple, or NULL. The key is built in kpb_keys_map's slot 0. */
static __always_inline struct kpb_ct_value *kpb_pod_ct_lookup(const struct kpb_pkt *p)
{
	union kpb_ct_key *k = kpb_ct_key_build(p);
	struct kpb_ct_value *v;

	if (!k)
		return NULL;
	v = kpb_pod_ct_get(p->family, k);
	if (!v || !kpb_ct_live(v, kpb_now()))
		return NULL;
	return v;
}

/* The reason a tracked packet is counted under, from its entry. */
static __always_inline __u32 kpb_pod_reason(const struct kpb_ct_value *v)
{
	if (v->flags & KPB_POD_CT_HAIRPIN)
		return KPB_POD_CNT_HAIRPIN;
	if (v->flags & KPB_CT_REPLY)
		return (v->flags & KPB_POD_CT_ROUTE) ? KPB_CNT_REPLY_LOCAL : KPB_CNT_REPLY_FWD;
	return (v->flags & KPB_POD_CT_ROUTE) ? KPB_CNT_LOCAL_DNAT : KPB_CNT_REMOTE_FWD;
}

/* --- Service lookup for a pod's new packet. */

enum kpb_pod_svc_ret {
	KPB_POD_SVC_NONE = 0,      /* not a service address: pass */
	KPB_POD_SVC_FOUND,
	KPB_POD_SVC_UNKNOWN_PORT,  /* a service address on a port no service uses: refuse */
	KPB_POD_SVC_BAD_SCOPE,     /* inconsistent maps: drop (fail closed) */
	KPB_POD_SVC_UNALLOCATED,   /* in a service CIDR, no service's: drop */
};

/* Step 1 of the socket LB's lookup (sock.bpf.c): internal scope, then external; an external entry
 * flagged LB_SVC_TWO_SCOPES without its internal twin is inconsistent. */
static __always_inline struct lb_service_value *kpb_pod_frontend(struct lb_service_key *k, bool *bad_scope)
{
	struct lb_service_value *v;

	k->scope = LB_SCOPE_INTERNAL;
	v = bpf_map_lookup_elem(&lb_services, k);
	if (v)
		return v;
	k->scope = LB_SCOPE_EXTERNAL;
	v = bpf_map_lookup_elem(&lb_services, k);
	if (v && (v->flags & LB_SVC_TWO_SCOPES)) {
		*bad_scope = true;
		return NULL;
	}
	return v;
}

/* The frontend p addresses (out of line: its keys stay off the general path's frame). The VIP marker (one per service address) is looked up first: it is
 * the one lookup that tells most packets of pod-to-pod and pod-to-world traffic that they are
 * not ours; a node address then may be a NodePort; an address of a service CIDR that is neither is
 * an unallocated ClusterIP, dropped like kube-proxy's nftables mode does. */
static __noinline int kpb_pod_svc_lookup(const struct kpb_pkt *p, struct lb_service_value **out)
{
	struct lb_service_key k = { .scope = LB_SCOPE_EXTERNAL };
	struct lb_service_value *v;
	bool bad_scope = false, vip;

	kpb_copy16(k.addr, p->dst);
	v = bpf_map_lookup_elem(&lb_services, &k);
	vip = v && (v->flags & LB_SVC_VIP_MARKER);
	k.port = p->dport;
	k.proto = p->proto;
	if (vip) {
		*out = kpb_pod_frontend(&k, &bad_scope);
		if (*out)
			return KPB_POD_SVC_FOUND;
		if (bad_scope)
			return KPB_POD_SVC_BAD_SCOPE;
	}
	if (lb_is_node_addr(p->dst)) {
		lb_set_wildcard(k.addr, p->family == KPB_AF_INET);
		*out = kpb_pod_frontend(&k, &bad_scope);
		if (*out && ((*out)->flags & LB_SVC_NODEPORT))
			return KPB_POD_SVC_FOUND;
		if (bad_scope)
			return KPB_POD_SVC_BAD_SCOPE;
		return vip ? KPB_POD_SVC_UNKNOWN_PORT : KPB_POD_SVC_NONE;
	}
	if (vip)
		return KPB_POD_SVC_UNKNOWN_PORT;
	return lb_in_service_cidr(p->dst) ? KPB_POD_SVC_UNALLOCATED : KPB_POD_SVC_NONE;
}

/* --- A new flow. */

/* Write the reply entry s->rk -> s->rv, keeping the tuple the backend will see unique: the pod's
 * own source port first, then random ports of the SNAT range, at most KPB_POD_PORT_TRIES. A taken
 * key is reused when its entry has expired or belongs to this same flow (a retransmitted first
 * packet after its forward entry went). The port chosen is the forward entry's nat_sport.
 * Returns 0, or -1 when every port was taken. */
static __always_inline int kpb_pod_reserve(__u8 family, struct kpb_np_scratch *s, __u32 now)
{
	__u32 min = kpb_snat_port_min, max = kpb_snat_port_max;
	struct kpb_ct_value *old;
	__be16 port = s->fv.nat_sport;
	int i;

#pragma unroll
	for (i = 0; i < KPB_POD_PORT_TRIES; i++) {
		s->fv.nat_sport = port;
		kpb_rk_set_port(family, &s->rk, port);
		if (kpb_pod_ct_put(family, &s->rk, &s->rv, BPF_NOEXIST) == 0)
			return 0;
		old = kpb_pod_ct_get(family, &s->rk);
		if (old && (!kpb_ct_live(old, now) ||
			    (old->nat_sport == s->rv.nat_sport && old->nat_dport == s->rv.nat_dport &&
			     kpb_addr_eq(old->nat_src, s->rv.nat_src) && kpb_addr_eq(old->nat_dst, s->rv.nat_dst)))) {
			if (kpb_pod_ct_put(family, &s->rk, &s->rv, BPF_ANY) == 0)
				return 0;
		}
		if (max < min)
			return -1;
		port = bpf_htons((__u16)(min + bpf_get_prandom_u32() % (max - min + 1)));
	}
	return -1;
}

/* First packet of a flow from a pod to a service, whose backend kpb_np_select chose into *t: write
 * both entries, translate, deliver. Separate from the selection so their frames are siblings under
 * the general path, not stacked. */
static __noinline int kpb_pod_new(kpb_ctx_t *ctx, struct kpb_pkt *p, const struct kpb_target *t, __u32 *reason)
{
	struct kpb_np_scratch *s;
	struct kpb_ct_value *v;
	__u32 now = kpb_now();
	__u16 flags;
	bool hairpin;

	hairpin = kpb_addr_eq(t->be.addr, p->src);
	if (!(t->be.flags & LB_BE_LOCAL))
		flags = KPB_CT_REMOTE;
	else if (lb_is_node_addr(t->be.addr))
		flags = KPB_CT_LOCAL | KPB_CT_HOST_BACKEND;
	else
		flags = KPB_CT_LOCAL | KPB_POD_CT_ROUTE;
	/* A pod backend is hairpin only on this node: a remote "self" cannot be. */
	if (hairpin)
		flags = KPB_CT_LOCAL | KPB_POD_CT_ROUTE | KPB_POD_CT_HAIRPIN | KPB_CT_SNAT;
	if ((flags & KPB_POD_CT_ROUTE) && p->ttl <= 1)
		return kpb_ttl_exceeded(ctx, p, reason);

	s = kpb_np_scratch();
	if (!s) {
		*reason = KPB_CNT_ERROR;
		return CTX_DROP;
	}
	kpb_ct_key_make(&s->fk, p->family, p->src, p->dst, p->sport, p->dport, p->proto);
	kpb_copy16(s->fv.nat_src, hairpin ? p->dst : p->src);
	kpb_copy16(s->fv.nat_dst, t->be.addr);
	s->fv.nat_sport = p->sport;
	s->fv.nat_dport = t->be.port;
	s->fv.flags = flags;
	s->fv.service_id = t->service_id;
	s->fv.backend_id = t->backend_id;
	s->fv.be_gen = kpb_gen_be();
	s->fv.expires = kpb_ct_deadline(now, p->proto, KPB_CT_NEW);

	kpb_ct_key_make(&s->rk, p->family, t->be.addr, s->fv.nat_src, t->be.port, p->sport, p->proto);
	kpb_copy16(s->rv.nat_src, p->dst);
	kpb_copy16(s->rv.nat_dst, p->src);
	s->rv.nat_sport = p->dport;
	s->rv.nat_dport = p->sport;
	s->rv.flags = flags | KPB_CT_REPLY;
	s->rv.service_id = t->service_id;
	s->rv.backend_id = t->backend_id;
	s->rv.expires = s->fv.expires;

	if (kpb_pod_reserve(p->family, s, now) < 0) {
		*reason = KPB_CNT_SNAT_EXHAUSTED;
		return CTX_DROP;
	}
	if (s->fv.nat_sport != p->sport)
		s->fv.flags |= KPB_CT_SNAT;
	if (kpb_pod_ct_put(p->family, &s->fk, &s->fv, BPF_ANY) < 0) {
		kpb_pod_ct_del(p->family, &s->rk);
		*reason = KPB_CNT_CT_FULL;
		return CTX_DROP;
	}
	kpb_frag_record(p);
	if (!(flags & KPB_POD_CT_ROUTE))
		return kpb_nat_pass(ctx, p, &s->fv, kpb_pod_reason(&s->fv), reason);
	/* Route from the map's own entry, so the next hop the FIB gives is cached for the flow. */
	v = kpb_pod_ct_get(p->family, &s->fk);
	if (!v)
		v = &s->fv;
	return kpb_np_forward(ctx, p, v, kpb_pod_reason(v), reason);
}

/* A packet of a tracked flow. Ingress may route it (ROUTE entries); egress only hands it on. */
static __always_inline int kpb_pod_tracked(kpb_ctx_t *ctx, struct kpb_pkt *p, struct kpb_ct_value *ct, bool egress,
					   __u32 *reason)
{
	bool route = !egress && (ct->flags & KPB_POD_CT_ROUTE);

	if (route && p->ttl <= 1)
		return kpb_ttl_exceeded(ctx, p, reason);
	kpb_ct_refresh(ct, p);
	kpb_frag_record(p);
	if (route)
		return kpb_np_forward(ctx, p, ct, kpb_pod_reason(ct), reason);
	if (kpb_nat_rewrite(ctx, p, ct, false) < 0) {
		*reason = KPB_CNT_ERROR;
		return CTX_DROP;
	}
	*reason = kpb_pod_reason(ct);
	return CTX_PASS;
}

/* An ICMP error quoting a tracked flow's packet (icmp.h explains the rewrite). At egress: an error
 * about a pod's packet to a remote backend (port unreachable, packet too big) gets the frontend
 * back in its quote and, when the backend sent it, as its source. At ingress: a local backend's
 * error goes straight back to the client pod, as its replies do; a pod's error about a reply it
 * received goes to the backend. Returns KPB_NP_CONTINUE when it is not ours. */
static __noinline int kpb_pod_icmp(kpb_ctx_t *ctx, struct kpb_pkt *p, bool egress, __u32 *reason)
{
	struct kpb_np_tmp *tmp = kpb_np_tmp();
	struct kpb_icmp_quote *q = kpb_icmp_read(ctx, p);
	struct kpb_ct_value *v;
	bool route;

	if (!tmp || !q)
		return KPB_NP_CONTINUE;
	v = kpb_pod_ct_lookup(&q->r);
	if (!v || (egress && !(v->flags & KPB_CT_REPLY)))
		return KPB_NP_CONTINUE;
	route = !egress && (v->flags & KPB_POD_CT_ROUTE) && kpb_icmp_routable(ctx, p, v, &tmp->fib);
	*reason = KPB_CNT_ICMP_XLATE;
	return kpb_icmp_send(ctx, p, q, v, route, &tmp->fib, reason);
}

/* The general path of both hooks: everything the lean one (below) leaves, SCTP among it (its CRC32c
 * is fixed by nat.h's rewrite, sctp.h). */
static __noinline int kpb_pod_general(kpb_ctx_t *ctx, bool egress, __u32 *reason)
{
	struct lb_service_value *svc = NULL;
	struct kpb_np_tmp *tmp;
	struct kpb_ct_value *ct;
	struct kpb_pkt *p;
	/* A malformed packet the pod sends is dropped like the north-south path drops it; what the
	 * node sends to the pod is the node's business. */
	int ret = kpb_np_parse(ctx, &tmp, egress ? CTX_PASS : CTX_DROP, reason);

	if (ret != KPB_NP_CONTINUE)
		return ret;
	p = &tmp->pkt;
	if (!kpb_pod_addr(p->family, egress ? p->dst : p->src)) {
		*reason = KPB_POD_CNT_NOT_POD;
		return CTX_PASS;
	}
	if (p->proto == KPB_IPPROTO_ICMP || p->proto == KPB_IPPROTO_ICMPV6) {
		ret = kpb_pod_icmp(ctx, p, egress, reason);
		if (ret != KPB_NP_CONTINUE)
			return ret;
	}
	if (!kpb_np_check_ports(p, reason))
		return CTX_PASS;
	ct = kpb_pod_ct_lookup(p);
	if (egress) {
		if (!ct || !(ct->flags & KPB_CT_REPLY)) {
			*reason = KPB_CNT_NOT_SERVICE;
			return CTX_PASS;
		}
		return kpb_pod_tracked(ctx, p, ct, true, reason);
	}
	if (ct && !kpb_ct_drop_gone_backend(&kpb_pod_ct4, &kpb_pod_ct6, p, ct))
		return kpb_pod_tracked(ctx, p, ct, false, reason);
	if (p->frag == KPB_FRAG_LATER) {
		*reason = KPB_CNT_FRAGMENT;
		return CTX_PASS;
	}
	switch (kpb_pod_svc_lookup(p, &svc)) {
	case KPB_POD_SVC_FOUND: {
		struct kpb_target *t = &tmp->target;

		if (!svc) {
			*reason = KPB_CNT_ERROR;
			return CTX_DROP;
		}
		__builtin_memset(t, 0, sizeof(*t));
		ret = kpb_np_select(ctx, p, svc, t, reason);
		if (ret == KPB_NP_REFUSE)
			return kpb_np_refuse(ctx, p, svc->flags, reason);
		if (ret != KPB_NP_CONTINUE)
			return ret;
		return kpb_pod_new(ctx, p, t, reason);
	}
	case KPB_POD_SVC_UNKNOWN_PORT:
		/* kube-proxy's nftables mode rejects, and the socket LB answers ECONNREFUSED. */
		return kpb_np_refuse(ctx, p, 0, reason);
	case KPB_POD_SVC_BAD_SCOPE:
		*reason = KPB_POD_CNT_BAD_SCOPE;
		return CTX_DROP;
	case KPB_POD_SVC_UNALLOCATED:
		*reason = KPB_POD_CNT_UNALLOCATED;
		return CTX_DROP;
	default:
		*reason = KPB_CNT_NOT_SERVICE;
		return CTX_PASS;
	}
}

/* --- The lean path: the common packet of a tracked flow, as fastpath.h's for the north-south
 * hooks: IPv4 without options or IPv6 without extension headers, TCP without SYN, FIN or RST on an
 * established entry, or UDP; not a fragment; in the linear part. It also answers, without the
 * general path, the commonest packet of all: a plain one that is no pod's, or of no tracked flow at
 * egress. The NAT itself is nat.h's kpb_nat_rewrite, on a packet description filled from the
 * headers (no parse). */

#define KPB_POD_FAST_MISS -1   /* leave it to the general path */
#define KPB_POD_FAST_UNTRACKED -2 /* ingress: plain packet, no entry: a new flow, or not a service's */

/* Checks once the entry is found: whether the lean path may translate with it, and how. */
static __always_inline int kpb_pod_fast_check(kpb_ctx_t *ctx, struct kpb_ct_value *v, struct kpb_pkt *p, bool egress)
{
	bool route = !egress && (v->flags & KPB_POD_CT_ROUTE);

	if (egress && !(v->flags & KPB_CT_REPLY))
		return KPB_POD_FAST_MISS;
	if (!kpb_ct_live(v, kpb_now()))
		return KPB_POD_FAST_MISS;
	if (p->proto == KPB_IPPROTO_TCP && v->tcp_state != KPB_CT_ESTABLISHED)
		return KPB_POD_FAST_MISS;
	if (!(v->flags & KPB_CT_REPLY) && v->be_gen != kpb_gen_be())
		return KPB_POD_FAST_MISS;
	if (route && (p->ttl <= 1 || !kpb_nh_valid(ctx, &v->nh, kpb_gen_nh(), p->l3_len)))
		return KPB_POD_FAST_MISS;
	return route;
}

/* Apply entry v (checked) to the packet p describes. */
static __always_inline int kpb_pod_fast_apply(kpb_ctx_t *ctx, struct kpb_ct_value *v, struct kpb_pkt *p, int route,
					      __u32 *reason)
{
	kpb_ct_refresh(v, p);
	if (kpb_nat_rewrite(ctx, p, v, route) < 0) {
		*reason = KPB_CNT_ERROR;
		return CTX_DROP;
	}
	*reason = kpb_pod_reason(v);
	return route ? kpb_nh_send(ctx, &v->nh, reason) : CTX_PASS;
}

/* The L4 part of the lean path's checks, for an L4 header at `off` of an IP packet of l3_len bytes
 * whose IP header is `iph` bytes. Fills proto's ports and flags into p; false: not lean. */
static __always_inline bool kpb_pod_fast_l4(kpb_ctx_t *ctx, struct kpb_pkt *p, __u32 iph)
{
	if (p->proto == KPB_IPPROTO_TCP) {
		__u8 *th = ctx_ptr(ctx, KPB_ETH_HLEN + iph, 20);

		if (!th || (th[13] & (KPB_TCP_SYN | KPB_TCP_FIN | KPB_TCP_RST)) || th[12] < 0x50 ||
		    iph + (th[12] >> 4) * 4 > p->l3_len)
			return false;
		p->sport = *(__be16 *)th;
		p->dport = *(__be16 *)(th + 2);
		p->tcp_flags = th[13];
		return true;
	}
	if (p->proto == KPB_IPPROTO_UDP) {
		__be16 *uh = ctx_ptr(ctx, KPB_ETH_HLEN + iph, 8);

		if (!uh || p->l3_len < iph + 8)
			return false;
		p->sport = uh[0];
		p->dport = uh[1];
		p->tcp_flags = 0;
		return true;
	}
	return false;
}

static __always_inline int kpb_pod_fast4(kpb_ctx_t *ctx, struct kpb_pkt *p, __u32 *reason, bool egress)
{
	struct kpb_ct4_key k;
	struct kpb_ct_value *v;
	struct iphdr *ip = ctx_ptr(ctx, KPB_ETH_HLEN, sizeof(*ip));
	int route;

	if (!ip || *(__u8 *)ip != 0x45 || (ip->frag_off & bpf_htons(0x3fff)))
		return KPB_POD_FAST_MISS;
	if (!kpb_pod_addr4(egress ? ip->daddr : ip->saddr)) {
		*reason = KPB_POD_CNT_NOT_POD;
		return CTX_PASS;
	}
	p->family = KPB_AF_INET;
	p->proto = ip->protocol;
	p->ttl = ip->ttl;
	p->l3_len = bpf_ntohs(ip->tot_len);
	p->l4_off = KPB_ETH_HLEN + sizeof(*ip);
	p->frag = KPB_FRAG_NONE;
	if (KPB_ETH_HLEN + p->l3_len > ctx_len_cheap(ctx) || p->l3_len < sizeof(*ip))
		return KPB_POD_FAST_MISS;
	k.src = ip->saddr;
	k.dst = ip->daddr;
	if (!kpb_pod_fast_l4(ctx, p, sizeof(*ip)))
		return KPB_POD_FAST_MISS;
	k.sport = p->sport;
	k.dport = p->dport;
	k.proto = p->proto;
	k.pad[0] = k.pad[1] = k.pad[2] = 0;
	v = bpf_map_lookup_elem(&kpb_pod_ct4, &k);
	if (!v) {
		kpb_v4_mapped(p->dst, k.dst);
		return KPB_POD_FAST_UNTRACKED;
	}
	route = kpb_pod_fast_check(ctx, v, p, egress);
	if (route < 0)
		return KPB_POD_FAST_MISS;
	return kpb_pod_fast_apply(ctx, v, p, route, reason);
}

static __always_inline int kpb_pod_fast6(kpb_ctx_t *ctx, struct kpb_pkt *p, __u32 *reason, bool egress)
{
	struct kpb_ct6_key k;
	struct kpb_ct_value *v;
	struct ipv6hdr *ip6 = ctx_ptr(ctx, KPB_ETH_HLEN, sizeof(*ip6));
	int route;

	if (!ip6 || ip6->version != 6)
		return KPB_POD_FAST_MISS;
	if (!kpb_pod_addr6(egress ? (const __u8 *)&ip6->daddr : (const __u8 *)&ip6->saddr)) {
		*reason = KPB_POD_CNT_NOT_POD;
		return CTX_PASS;
	}
	p->family = KPB_AF_INET6;
	p->proto = ip6->nexthdr;
	p->ttl = ip6->hop_limit;
	p->l3_len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
	p->l4_off = KPB_ETH_HLEN + sizeof(*ip6);
	p->frag = KPB_FRAG_NONE;
	if (KPB_ETH_HLEN + p->l3_len > ctx_len_cheap(ctx))
		return KPB_POD_FAST_MISS;
	kpb_copy16(k.src, &ip6->saddr);
	kpb_copy16(k.dst, &ip6->daddr);
	if (!kpb_pod_fast_l4(ctx, p, sizeof(*ip6)))
		return KPB_POD_FAST_MISS;
	k.sport = p->sport;
	k.dport = p->dport;
	k.proto = p->proto;
	k.pad[0] = k.pad[1] = k.pad[2] = 0;
	v = bpf_map_lookup_elem(&kpb_pod_ct6, &k);
	if (!v) {
		kpb_copy16(p->dst, k.dst);
		return KPB_POD_FAST_UNTRACKED;
	}
	route = kpb_pod_fast_check(ctx, v, p, egress);
	if (route < 0)
		return KPB_POD_FAST_MISS;
	return kpb_pod_fast_apply(ctx, v, p, route, reason);
}

/* Could a new flow to p->dst be a service's? The cheap half of kpb_pod_svc_lookup: a service
 * address (its VIP marker), a node address (NodePorts) or one of a service CIDR (refused). */
static __always_inline bool kpb_pod_may_be_service(const struct kpb_pkt *p)
{
	struct lb_service_key k = { .scope = LB_SCOPE_EXTERNAL };
	struct lb_service_value *v;

	kpb_copy16(k.addr, p->dst);
	v = bpf_map_lookup_elem(&lb_services, &k);
	if (v && (v->flags & LB_SVC_VIP_MARKER))
		return true;
	return lb_is_node_addr(p->dst) || lb_in_service_cidr(p->dst);
}

/* The lean path of one hook. KPB_POD_FAST_MISS: the general path takes the packet from the start.
 * KPB_POD_FAST_UNTRACKED at egress is final (nothing to translate back: passed); at ingress it
 * goes to the general path unless the destination is plainly no service's. */
static __always_inline int kpb_pod_fast(kpb_ctx_t *ctx, __u32 *reason, bool egress)
{
	struct kpb_np_tmp *tmp = kpb_np_tmp();
	__be16 *proto = ctx_ptr(ctx, 12, 2);
	int ret;

	if (!proto || !tmp)
		return KPB_POD_FAST_MISS;
	if (*proto == bpf_htons(KPB_ETH_P_IP))
		ret = kpb_pod_fast4(ctx, &tmp->pkt, reason, egress);
	else if (*proto == bpf_htons(KPB_ETH_P_IPV6))
		ret = kpb_pod_fast6(ctx, &tmp->pkt, reason, egress);
	else
		return KPB_POD_FAST_MISS;
	if (ret == KPB_POD_FAST_UNTRACKED && (egress || !kpb_pod_may_be_service(&tmp->pkt))) {
		*reason = KPB_CNT_NOT_SERVICE;
		return CTX_PASS;
	}
	return ret;
}

#endif /* KPB_POD_H */
