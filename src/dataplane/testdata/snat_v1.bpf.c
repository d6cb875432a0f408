// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* snat_v1.bpf.c: the SNAT reservation maps of the versions before the reservation table, as they
 * pinned them (hashes keyed by the reply tuple, BPF_F_NO_PREALLOC), for convert-snat.test.ts to
 * migrate into this version's slots. Nothing here is part of the datapath. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct kpb_ct4_key {
	__be32 src;
	__be32 dst;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

struct kpb_ct6_key {
	__u8 src[16];
	__u8 dst[16];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

struct kpb_nh {
	__u32 gen;
	__u32 ifindex;
	__u16 mtu;
	__u16 pad;
	__u8 macs[12];
};

struct kpb_ct_value {
	__u8 nat_src[16];
	__u8 nat_dst[16];
	__be16 nat_sport;
	__be16 nat_dport;
	__u16 flags;
	__u8 tcp_state;
	__u8 pad;
	__u32 expires;
	__u32 service_id;
	__u32 backend_id;
	__u32 be_gen;
	struct kpb_nh nh;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct kpb_ct4_key);
	__type(value, struct kpb_ct_value);
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kpb_snat4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct kpb_ct6_key);
	__type(value, struct kpb_ct_value);
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kpb_snat6 SEC(".maps");

char LICENSE[] SEC("license") = "Dual BSD/GPL";
