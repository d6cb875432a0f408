// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* counters_v1.bpf.c: the packet counter maps of the versions before one slot per reason, as they
 * pinned them (a __u64 per verdict and one per reason, index hook * stride + counter), for
 * convert-counters.test.ts to migrate into this version's maps. Nothing here is part of the
 * datapath. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 3 * 32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kpb_np_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2 * 40);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kpb_pod_counters SEC(".maps");

char LICENSE[] SEC("license") = "Dual BSD/GPL";
