// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* migrate_v2.bpf.c: "the next version" for map-migration.test.ts, over migrate_v1's pins:
 *   mg_ct    value reordered and grown: {backend, flags, seen, extra} (by field name)
 *   mg_rev   256 entries instead of 16 (a copy)
 *   mg_pair  gone; its u64 values split into mg_lo and mg_hi (a registered converter)
 *   mg_cnt   unchanged (adopted)
 *   mg_outer 32 entries instead of 8 (inner maps carried over by id)
 *   mg_gone  gone (an orphan: removed at the end)
 *   mg_jump  4 slots instead of 2 (replaced: the load fills it with v2's mg_tail)
 * Nothing here is part of the datapath. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct mg_key {
	__be32 addr;
	__be16 port;
	__u8 proto;
	__u8 pad;
};

struct mg_val {
	__u32 backend;
	__u32 flags;
	__u64 seen;
	__u64 extra;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct mg_key);
	__type(value, struct mg_val);
	__uint(max_entries, 64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_ct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 256);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_rev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 16);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_lo SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 16);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_hi SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 4);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_cnt SEC(".maps");

struct mg_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 4);
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, 32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct mg_inner);
} mg_outer SEC(".maps");

SEC("xdp")
int mg_tail(struct xdp_md *ctx)
{
	return XDP_PASS;
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, __u32);
	__array(values, int(struct xdp_md *));
} mg_jump SEC(".maps") = {
	.values = { [0] = (void *)&mg_tail },
};

SEC("xdp")
int mg_prog(struct xdp_md *ctx)
{
	__u32 k = 0;
	struct mg_key ck = {};
	bpf_map_lookup_elem(&mg_ct, &ck);
	bpf_map_lookup_elem(&mg_rev, &k);
	bpf_map_lookup_elem(&mg_lo, &k);
	bpf_map_lookup_elem(&mg_hi, &k);
	bpf_map_lookup_elem(&mg_cnt, &k);
	bpf_map_lookup_elem(&mg_outer, &k);
	bpf_tail_call(ctx, &mg_jump, 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
