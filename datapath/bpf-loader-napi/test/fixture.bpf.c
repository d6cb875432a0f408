// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* fixture.bpf.c: the addon's test object. One map of every type the datapath uses, an XDP and a tc
 * program with visible effects on the packet, a cgroup connect4 program that redirects a port, and a
 * UDP socket iterator.
 * Nothing here is part of the datapath. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define TC_ACT_OK 0
#define ETH_ALEN 6
#define ETH_P_IP 0x0800

/* Key with the shapes the codec must handle: a byte array, a big-endian field, plain bytes. */
struct fx_key {
	__u8 addr[16];
	__be16 port;
	__u8 proto;
	__u8 scope;
};

struct fx_val {
	__u32 id;
	__u16 count;
	__u16 pad;
	__u64 bytes;
};

struct fx_lpm_key {
	__u32 prefixlen;
	__u8 addr[4];
};

/* Port redirect for connect4 (ports in network order, like bpf_sock_addr.user_port). */
struct fx_redirect {
	__be16 from_port;
	__be16 to_port;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct fx_key);
	__type(value, struct fx_val);
	__uint(max_entries, 64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fx_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 32);
} fx_lru SEC(".maps");

/* Slot 0: xdp runs, 1: tc runs, 2: second xdp program runs, 3: connect4 redirects. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 4);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fx_percpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct fx_lpm_key);
	__type(value, __u32);
	__uint(max_entries, 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} fx_lpm SEC(".maps");

struct fx_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 8);
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, 8);
	__array(values, struct fx_inner);
} fx_outer SEC(".maps");

/* A map of the inner map's shape, for storing into fx_outer from user space. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 8);
} fx_inner_a SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fx_redirect);
	__uint(max_entries, 1);
} fx_config SEC(".maps");

/* Load-time constants: the verdict of xdp_swap and the byte tc_mark writes. */
const volatile __u32 xdp_verdict = XDP_PASS;
const volatile __u8 mark_byte = 0xaa;

static __always_inline void count(__u32 slot)
{
	__u64 *c = bpf_map_lookup_elem(&fx_percpu, &slot);
	if (c)
		*c += 1;
}

/* Swaps the Ethernet addresses; an LPM hit on the IPv4 source turns the verdict into XDP_DROP. */
SEC("xdp")
int xdp_swap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	__u8 tmp[ETH_ALEN];

	count(0);
	if ((void *)(eth + 1) > end)
		return XDP_ABORTED;
	__builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
	if (eth->h_proto == bpf_htons(ETH_P_IP) && (void *)(ip + 1) <= end) {
		struct fx_lpm_key k = { .prefixlen = 32 };
		__builtin_memcpy(k.addr, &ip->saddr, 4);
		if (bpf_map_lookup_elem(&fx_lpm, &k))
			return XDP_DROP;
	}
	return xdp_verdict;
}

SEC("xdp")
int xdp_pass2(struct xdp_md *ctx)
{
	count(2);
	return XDP_PASS;
}

/* Writes mark_byte over the first byte after the Ethernet header. */
SEC("tc")
int tc_mark(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	__u8 *b = data + sizeof(struct ethhdr);

	count(1);
	if ((void *)(b + 1) > end)
		return TC_ACT_OK;
	*b = mark_byte;
	return TC_ACT_OK;
}

SEC("tc")
int tc_ok2(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

/* connect() to 127.0.0.1:from_port goes to 127.0.0.1:to_port instead. */
SEC("cgroup/connect4")
int connect4_redirect(struct bpf_sock_addr *ctx)
{
	__u32 zero = 0;
	struct fx_redirect *r = bpf_map_lookup_elem(&fx_config, &zero);

	if (!r || ctx->user_ip4 != bpf_htonl(0x7f000001))
		return 1;
	if ((ctx->user_port & 0xffff) != r->from_port)
		return 1;
	ctx->user_port = r->to_port;
	count(3);
	return 1;
}

/* One program per remaining socket hook, to show each attach type links (they allow everything). */
#define FX_ALLOW(sec, name, ctx_type)     \
	SEC(sec)                          \
	int name(struct ctx_type *ctx)    \
	{                                 \
		return 1;                 \
	}

FX_ALLOW("cgroup/connect6", allow_connect6, bpf_sock_addr)
FX_ALLOW("cgroup/sendmsg4", allow_sendmsg4, bpf_sock_addr)
FX_ALLOW("cgroup/sendmsg6", allow_sendmsg6, bpf_sock_addr)
FX_ALLOW("cgroup/recvmsg4", allow_recvmsg4, bpf_sock_addr)
FX_ALLOW("cgroup/recvmsg6", allow_recvmsg6, bpf_sock_addr)
FX_ALLOW("cgroup/getpeername4", allow_getpeername4, bpf_sock_addr)
FX_ALLOW("cgroup/getpeername6", allow_getpeername6, bpf_sock_addr)
FX_ALLOW("cgroup/getsockname4", allow_getsockname4, bpf_sock_addr)
FX_ALLOW("cgroup/getsockname6", allow_getsockname6, bpf_sock_addr)
FX_ALLOW("cgroup/post_bind4", allow_post_bind4, bpf_sock)
FX_ALLOW("cgroup/post_bind6", allow_post_bind6, bpf_sock)

/* An iterator: the local port of every UDP socket of the namespace it runs in, as a __u16 each. */
SEC("iter/udp")
int udp_ports(struct bpf_iter__udp *ctx)
{
	struct sock_common *skc = (struct sock_common *)ctx->udp_sk;
	__u16 port;

	if (!skc)
		return 0;
	port = skc->skc_num;
	bpf_seq_write(ctx->meta->seq, &port, sizeof(port));
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
