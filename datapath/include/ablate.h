/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* ablate.h: switches of the ablation builds that e2e/bench/ablate.ts makes to measure what one
 * component of the north-south datapath costs per packet (measuring.md: the objects are built
 * once without the component, or with it made free, and timed like the real ones). Built with
 * -DKPB_ABLATE=<mask of KPB_ABL_*>; the Makefile never sets it, so in every shipped object each
 * switch is a constant 0 and compiles away. An ablated object is not a working datapath (it
 * skips state, checks or rewrites) and is only ever loaded by the benchmark.
 *
 * "Made free" (MEMO) replaces a map lookup whose key is the same on every run of the benchmark by
 * an inlined per-CPU array read of the answer the real lookup gave the first time, so the
 * ablation measures the lookup itself and nothing the path does with its answer. */
#ifndef KPB_ABLATE_H
#define KPB_ABLATE_H

#ifndef KPB_ABLATE
#define KPB_ABLATE 0
#endif
#define KPB_ABL(bit) (((KPB_ABLATE) & (bit)) != 0)

#define KPB_ABL_COUNT       (1 << 0)  /* no counters at the entry points' exits */
#define KPB_ABL_CT_MEMO     (1 << 1)  /* lean path: the conntrack lookup of a known flow is free (MEMO) */
#define KPB_ABL_FAST_MISS   (1 << 2)  /* lean path: every IPv4 packet misses at once, no lookup (new flows only) */
#define KPB_ABL_TAIL        (1 << 3)  /* general path called directly instead of by tail call */
#define KPB_ABL_SNAT_INSERT (1 << 4)  /* SNAT reservation slot not claimed (the first port is taken) */
#define KPB_ABL_CT_INSERT   (1 << 5)  /* conntrack entries not inserted */
#define KPB_ABL_ZERO        (1 << 6)  /* the new-flow scratch entries are not zeroed */
#define KPB_ABL_FIB_MEMO    (1 << 7)  /* a new flow's next-hop cache lookup is free (MEMO) */
#define KPB_ABL_SVC_MEMO    (1 << 8)  /* service lookup and backend selection are free (MEMO) */
#define KPB_ABL_NAT         (1 << 9)  /* no header rewrite (addresses, ports, TTL, checksums) */
#define KPB_ABL_GEN         (1 << 10) /* generation reads (kpb_gens) return 0 */
#define KPB_ABL_PARSE_LEN   (1 << 11) /* the general parser takes the linear length, no helper call */

#endif /* KPB_ABLATE_H */
