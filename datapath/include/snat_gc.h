/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* snat_gc.h: the sweep of SNAT reservations. kpb_snat4/kpb_snat6 are not LRU maps (conntrack.h),
 * so a reservation whose flow ended stays until a new flow happens to probe its port, or until
 * this sweep deletes it: expired, and no longer used by its flow's forward entry. The agent runs
 * the program with BPF_PROG_TEST_RUN (any 14-byte packet) every sync period; its return value is
 * the number of reservations deleted. Include north_south.h first. */
#ifndef KPB_SNAT_GC_H
#define KPB_SNAT_GC_H

struct kpb_snat_gc_ctx {
	__u32 now;
	__u32 deleted;
};

static long kpb_snat_gc4_cb(struct bpf_map *map, struct kpb_ct4_key *k, struct kpb_ct_value *v,
			    struct kpb_snat_gc_ctx *c)
{
	union kpb_ct_key rk;

	rk.v4 = *k;
	if (kpb_ct_live(v, c->now) || kpb_snat_in_use(KPB_AF_INET, &rk, v, c->now))
		return 0;
	if (bpf_map_delete_elem(&kpb_snat4, k) == 0)
		c->deleted++;
	return 0;
}

static long kpb_snat_gc6_cb(struct bpf_map *map, struct kpb_ct6_key *k, struct kpb_ct_value *v,
			    struct kpb_snat_gc_ctx *c)
{
	union kpb_ct_key rk;

	rk.v6 = *k;
	if (kpb_ct_live(v, c->now) || kpb_snat_in_use(KPB_AF_INET6, &rk, v, c->now))
		return 0;
	if (bpf_map_delete_elem(&kpb_snat6, k) == 0)
		c->deleted++;
	return 0;
}

SEC("tc")
int kpb_snat_gc(struct __sk_buff *ctx)
{
	struct kpb_snat_gc_ctx c = { .now = kpb_now() };

	bpf_for_each_map_elem(&kpb_snat4, kpb_snat_gc4_cb, &c, 0);
	bpf_for_each_map_elem(&kpb_snat6, kpb_snat_gc6_cb, &c, 0);
	return c.deleted;
}

#endif /* KPB_SNAT_GC_H */
