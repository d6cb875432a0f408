// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* sock_term.bpf.c: destroys sockets the socket LB (sock.bpf.c) connected to a backend that has
 * left its service. The socket LB translates once, at connect(): a connected socket keeps talking
 * to its backend after the control plane removed it, and a connected UDP client (DNS, QUIC,
 * statsd) is never told. kube-proxy flushes conntrack for UDP; here the socket itself is destroyed
 * (bpf_sock_destroy, Linux 6.5+): TCP sends a reset and the application sees ECONNABORTED, UDP is
 * disconnected with ECONNABORTED pending, so the client reconnects and the socket LB picks a live
 * backend.
 *
 * Two iterator programs, one per socket table (iter/tcp, iter/udp; each covers both families).
 * The agent fills lb_sock_term, then runs both in every network namespace of the node (an
 * iterator walks the sockets of the namespace its instance was created in), then empties it.
 * A socket is destroyed only when all of this holds:
 *   - it is a full, connected socket (TCP: not listening, time-wait or a request; UDP: has a peer);
 *   - lb_sock_rev_nat has {its cookie, its peer}: the socket LB connected it, to this peer;
 *   - lb_sock_term has {the frontend that entry recorded, its peer, the protocol}, or, when that
 *     frontend is a node or loopback address (a NodePort), the same with the family's wildcard.
 * Each destroyed socket appends a record {__u64 cookie; __s64 result of bpf_sock_destroy} to the
 * iterator's output, which the agent counts. Kept apart from sock.bpf.c so that a kernel without
 * the kfunc refuses only this object, and the socket LB still loads. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "lb_maps.h"
#include "sock_lb.h"

#define SOCK_AF_INET 2
#define SOCK_AF_INET6 10

extern int bpf_sock_destroy(struct sock_common *sk) __ksym;

/* The peer of a socket, v4-mapped for IPv4 (as lb_sock_rev_nat keys it); false if it has none. */
static __always_inline bool peer_of(const struct sock_common *skc, __u8 *addr, __be16 *port)
{
	__u32 *w = (__u32 *)addr;

	if (skc->skc_family == SOCK_AF_INET) {
		w[0] = 0;
		w[1] = 0;
		w[2] = bpf_htonl(0xffff);
		w[3] = skc->skc_daddr;
	} else if (skc->skc_family == SOCK_AF_INET6) {
		w[0] = skc->skc_v6_daddr.in6_u.u6_addr32[0];
		w[1] = skc->skc_v6_daddr.in6_u.u6_addr32[1];
		w[2] = skc->skc_v6_daddr.in6_u.u6_addr32[2];
		w[3] = skc->skc_v6_daddr.in6_u.u6_addr32[3];
	} else {
		return false;
	}
	*port = skc->skc_dport;
	return *port != 0;
}

static __always_inline bool is_v4mapped(const __u8 *addr)
{
	const __u32 *w = (const __u32 *)addr;

	return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff);
}

static __always_inline bool is_loopback(const __u8 *addr)
{
	const __u32 *w = (const __u32 *)addr;

	if (is_v4mapped(addr))
		return w[3] == bpf_htonl(0x7f000001);
	return w[0] == 0 && w[1] == 0 && w[2] == 0 && w[3] == bpf_htonl(1);
}

/* Should the socket LB's connection of this socket end? See the top comment. */
static __always_inline bool doomed(const struct sock_common *skc, __u8 proto, __u64 cookie)
{
	struct lb_sock_rev_nat_key rk = {};
	struct lb_sock_rev_nat_value *rev;
	struct lb_sock_term_key tk = {};

	if (!peer_of(skc, rk.addr, &rk.port))
		return false;
	rk.cookie = cookie;
	rev = bpf_map_lookup_elem(&lb_sock_rev_nat, &rk);
	if (!rev)
		return false;
	__builtin_memcpy(tk.frontend, rev->addr, sizeof(tk.frontend));
	__builtin_memcpy(tk.backend, rk.addr, sizeof(tk.backend));
	tk.frontend_port = rev->port;
	tk.backend_port = rk.port;
	tk.proto = proto;
	if (bpf_map_lookup_elem(&lb_sock_term, &tk))
		return true;
	if (!lb_is_node_addr(tk.frontend) && !is_loopback(tk.frontend))
		return false;
	lb_set_wildcard(tk.frontend, is_v4mapped(tk.frontend));
	return bpf_map_lookup_elem(&lb_sock_term, &tk) != NULL;
}

static __always_inline void destroy(struct seq_file *seq, struct sock_common *skc, __u64 cookie)
{
	__s64 rec[2];

	rec[0] = (__s64)cookie;
	rec[1] = bpf_sock_destroy(skc);
	bpf_seq_write(seq, rec, sizeof(rec));
}

SEC("iter/tcp")
int kpb_sock_term_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	__u64 cookie;

	if (!skc)
		return 0;
	/* Time-wait and request sockets share the table but are no struct sock: skip them. */
	if (!bpf_skc_to_tcp_sock(skc))
		return 0;
	cookie = bpf_get_socket_cookie(skc);
	if (doomed(skc, IPPROTO_TCP, cookie))
		destroy(ctx->meta->seq, skc, cookie);
	return 0;
}

SEC("iter/udp")
int kpb_sock_term_udp(struct bpf_iter__udp *ctx)
{
	struct sock_common *skc = (struct sock_common *)ctx->udp_sk;
	__u64 cookie;

	if (!skc)
		return 0;
	cookie = bpf_get_socket_cookie(skc);
	if (doomed(skc, IPPROTO_UDP, cookie))
		destroy(ctx->meta->seq, skc, cookie);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
