// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* migrate_v1.bpf.c: "the previous version" for map-migration.test.ts. Its maps, pinned by name:
 *   mg_ct    LRU {addr, port, proto} -> {seen, backend}           (datapath-written)
 *   mg_rev   hash u32 -> u32, 16 entries                           (grows in v2)
 *   mg_pair  hash u32 -> u64                                       (split into two maps in v2)
 *   mg_cnt   per-CPU array of u64                                  (unchanged)
 *   mg_outer hash-of-maps u32 -> array                             (grows in v2)
 *   mg_gone  hash u32 -> u32                                       (absent from v2)
 *   mg_jump  program array of 2, slot 0 = mg_tail                  (4 in v2)
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
	__u64 seen;
	__u32 backend;
	__u32 pad;
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
	__uint(max_entries, 16);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_rev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 16);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_pair SEC(".maps");

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
	__uint(max_entries, 8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct mg_inner);
} mg_outer SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 4);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_gone SEC(".maps");

SEC("xdp")
int mg_tail(struct xdp_md *ctx)
{
	return XDP_PASS;
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
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
	bpf_map_lookup_elem(&mg_pair, &k);
	bpf_map_lookup_elem(&mg_cnt, &k);
	bpf_map_lookup_elem(&mg_outer, &k);
	bpf_map_lookup_elem(&mg_gone, &k);
	bpf_tail_call(ctx, &mg_jump, 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
