/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* nat.h: rewrite a packet's addresses and ports with incremental checksum updates (IPv4 header,
 * TCP/UDP pseudo-header and ports), decrement the TTL when we forward, and allocate SNAT ports.
 * Include ctx.h, parse.h and conntrack.h first. */
#ifndef KPB_NAT_H
#define KPB_NAT_H

#ifndef KPB_SNAT_RETRIES
#define KPB_SNAT_RETRIES 32 /* ports tried per new flow before counting KPB_CNT_SNAT_EXHAUSTED */
#endif

/* SNAT source ports, host order. The default sits above Linux's ip_local_port_range
 * (32768-60999) so our reply entries never shadow the node's own connections. */
const volatile __u16 kpb_snat_port_min = 61000;
const volatile __u16 kpb_snat_port_max = 65535;
/* SNAT source addresses; all zero = ask the FIB for the source of the route to the backend. */
const volatile __u8 kpb_snat_addr4[4] = {};
const volatile __u8 kpb_snat_addr6[16] = {};

static __always_inline __u32 kpb_l4_csum_off(const struct kpb_pkt *p)
{
	return p->l4_off + (p->proto == KPB_IPPROTO_TCP ? KPB_TCP_CSUM_OFF : KPB_UDP_CSUM_OFF);
}

static __always_inline bool kpb_addr_eq(const __u8 *a, const __u8 *b)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;

	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3])) == 0;
}

/* Replace one address (source or destination, per `ip_off`) and fix the checksums. */
static __always_inline int kpb_nat_addr(kpb_ctx_t *ctx, struct kpb_pkt *p, __u8 *cur, const __u8 *to,
					__u32 ip_off, bool l4csum)
{
	__u8 new_addr[16];
	__u32 diff;
	bool udp = p->proto == KPB_IPPROTO_UDP;

	__builtin_memcpy(new_addr, to, 16);
	if (p->family == KPB_AF_INET) {
		diff = bpf_csum_diff((__be32 *)(cur + 12), 4, (__be32 *)(new_addr + 12), 4, 0);
		if (ctx_store(ctx, p->l3_off + ip_off, new_addr + 12, 4) < 0)
			return -1;
		if (ctx_l3_csum_diff(ctx, p->l3_off + KPB_IP4_CSUM_OFF, diff) < 0)
			return -1;
	} else {
		diff = bpf_csum_diff((__be32 *)cur, 16, (__be32 *)new_addr, 16, 0);
		if (ctx_store(ctx, p->l3_off + ip_off, new_addr, 16) < 0)
			return -1;
	}
	if (l4csum && ctx_l4_csum_diff(ctx, kpb_l4_csum_off(p), diff, udp) < 0)
		return -1;
	__builtin_memcpy(cur, new_addr, 16);
	return 0;
}

static __always_inline int kpb_nat_port(kpb_ctx_t *ctx, struct kpb_pkt *p, __be16 *cur, __be16 to,
					__u32 port_off)
{
	if (*cur == to)
		return 0;
	if (ctx_store(ctx, p->l4_off + port_off, &to, 2) < 0)
		return -1;
	if (ctx_l4_csum_replace16(ctx, kpb_l4_csum_off(p), *cur, to, p->proto == KPB_IPPROTO_UDP) < 0)
		return -1;
	*cur = to;
	return 0;
}

/* Rewrite the packet to the tuple the conntrack entry names. */
static __always_inline int kpb_nat_apply(kpb_ctx_t *ctx, struct kpb_pkt *p, const struct kpb_ct_value *v)
{
	__u32 src_off = p->family == KPB_AF_INET ? KPB_IP4_SRC_OFF : KPB_IP6_SRC_OFF;
	__u32 dst_off = p->family == KPB_AF_INET ? KPB_IP4_DST_OFF : KPB_IP6_DST_OFF;

	if (!kpb_addr_eq(p->src, v->nat_src) &&
	    kpb_nat_addr(ctx, p, p->src, v->nat_src, src_off, true) < 0)
		return -1;
	if (!kpb_addr_eq(p->dst, v->nat_dst) &&
	    kpb_nat_addr(ctx, p, p->dst, v->nat_dst, dst_off, true) < 0)
		return -1;
	if (kpb_nat_port(ctx, p, &p->sport, v->nat_sport, 0) < 0)
		return -1;
	if (kpb_nat_port(ctx, p, &p->dport, v->nat_dport, 2) < 0)
		return -1;
	return 0;
}

/* Decrement TTL / hop limit of a packet we route ourselves. Returns -1 when it would reach 0,
 * so the caller leaves the packet to the stack (which sends the ICMP time exceeded). */
static __always_inline int kpb_dec_ttl(kpb_ctx_t *ctx, struct kpb_pkt *p)
{
	__u8 w[2];
	__u16 from, to;

	if (p->ttl <= 1)
		return -1;
	if (p->family == KPB_AF_INET6) {
		w[0] = p->ttl - 1;
		return ctx_store(ctx, p->l3_off + KPB_IP6_HOPLIMIT_OFF, w, 1);
	}
	if (ctx_load(ctx, p->l3_off + KPB_IP4_TTL_OFF, w, 2) < 0)
		return -1;
	__builtin_memcpy(&from, w, 2);
	w[0] -= 1;
	__builtin_memcpy(&to, w, 2);
	if (ctx_store(ctx, p->l3_off + KPB_IP4_TTL_OFF, w, 1) < 0)
		return -1;
	return ctx_l3_csum_replace16(ctx, p->l3_off + KPB_IP4_CSUM_OFF, from, to);
}

/* The SNAT address for a packet of this family, or false when the FIB must supply it. */
static __always_inline bool kpb_snat_addr_cfg(__u8 family, __u8 *out16)
{
	__u32 i, any = 0;

	if (family == KPB_AF_INET) {
		__be32 a;

		__builtin_memcpy(&a, (const void *)kpb_snat_addr4, 4);
		kpb_v4_mapped(out16, a);
		return a != 0;
	}
	for (i = 0; i < 16; i++) {
		out16[i] = kpb_snat_addr6[i];
		any |= out16[i];
	}
	return any != 0;
}

/* Reserve a SNAT port by inserting the reply entry `rk` -> `rv` with NOEXIST. Keeps the client's
 * port when it is inside the range (fewer rewrites), else starts at a random port, then walks
 * linearly. An expired entry on a candidate port is taken over. Returns the port (network
 * order) in rk->dport, or -1 when every try collided. */
static __always_inline int kpb_snat_alloc(struct kpb_ct_key *rk, struct kpb_ct_value *rv, __be16 client_port)
{
	__u32 min = kpb_snat_port_min, max = kpb_snat_port_max;
	__u32 span, port, i;
	struct kpb_ct_value *old;

	if (max < min)
		return -1;
	span = max - min + 1;
	port = bpf_ntohs(client_port);
	if (port < min || port > max)
		port = min + bpf_get_prandom_u32() % span;
	for (i = 0; i < KPB_SNAT_RETRIES; i++) {
		rk->dport = bpf_htons((__u16)port);
		if (bpf_map_update_elem(&kpb_ct, rk, rv, BPF_NOEXIST) == 0)
			return 0;
		old = bpf_map_lookup_elem(&kpb_ct, rk);
		if (old && old->expires < bpf_jiffies64() &&
		    bpf_map_update_elem(&kpb_ct, rk, rv, BPF_ANY) == 0)
			return 0;
		port = port >= max ? min : port + 1;
	}
	return -1;
}

#endif /* KPB_NAT_H */
