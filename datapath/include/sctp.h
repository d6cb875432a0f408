/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* sctp.h: SCTP's checksum. SCTP packets carry a CRC32c over the whole packet (RFC 4960 §6.8,
 * RFC 3309), not a one's complement sum, so a port change cannot be folded into it: the CRC
 * is recomputed. Include ctx.h and parse.h first. */
#ifndef KPB_SCTP_H
#define KPB_SCTP_H

/* Recompute the CRC32c of the SCTP packet at p->l4_off after its ports changed. Not done yet:
 * nodeport.h passes SCTP untranslated until it is. */
static __always_inline int kpb_sctp_csum_fix(kpb_ctx_t *ctx, struct kpb_pkt *p)
{
	return -1;
}

#endif /* KPB_SCTP_H */
