// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* gens_v1.bpf.c: the generation maps of the versions before kpb_gens, as they pinned them (an
 * ARRAY of one __u32 each), for convert-generations.test.ts to migrate into this version's map.
 * Nothing here is part of the datapath. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kpb_nh_gen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kpb_be_gen SEC(".maps");

char LICENSE[] SEC("license") = "Dual BSD/GPL";
