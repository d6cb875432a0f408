// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* migrate_v3.bpf.c: a version map-migration.test.ts must refuse over migrate_v1's pins: mg_ct's
 * key changed (no converter for it) and mg_rev became an LRU. Nothing here is part of the datapath. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct mg_key {
	__be32 addr;
	__be32 addr2;
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
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 16);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_rev SEC(".maps");

SEC("xdp")
int mg_prog(struct xdp_md *ctx)
{
	__u32 k = 0;
	struct mg_key ck = {};
	bpf_map_lookup_elem(&mg_ct, &ck);
	bpf_map_lookup_elem(&mg_rev, &k);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
