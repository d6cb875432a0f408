// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* conntrack_v1.bpf.c: the north-south conntrack map of the versions before issue 12, as they
 * pinned it (kpb_ct: one LRU for both families and both directions, 40-byte keys with v4-mapped
 * addresses), for convert-conntrack.test.ts to migrate into this version's maps. Nothing here is
 * part of the datapath. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct kpb_ct_key {
	__u8 src[16];
	__u8 dst[16];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

struct kpb_ct_value {
	__u8 nat_src[16];
	__u8 nat_dst[16];
	__be16 nat_sport;
	__be16 nat_dport;
	__u32 flags;
	__u64 expires;
	__u32 service_id;
	__u32 backend_id;
	__u8 tunnel_dst[16];
	__u8 tcp_state;
	__u8 pad[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct kpb_ct_key);
	__type(value, struct kpb_ct_value);
	__uint(max_entries, 1024);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kpb_ct SEC(".maps");

char LICENSE[] SEC("license") = "Dual BSD/GPL";
