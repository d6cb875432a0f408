/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* svc.h: north-south service lookup (ExternalIPs, LoadBalancer IPs, NodePort on node addresses)
 * and loadBalancerSourceRanges. Include ctx.h, parse.h and lb_maps.h first.
 *
 * Only external-scope entries are used here: this traffic comes from outside the node, so
 * externalTrafficPolicy applies (the control plane writes only local backends into the external
 * entry of an eTP=Local service, flagged ETP_LOCAL | TWO_SCOPES). */
#ifndef KPB_SVC_H
#define KPB_SVC_H

/* The entry for key `k`, external scope only. The control plane writes every frontend reachable
 * from outside (NodePort, ExternalIP, LB VIP) as an EXTERNAL entry; an INTERNAL entry is a
 * ClusterIP or the cluster-set twin of an eTP=Local frontend (src/translate/README.md, "Scopes"),
 * which external traffic must never use: alone, the twin only means the frontend is being added
 * (twin written first) or removed (twin deleted last), so it is not a service yet or any more. */
static __always_inline struct lb_service_value *kpb_svc_get(struct lb_service_key *k)
{
	k->scope = LB_SCOPE_EXTERNAL;
	return bpf_map_lookup_elem(&lb_services, k);
}

enum kpb_svc_ret {
	KPB_SVC_NONE = 0,        /* not a service address: pass */
	KPB_SVC_FOUND,
	KPB_SVC_UNKNOWN_PORT,    /* a known ExternalIP/LB VIP on a port no service uses: drop */
};

/* {destination, port, protocol} of p as an ExternalIP or LoadBalancer frontend (a ClusterIP is
 * not reachable from outside through us). Fills *k for the lookups that follow. */
static __always_inline struct lb_service_value *kpb_svc_exact(const struct kpb_pkt *p, struct lb_service_key *k)
{
	struct lb_service_value *v;

	__builtin_memcpy(k->addr, p->dst, 16);
	k->port = p->dport;
	k->proto = p->proto;
	v = kpb_svc_get(k);
	return v && (v->flags & (LB_SVC_EXTERNAL_IP | LB_SVC_LOADBALANCER)) ? v : NULL;
}

/* The NodePort entry of p's family (wildcard ::ffff:0.0.0.0 or ::) for k's port and protocol. */
static __always_inline struct lb_service_value *kpb_svc_nodeport(const struct kpb_pkt *p, struct lb_service_key *k)
{
	struct lb_service_value *v;

	lb_set_wildcard(k->addr, p->family == KPB_AF_INET);
	v = kpb_svc_get(k);
	return v && (v->flags & LB_SVC_NODEPORT) ? v : NULL;
}

/* The service a new packet from outside addresses: an exact ExternalIP/LB frontend, else the
 * NodePort entry, but only when the destination is one of this node's addresses
 * (nodePortAddresses, lb_node_addrs). A VIP marker without a port match is refused rather than
 * leaked. */
static __always_inline int kpb_svc_lookup(const struct kpb_pkt *p, struct lb_service_value **out)
{
	struct lb_service_key k = {};
	struct lb_service_value *v;

	*out = kpb_svc_exact(p, &k);
	if (*out)
		return KPB_SVC_FOUND;
	if (lb_is_node_addr(p->dst)) {
		*out = kpb_svc_nodeport(p, &k);
		return *out ? KPB_SVC_FOUND : KPB_SVC_NONE;
	}

	k.port = 0;
	k.proto = 0;
	k.scope = LB_SCOPE_EXTERNAL;
	v = bpf_map_lookup_elem(&lb_services, &k);
	if (v && (v->flags & LB_SVC_VIP_MARKER) && (v->flags & (LB_SVC_EXTERNAL_IP | LB_SVC_LOADBALANCER)))
		return KPB_SVC_UNKNOWN_PORT;
	return KPB_SVC_NONE;
}

/* loadBalancerSourceRanges: with LB_SVC_SOURCE_RANGES set, only sources inside one of the
 * service's prefixes (lb_src_ranges, IPv4 stored v4-mapped) may use it. */
static __always_inline bool kpb_src_allowed(const struct lb_service_value *svc, const struct kpb_pkt *p)
{
	struct lb_src_range_key k;

	if (!(svc->flags & LB_SVC_SOURCE_RANGES))
		return true;
	k.prefixlen = 32 + 128;
	k.service_id = svc->service_id;
	__builtin_memcpy(k.addr, p->src, 16);
	return bpf_map_lookup_elem(&lb_src_ranges, &k) != NULL;
}

/* The flow identity hashed for Maglev: client address and port (port left out under session
 * affinity so one client keeps one backend) and the frontend port. The TS tests recompute it:
 * id = (xor of the four source address words, as loaded) << 32 | sport << 16 | dport, ports as
 * loaded (network order), then lb_hash_u64(id). */
static __always_inline __u32 kpb_flow_hash(const struct lb_service_value *svc, const struct kpb_pkt *p)
{
	const __u32 *s = (const __u32 *)p->src;
	__u32 sport = (svc->flags & LB_SVC_AFFINITY) ? 0 : p->sport;
	__u64 id = ((__u64)(s[0] ^ s[1] ^ s[2] ^ s[3]) << 32) | (sport << 16) | p->dport;

	return lb_hash_u64(id);
}

#endif /* KPB_SVC_H */
