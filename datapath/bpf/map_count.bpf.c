// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* map_count.bpf.c: the element count of every BPF map, for the map-fill metrics, without walking
 * the maps. The kernel keeps a per-CPU element count in every map made by the hash table code
 * (hash, per-CPU hash, LRU hash, LRU per-CPU hash, hash of maps; preallocated or not, LRU
 * evictions included) since Linux 6.6, and bpf_map_sum_elem_count() adds it up: O(CPUs) per map,
 * where a walk costs ~0.45 us per entry. Other map types have no count (the kfunc says 0); the
 * agent knows which by the record's map type and walks those (lb_src_ranges, an LPM trie).
 *
 * One iterator program over all maps of the system (iter/bpf_map): each map appends a record
 * struct kpb_map_count to the output, which the agent reads through bpf-loader-napi (attachIter,
 * readIter) and matches to its maps by id. A kernel without the kfunc refuses this object; the
 * agent then walks every map, as before. Kept apart from the datapath's objects for that reason. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

extern s64 bpf_map_sum_elem_count(const struct bpf_map *map) __ksym;

/* One output record per map, host byte order; read by src/dataplane/map-entry-counter.ts. */
struct kpb_map_count {
	__u32 id;       /* the map's id (bpf_map_info.id) */
	__u32 type;     /* enum bpf_map_type */
	__s64 count;    /* bpf_map_sum_elem_count(); 0 for a type without a count */
};

SEC("iter/bpf_map")
int kpb_map_count(struct bpf_iter__bpf_map *ctx)
{
	struct bpf_map *map = ctx->map;
	struct kpb_map_count rec = {};

	/* The iterator's last call, after the last map, has no map. */
	if (!map)
		return 0;
	rec.id = map->id;
	rec.type = map->map_type;
	rec.count = bpf_map_sum_elem_count(map);
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
