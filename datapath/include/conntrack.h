/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* conntrack.h: connection tracking of north-south service flows, shared (pinned by name) by the
 * xdp and tc objects. Include ctx.h, parse.h and lb_select.h (lb_kernel_hz) first.
 *
 * Entries are keyed by the tuple exactly as a packet shows it on the wire and say what that
 * packet must become ({nat_src, nat_sport} -> {nat_dst, nat_dport}), so forward packets and
 * replies take the same path. Keys are per family so IPv4's is 16 bytes (an LRU lookup hashes
 * and compares the whole key). Two kinds of map:
 *   kpb_ct4/kpb_ct6 (LRU): forward entries of every flow, and reply entries of flows to local
 *     backends (their reply leaves through tc egress).
 *   kpb_snat4/kpb_snat6 (arrays of slots, a reservation table): the reply entry of a SNAT flow
 *     (backend -> node address:port), which is also its port reservation, in the slot its reply
 *     tuple hashes to. It is never evicted: it ends when it has expired and its forward entry no
 *     longer uses it (a new flow takes the slot over, or the agent's sweep, kpb_snat_gc, frees
 *     it). An LRU would drop reservations of live flows under pressure and hand their port to
 *     another flow, crossing replies (issue 12). Earlier versions kept them in hash maps of the
 *     same names; src/dataplane/convert-snat.ts moves their entries into the slots.
 *
 * Times are the low 32 bits of bpf_jiffies64() (inlined, ~1 ns; wraps after 49 days at HZ 1000,
 * compared wrap-safe); lifetimes are load-time constants in seconds times lb_kernel_hz. A live
 * entry's expiry is rewritten at most once a second, or when its TCP state changes, so a busy
 * flow does not write its shared entry on every packet.
 *
 * Upgrade from the single 40-byte-key map kpb_ct of earlier versions: each old entry maps to one
 * new entry of its family (v4-mapped addresses -> kpb_ct4/kpb_snat4 keys; {REPLY, SNAT} entries
 * -> kpb_snat*, all others -> kpb_ct*); nat fields, ports, flags, ids and tcp_state carry over,
 * expires keeps its low 32 bits, a DSR entry's tunnel_dst becomes nat_dst, and be_gen and the
 * next hop start empty (0), so the first packet re-validates both. src/dataplane/
 * convert-conntrack.ts does this (the old pin is read with its own BTF). The old layout was
 * key {src[16], dst[16], sport, dport, proto, pad[3]} and value {nat_src[16], nat_dst[16],
 * nat_sport, nat_dport, __u32 flags, __u64 expires, service_id, backend_id, tunnel_dst[16],
 * tcp_state, pad[7]}. */
#ifndef KPB_CONNTRACK_H
#define KPB_CONNTRACK_H

#ifndef KPB_CT_MAX_ENTRIES
#define KPB_CT_MAX_ENTRIES 262144
#endif
#ifndef KPB_SNAT_MAX_ENTRIES
#define KPB_SNAT_MAX_ENTRIES 262144
#endif

/* Lifetimes in seconds, set before load (the agent feeds --conntrack-tcp-timeout-* and
 * --conntrack-udp-timeout into them); defaults after Linux's nf_conntrack where they exist. */
const volatile __u32 kpb_ct_timeout_syn = 60;               /* TCP before the first non-SYN packet */
const volatile __u32 kpb_ct_timeout_tcp_established = 21600; /* TCP established */
const volatile __u32 kpb_ct_timeout_tcp_close = 10;         /* TCP after FIN or RST */
const volatile __u32 kpb_ct_timeout_udp = 60;               /* UDP, and SCTP */

enum kpb_ct_flags {
	KPB_CT_LOCAL       = 1 << 0, /* DNAT to a backend on this node (forward, or its reply) */
	KPB_CT_REMOTE      = 1 << 1, /* forward entry: translate and forward to another node */
	KPB_CT_REPLY       = 1 << 2, /* reply entry: translate back to the frontend */
	KPB_CT_SNAT        = 1 << 3, /* source rewritten to a node address (remote, SNAT mode) */
	KPB_CT_DSR         = 1 << 4, /* encapsulated to the backend's node (nat_dst), no NAT */
	KPB_CT_DSR_BACKEND = 1 << 5, /* on the backend's node: reply leaves with the VIP as source */
	KPB_CT_HOST_BACKEND = 1 << 6, /* local backend at a node address: delivered, not routed */
};

enum kpb_ct_tcp_state {
	KPB_CT_NEW = 0,
	KPB_CT_ESTABLISHED = 1,
	KPB_CT_CLOSING = 2,
};

struct kpb_ct4_key {
	__be32 src;
	__be32 dst;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

struct kpb_ct6_key {
	__u8 src[16];
	__u8 dst[16];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

/* Where a translated packet goes: the FIB's answer for the flow, valid while gen equals
 * kpb_gens.nh, so bpf_fib_lookup runs only for a flow's first packet and after a route or
 * neighbour change. */
struct kpb_nh {
	__u32 gen;             /* kpb_gens.nh when filled */
	__u32 ifindex;         /* 0: nothing cached */
	__u16 mtu;             /* largest IP length the route is known to carry (FIB-checked) */
	__u16 pad;
	__u8 macs[12];         /* destination MAC, then source MAC: the Ethernet header's order */
};

struct kpb_ct_value {
	__u8 nat_src[16];      /* what the packet's source becomes (IPv4 v4-mapped) */
	__u8 nat_dst[16];      /* what the packet's destination becomes; KPB_CT_DSR: the tunnel's */
	__be16 nat_sport;
	__be16 nat_dport;
	__u16 flags;           /* enum kpb_ct_flags */
	__u8 tcp_state;        /* enum kpb_ct_tcp_state */
	__u8 pad;
	__u32 expires;         /* jiffies, low 32 bits; 8-aligned with service_id (nat.h swaps both) */
	__u32 service_id;
	__u32 backend_id;
	__u32 be_gen;          /* kpb_gens.be when backend_id was last seen in lb_backends */
	struct kpb_nh nh;
};

/* An LRU map of conntrack entries, pinned by name and sized by --bpf-map-conntrack: kpb_ct4/6 and
 * pod.h's kpb_pod_ct4/6 have this one shape, so the lifetimes, the agent's cleanup and `inspect
 * conntrack` serve all of them. */
#define KPB_CT_LRU_MAP(name, key_type)                     \
	struct {                                           \
		__uint(type, BPF_MAP_TYPE_LRU_HASH);       \
		__type(key, key_type);                     \
		__type(value, struct kpb_ct_value);        \
		__uint(max_entries, KPB_CT_MAX_ENTRIES);   \
		__uint(pinning, LIBBPF_PIN_BY_NAME);       \
	} name SEC(".maps")

/* key: struct kpb_ct4_key (network order); value: struct kpb_ct_value. Writer: datapath; the
 * control plane reads it for metrics and may delete entries. */
KPB_CT_LRU_MAP(kpb_ct4, struct kpb_ct4_key);

/* key: struct kpb_ct6_key (network order); value: struct kpb_ct_value. Writer: datapath. */
KPB_CT_LRU_MAP(kpb_ct6, struct kpb_ct6_key);

/* A SNAT reservation: one slot of kpb_snat4/kpb_snat6, a preallocated array indexed by a hash of
 * the reply tuple (kpb_snat4_hash/kpb_snat6_hash; src/dataplane/snat-slots.ts computes the same in
 * the agent, for the upgrade from the hash maps of earlier versions). A new flow claims the slot
 * of its reply tuple with one compare-and-swap on `owner`; a slot held by another reservation that
 * is alive (or whose flow still uses it) makes the port walk try the next port, which hashes to
 * another slot. A reply finds its reservation by the same hash and checks that the slot holds its
 * own tuple. Nothing evicts a slot: it is freed (owner 0) by kpb_snat_gc, or taken over by a new
 * flow, only once it has expired and its flow's forward entry no longer uses it. */
struct kpb_snat4_slot {
	__u64 owner;               /* 0: free; else the slot's claim count (each claim swaps in owner + 1) */
	struct kpb_ct4_key key;    /* the reply tuple (backend -> SNAT address:port), network order */
	struct kpb_ct_value v;     /* what the reply becomes */
};

struct kpb_snat6_slot {
	__u64 owner;
	struct kpb_ct6_key key;
	struct kpb_ct_value v;
};

/* Slots per family: a power of two, equal to the maps' max_entries (the agent sets both from
 * --bpf-map-snat, rounded up). */
const volatile __u32 kpb_snat_slots = KPB_SNAT_MAX_ENTRIES;

/* key: slot index (host order), kpb_snat4_hash(reply tuple) & (kpb_snat_slots - 1); value: struct
 * kpb_snat4_slot. Writer: datapath (claims, takes over, renews); kpb_snat_gc frees; the agent
 * writes slots only when it converts an earlier version's map (map migration). Sized by
 * --bpf-map-snat. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct kpb_snat4_slot);
	__uint(max_entries, KPB_SNAT_MAX_ENTRIES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kpb_snat4 SEC(".maps");

/* key: slot index, kpb_snat6_hash(reply tuple) & (kpb_snat_slots - 1); value: struct
 * kpb_snat6_slot. As kpb_snat4. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct kpb_snat6_slot);
	__uint(max_entries, KPB_SNAT_MAX_ENTRIES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kpb_snat6 SEC(".maps");

/* The slot hash: the key's 32-bit words as they lie in memory (little-endian loads), mixed one by
 * one, then finalised (murmur3's constants). The agent's copy must match word for word. */
static __always_inline __u32 kpb_snat_mix(__u32 h, __u32 w)
{
	h ^= w;
	h *= 0x85ebca6b;
	return h ^ (h >> 13);
}

static __always_inline __u32 kpb_snat_fin(__u32 h)
{
	h ^= h >> 16;
	h *= 0xc2b2ae35;
	return h ^ (h >> 16);
}

static __always_inline __u32 kpb_snat4_hash(const struct kpb_ct4_key *k)
{
	const __u32 *w = (const __u32 *)k;
	__u32 h = 0x9e3779b9;

	h = kpb_snat_mix(h, w[0]);
	h = kpb_snat_mix(h, w[1]);
	h = kpb_snat_mix(h, w[2]);
	h = kpb_snat_mix(h, w[3]);
	return kpb_snat_fin(h);
}

static __always_inline __u32 kpb_snat6_hash(const struct kpb_ct6_key *k)
{
	const __u32 *w = (const __u32 *)k;
	__u32 h = 0x9e3779b9;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(*k) / 4); i++)
		h = kpb_snat_mix(h, w[i]);
	return kpb_snat_fin(h);
}

/* Key comparisons by 32-bit words: the keys may sit 4-aligned on the stack. */
static __always_inline bool kpb_ct4_key_eq(const struct kpb_ct4_key *a, const struct kpb_ct4_key *b)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;

	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3])) == 0;
}

static __always_inline bool kpb_ct6_key_eq(const struct kpb_ct6_key *a, const struct kpb_ct6_key *b)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;
	__u32 d = 0;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(*a) / 4); i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

/* The slot a reply tuple hashes to (NULL only if the table is smaller than kpb_snat_slots). An
 * array lookup the verifier inlines: no helper call. */
static __always_inline struct kpb_snat4_slot *kpb_snat4_slot_of(const struct kpb_ct4_key *k)
{
	__u32 i = kpb_snat4_hash(k) & (kpb_snat_slots - 1);

	return bpf_map_lookup_elem(&kpb_snat4, &i);
}

static __always_inline struct kpb_snat6_slot *kpb_snat6_slot_of(const struct kpb_ct6_key *k)
{
	__u32 i = kpb_snat6_hash(k) & (kpb_snat_slots - 1);

	return bpf_map_lookup_elem(&kpb_snat6, &i);
}

/* The reservation whose reply tuple is k, or NULL: its slot must be claimed and hold k itself. */
static __always_inline struct kpb_ct_value *kpb_snat4_find(const struct kpb_ct4_key *k)
{
	struct kpb_snat4_slot *s = kpb_snat4_slot_of(k);

	if (!s || !s->owner || !kpb_ct4_key_eq(&s->key, k))
		return NULL;
	return &s->v;
}

static __always_inline struct kpb_ct_value *kpb_snat6_find(const struct kpb_ct6_key *k)
{
	struct kpb_snat6_slot *s = kpb_snat6_slot_of(k);

	if (!s || !s->owner || !kpb_ct6_key_eq(&s->key, k))
		return NULL;
	return &s->v;
}

/* The generations the agent bumps (src/dataplane/generations.ts), in one value so that a packet
 * reads both from one cache line:
 *   nh: the node's routes and neighbours. A conntrack entry's cached next hop is used only while
 *       its nh.gen equals this; bumped when they change.
 *   be: lb_backends. A forward entry re-checks that its backend still exists only when its be_gen
 *       differs from this, instead of looking lb_backends up on every packet; bumped after a sync
 *       that may have removed backends. */
struct kpb_gens {
	__u32 nh;
	__u32 be;
};

/* key: 0; value: struct kpb_gens, host order. Writer: the agent. An array lookup with a constant
 * key is inlined. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct kpb_gens);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kpb_gens SEC(".maps");

/* The generations, or NULL (then every generation reads as 0). */
static __always_inline const struct kpb_gens *kpb_gens_get(void)
{
	__u32 zero = 0;

	if (KPB_ABL(KPB_ABL_GEN))
		return (void *)0;
	return bpf_map_lookup_elem(&kpb_gens, &zero);
}

static __always_inline __u32 kpb_gen_nh(void)
{
	const struct kpb_gens *g = kpb_gens_get();

	return g ? g->nh : 0;
}

static __always_inline __u32 kpb_gen_be(void)
{
	const struct kpb_gens *g = kpb_gens_get();

	return g ? g->be : 0;
}

static __always_inline __u32 kpb_now(void)
{
	return (__u32)bpf_jiffies64();
}

static __always_inline bool kpb_ct_live(const struct kpb_ct_value *v, __u32 now)
{
	return (__s32)(v->expires - now) >= 0;
}

static __always_inline __u32 kpb_ct_lifetime(__u8 proto, __u8 state)
{
	if (proto != KPB_IPPROTO_TCP)
		return kpb_ct_timeout_udp;
	if (state == KPB_CT_CLOSING)
		return kpb_ct_timeout_tcp_close;
	if (state == KPB_CT_ESTABLISHED)
		return kpb_ct_timeout_tcp_established;
	return kpb_ct_timeout_syn;
}

static __always_inline __u32 kpb_ct_deadline(__u32 now, __u8 proto, __u8 state)
{
	return now + kpb_ct_lifetime(proto, state) * lb_kernel_hz;
}

static __always_inline void kpb_ct4_key_of(struct kpb_ct4_key *k, const struct kpb_pkt *p)
{
	kpb_copy4(&k->src, p->src + 12);
	kpb_copy4(&k->dst, p->dst + 12);
	k->sport = p->sport;
	k->dport = p->dport;
	k->proto = p->proto;
	k->pad[0] = k->pad[1] = k->pad[2] = 0;
}

static __always_inline void kpb_ct6_key_of(struct kpb_ct6_key *k, const struct kpb_pkt *p)
{
	kpb_copy16(k->src, p->src);
	kpb_copy16(k->dst, p->dst);
	k->sport = p->sport;
	k->dport = p->dport;
	k->proto = p->proto;
	k->pad[0] = k->pad[1] = k->pad[2] = 0;
}

/* The tuple of a packet, as both key types, built in place of one another (a union keeps the
 * stack small). */
union kpb_ct_key {
	struct kpb_ct4_key v4;
	struct kpb_ct6_key v6;
};

/* Keys the general path builds, per CPU, off the 512-byte stack (a map lookup takes its key from
 * map memory as well as from the stack). Slot 0: the packet's own tuple; 1: the forward entry of
 * a SNAT reservation; 2: a fragment's identity (frag.h). */
struct kpb_keys {
	union kpb_ct_key k[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct kpb_keys);
	__uint(max_entries, 1);
} kpb_keys_map SEC(".maps");

static __always_inline union kpb_ct_key *kpb_key_slot(__u32 slot)
{
	__u32 zero = 0;
	struct kpb_keys *k = bpf_map_lookup_elem(&kpb_keys_map, &zero);

	return k && slot < 3 ? &k->k[slot] : (void *)0;
}

/* A key of p's family from the 16-byte tuple parts. */
static __always_inline void kpb_ct_key_make(union kpb_ct_key *k, __u8 family, const __u8 *src, const __u8 *dst,
					    __be16 sport, __be16 dport, __u8 proto)
{
	if (family == KPB_AF_INET) {
		kpb_copy4(&k->v4.src, src + 12);
		kpb_copy4(&k->v4.dst, dst + 12);
		k->v4.sport = sport;
		k->v4.dport = dport;
		k->v4.proto = proto;
		k->v4.pad[0] = k->v4.pad[1] = k->v4.pad[2] = 0;
	} else {
		kpb_copy16(k->v6.src, src);
		kpb_copy16(k->v6.dst, dst);
		k->v6.sport = sport;
		k->v6.dport = dport;
		k->v6.proto = proto;
		k->v6.pad[0] = k->v6.pad[1] = k->v6.pad[2] = 0;
	}
}

/* Entries of a pair of maps, one per family (kpb_ct4/6, pod.h's kpb_pod_ct4/6): the
 * map is a constant once inlined, so each call site still names one map. */
static __always_inline struct kpb_ct_value *kpb_ct_find(void *map4, void *map6, __u8 family, const union kpb_ct_key *k)
{
	if (family == KPB_AF_INET)
		return bpf_map_lookup_elem(map4, &k->v4);
	return bpf_map_lookup_elem(map6, &k->v6);
}

static __always_inline long kpb_ct_store(void *map4, void *map6, __u8 family, const union kpb_ct_key *k,
					 const struct kpb_ct_value *v, __u64 flags)
{
	if (family == KPB_AF_INET)
		return bpf_map_update_elem(map4, &k->v4, v, flags);
	return bpf_map_update_elem(map6, &k->v6, v, flags);
}

static __always_inline void kpb_ct_remove(void *map4, void *map6, __u8 family, const union kpb_ct_key *k)
{
	if (family == KPB_AF_INET)
		bpf_map_delete_elem(map4, &k->v4);
	else
		bpf_map_delete_elem(map6, &k->v6);
}

/* p's own tuple as a key, built in kpb_keys_map's slot 0 (NULL only if the slot is missing). */
static __always_inline union kpb_ct_key *kpb_ct_key_build(const struct kpb_pkt *p)
{
	union kpb_ct_key *k = kpb_key_slot(0);

	if (k)
		kpb_ct_key_make(k, p->family, p->src, p->dst, p->sport, p->dport, p->proto);
	return k;
}

static __always_inline struct kpb_ct_value *kpb_ct_get(__u8 family, const union kpb_ct_key *k)
{
	return kpb_ct_find(&kpb_ct4, &kpb_ct6, family, k);
}

static __always_inline struct kpb_ct_value *kpb_snat_get(__u8 family, const union kpb_ct_key *k)
{
	if (family == KPB_AF_INET)
		return kpb_snat4_find(&k->v4);
	return kpb_snat6_find(&k->v6);
}

static __always_inline int kpb_ct_put(__u8 family, const union kpb_ct_key *k, const struct kpb_ct_value *v)
{
	if (KPB_ABL(KPB_ABL_CT_INSERT))
		return 0;
	return kpb_ct_store(&kpb_ct4, &kpb_ct6, family, k, v, BPF_ANY);
}

static __always_inline void kpb_ct_del(__u8 family, const union kpb_ct_key *k)
{
	kpb_ct_remove(&kpb_ct4, &kpb_ct6, family, k);
}

/* SNAT source ports, host order. The default sits above Linux's ip_local_port_range
 * (32768-60999) so our reservations never shadow the node's own connections. */
const volatile __u16 kpb_snat_port_min = 61000;
const volatile __u16 kpb_snat_port_max = 65535;

/* Could a packet to this port be the reply of a SNAT flow? Only then is kpb_snat* consulted. */
static __always_inline bool kpb_snat_port(__be16 port)
{
	__u16 h = bpf_ntohs(port);

	return h >= kpb_snat_port_min && h <= kpb_snat_port_max;
}

/* Is the SNAT reservation `rv` (key `rk`) still used by its flow's forward entry? That entry is
 * keyed by the client's tuple, which the reservation's translation names. */
static __always_inline bool kpb_snat_in_use(__u8 family, const union kpb_ct_key *rk, const struct kpb_ct_value *rv,
					    __u32 now)
{
	union kpb_ct_key *fk = kpb_key_slot(1);
	struct kpb_ct_value *fv;
	__be16 port, bport;
	const __u8 *backend;

	if (!fk)
		return true; /* cannot tell: keep it */
	kpb_ct_key_make(fk, family, rv->nat_dst, rv->nat_src, rv->nat_dport, rv->nat_sport,
			family == KPB_AF_INET ? rk->v4.proto : rk->v6.proto);
	fv = kpb_ct_get(family, fk);
	if (!fv || !kpb_ct_live(fv, now))
		return false;
	if (family == KPB_AF_INET) {
		port = rk->v4.dport;
		bport = rk->v4.sport;
		return fv->nat_sport == port && fv->nat_dport == bport && *(__u32 *)(fv->nat_dst + 12) == rk->v4.src;
	}
	port = rk->v6.dport;
	bport = rk->v6.sport;
	backend = rk->v6.src;
	return fv->nat_sport == port && fv->nat_dport == bport && kpb_addr_eq(fv->nat_dst, backend);
}

/* The live entry for this packet's tuple, or NULL. A packet to a port of the SNAT range may be
 * a SNAT flow's reply: its reservation is looked up first, and an expired one whose forward entry
 * still uses it is renewed (a flow whose traffic goes one way keeps its port). */
static __always_inline struct kpb_ct_value *kpb_ct_lookup(const struct kpb_pkt *p)
{
	union kpb_ct_key *k = kpb_ct_key_build(p);
	struct kpb_ct_value *v;
	__u32 now = kpb_now();

	if (!k)
		return NULL;
	if (kpb_snat_port(p->dport)) {
		v = kpb_snat_get(p->family, k);
		if (v) {
			if (kpb_ct_live(v, now))
				return v;
			if (!kpb_snat_in_use(p->family, k, v, now))
				return NULL;
			v->expires = kpb_ct_deadline(now, p->proto, v->tcp_state);
			return v;
		}
	}
	v = kpb_ct_get(p->family, k);
	if (!v || !kpb_ct_live(v, now))
		return NULL;
	return v;
}

/* Advance the TCP state with the flags this packet carries and extend the lifetime. A FIN or RST
 * shortens the life so closed flows leave room; a non-SYN packet marks the flow established.
 * Writes only what changed: the state when it changes, the expiry when it moved by a second. */
static __always_inline void kpb_ct_refresh(struct kpb_ct_value *v, const struct kpb_pkt *p)
{
	__u8 state = v->tcp_state;
	__u32 now = kpb_now(), deadline;

	if (p->proto == KPB_IPPROTO_TCP) {
		if (p->tcp_flags & (KPB_TCP_FIN | KPB_TCP_RST))
			state = KPB_CT_CLOSING;
		else if (!(p->tcp_flags & KPB_TCP_SYN) && state == KPB_CT_NEW)
			state = KPB_CT_ESTABLISHED;
		else if ((p->tcp_flags & KPB_TCP_SYN) && !(p->tcp_flags & KPB_TCP_ACK))
			state = KPB_CT_NEW; /* a new SYN on a reused tuple starts over */
	}
	deadline = kpb_ct_deadline(now, p->proto, state);
	if (state != v->tcp_state) {
		v->tcp_state = state;
		v->expires = deadline;
	} else if ((__s32)(deadline - v->expires) > (__s32)lb_kernel_hz) {
		v->expires = deadline;
	}
}

#endif /* KPB_CONNTRACK_H */
