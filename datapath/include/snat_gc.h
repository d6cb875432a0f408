/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* snat_gc.h: the sweep and the census of the SNAT reservation slots (kpb_snat4/kpb_snat6,
 * conntrack.h). A slot whose flow ended stays claimed until a new flow's port walk happens to
 * take it over, or until this sweep frees it: expired, and no longer used by its flow's forward
 * entry. The agent runs the programs with BPF_PROG_TEST_RUN: the sweep on a part of the table
 * every sync period, the census over the whole table in parts on each metrics scrape (an array
 * has no element count). Both walk slots with bpf_loop (~15-40 ns a slot here, where a walk from
 * user space costs ~0.45 us an entry). The part is the run's __sk_buff cb[0] (first slot) and
 * cb[1] (how many; 0: to the end); cb[2] is the census's family (4 or 6). Include north_south.h
 * first. */
#ifndef KPB_SNAT_GC_H
#define KPB_SNAT_GC_H

struct kpb_snat_gc_ctx {
	__u32 now;
	__u32 start;           /* the first slot of the part */
	__u32 count;           /* sweep: slots freed; census: slots claimed */
	bool sweep;
};

/* The part of the table this run walks (cb[0], cb[1]), clamped to it; returns how many slots. */
static __always_inline __u32 kpb_snat_part(struct __sk_buff *ctx, struct kpb_snat_gc_ctx *c)
{
	__u32 n = kpb_snat_slots, first = ctx->cb[0], len = ctx->cb[1];

	if (first >= n)
		return 0;
	if (len == 0 || len > n - first)
		len = n - first;
	c->start = first;
	return len;
}

/* A claimed slot (owner, tuple, value) is freed when it expired and its flow is gone; the
 * compare-and-swap loses to a flow that takes it over meanwhile. */
#define KPB_SNAT_GC_CB(name, map, slot_type, fam)                                                     \
	static long name(__u64 i, struct kpb_snat_gc_ctx *c)                                          \
	{                                                                                             \
		__u32 idx = c->start + (__u32)i;                                                      \
		slot_type *s = bpf_map_lookup_elem(&map, &idx);                                       \
		__u64 owner;                                                                          \
                                                                                                      \
		if (!s)                                                                               \
			return 1;                                                                     \
		owner = *(volatile __u64 *)&s->owner;                                                 \
		if (!owner)                                                                           \
			return 0;                                                                     \
		if (!c->sweep) {                                                                      \
			c->count++;                                                                   \
			return 0;                                                                     \
		}                                                                                     \
		if (kpb_ct_live(&s->v, c->now) ||                                                     \
		    kpb_snat_in_use(fam, (const union kpb_ct_key *)&s->key, &s->v, c->now))           \
			return 0;                                                                     \
		if (__sync_val_compare_and_swap(&s->owner, owner, 0) == owner)                        \
			c->count++;                                                                   \
		return 0;                                                                             \
	}

KPB_SNAT_GC_CB(kpb_snat_gc4_cb, kpb_snat4, struct kpb_snat4_slot, KPB_AF_INET)
KPB_SNAT_GC_CB(kpb_snat_gc6_cb, kpb_snat6, struct kpb_snat6_slot, KPB_AF_INET6)

/* Frees the slots of ended flows of both families in the part; returns how many. */
SEC("tc")
int kpb_snat_gc(struct __sk_buff *ctx)
{
	struct kpb_snat_gc_ctx c = { .now = kpb_now(), .sweep = true };
	__u32 len = kpb_snat_part(ctx, &c);

	bpf_loop(len, kpb_snat_gc4_cb, &c, 0);
	bpf_loop(len, kpb_snat_gc6_cb, &c, 0);
	return c.count;
}

/* The claimed slots of one family (cb[2]: 4 or 6) in the part: what the agent reports as the
 * entries of kpb_snat4/kpb_snat6. */
SEC("tc")
int kpb_snat_census(struct __sk_buff *ctx)
{
	struct kpb_snat_gc_ctx c = { .now = kpb_now() };
	__u32 len = kpb_snat_part(ctx, &c);

	if (ctx->cb[2] == 6)
		bpf_loop(len, kpb_snat_gc6_cb, &c, 0);
	else
		bpf_loop(len, kpb_snat_gc4_cb, &c, 0);
	return c.count;
}

#endif /* KPB_SNAT_GC_H */
