/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* dsr.h: direct server return. On the node a client reached (the "LB node") a flow to a remote
 * backend is not NATed: the packet, still addressed to the frontend, is encapsulated (IPIP for
 * IPv4, IPv6-in-IPv6 for IPv6) to the backend's node. There our tc ingress program decapsulates
 * it, picks a local backend of the same service and DNATs to it, and remembers the frontend in
 * a reply entry, so the backend's answer leaves that node by tc egress with the frontend as its
 * source, straight to the client. When the outer header would push the packet over the route's
 * MTU, the client gets ICMP fragmentation needed / packet too big instead.
 *
 * Mode (.rodata kpb_lb_mode, set before load): SNAT, DSR, or hybrid (DSR for TCP, SNAT for UDP,
 * whose replies may be large and unconnected); a service flagged LB_SVC_DSR always uses DSR.
 * Include nodeport.h's dependencies and reply.h first; nodeport.h includes this file. */
#ifndef KPB_DSR_H
#define KPB_DSR_H

enum kpb_lb_mode {
	KPB_LB_MODE_SNAT = 0,
	KPB_LB_MODE_DSR = 1,
	KPB_LB_MODE_HYBRID = 2,
};

const volatile __u32 kpb_lb_mode = KPB_LB_MODE_SNAT;

static __always_inline bool kpb_use_dsr(const struct lb_service_value *svc, const struct kpb_pkt *p)
{
	if (svc->flags & LB_SVC_DSR)
		return true;
	if (kpb_lb_mode == KPB_LB_MODE_DSR)
		return true;
	return kpb_lb_mode == KPB_LB_MODE_HYBRID && p->proto == KPB_IPPROTO_TCP;
}

/* Encapsulate toward the backend's node (v->nat_dst) and send, through the next hop cached in
 * v (the FIB is asked only when it is missing or stale). Leaves to tc (XDP) or the stack what the
 * FIB cannot finish; answers the client when the result would not fit the route's MTU. The inner
 * packet travels untouched: the backend's node routes it (and decrements its TTL); the caller
 * answered it already if its TTL would not survive that. */
static __noinline int kpb_dsr_encap(kpb_ctx_t *ctx, struct kpb_pkt *p, struct kpb_ct_value *v, __u32 *reason)
{
	__u32 hdr = p->family == KPB_AF_INET ? 20 : 40;
	__u32 gen = kpb_gen_nh();
	struct kpb_np_tmp *tmp = kpb_np_tmp();
	struct kpb_fib *fib;
	__u8 src[16];
	bool cfg = kpb_snat_addr_cfg(p->family, src);

	if (!tmp)
		goto err;
	fib = &tmp->fib;

	if (!kpb_nh_valid(ctx, &v->nh, gen, p->l3_len + hdr)) {
		/* An aggregate is segmented after us; its segments were received within the MTU, and
		 * the kernel checks the skb when tot_len is 0. The outer source is the route's. */
		kpb_fib_lookup(ctx, p->family, p->family == KPB_AF_INET ? KPB_IPPROTO_IPIP : KPB_IPPROTO_IPV6,
			       ctx_is_gso(ctx) ? 0 : p->l3_len + hdr, cfg ? src : p->dst, v->nat_dst, !cfg, fib);
		if (fib->ret == BPF_FIB_LKUP_RET_FRAG_NEEDED) {
			/* The kernel reports the route's MTU in place of tot_len. A fragment (DF clear)
			 * gets the same answer: we cannot fragment the outer packet, and the sender's
			 * path MTU learns from it. */
			__u32 mtu = fib->mtu > hdr ? fib->mtu - hdr : 0;
			int ret;

			*reason = KPB_CNT_FRAG_NEEDED;
			if (p->family == KPB_AF_INET && mtu < 576)
				mtu = 576;
			if (p->family == KPB_AF_INET6 && mtu < 1280)
				mtu = 1280;
			if (p->frag == KPB_FRAG_LATER)
				return CTX_DROP;
			ret = kpb_reply_icmp_err(ctx, p, KPB_ICMP_FRAG_NEEDED, mtu);
			return ret < 0 ? CTX_DROP : ret;
		}
		if (!kpb_fib_usable(fib)) {
#if defined(KPB_CTX_XDP)
			*reason = KPB_CNT_TO_TC;
#else
			*reason = KPB_CNT_FIB_FAIL;
#endif
			return CTX_PASS;
		}
		if (!cfg)
			kpb_copy16(src, fib->src);
		if (fib->ret == BPF_FIB_LKUP_RET_SUCCESS) {
			kpb_nh_store(&v->nh, fib, ctx_is_gso(ctx) ? 0 : p->l3_len + hdr, gen);
			/* The outer source: fixed per flow, kept in the entry's otherwise unused nat_src. */
			kpb_copy16(v->nat_src, src);
		}
	} else {
		if (!cfg)
			kpb_copy16(src, v->nat_src);
		fib->ret = BPF_FIB_LKUP_RET_SUCCESS;
	}
	if (p->family == KPB_AF_INET) {
		struct iphdr *ip;

		if (ctx_adjust_l3_room(ctx, 20, BPF_F_ADJ_ROOM_ENCAP_L3_IPV4) < 0)
			goto err;
		ip = ctx_ptr(ctx, KPB_ETH_HLEN, sizeof(*ip));
		if (!ip)
			goto err;
		*(__u8 *)ip = 0x45;
		ip->tos = 0;
		ip->tot_len = bpf_htons(p->l3_len + 20);
		ip->id = 0;
		ip->frag_off = bpf_htons(0x4000);
		ip->ttl = KPB_REPLY_TTL;
		ip->protocol = KPB_IPPROTO_IPIP;
		ip->check = 0;
		kpb_copy4(&ip->saddr, src + 12);
		kpb_copy4(&ip->daddr, v->nat_dst + 12);
		ip->check = kpb_ip4_csum(ip);
	} else {
		struct ipv6hdr *ip6;

		if (ctx_adjust_l3_room(ctx, 40, BPF_F_ADJ_ROOM_ENCAP_L3_IPV6) < 0)
			goto err;
		ip6 = ctx_ptr(ctx, KPB_ETH_HLEN, sizeof(*ip6));
		if (!ip6)
			goto err;
		*(__be32 *)ip6 = bpf_htonl(0x60000000);
		ip6->payload_len = bpf_htons(p->l3_len);
		ip6->nexthdr = KPB_IPPROTO_IPV6;
		ip6->hop_limit = KPB_REPLY_TTL;
		kpb_copy16(&ip6->saddr, src);
		kpb_copy16(&ip6->daddr, v->nat_dst);
	}
	*reason = KPB_CNT_DSR_ENCAP;
	if (fib->ret == BPF_FIB_LKUP_RET_SUCCESS)
		return kpb_nh_send(ctx, &v->nh, reason);
	return kpb_fib_send(ctx, fib, reason);
err:
	*reason = KPB_CNT_ERROR;
	return CTX_DROP;
}

/* New DSR flow on the LB node: remember where it goes (the tuple is not rewritten; nat_dst holds
 * the tunnel's destination). Returns KPB_NP_CONTINUE with the entry in the scratch's fv, for the
 * caller to encapsulate (so this frame and kpb_dsr_encap's are siblings), or a verdict. */
static __noinline int kpb_np_new_dsr(kpb_ctx_t *ctx, struct kpb_pkt *p, const struct kpb_target *t, __u32 *reason)
{
	struct kpb_np_scratch *s;

	if (p->ttl <= 1)
		return kpb_ttl_exceeded(ctx, p, reason);
	s = kpb_np_scratch();
	if (!s) {
		*reason = KPB_CNT_ERROR;
		return CTX_DROP;
	}
	kpb_ct_key_make(&s->fk, p->family, p->src, p->dst, p->sport, p->dport, p->proto);
	kpb_copy16(s->fv.nat_dst, t->be.node_addr);
	s->fv.nat_sport = p->sport;
	s->fv.nat_dport = p->dport;
	s->fv.flags = KPB_CT_REMOTE | KPB_CT_DSR;
	s->fv.service_id = t->service_id;
	s->fv.backend_id = t->backend_id;
	s->fv.be_gen = kpb_gen_be();
	s->fv.expires = kpb_ct_deadline(kpb_now(), p->proto, KPB_CT_NEW);
	if (kpb_ct_put(p->family, &s->fk, &s->fv) < 0) {
		*reason = KPB_CNT_CT_FULL;
		return CTX_DROP;
	}
	kpb_frag_record(p);
	return KPB_NP_CONTINUE;
}

#if defined(KPB_CTX_SKB)
/* The service a decapsulated DSR packet is for. The LB node already admitted it, so a NodePort
 * matches whatever node address the client used (it is the LB node's, not ours). */
static __always_inline struct lb_service_value *kpb_dsr_svc(const struct kpb_pkt *p)
{
	struct lb_service_key k = {};
	struct lb_service_value *v = kpb_svc_exact(p, &k);

	return v ? v : kpb_svc_nodeport(p, &k);
}

/* On the backend's node: an IPIP / IPv6-in-IPv6 packet to one of our addresses. Strip the outer
 * header, then DNAT the inner packet to a local backend of its service (slots are written local
 * first, so slots 1..local_backend_count are ours). */
static __noinline int kpb_dsr_decap(kpb_ctx_t *ctx, struct kpb_pkt *p, __u32 *reason)
{
	struct kpb_np_tmp *tmp = kpb_np_tmp();
	struct lb_service_value *svc;
	struct kpb_ct_value *ct;
	struct kpb_target *t;
	struct lb_backend *be;
	__u32 hdr = p->l4_off - p->l3_off;
	__u32 local, id;
	int ret;

	if ((p->family == KPB_AF_INET6 && hdr != 40) ||
	    ctx_adjust_l3_room(ctx, -(__s32)hdr, p->family == KPB_AF_INET ? BPF_F_ADJ_ROOM_DECAP_L3_IPV4 :
				BPF_F_ADJ_ROOM_DECAP_L3_IPV6) < 0) {
		*reason = KPB_CNT_ERROR;
		return CTX_DROP;
	}
	if (kpb_parse(ctx, p) != KPB_PARSE_OK || !kpb_has_ports(p->proto) || (p->proto == KPB_IPPROTO_SCTP && p->frag)) {
		*reason = KPB_CNT_MALFORMED;
		return CTX_DROP;
	}
	if (p->frag == KPB_FRAG_LATER && !kpb_frag_ports(p)) {
		/* Decapsulated, but its first fragment never came through: nothing to follow. */
		*reason = KPB_CNT_FRAGMENT;
		return CTX_DROP;
	}
	ct = kpb_ct_lookup(p);
	if (ct && (ct->flags & KPB_CT_DSR_BACKEND) && !(ct->flags & KPB_CT_REPLY)) {
		kpb_ct_refresh(ct, p);
		kpb_frag_record(p);
		if (kpb_nat_rewrite(ctx, p, ct, false) < 0) {
			*reason = KPB_CNT_ERROR;
			return CTX_DROP;
		}
		*reason = KPB_CNT_DSR_DECAP;
		return CTX_PASS;
	}
	if (p->frag == KPB_FRAG_LATER) {
		*reason = KPB_CNT_FRAGMENT;
		return CTX_DROP;
	}
	svc = kpb_dsr_svc(p);
	local = svc ? svc->local_backend_count : 0;
	if (!local || lb_slot_backend(svc->service_id, kpb_rand() % local + 1, &id) != LB_SEL_OK) {
		*reason = KPB_CNT_NO_BACKEND;
		return CTX_DROP;
	}
	be = bpf_map_lookup_elem(&lb_backends, &id);
	if (!be || !(be->flags & LB_BE_LOCAL)) {
		*reason = KPB_CNT_NO_BACKEND;
		return CTX_DROP;
	}
	if (!tmp) {
		*reason = KPB_CNT_ERROR;
		return CTX_DROP;
	}
	t = &tmp->target;
	t->be = *be;
	t->service_id = svc->service_id;
	t->backend_id = id;
	t->ct_flags = KPB_CT_DSR_BACKEND;
	ret = kpb_np_new_local(ctx, p, t, reason);
	if (*reason == KPB_CNT_LOCAL_DNAT)
		*reason = KPB_CNT_DSR_DECAP;
	return ret;
}
#endif

#endif /* KPB_DSR_H */
