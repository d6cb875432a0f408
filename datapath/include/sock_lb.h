/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* sock_lb.h: what only the socket-level load balancer (sock.bpf.c) needs: its counters and the
 * errno values it hands back to the application. Include after lb_maps.h.
 *
 * Counters are one struct of named __u64 fields in a one-entry per-CPU array, so user space reads
 * them by field name through the BTF-derived value layout (sum the per-CPU copies); no index table
 * has to be kept in sync by hand. Adding a field at the end keeps pinned readers working only after
 * a map rename, because the value size changes (lb_maps.h: layout change = new map name). */
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

/* errno values (asm-generic/errno.h); vmlinux.h carries no macros. */
#define SOCK_EADDRINUSE   98
#define SOCK_ENOMEM       12
#define SOCK_ECONNREFUSED 111
#define SOCK_EHOSTUNREACH 113

#endif /* SOCK_LB_H */
