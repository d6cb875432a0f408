/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* lb_select.h: backend selection for one service entry, shared by every datapath object (sock, tc,
 * xdp). It only reads lb_slots, lb_backends and lb_maglev and reads/writes lb_affinity; it never
 * touches a socket or a packet, so the caller supplies the client identity and the hash inputs.
 *
 * Include vmlinux.h, bpf_helpers.h and lb_maps.h first. This header defines two `.rodata`
 * tunables the loader sets before load; an object including it must not define them again:
 *   lb_kernel_hz  the kernel's CONFIG_HZ; affinity timestamps are bpf_jiffies64() values, so a
 *                 timeout of T seconds is T * lb_kernel_hz jiffies. The loader reads CONFIG_HZ
 *                 from /proc/config.gz or /boot/config-$(uname -r). Default 250 (Debian, Ubuntu).
 *   lb_maglev_m   the size M (prime) of every lb_maglev inner array; must equal the size the
 *                 control plane creates them with.
 *
 * Verdicts are enum lb_select_verdict; every failure is a reason to refuse or drop, never a
 * fallback to some other address (fail closed). */
#ifndef LB_SELECT_H
#define LB_SELECT_H

#ifndef LB_MAPS_H
#warning "include lb_maps.h before lb_select.h"
#endif

const volatile __u32 lb_kernel_hz = 250;
const volatile __u32 lb_maglev_m = LB_MAGLEV_M_DEFAULT;

enum lb_select_verdict {
	LB_SEL_OK = 0,
	LB_SEL_NO_BACKENDS,     /* backend_count is 0: the service has no usable endpoint: refuse */
	LB_SEL_NO_LOCAL_BACKENDS, /* backend_count is 0 under a Local policy: endpoints exist on other
				   * nodes but none here: drop (kube-proxy drops, spec §5.11) */
	LB_SEL_BAD_SLOT,        /* a slot in 1..backend_count is missing from lb_slots */
	LB_SEL_UNKNOWN_BACKEND, /* a slot or maglev entry names an id absent from lb_backends */
	LB_SEL_NO_MAGLEV,       /* LB_SVC_MAGLEV without an lb_maglev table, or index out of it */
};

struct lb_selected {
	__u32 backend_id;
	__u8 affinity_hit;      /* the backend came from a live lb_affinity entry */
	__u8 affinity_expired;  /* an lb_affinity entry existed but its timeout had passed */
	__u16 pad;
	struct lb_backend *backend;
};

/* The hash every datapath uses to fold a 64-bit flow identity (the socket cookie for socket LB)
 * into 32 bits: x = lo32 ^ hi32, then the MurmurHash3 32-bit finaliser. Cheap, and it spreads
 * consecutive cookies evenly. The maglev index is lb_hash_u64(id) % lb_maglev_m; the TypeScript
 * tests recompute it, so any change here must change datapath/test/lb-maps.ts too. */
static __always_inline __u32 lb_hash_u64(__u64 v)
{
	__u32 h = (__u32)v ^ (__u32)(v >> 32);

	h ^= h >> 16;
	h *= 0x85ebca6bU;
	h ^= h >> 13;
	h *= 0xc2b2ae35U;
	h ^= h >> 16;
	return h;
}

/* Slot -> backend id -> backend. Slots are 1-based (lb_structs.h). */
static __always_inline int lb_slot_backend(__u32 service_id, __u32 slot, __u32 *backend_id)
{
	struct lb_slot_key key = { .service_id = service_id, .slot = slot };
	__u32 *id;

	id = bpf_map_lookup_elem(&lb_slots, &key);
	if (!id)
		return LB_SEL_BAD_SLOT;
	*backend_id = *id;
	return LB_SEL_OK;
}

/* Maglev: the inner array of the service, indexed by hash % M. */
static __always_inline int lb_maglev_backend(__u32 service_id, __u32 hash, __u32 *backend_id)
{
	__u32 m = lb_maglev_m;
	__u32 idx;
	void *table;
	__u32 *id;

	if (m == 0)
		return LB_SEL_NO_MAGLEV;
	table = bpf_map_lookup_elem(&lb_maglev, &service_id);
	if (!table)
		return LB_SEL_NO_MAGLEV;
	idx = hash % m;
	id = bpf_map_lookup_elem(table, &idx);
	if (!id)
		return LB_SEL_NO_MAGLEV;
	*backend_id = *id;
	return LB_SEL_OK;
}

/* Affinity must not outlive endpoint membership: kube-proxy never sends affinity traffic to an
 * endpoint that left the service, even while the endpoint lives on in another service (so its
 * lb_backends entry survives). An entry's backend is honoured only if it is still in one of the
 * service's slots 1..backend_count. The entry remembers the slot it was last seen in, so a hit
 * costs one lb_slots lookup; only when that slot no longer holds the backend (slots are rewritten
 * in sorted order, so an add or remove elsewhere shifts them, and Maglev choices store slot 0)
 * are the slots scanned, once per client, with bpf_loop (verified once, whatever the count).
 * Reading lb_slots here gives the same answer a fresh selection would: the check is as current
 * as the slots themselves, with no control-plane sweep to race with the datapath's writes. */
struct lb_slot_scan {
	__u32 service_id;
	__u32 backend_id;
	__u32 found;            /* 1-based slot holding backend_id, 0 while not found */
};

static long lb_slot_scan_cb(__u64 index, void *ctx)
{
	struct lb_slot_scan *scan = ctx;
	struct lb_slot_key key = { .service_id = scan->service_id, .slot = (__u32)index + 1 };
	__u32 *id;

	id = bpf_map_lookup_elem(&lb_slots, &key);
	if (id && *id == scan->backend_id) {
		scan->found = key.slot;
		return 1; /* stop */
	}
	return 0;
}

/* The slot (1..count) holding backend_id, trying `hint` first, or 0 when none does. */
static __always_inline __u32 lb_slot_of(__u32 service_id, __u32 count, __u32 backend_id, __u32 hint)
{
	struct lb_slot_scan scan = { .service_id = service_id, .backend_id = backend_id };

	if (hint >= 1 && hint <= count) {
		struct lb_slot_key key = { .service_id = service_id, .slot = hint };
		__u32 *id = bpf_map_lookup_elem(&lb_slots, &key);

		if (id && *id == backend_id)
			return hint;
	}
	bpf_loop(count, lb_slot_scan_cb, &scan, 0);
	return scan.found;
}

/* A live affinity entry's backend (and in *slot its remembered slot), or 0. An entry whose
 * backend left the slots or lb_backends is treated as absent (the selection below replaces it)
 * rather than as a failure: it is stale state, not a corrupt service. */
static __always_inline __u32 lb_affinity_backend(const struct lb_affinity_key *key, __u32 timeout_s,
						 __u64 now, __u32 *slot, struct lb_selected *out)
{
	struct lb_affinity_value *val;
	__u64 timeout = (__u64)timeout_s * lb_kernel_hz;

	val = bpf_map_lookup_elem(&lb_affinity, key);
	if (!val)
		return 0;
	if (now - val->last_used > timeout) {
		out->affinity_expired = 1;
		return 0;
	}
	*slot = val->slot;
	return val->backend_id;
}

static __always_inline void lb_affinity_touch(const struct lb_affinity_key *key, __u32 backend_id,
					      __u32 slot, __u64 now)
{
	struct lb_affinity_value val = { .last_used = now, .backend_id = backend_id, .slot = slot };

	/* An LRU update only fails under memory pressure; affinity is then lost for one connection,
	 * which is the same outcome as an eviction. */
	bpf_map_update_elem(&lb_affinity, key, &val, BPF_ANY);
}

/* Choose a backend of svc.
 *   aff        affinity key (client identity and kind filled in, service_id is set here), or NULL
 *              when the caller has no client identity; used only with LB_SVC_AFFINITY.
 *   slot_seed  any 32-bit value; the slot is slot_seed % backend_count + 1 (random selection).
 *   flow_hash  the flow's lb_hash_u64 value; the maglev index is flow_hash % lb_maglev_m.
 * Returns enum lb_select_verdict; on LB_SEL_OK out->backend points into lb_backends. */
static __always_inline int lb_select_backend(const struct lb_service_value *svc,
					     struct lb_affinity_key *aff, __u32 slot_seed,
					     __u32 flow_hash, struct lb_selected *out)
{
	__u32 count = svc->backend_count;
	__u32 service_id = svc->service_id;
	__u32 backend_id = 0;
	__u32 slot = 0;
	__u64 now = 0;
	int ret;

	/* The control plane sets ETP_LOCAL/ITP_LOCAL only on the entry its policy governs and clears
	 * it when the service has no endpoint anywhere (src/translate/README.md, "Refuse vs drop"),
	 * so the flag on an empty entry means "endpoints elsewhere, none here". */
	if (count == 0)
		return (svc->flags & (LB_SVC_ETP_LOCAL | LB_SVC_ITP_LOCAL)) ? LB_SEL_NO_LOCAL_BACKENDS
									 : LB_SEL_NO_BACKENDS;

	if (aff && (svc->flags & LB_SVC_AFFINITY)) {
		now = bpf_jiffies64();
		aff->service_id = service_id;
		backend_id = lb_affinity_backend(aff, svc->affinity_timeout, now, &slot, out);
		if (backend_id)
			slot = lb_slot_of(service_id, count, backend_id, slot);
		if (backend_id && slot) {
			out->backend = bpf_map_lookup_elem(&lb_backends, &backend_id);
			if (out->backend) {
				out->affinity_hit = 1;
				goto found;
			}
		}
	}

	/* Maglev does not tell the slot: the entry stores 0 and its first hit finds the slot. */
	slot = 0;
	if (svc->flags & LB_SVC_MAGLEV) {
		ret = lb_maglev_backend(service_id, flow_hash, &backend_id);
	} else {
		slot = slot_seed % count + 1;
		ret = lb_slot_backend(service_id, slot, &backend_id);
	}
	if (ret != LB_SEL_OK)
		return ret;

	out->backend = bpf_map_lookup_elem(&lb_backends, &backend_id);
	if (!out->backend)
		return LB_SEL_UNKNOWN_BACKEND;

found:
	out->backend_id = backend_id;
	if (aff && (svc->flags & LB_SVC_AFFINITY))
		lb_affinity_touch(aff, backend_id, slot, now);
	return LB_SEL_OK;
}

#endif /* LB_SELECT_H */
