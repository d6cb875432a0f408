/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* frag.h: IP fragments of translated flows. Only a datagram's first fragment carries the ports,
 * so when we translate one we remember its ports by (source, destination, identification,
 * protocol) as it arrived, and a later fragment with the same identity takes them from here and
 * follows its flow's conntrack entry (addresses rewritten, no L4 header to touch). Each direction
 * records its own fragments. A later fragment without a record (its first one was not ours, was
 * lost, or arrives after it) is passed to the stack untranslated and counted.
 * Include ctx.h and parse.h first. */
#ifndef KPB_FRAG_H
#define KPB_FRAG_H

#ifndef KPB_FRAG_MAX_ENTRIES
#define KPB_FRAG_MAX_ENTRIES 8192 /* datagrams in flight through us in fragments */
#endif

struct kpb_frag4_key {
	__be32 src;
	__be32 dst;
	__be16 id;
	__u8 proto;
	__u8 pad;
};

struct kpb_frag6_key {
	__u8 src[16];
	__u8 dst[16];
	__be32 id;
	__u8 proto;
	__u8 pad[3];
};

struct kpb_frag_ports {
	__be16 sport;
	__be16 dport;
};

/* key: struct kpb_frag4_key (network order); value: struct kpb_frag_ports (network order).
 * Writer: datapath (first fragments of translated flows). LRU: a datagram's fragments arrive
 * within milliseconds, so the oldest records are the ones to give up. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct kpb_frag4_key);
	__type(value, struct kpb_frag_ports);
	__uint(max_entries, KPB_FRAG_MAX_ENTRIES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kpb_frag4 SEC(".maps");

/* key: struct kpb_frag6_key (network order); value: struct kpb_frag_ports. Writer: datapath. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct kpb_frag6_key);
	__type(value, struct kpb_frag_ports);
	__uint(max_entries, KPB_FRAG_MAX_ENTRIES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kpb_frag6 SEC(".maps");

/* p's fragment identity as a key of its family, built in kpb_keys_map's slot 2. */
static __always_inline void *kpb_frag_key(const struct kpb_pkt *p)
{
	union kpb_ct_key *slot = kpb_key_slot(2);

	if (!slot)
		return (void *)0;
	if (p->family == KPB_AF_INET) {
		struct kpb_frag4_key *k = (void *)slot;

		kpb_copy4(&k->src, p->src + 12);
		kpb_copy4(&k->dst, p->dst + 12);
		k->id = (__be16)p->frag_id;
		k->proto = p->proto;
		k->pad = 0;
		return k;
	} else {
		struct kpb_frag6_key *k = (void *)slot;

		kpb_copy16(k->src, p->src);
		kpb_copy16(k->dst, p->dst);
		k->id = p->frag_id;
		k->proto = p->proto;
		k->pad[0] = k->pad[1] = k->pad[2] = 0;
		return k;
	}
}

/* Remember the ports of a first fragment we translate (p still shows it as it arrived). */
static __always_inline void kpb_frag_record(const struct kpb_pkt *p)
{
	struct kpb_frag_ports v = { .sport = p->sport, .dport = p->dport };

	void *k;

	if (p->frag != KPB_FRAG_FIRST)
		return;
	k = kpb_frag_key(p);
	if (!k)
		return;
	if (p->family == KPB_AF_INET)
		bpf_map_update_elem(&kpb_frag4, k, &v, BPF_ANY);
	else
		bpf_map_update_elem(&kpb_frag6, k, &v, BPF_ANY);
}

/* The ports of a later fragment's datagram, into p; false when its first fragment was not ours. */
static __always_inline bool kpb_frag_ports(struct kpb_pkt *p)
{
	struct kpb_frag_ports *v;
	void *k = kpb_frag_key(p);

	if (!k)
		return false;
	if (p->family == KPB_AF_INET)
		v = bpf_map_lookup_elem(&kpb_frag4, k);
	else
		v = bpf_map_lookup_elem(&kpb_frag6, k);
	if (!v)
		return false;
	p->sport = v->sport;
	p->dport = v->dport;
	return true;
}

#endif /* KPB_FRAG_H */
