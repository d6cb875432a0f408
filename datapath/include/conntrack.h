/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* conntrack.h: connection tracking of north-south service flows, shared (pinned by name) by the
 * xdp and tc objects. Include ctx.h and parse.h first.
 *
 * One LRU map holds both directions. Each entry is keyed by the tuple exactly as a packet shows
 * it on the wire and says what that packet must become ({nat_src, nat_sport} -> {nat_dst,
 * nat_dport}), so forward packets and replies take the same path. For a SNAT flow the reply
 * entry (backend -> node address:port) is also the SNAT mapping: inserting it with NOEXIST is
 * what reserves the port. Times are bpf_jiffies64(); lb_kernel_hz (lb_select.h, set before load)
 * converts seconds, so include lb_select.h first. */
#ifndef KPB_CONNTRACK_H
#define KPB_CONNTRACK_H

#ifndef KPB_CT_MAX_ENTRIES
#define KPB_CT_MAX_ENTRIES 262144
#endif

/* Lifetimes in seconds, after Linux's nf_conntrack defaults where they exist. */
#define KPB_CT_LIFE_SYN 60
#define KPB_CT_LIFE_TCP 21600    /* established */
#define KPB_CT_LIFE_CLOSE 10     /* after FIN or RST */
#define KPB_CT_LIFE_UDP 60

enum kpb_ct_flags {
	KPB_CT_LOCAL      = 1 << 0, /* forward entry: DNAT to a backend on this node */
	KPB_CT_REMOTE     = 1 << 1, /* forward entry: translate and forward to another node */
	KPB_CT_REPLY      = 1 << 2, /* reply entry: translate back to the frontend */
	KPB_CT_SNAT       = 1 << 3, /* source rewritten to a node address (remote, SNAT mode) */
	KPB_CT_DSR        = 1 << 4, /* encapsulated to the backend's node, no SNAT */
	KPB_CT_DSR_BACKEND = 1 << 5, /* on the backend's node: reply leaves with the VIP as source */
};

enum kpb_ct_tcp_state {
	KPB_CT_NEW = 0,
	KPB_CT_ESTABLISHED = 1,
	KPB_CT_CLOSING = 2,
};

struct kpb_ct_key {
	__u8 src[16];
	__u8 dst[16];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

struct kpb_ct_value {
	__u8 nat_src[16];      /* what the packet's source becomes */
	__u8 nat_dst[16];      /* what the packet's destination becomes */
	__be16 nat_sport;
	__be16 nat_dport;
	__u32 flags;           /* enum kpb_ct_flags */
	__u64 expires;         /* jiffies */
	__u32 service_id;
	__u32 backend_id;
	__u8 tunnel_dst[16];   /* DSR: outer destination (backend's node) */
	__u8 tcp_state;        /* enum kpb_ct_tcp_state */
	__u8 pad[7];
};

/* key: struct kpb_ct_key (both directions); value: struct kpb_ct_value. Writer: datapath;
 * the control plane reads it for metrics and deletes entries of removed backends. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct kpb_ct_key);
	__type(value, struct kpb_ct_value);
	__uint(max_entries, KPB_CT_MAX_ENTRIES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kpb_ct SEC(".maps");

static __always_inline void kpb_ct_key_of(struct kpb_ct_key *k, const struct kpb_pkt *p)
{
	__builtin_memcpy(k->src, p->src, 16);
	__builtin_memcpy(k->dst, p->dst, 16);
	k->sport = p->sport;
	k->dport = p->dport;
	k->proto = p->proto;
	k->pad[0] = k->pad[1] = k->pad[2] = 0;
}

static __always_inline __u64 kpb_ct_deadline(__u32 seconds)
{
	return bpf_jiffies64() + (__u64)seconds * lb_kernel_hz;
}

static __always_inline __u32 kpb_ct_lifetime(__u8 proto, __u8 state)
{
	if (proto != KPB_IPPROTO_TCP)
		return KPB_CT_LIFE_UDP;
	if (state == KPB_CT_CLOSING)
		return KPB_CT_LIFE_CLOSE;
	if (state == KPB_CT_ESTABLISHED)
		return KPB_CT_LIFE_TCP;
	return KPB_CT_LIFE_SYN;
}

/* A live entry for this packet's tuple, or NULL (missing or expired). */
static __always_inline struct kpb_ct_value *kpb_ct_lookup(const struct kpb_pkt *p)
{
	struct kpb_ct_key k;
	struct kpb_ct_value *v;

	kpb_ct_key_of(&k, p);
	v = bpf_map_lookup_elem(&kpb_ct, &k);
	if (!v || v->expires < bpf_jiffies64())
		return NULL;
	return v;
}

/* Advance the TCP state with the flags this packet carries and extend the lifetime. A FIN or RST
 * shortens the life so closed flows leave room; a non-SYN packet marks the flow established. */
static __always_inline void kpb_ct_refresh(struct kpb_ct_value *v, const struct kpb_pkt *p)
{
	__u8 state = v->tcp_state;

	if (p->proto == KPB_IPPROTO_TCP) {
		if (p->tcp_flags & (KPB_TCP_FIN | KPB_TCP_RST))
			state = KPB_CT_CLOSING;
		else if (!(p->tcp_flags & KPB_TCP_SYN) && state == KPB_CT_NEW)
			state = KPB_CT_ESTABLISHED;
		else if ((p->tcp_flags & KPB_TCP_SYN) && !(p->tcp_flags & KPB_TCP_ACK))
			state = KPB_CT_NEW; /* a new SYN on a reused tuple starts over */
		v->tcp_state = state;
	}
	v->expires = kpb_ct_deadline(kpb_ct_lifetime(p->proto, state));
}

#endif /* KPB_CONNTRACK_H */
