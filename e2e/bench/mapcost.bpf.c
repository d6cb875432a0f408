// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* mapcost.bpf.c: one map operation per program, for e2e/bench/mapcost.ts, which times each with
 * BPF_PROG_TEST_RUN at repeat=1 like progcost.ts times the datapath. It answers what the new-flow
 * path's map work costs on this machine, one operation at a time. Keys and values have the sizes
 * of the datapath's IPv4 conntrack entries (struct kpb_ct4_key: 16 bytes, struct kpb_ct_value:
 * 80 bytes, conntrack.h), the maps their default capacity (262,144). Every run uses a key no run
 * used before (a counter in .bss), as a new flow does. Not part of the datapath. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define ENTRIES 262144
#define SLOTS (1 << 18)

struct key16 { __u32 src, dst; __u16 sport, dport; __u8 proto, pad[3]; };
struct val80 { __u8 b[80]; };
/* A reservation slot of the array prototype: owner word (expiry | id, swapped), then the entry. */
struct slot { __u64 owner; __u8 b[88]; };

#define HMAP(name, T, F) struct { __uint(type, T); __type(key, struct key16); __type(value, struct val80); \
	__uint(max_entries, ENTRIES); __uint(map_flags, F); } name SEC(".maps")
HMAP(hash_np, BPF_MAP_TYPE_HASH, BPF_F_NO_PREALLOC);       /* kpb_snat4's type and flags */
HMAP(hash_pre, BPF_MAP_TYPE_HASH, 0);
HMAP(lru, BPF_MAP_TYPE_LRU_HASH, 0);                        /* kpb_ct4's type and flags */
HMAP(lru_pcpu, BPF_MAP_TYPE_LRU_HASH, BPF_F_NO_COMMON_LRU);

struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, struct slot); __uint(max_entries, SLOTS); } slots SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, struct slot); __uint(max_entries, SLOTS); } slots_nf SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, __u64); __uint(max_entries, 1 << 20); } big8m SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, __u64); __uint(max_entries, 1 << 12); } small32k SEC(".maps");

__u32 ctr;
struct val80 val;

static __always_inline __u32 mix(__u32 x)
{
	x ^= x >> 16;
	x *= 0x7feb352d;
	x ^= x >> 15;
	x *= 0x846ca68b;
	x ^= x >> 16;
	return x;
}

/* A key no earlier run used; `kind` keeps the keys of different maps apart. */
static __always_inline void fresh(struct key16 *k, __u32 kind)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->src = ++ctr;
	k->dst = kind;
	k->sport = 9;
	k->dport = 61000;
	k->proto = 17;
}

#define XDP_ABORTED 0
#define XDP_PASS 2
#define OK(c) ((c) ? XDP_PASS : XDP_ABORTED)

SEC("xdp") int floor_pass(struct xdp_md *ctx) { return XDP_PASS; }

/* A random 8-byte load from an 8 MiB array (inlined lookup, no helper call): one cold line. */
SEC("xdp") int load_8m(struct xdp_md *ctx)
{
	__u32 i = mix(++ctr) & ((1 << 20) - 1);
	__u64 *v = bpf_map_lookup_elem(&big8m, &i);

	return OK(v && *v == 0);
}

SEC("xdp") int load_32k(struct xdp_md *ctx)
{
	__u32 i = mix(++ctr) & ((1 << 12) - 1);
	__u64 *v = bpf_map_lookup_elem(&small32k, &i);

	return OK(v && *v == 0);
}

/* Two independent random loads: do their misses overlap? */
SEC("xdp") int load_8m_x2(struct xdp_md *ctx)
{
	__u32 i = mix(++ctr) & ((1 << 20) - 1), j = mix(i) & ((1 << 20) - 1);
	__u64 *v = bpf_map_lookup_elem(&big8m, &i), *w = bpf_map_lookup_elem(&big8m, &j);

	return OK(v && w && *v + *w == 0);
}

SEC("xdp") int hash_miss(struct xdp_md *ctx) { struct key16 k; fresh(&k, 1); return OK(!bpf_map_lookup_elem(&hash_np, &k)); }
SEC("xdp") int lru_miss(struct xdp_md *ctx) { struct key16 k; fresh(&k, 1); return OK(!bpf_map_lookup_elem(&lru, &k)); }

/* Two lookup misses in two maps (helper calls): do their misses overlap? */
SEC("xdp") int miss_x2(struct xdp_md *ctx)
{
	struct key16 k;

	fresh(&k, 1);
	if (bpf_map_lookup_elem(&hash_np, &k))
		return XDP_ABORTED;
	k.dst = 2;
	return OK(!bpf_map_lookup_elem(&lru, &k));
}

SEC("xdp") int hash_np_insert(struct xdp_md *ctx) { struct key16 k; fresh(&k, 3); return OK(!bpf_map_update_elem(&hash_np, &k, &val, BPF_NOEXIST)); }
SEC("xdp") int hash_pre_insert(struct xdp_md *ctx) { struct key16 k; fresh(&k, 3); return OK(!bpf_map_update_elem(&hash_pre, &k, &val, BPF_NOEXIST)); }
SEC("xdp") int lru_insert(struct xdp_md *ctx) { struct key16 k; fresh(&k, 3); return OK(!bpf_map_update_elem(&lru, &k, &val, BPF_ANY)); }
SEC("xdp") int lru_pcpu_insert(struct xdp_md *ctx) { struct key16 k; fresh(&k, 3); return OK(!bpf_map_update_elem(&lru_pcpu, &k, &val, BPF_ANY)); }

/* Lookup miss, then insert of the same key: the insert finds the bucket in cache. */
SEC("xdp") int hash_np_miss_insert(struct xdp_md *ctx)
{
	struct key16 k;

	fresh(&k, 4);
	if (bpf_map_lookup_elem(&hash_np, &k))
		return XDP_ABORTED;
	return OK(!bpf_map_update_elem(&hash_np, &k, &val, BPF_NOEXIST));
}

/* NOEXIST on a key that exists (a SNAT port collision), bucket in cache. */
SEC("xdp") int hash_np_collide(struct xdp_md *ctx)
{
	struct key16 k;

	fresh(&k, 5);
	k.src = 1;
	bpf_map_update_elem(&hash_np, &k, &val, BPF_NOEXIST);
	return OK(bpf_map_update_elem(&hash_np, &k, &val, BPF_NOEXIST) == -17);
}

/* Today's new SNAT flow's map work: conntrack miss (LRU), reservation insert (hash, NOEXIST),
 * forward entry insert (LRU, bucket already in cache from the miss). */
SEC("xdp") int newflow_hash(struct xdp_md *ctx)
{
	struct key16 k, r;

	fresh(&k, 6);
	r = k;
	r.dst = 7;
	if (bpf_map_lookup_elem(&lru, &k))
		return XDP_ABORTED;
	if (bpf_map_update_elem(&hash_np, &r, &val, BPF_NOEXIST))
		return XDP_ABORTED;
	return OK(!bpf_map_update_elem(&lru, &k, &val, BPF_ANY));
}

/* The same with the reservation as a claimed slot of a preallocated array (inlined lookup, one
 * compare-and-swap, then the entry written): what a reservation table indexed by (backend,
 * port) would cost instead of a hash insert. */
SEC("xdp") int newflow_slot(struct xdp_md *ctx)
{
	struct key16 k;
	struct slot *s;
	__u32 i;

	fresh(&k, 8);
	if (bpf_map_lookup_elem(&lru, &k))
		return XDP_ABORTED;
	i = mix(k.src);
	/* A taken slot is a port collision: the next port is the next slot (as kpb_snat_alloc walks). */
	for (int t = 0; t < 4; t++, i++) {
		__u32 j = i & (SLOTS - 1);

		s = bpf_map_lookup_elem(&slots_nf, &j);
		if (!s)
			return XDP_ABORTED;
		if (__sync_val_compare_and_swap(&s->owner, 0, (__u64)k.src) == 0) {
			__builtin_memcpy(s->b, &val, sizeof(val));
			return OK(!bpf_map_update_elem(&lru, &k, &val, BPF_ANY));
		}
	}
	return XDP_ABORTED;
}

/* The slot claim alone. */
SEC("xdp") int slot_claim(struct xdp_md *ctx)
{
	__u32 i = mix(++ctr ^ 0x5a5a5a5a) & (SLOTS - 1);
	struct slot *s = bpf_map_lookup_elem(&slots, &i);

	if (!s)
		return XDP_ABORTED;
	__sync_val_compare_and_swap(&s->owner, s->owner, (__u64)ctr);
	__builtin_memcpy(s->b, &val, sizeof(val));
	return XDP_PASS;
}

/* The least an established IPv4 flow can cost here: read its tuple with direct packet access,
 * one inlined lookup of that (hot) key in an LRU map like kpb_ct4, then the NodePort rewrite: MACs,
 * destination address and port, with inline incremental IP and TCP checksum updates. No
 * counters, generations, options or checks beyond the bounds the verifier asks for: a lower bound
 * for xdpEstablishedP50Ns, not a datapath. The first run inserts the key; every later run hits.
 * The entry rewrites to the frame's own address and port, so that a repeated run (burst) keeps
 * finding the same key; the checksum arithmetic runs all the same. */
HMAP(lru_est, BPF_MAP_TYPE_LRU_HASH, 0);

static __always_inline __u16 fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	return (__u16)(s + (s >> 16));
}

struct est_slot { struct key16 k; struct val80 v; };
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, struct est_slot); __uint(max_entries, 1 << 16); } est_slots SEC(".maps");

/* The NodePort rewrite from entry v: MACs, destination address and port, inline checksums. */
static __always_inline void est_rewrite(struct ethhdr *eth, struct iphdr *ip, struct tcphdr *tcp, const struct val80 *v)
{
	__u32 old_dst = ip->daddr, new_dst = *(const __u32 *)&v->b[0];
	__u16 old_port = tcp->dest, new_port = *(const __u16 *)&v->b[4];

	__builtin_memcpy(eth->h_dest, &v->b[8], 6);
	__builtin_memcpy(eth->h_source, &v->b[14], 6);
	ip->daddr = new_dst;
	ip->check = ~fold((__u16)~ip->check + (__u32)(__u16)~old_dst + (__u32)(__u16)~(old_dst >> 16) +
			  (__u16)new_dst + (new_dst >> 16));
	tcp->dest = new_port;
	tcp->check = ~fold((__u16)~tcp->check + (__u32)(__u16)~old_dst + (__u32)(__u16)~(old_dst >> 16) +
			   (__u16)new_dst + (new_dst >> 16) + (__u16)~old_port + new_port);
}

/* The frame's tuple as a key, and a first entry that rewrites to the frame's own address and
 * port, so that a repeated run (burst) keeps finding the same key. */
static __always_inline struct ethhdr *est_parse(struct xdp_md *ctx, struct key16 *k, struct val80 *first)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	struct tcphdr *tcp = (void *)(ip + 1);

	if ((void *)(tcp + 1) > end)
		return 0;
	k->src = ip->saddr;
	k->dst = ip->daddr;
	k->sport = tcp->source;
	k->dport = tcp->dest;
	k->proto = 6;
	__builtin_memcpy(&first->b[0], &k->dst, 4);
	__builtin_memcpy(&first->b[4], &k->dport, 2);
	return data;
}

SEC("xdp") int est_least(struct xdp_md *ctx)
{
	struct key16 k = {};
	struct val80 first = {}, *v;
	struct ethhdr *eth = est_parse(ctx, &k, &first);

	if (!eth)
		return XDP_ABORTED;
	v = bpf_map_lookup_elem(&lru_est, &k);
	if (!v)
		return OK(!bpf_map_update_elem(&lru_est, &k, &first, BPF_ANY));
	est_rewrite(eth, (void *)(eth + 1), (void *)(eth + 1) + sizeof(struct iphdr), v);
	return XDP_PASS;
}

/* The same with the flow found in a direct-mapped array by an inline hash of its tuple and a key
 * compare: no call at all, the cheapest lookup BPF offers. */
SEC("xdp") int est_least_array(struct xdp_md *ctx)
{
	struct key16 k = {};
	struct val80 first = {};
	struct ethhdr *eth = est_parse(ctx, &k, &first);
	struct est_slot *s;
	__u32 i;

	if (!eth)
		return XDP_ABORTED;
	i = mix(k.src ^ k.dst ^ ((__u32)k.sport << 16 | k.dport)) & ((1 << 16) - 1);
	s = bpf_map_lookup_elem(&est_slots, &i);
	if (!s)
		return XDP_ABORTED;
	if (s->k.src != k.src || s->k.dst != k.dst || s->k.sport != k.sport || s->k.dport != k.dport || s->k.proto != 6) {
		s->k = k;
		s->v = first;
		return XDP_PASS;
	}
	est_rewrite(eth, (void *)(eth + 1), (void *)(eth + 1) + sizeof(struct iphdr), &s->v);
	return XDP_PASS;
}

SEC("xdp") int prandom(struct xdp_md *ctx) { return OK(bpf_get_prandom_u32() != 1); }
SEC("xdp") int jiffies(struct xdp_md *ctx) { return OK(bpf_jiffies64() != 1); }

char LICENSE[] SEC("license") = "Dual BSD/GPL";
