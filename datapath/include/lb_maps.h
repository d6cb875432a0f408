/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* lb_maps.h: the load-balancing maps shared by the sock, tc and xdp objects. Every map is pinned by
 * name, so the three objects (and a restarted agent) share one instance under the pin folder.
 * Writer: the control plane writes every map here except lb_affinity, lb_sock_rev_nat and
 * lb_counters, which the datapath writes. Sizes are defaults; the loader resizes before load
 * (--bpf-map-* flags). Include lb_structs.h first. */
#ifndef LB_MAPS_H
#define LB_MAPS_H

#include "lb_structs.h"

#ifndef LB_MAGLEV_M_DEFAULT
#define LB_MAGLEV_M_DEFAULT 16381 /* prime; the inner array size, set before load */
#endif

/* key: struct lb_service_key; value: struct lb_service_value. Writer: control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct lb_service_key);
	__type(value, struct lb_service_value);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_services SEC(".maps");

/* key: struct lb_slot_key (host order); value: backend id (host order). Writer: control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct lb_slot_key);
	__type(value, __u32);
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_slots SEC(".maps");

/* key: backend id (host order); value: struct lb_backend. Writer: control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct lb_backend);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_backends SEC(".maps");

/* key: service id (host order); value: struct lb_rev_nat. Writer: control plane. The socket LB
 * also reads it as "the service still exists": an lb_sock_rev_nat entry whose service id is
 * missing here is stale and is neither used nor kept. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct lb_rev_nat);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_rev_nat SEC(".maps");

/* key: service id (host order); value: an inner array of M backend ids (host order), M prime.
 * Writer: control plane (a new inner map per change, swapped in atomically). BPF_F_INNER_MAP:
 * without it the kernel accepts only inner arrays of exactly this template's size, so any
 * --bpf-maglev-table-size but the default would make every table write fail with EINVAL; with
 * it any size is accepted and lb_select.h bounds the index by lb_maglev_m (a lookup past an
 * inner array's end fails closed). */
struct lb_maglev_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, LB_MAGLEV_M_DEFAULT);
	__uint(map_flags, BPF_F_INNER_MAP);
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, 16384);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct lb_maglev_inner);
} lb_maglev SEC(".maps");

/* key: struct lb_affinity_key; value: struct lb_affinity_value (last_used in bpf_jiffies64).
 * Writer: datapath. An entry is honoured only while its backend is still in the service's
 * lb_slots 1..backend_count (lb_select.h checks on every hit), so the control plane need not
 * delete entries of removed backends. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct lb_affinity_key);
	__type(value, struct lb_affinity_value);
	__uint(max_entries, 65536);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_affinity SEC(".maps");

/* key: struct lb_sock_rev_nat_key; value: struct lb_sock_rev_nat_value. Writer: sock programs. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct lb_sock_rev_nat_key);
	__type(value, struct lb_sock_rev_nat_value);
	__uint(max_entries, 262144);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_sock_rev_nat SEC(".maps");

/* key: struct lb_node_addr_key; value: struct lb_node_addr_value. Writer: control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct lb_node_addr_key);
	__type(value, struct lb_node_addr_value);
	__uint(max_entries, 256);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_node_addrs SEC(".maps");

/* Is `addr` (16 bytes, IPv4 v4-mapped) one where NodePorts answer? The one test the socket LB
 * (NodePort lookup, bind protection) and tc/XDP (NodePort lookup, DSR decapsulation) share. */
static __always_inline bool lb_is_node_addr(const __u8 *addr)
{
	struct lb_node_addr_key key;

	__builtin_memcpy(key.addr, addr, sizeof(key.addr));
	return bpf_map_lookup_elem(&lb_node_addrs, &key) != NULL;
}

/* key: struct lb_src_range_key (LPM); value: __u8 (1 = allowed). Writer: control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct lb_src_range_key);
	__type(value, __u8);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_src_ranges SEC(".maps");

#endif /* LB_MAPS_H */
