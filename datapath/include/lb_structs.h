/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* lb_structs.h: the one definition of every load-balancing map key and value shared by the BPF
 * programs and the control plane. The TypeScript side never copies an offset from here: it reads
 * each map's key and value layout from the compiled object's BTF and encodes fields by name.
 *
 * Conventions (the codecs rely on them):
 * - addresses are 16 bytes in network order; IPv4 is stored v4-mapped (::ffff:a.b.c.d), so one
 *   map serves both families;
 * - fields typed __be16/__be32 are network byte order, every other integer is host order;
 * - ids (service, backend) are host-order __u32 chosen by the control plane, never 0.
 */
#ifndef LB_STRUCTS_H
#define LB_STRUCTS_H

/* Which entry of a service a lookup wants: traffic from outside the node uses the external
 * entry (eTP applies), traffic from pods and the host uses the internal entry (iTP applies). */
enum lb_scope {
	LB_SCOPE_EXTERNAL = 0,
	LB_SCOPE_INTERNAL = 1,
};

/* lb_service_value.flags */
enum lb_service_flags {
	LB_SVC_CLUSTER_IP        = 1 << 0,
	LB_SVC_NODEPORT          = 1 << 1, /* wildcard address entry, valid on node addresses only */
	LB_SVC_EXTERNAL_IP       = 1 << 2,
	LB_SVC_LOADBALANCER      = 1 << 3,
	LB_SVC_AFFINITY          = 1 << 4, /* sessionAffinity ClientIP */
	LB_SVC_ETP_LOCAL         = 1 << 5,
	LB_SVC_ITP_LOCAL         = 1 << 6,
	LB_SVC_SOURCE_RANGES     = 1 << 7, /* check lb_src_ranges before selecting */
	LB_SVC_DSR               = 1 << 8,
	LB_SVC_MAGLEV            = 1 << 9, /* select through lb_maglev, not at random */
	LB_SVC_LOCALHOST_NODEPORT = 1 << 10, /* NodePort also answers on 127.0.0.1 (from the node) */
	LB_SVC_TWO_SCOPES        = 1 << 11, /* an internal entry exists beside this external one */
	/* The VIP marker: key {VIP, port 0, proto 0, LB_SCOPE_EXTERNAL}, backend_count 0, flags
	 * LB_SVC_VIP_MARKER plus the address's kind (LB_SVC_CLUSTER_IP, _EXTERNAL_IP or
	 * _LOADBALANCER; the tc path refuses only the latter two), written once per service
	 * address. A lookup that misses the exact
	 * {VIP, port, proto} but hits the marker is a known VIP on an unknown port: refuse/drop it
	 * instead of letting it leak to the network. */
	LB_SVC_VIP_MARKER        = 1 << 12,
};

/* lb_backend.flags */
enum lb_backend_flags {
	LB_BE_LOCAL       = 1 << 0, /* runs on this node */
	LB_BE_TERMINATING = 1 << 1, /* serving but terminating (used only as a fallback) */
};

/* NodePort entries use the wildcard address of their family, i.e. the zero address in the usual
 * encoding: ::ffff:0.0.0.0 (v4-mapped zero) for IPv4, :: (all zero) for IPv6, so a dual-stack
 * NodePort has one entry per family; see lb_node_addrs.
 * Scopes (src/translate/README.md): a ClusterIP is one INTERNAL entry; a NodePort, ExternalIP or
 * LB VIP is one EXTERNAL entry, plus, with eTP=Local, an INTERNAL twin holding the cluster set
 * (the EXTERNAL one then holds the local set and is flagged LB_SVC_TWO_SCOPES). The socket LB
 * looks up LB_SCOPE_INTERNAL first, then LB_SCOPE_EXTERNAL (an EXTERNAL entry flagged
 * LB_SVC_TWO_SCOPES whose INTERNAL twin is missing is inconsistent and refused); tc/XDP look up
 * LB_SCOPE_EXTERNAL only (svc.h). */
struct lb_service_key {
	__u8 addr[16];   /* VIP, network order, IPv4 v4-mapped; the family's wildcard for NodePort */
	__be16 port;     /* service port, network order */
	__u8 proto;      /* IPPROTO_TCP, IPPROTO_UDP or IPPROTO_SCTP */
	__u8 scope;      /* enum lb_scope */
};

/* The NodePort wildcard of a family (above), written into a 16-byte key address. */
static __always_inline void lb_set_wildcard(__u8 *addr, bool v4)
{
	__builtin_memset(addr, 0, 16);
	if (v4)
		addr[10] = addr[11] = 0xff;
}

struct lb_service_value {
	__u32 service_id;           /* key of lb_slots, lb_rev_nat, lb_maglev, lb_affinity */
	__u16 backend_count;        /* slots 1..backend_count are valid; 0 means refuse, or drop
				     * with the entry's LB_SVC_ETP_LOCAL/LB_SVC_ITP_LOCAL */
	__u16 local_backend_count;  /* slots are written local backends first */
	__u32 flags;                /* enum lb_service_flags */
	__u32 affinity_timeout;     /* seconds, when LB_SVC_AFFINITY */
};

struct lb_slot_key {
	__u32 service_id;
	__u32 slot;                 /* 1-based, so a zeroed key never matches */
};

struct lb_backend {
	__u8 addr[16];              /* backend (pod) address, network order, v4-mapped for IPv4 */
	__be16 port;                /* target port, network order */
	__u8 proto;
	__u8 flags;                 /* enum lb_backend_flags */
	__u8 node_addr[16];         /* address of the backend's node, for DSR encapsulation */
};

struct lb_rev_nat {
	__u8 addr[16];              /* the frontend address a reply must appear to come from */
	__be16 port;
	__u16 pad;
};

/* Session affinity. For socket LB the client is the network namespace cookie (in addr[0..7],
 * host order) and kind is LB_AFFINITY_NETNS; for tc/XDP it is the client address. */
enum lb_affinity_kind {
	LB_AFFINITY_ADDR  = 0,
	LB_AFFINITY_NETNS = 1,
};

struct lb_affinity_key {
	__u8 client[16];
	__u32 service_id;
	__u32 kind;                 /* enum lb_affinity_kind */
};

struct lb_affinity_value {
	__u64 last_used;            /* bpf_jiffies64() or bpf_ktime_get_ns() at last use, see lb_maps.h */
	__u32 backend_id;
	__u32 slot;                 /* lb_slots slot (1-based) backend_id was last seen in, 0 if not
				     * known (Maglev choice); a hint for the membership check in
				     * lb_select.h, never trusted without reading lb_slots */
};

/* Socket-level reverse NAT: recvmsg/getpeername map a backend back to the frontend. */
struct lb_sock_rev_nat_key {
	__u64 cookie;               /* socket cookie (bpf_get_socket_cookie) */
	__u8 addr[16];              /* backend address the socket talks to */
	__be16 port;                /* backend port */
	__u16 pad;
	__u32 pad2;
};

struct lb_sock_rev_nat_value {
	__u8 addr[16];              /* frontend (VIP) address */
	__be16 port;
	__u16 pad;
	__u32 service_id;
};

struct lb_node_addr_key {
	__u8 addr[16];              /* an address of this node where NodePorts answer */
};

struct lb_node_addr_value {
	__u32 flags;                /* reserved */
};

/* loadBalancerSourceRanges: LPM key, prefixlen counts service_id's 32 bits plus address bits. */
struct lb_src_range_key {
	__u32 prefixlen;
	__u32 service_id;           /* host order; always inside the prefix, so order is moot */
	__u8 addr[16];
};

#endif /* LB_STRUCTS_H */
