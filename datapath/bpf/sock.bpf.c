// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* sock.bpf.c: the socket-level service load balancer (east-west). Attached to a cgroup v2 (the
 * root one in production, so the host and every pod are covered), it rewrites the destination of
 * connect() and of unconnected sendmsg() from a service frontend to a backend before any packet
 * exists, and rewrites the peer address seen by recvmsg() and getpeername() back to the frontend.
 * No per-packet NAT is needed for this traffic.
 *
 * Frontend lookup, for destination address A, port P, protocol X (TCP, UDP or SCTP; other
 * protocols pass untouched to the stack and the tc path):
 *   1. {A, P, X, INTERNAL}, then {A, P, X, EXTERNAL}: socket traffic comes from the node or its
 *      pods, so it is "internal" and iTP applies. An EXTERNAL hit flagged LB_SVC_TWO_SCOPES whose
 *      INTERNAL twin is missing is an inconsistent map: fail closed.
 *   2. Miss, and A is a node address (lb_node_addrs), or 127.0.0.1 or ::1 in the host netns: the
 *      same two lookups with the family's wildcard address (::ffff:0.0.0.0 or ::), accepted only
 *      if flagged LB_SVC_NODEPORT, and on a loopback address only if also
 *      LB_SVC_LOCALHOST_NODEPORT (kube-proxy has 127.0.0.1 only; ::1 is our addition).
 *   3. Miss: {A, 0, 0, EXTERNAL} is the VIP marker (LB_SVC_VIP_MARKER). If present, A is a
 *      service address but P is not a service port: refuse, never leak to the network.
 *   4. Miss, and A lies in a service CIDR (lb_service_cidrs): an unallocated ClusterIP, which
 *      kube-proxy's nftables mode drops: refuse.
 *   5. Miss: not a service; the socket proceeds unchanged.
 * SCTP: Linux (6.18) runs no connect, sendmsg, recvmsg or post_bind hook for SCTP sockets
 * (sctp_prot has no pre_connect and its own bind, which inet_bind_sk calls before the bind hooks;
 * the sendmsg/recvmsg hooks are UDP's); only getpeername4/6 run (inet_getname, inet6_getname), and
 * find no reverse entry since nothing was translated. SCTP is accepted here so that a kernel which
 * does run them gets the same translation; nothing tests it (the test kernel has no SCTP). Pods'
 * SCTP is translated per packet with host-namespace-only (pod.bpf.c); the node's is not.
 * A frontend flagged LB_SVC_SOURCE_RANGES is not translated here (see sock_xlate_fwd).
 * Backend choice is lb_select.h's: affinity first (client = netns cookie), then Maglev indexed by
 * lb_hash_u64(socket cookie) % M, else slot = seed % count + 1 where the seed is random for TCP
 * and lb_hash_u64(socket cookie) for UDP, so all datagrams of one socket reach one backend.
 *
 * Refusals set the errno through bpf_set_retval() (Linux 5.18+; allowed in connect, sendmsg and
 * post_bind hooks, not in recvmsg/getpeername) and return 0; without set_retval the kernel
 * reports EPERM (bpf_prog_run_array_cg turns a 0 verdict into -EPERM unless retval is already an
 * error). ECONNREFUSED: no endpoints, unknown port on a VIP (what kube-proxy's REJECT gives).
 * EHOSTUNREACH: a Local traffic policy with endpoints only on other nodes, or an unallocated
 * address of a service CIDR (kube-proxy drops both, see select_fail), or the maps are
 * inconsistent (fail closed). ENOMEM: the reverse mapping could
 * not be stored. EADDRINUSE: post_bind on a NodePort port. recvmsg/getpeername cannot refuse. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "lb_maps.h"
#include "lb_select.h"
#include "sock_lb.h"

#define SYS_REJECT 0
#define SYS_PROCEED 1

/* Cookie of the network namespace that counts as "the node" for 127.0.0.1 NodePorts and bind
 * protection. 0: the initial netns (bpf_get_netns_cookie(NULL)). Tests, and nodes that are
 * themselves containers, set it to their netns cookie (getsockopt SO_NETNS_COOKIE). */
const volatile __u64 lb_host_netns_cookie = 0;

/* --bpf-socket-lb=host-namespace-only: translate only sockets of the node's own namespace (the one
 * lb_host_netns_cookie names). Pods' sockets then keep the frontend as their destination, and
 * their packets are translated at the pod interfaces instead (pod.bpf.c). */
const volatile bool lb_host_netns_only = false;

union lb_addr {
	__u8 b[16];
	__u32 w[4];
};

/* A destination as the application gave it; rewritten in place to the backend. */
struct sock_flow {
	union lb_addr addr;  /* v4-mapped for IPv4, network order */
	__be16 port;
	__u8 proto;
	__u8 v4;             /* addr is v4-mapped */
};

static __always_inline bool sock_proto_supported(__u32 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP;
}

static __always_inline bool addr_is_v4mapped(const union lb_addr *a)
{
	return a->w[0] == 0 && a->w[1] == 0 && a->w[2] == bpf_htonl(0xffff);
}

/* 127.0.0.1 (v4-mapped) or ::1: the loopback addresses a NodePort may answer on from the node. */
static __always_inline bool addr_is_localhost(const union lb_addr *a)
{
	if (addr_is_v4mapped(a))
		return a->w[3] == bpf_htonl(0x7f000001);
	return a->w[0] == 0 && a->w[1] == 0 && a->w[2] == 0 && a->w[3] == bpf_htonl(1);
}

static __always_inline bool addr_is_wildcard(const union lb_addr *a, bool v4)
{
	return a->w[0] == 0 && a->w[1] == 0 && a->w[2] == (v4 ? bpf_htonl(0xffff) : 0) &&
	       a->w[3] == 0;
}

static __always_inline bool in_host_netns(void *ctx)
{
	__u64 host = lb_host_netns_cookie;

	if (!host)
		host = bpf_get_netns_cookie(NULL);
	return bpf_get_netns_cookie(ctx) == host;
}

/* Step 1 of the lookup (see the top comment). *bad_scope is set for a TWO_SCOPES entry whose
 * internal twin is missing. */
static __always_inline struct lb_service_value *lookup_frontend(struct lb_service_key *key,
								bool *bad_scope)
{
	struct lb_service_value *svc;

	key->scope = LB_SCOPE_INTERNAL;
	svc = bpf_map_lookup_elem(&lb_services, key);
	if (svc)
		return svc;
	key->scope = LB_SCOPE_EXTERNAL;
	svc = bpf_map_lookup_elem(&lb_services, key);
	if (svc && (svc->flags & LB_SVC_TWO_SCOPES)) {
		*bad_scope = true;
		return NULL;
	}
	return svc;
}

/* Step 2: the NodePort wildcard entry for a node address (or 127.0.0.1/::1 from the node). */
static __always_inline struct lb_service_value *lookup_nodeport(void *ctx, const struct sock_flow *f,
								struct lb_service_key *key,
								bool *bad_scope)
{
	struct lb_service_value *svc;
	bool localhost = false;

	if (!lb_is_node_addr(f->addr.b)) {
		if (!addr_is_localhost(&f->addr) || !in_host_netns(ctx))
			return NULL;
		localhost = true;
	}
	lb_set_wildcard(key->addr, f->v4);
	svc = lookup_frontend(key, bad_scope);
	if (!svc || !(svc->flags & LB_SVC_NODEPORT))
		return NULL;
	if (localhost && !(svc->flags & LB_SVC_LOCALHOST_NODEPORT))
		return NULL;
	return svc;
}

/* Step 3: is the address a VIP at all (port-0 marker)? */
static __always_inline bool is_vip(const struct sock_flow *f)
{
	struct lb_service_key key = { .scope = LB_SCOPE_EXTERNAL };
	struct lb_service_value *marker;

	__builtin_memcpy(key.addr, f->addr.b, sizeof(key.addr));
	marker = bpf_map_lookup_elem(&lb_services, &key);
	return marker && (marker->flags & LB_SVC_VIP_MARKER);
}

static __always_inline int select_fail(int verdict)
{
	switch (verdict) {
	case LB_SEL_NO_BACKENDS:
		SOCK_COUNT(refused_no_backends);
		return -SOCK_ECONNREFUSED;
	case LB_SEL_NO_LOCAL_BACKENDS:
		/* kube-proxy drops here (spec §5.8, §5.11): the SYN vanishes and the client times out.
		 * A socket hook has no silent drop: leaving the address untranslated would send it
		 * off the node, and a black-hole rewrite needs an address that is certainly unrouted.
		 * So fail at once, like Cilium's socket LB for an empty service, with EHOSTUNREACH,
		 * the errno an unreachable (not a refusing) peer gives, never ECONNREFUSED, so the
		 * client can tell "none here" from "none at all". Counted on its own. */
		SOCK_COUNT(dropped_no_local_backends);
		return -SOCK_EHOSTUNREACH;
	case LB_SEL_BAD_SLOT:
		SOCK_COUNT(fail_closed_bad_slot);
		return -SOCK_EHOSTUNREACH;
	case LB_SEL_UNKNOWN_BACKEND:
		SOCK_COUNT(fail_closed_unknown_backend);
		return -SOCK_EHOSTUNREACH;
	default:
		SOCK_COUNT(fail_closed_maglev);
		return -SOCK_EHOSTUNREACH;
	}
}

/* Forward translation shared by connect and sendmsg. Returns 1 when f now holds a backend, 0 when
 * the destination is no service, or a negative errno to refuse with. */
static __always_inline int sock_xlate_fwd(void *ctx, struct sock_flow *f)
{
	struct lb_sock_rev_nat_value rev = {};
	struct lb_sock_rev_nat_key rkey = {};
	struct lb_service_key key = {};
	struct lb_affinity_key aff = { .kind = LB_AFFINITY_NETNS };
	struct lb_selected sel = {};
	struct lb_service_value *svc;
	bool bad_scope = false;
	bool nodeport = false;
	__u64 cookie, netns;
	__u32 hash, seed;
	int ret;

	__builtin_memcpy(key.addr, f->addr.b, sizeof(key.addr));
	key.port = f->port;
	key.proto = f->proto;
	svc = lookup_frontend(&key, &bad_scope);
	if (!svc && !bad_scope) {
		svc = lookup_nodeport(ctx, f, &key, &bad_scope);
		nodeport = svc != NULL;
	}
	if (bad_scope) {
		SOCK_COUNT(fail_closed_scope);
		return -SOCK_EHOSTUNREACH;
	}
	if (!svc) {
		if (is_vip(f)) {
			SOCK_COUNT(refused_unknown_port);
			return -SOCK_ECONNREFUSED;
		}
		if (lb_in_service_cidr(f->addr.b)) {
			/* Step 4. kube-proxy drops here; a socket hook cannot drop silently, and the
			 * address is certainly nobody's, so fail at once with the errno of an unreachable
			 * peer, as for a Local policy without local endpoints. */
			SOCK_COUNT(dropped_unallocated);
			return -SOCK_EHOSTUNREACH;
		}
		return 0;
	}

	/* loadBalancerSourceRanges filter on the client address, which a socket does not have yet
	 * at connect time (the kernel picks it after this hook). Translating here would bypass the
	 * filter, so such frontends are left to the packet path (tc on the node, or the external
	 * load balancer), which sees the real source. */
	if (svc->flags & LB_SVC_SOURCE_RANGES) {
		SOCK_COUNT(passed_source_ranges);
		return 0;
	}

	cookie = bpf_get_socket_cookie(ctx);
	hash = lb_hash_u64(cookie);
	seed = f->proto == IPPROTO_TCP ? bpf_get_prandom_u32() : hash;
	netns = bpf_get_netns_cookie(ctx);
	__builtin_memcpy(aff.client, &netns, sizeof(netns));

	ret = lb_select_backend(svc, &aff, seed, hash, &sel);
	if (sel.affinity_expired)
		SOCK_COUNT(affinity_expired);
	if (ret != LB_SEL_OK)
		return select_fail(ret);
	if (sel.affinity_hit)
		SOCK_COUNT(affinity_hit);

	/* A v4 frontend reached through a v4-mapped or AF_INET address must get a v4 backend and a
	 * v6 one a v6 backend; anything else would send the socket to an address of the wrong kind. */
	if (addr_is_v4mapped((const union lb_addr *)sel.backend->addr) != (bool)f->v4) {
		SOCK_COUNT(fail_closed_family);
		return -SOCK_EHOSTUNREACH;
	}

	/* recvmsg and getpeername find the frontend again through (cookie, backend). Without it a
	 * UDP client would see replies from an address it never sent to, so no entry = refuse. */
	rkey.cookie = cookie;
	__builtin_memcpy(rkey.addr, sel.backend->addr, sizeof(rkey.addr));
	rkey.port = sel.backend->port;
	__builtin_memcpy(rev.addr, f->addr.b, sizeof(rev.addr));
	rev.port = f->port;
	rev.service_id = svc->service_id;
	if (bpf_map_update_elem(&lb_sock_rev_nat, &rkey, &rev, BPF_ANY)) {
		SOCK_COUNT(fail_closed_rev_nat);
		return -SOCK_ENOMEM;
	}

	__builtin_memcpy(f->addr.b, sel.backend->addr, sizeof(f->addr.b));
	f->port = sel.backend->port;
	SOCK_COUNT(translated);
	if (nodeport)
		SOCK_COUNT(translated_nodeport);
	return 1;
}

/* Reverse translation for recvmsg and getpeername: backend -> frontend for this socket. An entry
 * whose service is gone from lb_rev_nat is stale (service deleted): drop it, translate nothing. */
static __always_inline bool sock_xlate_rev(void *ctx, union lb_addr *addr, __be16 *port)
{
	struct lb_sock_rev_nat_key key = {};
	struct lb_sock_rev_nat_value *val;
	__u32 service_id;

	key.cookie = bpf_get_socket_cookie(ctx);
	__builtin_memcpy(key.addr, addr->b, sizeof(key.addr));
	key.port = *port;
	val = bpf_map_lookup_elem(&lb_sock_rev_nat, &key);
	if (!val)
		return false;
	service_id = val->service_id;
	if (!bpf_map_lookup_elem(&lb_rev_nat, &service_id)) {
		bpf_map_delete_elem(&lb_sock_rev_nat, &key);
		return false;
	}
	__builtin_memcpy(addr->b, val->addr, sizeof(addr->b));
	*port = val->port;
	SOCK_COUNT(rev_translated);
	return true;
}

/* Fill union lb_addr *a from a context's IPv6 words `ip6` or IPv4 address `ip4` (v4-mapped).
 * A macro because it serves two context types (bpf_sock_addr's user_ip*, bpf_sock's src_ip*) and
 * a context field must be read by a direct load at a constant offset: the verifier rejects loads
 * through a pointer derived from ctx, so a pointer to the field cannot be passed. `v6` is a
 * constant at every use, so each program reads only the fields its attach type may access.
 * `ip6` stays unparenthesised: clang's CO-RE must see ctx->user_ip6[i] as one access, or it
 * computes &ctx->user_ip6 first and the verifier refuses the load through it. */
#define SOCK_ADDR_FROM_CTX(a, v6, ip6, ip4)          \
	do {                                         \
		if (v6) {                            \
			(a)->w[0] = ip6[0];          \
			(a)->w[1] = ip6[1];          \
			(a)->w[2] = ip6[2];          \
			(a)->w[3] = ip6[3];          \
		} else {                             \
			(a)->w[0] = 0;               \
			(a)->w[1] = 0;               \
			(a)->w[2] = bpf_htonl(0xffff); \
			(a)->w[3] = (ip4);           \
		}                                    \
	} while (0)

/* The destination (connect, sendmsg) or peer (recvmsg, getpeername) of a sock_addr context. */
static __always_inline void sock_addr_load(const struct bpf_sock_addr *ctx, bool v6, union lb_addr *a)
{
	SOCK_ADDR_FROM_CTX(a, v6, ctx->user_ip6, ctx->user_ip4);
}

/* A v4 hook always stores a v4-mapped address here: a v4 frontend gets only v4 backends
 * (sock_xlate_fwd), and a v4 socket's peer was translated from a v4 frontend. */
static __always_inline void sock_addr_store(struct bpf_sock_addr *ctx, bool v6, const union lb_addr *a,
					    __be16 port)
{
	if (v6) {
		ctx->user_ip6[0] = a->w[0];
		ctx->user_ip6[1] = a->w[1];
		ctx->user_ip6[2] = a->w[2];
		ctx->user_ip6[3] = a->w[3];
	} else {
		ctx->user_ip4 = a->w[3];
	}
	ctx->user_port = port;
}

/* connect and sendmsg, both families. */
static __always_inline int sock_fwd(struct bpf_sock_addr *ctx, bool v6)
{
	struct sock_flow f = {};
	int ret;

	if (lb_host_netns_only && !in_host_netns(ctx))
		return SYS_PROCEED;
	if (!sock_proto_supported(ctx->protocol))
		return SYS_PROCEED;
	sock_addr_load(ctx, v6, &f.addr);
	f.port = (__be16)ctx->user_port;
	f.proto = ctx->protocol;
	f.v4 = v6 ? addr_is_v4mapped(&f.addr) : 1;
	ret = sock_xlate_fwd(ctx, &f);
	if (ret < 0) {
		bpf_set_retval(ret);
		return SYS_REJECT;
	}
	if (ret > 0)
		sock_addr_store(ctx, v6, &f.addr, f.port);
	return SYS_PROCEED;
}

/* recvmsg and getpeername, both families. */
static __always_inline int sock_rev(struct bpf_sock_addr *ctx, bool v6)
{
	__be16 port = (__be16)ctx->user_port;
	union lb_addr a;

	if (lb_host_netns_only && !in_host_netns(ctx))
		return SYS_PROCEED;
	sock_addr_load(ctx, v6, &a);
	if (sock_xlate_rev(ctx, &a, &port))
		sock_addr_store(ctx, v6, &a, port);
	return SYS_PROCEED;
}

/* Is a NodePort wildcard entry of this family using port/proto? */
static __always_inline struct lb_service_value *nodeport_on(bool v4, __u16 port, __u8 proto)
{
	struct lb_service_key key = { .port = bpf_htons(port), .proto = proto };
	struct lb_service_value *svc;
	bool bad_scope = false;

	lb_set_wildcard(key.addr, v4);
	svc = lookup_frontend(&key, &bad_scope);
	if (!svc || !(svc->flags & LB_SVC_NODEPORT))
		return NULL;
	return svc;
}

/* post_bind: a process of the node binding a port a NodePort service answers on would never see
 * its traffic (connects from the node are translated) and would confuse users, so it gets
 * EADDRINUSE, as if the service held the port. Applies to binds on the wildcard address, on a
 * node address, and on 127.0.0.1 or ::1 when the NodePort also answers there. Pods (other netns) are
 * free to use the port. bpf_sock does not expose IPV6_V6ONLY, so a bind on :: is checked against
 * both families' NodePorts. */
static __always_inline int sock_post_bind(struct bpf_sock *ctx, bool v6)
{
	struct lb_service_value *svc;
	__u32 proto = ctx->protocol;
	__u16 port = ctx->src_port;
	bool localhost = false;
	bool v4 = !v6;
	union lb_addr a;
	bool any;

	if (!sock_proto_supported(proto) || port == 0)
		return SYS_PROCEED;
	if (!in_host_netns(ctx))
		return SYS_PROCEED;
	SOCK_ADDR_FROM_CTX(&a, v6, ctx->src_ip6, ctx->src_ip4);
	any = addr_is_wildcard(&a, v4);
	if (!any && !lb_is_node_addr(a.b)) {
		if (!addr_is_localhost(&a))
			return SYS_PROCEED;
		localhost = true;
	}
	svc = nodeport_on(addr_is_v4mapped(&a) || v4, port, proto);
	if (!svc && any && !v4)
		svc = nodeport_on(true, port, proto);
	if (!svc)
		return SYS_PROCEED;
	if (localhost && !(svc->flags & LB_SVC_LOCALHOST_NODEPORT))
		return SYS_PROCEED;
	SOCK_COUNT(bind_refused);
	bpf_set_retval(-SOCK_EADDRINUSE);
	return SYS_REJECT;
}

SEC("cgroup/connect4")
int kpb_sock_connect4(struct bpf_sock_addr *ctx)
{
	return sock_fwd(ctx, false);
}

SEC("cgroup/connect6")
int kpb_sock_connect6(struct bpf_sock_addr *ctx)
{
	return sock_fwd(ctx, true);
}

/* Unconnected UDP only: the kernel runs these hooks just for sendmsg with a destination. A v6
 * socket sending to a v4-mapped address goes through udp_sendmsg and so through sendmsg4. */
SEC("cgroup/sendmsg4")
int kpb_sock_sendmsg4(struct bpf_sock_addr *ctx)
{
	return sock_fwd(ctx, false);
}

SEC("cgroup/sendmsg6")
int kpb_sock_sendmsg6(struct bpf_sock_addr *ctx)
{
	return sock_fwd(ctx, true);
}

/* A v6 socket receiving from IPv4 sees a v4-mapped source here, which is how the entries are
 * keyed, so no special case is needed. */
SEC("cgroup/recvmsg4")
int kpb_sock_recvmsg4(struct bpf_sock_addr *ctx)
{
	return sock_rev(ctx, false);
}

SEC("cgroup/recvmsg6")
int kpb_sock_recvmsg6(struct bpf_sock_addr *ctx)
{
	return sock_rev(ctx, true);
}

SEC("cgroup/getpeername4")
int kpb_sock_getpeername4(struct bpf_sock_addr *ctx)
{
	return sock_rev(ctx, false);
}

SEC("cgroup/getpeername6")
int kpb_sock_getpeername6(struct bpf_sock_addr *ctx)
{
	return sock_rev(ctx, true);
}

SEC("cgroup/post_bind4")
int kpb_sock_post_bind4(struct bpf_sock *ctx)
{
	return sock_post_bind(ctx, false);
}

SEC("cgroup/post_bind6")
int kpb_sock_post_bind6(struct bpf_sock *ctx)
{
	return sock_post_bind(ctx, true);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
