/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* sock_lb.h: what only the socket-level load balancer needs: its counters, the service CIDRs it
 * guards, the filter of its socket terminator (sock_term.bpf.c) and the errno values it hands back
 * to the application. Include after lb_maps.h.
 *
 * Counters are one struct of named __u64 fields in a one-entry per-CPU array, so user space reads
 * them by field name through the BTF-derived value layout (sum the per-CPU copies); no index table
 * has to be kept in sync by hand. A new counter takes the place of the first spare field, which
 * keeps the value size, so a pinned map of the previous version is still adopted; once the spares
 * are used up, growing the struct needs a map rename (lb_maps.h: layout change = new map name). */
#ifndef SOCK_LB_H
#define SOCK_LB_H

#ifndef LB_MAPS_H
#warning "include lb_maps.h before sock_lb.h"
#endif

struct lb_sock_stats {
	__u64 translated;                   /* connect/sendmsg rewritten to a backend */
	__u64 translated_nodeport;          /* ... of which through a NodePort wildcard entry */
	__u64 refused_no_backends;          /* backend_count 0: ECONNREFUSED */
	__u64 refused_unknown_port;         /* known VIP (port-0 marker), unknown port: ECONNREFUSED */
	__u64 fail_closed_bad_slot;         /* slot missing: EHOSTUNREACH */
	__u64 fail_closed_unknown_backend;  /* backend id missing: EHOSTUNREACH */
	__u64 fail_closed_maglev;           /* maglev table missing or short: EHOSTUNREACH */
	__u64 fail_closed_family;           /* backend family differs from the VIP's: EHOSTUNREACH */
	__u64 fail_closed_scope;            /* LB_SVC_TWO_SCOPES without the internal entry */
	__u64 fail_closed_rev_nat;          /* lb_sock_rev_nat update failed: ENOMEM */
	__u64 bind_refused;                 /* post_bind on a NodePort port: EADDRINUSE */
	__u64 affinity_hit;                 /* backend taken from a live affinity entry */
	__u64 affinity_expired;             /* affinity entry found past its timeout */
	__u64 rev_translated;               /* recvmsg/getpeername rewritten back to the VIP */
	__u64 passed_source_ranges;         /* LB_SVC_SOURCE_RANGES frontend left to the packet path */
	__u64 dropped_no_local_backends;    /* iTP/eTP=Local, endpoints only elsewhere: EHOSTUNREACH */
	__u64 dropped_unallocated;          /* in a service CIDR, not a service address: EHOSTUNREACH */
	__u64 pad_spare[7];                 /* room for counters without a layout change */
};

/* One entry; per-CPU, so the programs increment without atomics: a CPU runs one cgroup program
 * at a time with migration disabled (bpf_prog_run_array_cg), and a rare lost increment from
 * preemption by another BPF program on the same CPU is acceptable for statistics. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct lb_sock_stats);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_sock_stats SEC(".maps");

#define SOCK_COUNT(field)                                                          \
	do {                                                                       \
		__u32 __zero = 0;                                                  \
		struct lb_sock_stats *__s = bpf_map_lookup_elem(&lb_sock_stats, &__zero); \
		if (__s)                                                           \
			__s->field++;                                              \
	} while (0)

/* The ServiceCIDRs (networking.k8s.io/v1) of the cluster. An address inside one that is no service
 * address (no lb_services entry, no VIP marker) is an unallocated ClusterIP: kube-proxy's nftables
 * mode drops traffic to it (cluster-ips-check chain) instead of letting it leave for the default
 * route, and the socket LB refuses it. prefixlen counts the 16-byte address's bits, so an IPv4
 * CIDR a.b.c.d/n is ::ffff:a.b.c.d with prefixlen 96 + n. */
struct lb_service_cidr_key {
	__u32 prefixlen;
	__u8 addr[16];              /* network order, IPv4 v4-mapped */
};

/* key: struct lb_service_cidr_key (LPM); value: __u8 (1). Writer: control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct lb_service_cidr_key);
	__type(value, __u8);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_service_cidrs SEC(".maps");

/* Is `addr` (16 bytes, IPv4 v4-mapped) inside one of the cluster's service CIDRs? */
static __always_inline bool lb_in_service_cidr(const __u8 *addr)
{
	struct lb_service_cidr_key key = { .prefixlen = 128 };

	__builtin_memcpy(key.addr, addr, sizeof(key.addr));
	return bpf_map_lookup_elem(&lb_service_cidrs, &key) != NULL;
}

/* The socket terminator's filter (sock_term.bpf.c): the (frontend, backend) pairs whose
 * LB-connected sockets must be destroyed because the backend left the service or stopped serving.
 * frontend is what lb_sock_rev_nat recorded as the address the application asked for (a ClusterIP,
 * ExternalIP or LB IP) or, for a NodePort reached on a node or loopback address, the family's
 * NodePort wildcard (lb_set_wildcard). The control plane fills it just before an iterator run and
 * empties it afterwards, so between runs it is empty. */
struct lb_sock_term_key {
	__u8 frontend[16];          /* network order, IPv4 v4-mapped */
	__u8 backend[16];           /* network order, IPv4 v4-mapped */
	__be16 frontend_port;
	__be16 backend_port;
	__u8 proto;                 /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad[3];
};

/* key: struct lb_sock_term_key; value: __u8 (1). Writer: control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct lb_sock_term_key);
	__type(value, __u8);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_sock_term SEC(".maps");

/* errno values (asm-generic/errno.h); vmlinux.h carries no macros. */
#define SOCK_EADDRINUSE   98
#define SOCK_ENOMEM       12
#define SOCK_ECONNREFUSED 111
#define SOCK_EHOSTUNREACH 113

#endif /* SOCK_LB_H */
