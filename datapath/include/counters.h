/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* counters.h: per-CPU packet counters of the north-south hooks (xdp, tc ingress, tc egress), by
 * reason and verdict. Every packet that enters an entry point is counted exactly once, at the
 * program's single exit, in the slot of its hook and reason, under its verdict: one per-CPU slot
 * written per packet (one cache line), where a counter per verdict and one per reason took two.
 * Read by the control plane (sum over CPUs): a verdict's count is the sum over the hook's reasons,
 * a reason's the sum over its verdicts. Index = hook * KPB_CNT_MAX + reason. */
#ifndef KPB_COUNTERS_H
#define KPB_COUNTERS_H

enum kpb_hook {
	KPB_HOOK_XDP = 0,
	KPB_HOOK_TC_INGRESS = 1,
	KPB_HOOK_TC_EGRESS = 2,
	KPB_HOOK_MAX = 3,
};

enum kpb_counter {
	/* verdicts: the index into struct kpb_counter_slot.packets */
	KPB_CNT_VERDICT_PASS = 0,
	KPB_CNT_VERDICT_DROP = 1,
	KPB_CNT_VERDICT_TX = 2,        /* XDP_TX, or tc redirect back out of the arrival device */
	KPB_CNT_VERDICT_REDIRECT = 3,
	/* reasons: why the packet got its verdict; the slot it is counted in */
	KPB_CNT_NOT_IP = 4,            /* not IPv4/IPv6: passed */
	KPB_CNT_NOT_SERVICE = 5,       /* no service and no tracked flow: passed */
	KPB_CNT_UNSUPP_L4 = 6,         /* L4 protocol we do not translate: passed */
	KPB_CNT_FRAGMENT = 7,          /* later IP fragment whose first one we did not translate: passed */
	KPB_CNT_MALFORMED = 8,         /* truncated header, bad IHL, bad length: dropped */
	KPB_CNT_SRC_RANGE = 9,         /* loadBalancerSourceRanges refused: dropped */
	KPB_CNT_NO_BACKEND = 10,       /* service without usable endpoints, no reply possible: dropped */
	KPB_CNT_SNAT_EXHAUSTED = 11,   /* no free SNAT port for the backend after bounded retries: dropped */
	KPB_CNT_CT_FULL = 12,          /* conntrack insert failed: dropped */
	KPB_CNT_LOCAL_DNAT = 13,       /* translated to a local backend, handed to the stack */
	KPB_CNT_REMOTE_FWD = 14,       /* translated (SNAT) and forwarded to a remote backend */
	KPB_CNT_REPLY_FWD = 15,        /* reply of a remote backend translated back and forwarded */
	KPB_CNT_REPLY_LOCAL = 16,      /* reply of a local backend translated back at egress */
	KPB_CNT_TO_TC = 17,            /* XDP left it to tc (local backend, no neighbour, ...) */
	KPB_CNT_FIB_FAIL = 18,         /* no route to forward a translated packet: left to the stack */
	KPB_CNT_RST_SENT = 19,         /* no endpoints: TCP RST sent back */
	KPB_CNT_ICMP_SENT = 20,        /* no endpoints: ICMP port unreachable sent back */
	KPB_CNT_ICMP_XLATE = 21,       /* ICMP error of a tracked flow translated */
	KPB_CNT_DSR_ENCAP = 22,        /* encapsulated (IPIP) to a remote backend's node */
	KPB_CNT_DSR_DECAP = 23,        /* DSR packet decapsulated for a local backend */
	KPB_CNT_DSR_REPLY = 24,        /* local backend's DSR reply given the VIP as source */
	KPB_CNT_FRAG_NEEDED = 25,      /* encapsulation would exceed the MTU: ICMP frag needed sent */
	KPB_CNT_TTL = 26,              /* TTL/hop limit would expire when forwarding: ICMP time exceeded sent (or dropped) */
	KPB_CNT_ERROR = 27,            /* a helper failed half way: dropped */
	KPB_CNT_VIP_UNKNOWN_PORT = 28, /* ExternalIP/LB VIP on a port no service uses: dropped */
	KPB_CNT_NO_LOCAL_BACKEND = 29, /* eTP=Local, endpoints only on other nodes: dropped silently */
	KPB_CNT_SNAT_MAP_FULL = 30,    /* the SNAT map (--bpf-map-snat) is full: new SNAT flow dropped */
	KPB_CNT_SENT_BY_US = 31,       /* tc egress: a packet our ingress translated and sent: passed as is */
	KPB_CNT_MAX = 32,
};

/* The packets of one hook and reason by verdict: packets[KPB_CNT_VERDICT_*]. 32 bytes, so a slot
 * never straddles a cache line. */
struct kpb_counter_slot {
	__u64 packets[4];
};

/* A counter map of `slots` struct kpb_counter_slot, per CPU (plain increments need no atomics:
 * only this CPU writes its slot), pinned by name: kpb_np_counters and pod.h's kpb_pod_counters. */
#define KPB_COUNTER_MAP(name, slots)                              \
	struct {                                                  \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);          \
		__type(key, __u32);                               \
		__type(value, struct kpb_counter_slot);           \
		__uint(max_entries, slots);                       \
		__uint(pinning, LIBBPF_PIN_BY_NAME);              \
	} name SEC(".maps")

/* key: hook * KPB_CNT_MAX + reason (enum kpb_counter from KPB_CNT_NOT_IP on; the slots of the four
 * verdict numbers stay zero); value: struct kpb_counter_slot, host order. Per-CPU, written by the
 * north-south programs; read by the agent. */
KPB_COUNTER_MAP(kpb_np_counters, KPB_HOOK_MAX * KPB_CNT_MAX);

/* The verdict counter of a program's return value. */
static __always_inline __u32 kpb_verdict_counter(int verdict)
{
	if (verdict == CTX_DROP)
		return KPB_CNT_VERDICT_DROP;
#if defined(KPB_CTX_XDP)
	if (verdict == XDP_TX)
		return KPB_CNT_VERDICT_TX;
#endif
	if (verdict == CTX_REDIRECT)
		return KPB_CNT_VERDICT_REDIRECT;
	return KPB_CNT_VERDICT_PASS;
}

/* Count one packet in a counter map of struct kpb_counter_slot whose hooks are `stride` slots
 * apart: one slot (hook, reason), one increment (verdict); called once, at the entry point's exit.
 * Returns the verdict. */
static __always_inline int kpb_count_verdict(void *map, __u32 stride, __u32 hook, int verdict, __u32 reason)
{
	__u32 key = hook * stride + reason;
	struct kpb_counter_slot *s;

	if (KPB_ABL(KPB_ABL_COUNT))
		return verdict;
	s = bpf_map_lookup_elem(map, &key);
	if (s)
		s->packets[kpb_verdict_counter(verdict) & 3] += 1;
	return verdict;
}

/* Count the verdict and the reason of one packet of a north-south hook. */
static __always_inline int kpb_count_exit(__u32 hook, int verdict, __u32 reason)
{
	return kpb_count_verdict(&kpb_np_counters, KPB_CNT_MAX, hook, verdict, reason);
}

#endif /* KPB_COUNTERS_H */
