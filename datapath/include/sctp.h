/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* sctp.h: SCTP's checksum when we change its ports. An SCTP packet carries a CRC32c of the whole
 * packet with the checksum field zeroed (RFC 4960 §6.8, RFC 3309), stored little-endian, and no
 * pseudo header: address changes leave it alone, a port change does not.
 *
 * The CRC is linear: for messages M and M' of the same length L differing by D = M xor M',
 * crc(M') = crc(M) xor raw(D), raw being the CRC register computation without initial value and
 * final xor. D is zero but for the 4 port bytes at the start, so raw(D) = raw(d) shifted over the
 * L - 4 zero bytes that follow, which is a multiplication by x^(8(L-4)) modulo the polynomial:
 * O(log L) multiplications with a table of x^(2^k), instead of reading the whole packet (zlib's
 * crc32_combine does the same). Bounded loops, no helper call, no packet data beyond the
 * header. Include ctx.h and parse.h first. */
#ifndef KPB_SCTP_H
#define KPB_SCTP_H

#define KPB_CRC32C_POLY 0x82f63b78 /* Castagnoli, reflected */

/* x^(2^k) modulo the polynomial, reflected (x^0 is bit 31), k = 0..31. */
static const __u32 kpb_crc32c_x2n[32] = {
	0x40000000, 0x20000000, 0x08000000, 0x00800000, 0x00008000, 0x82f63b78, 0x6ea2d55c, 0x18b8ea18,
	0x510ac59a, 0xb82be955, 0xb8fdb1e7, 0x88e56f72, 0x74c360a4, 0xe4172b16, 0x0d65762a, 0x35d73a62,
	0x28461564, 0xbf455269, 0xe2ea32dc, 0xfe7740e6, 0xf946610b, 0x3c204f8f, 0x538586e3, 0x59726915,
	0x734d5309, 0xbc1ac763, 0x7d0722cc, 0xd289cabe, 0xe94ca9bc, 0x05b74f3f, 0xa51e1f42, 0x40000000,
};

/* a * b modulo the polynomial, reflected; branch-free so the verifier walks one path. */
static __always_inline __u32 kpb_crc32c_mult(__u32 a, __u32 b)
{
	__u32 p = 0;
	int i;

	for (i = 0; i < 32; i++) {
		p ^= b & -((a >> (31 - i)) & 1);
		b = (b >> 1) ^ (KPB_CRC32C_POLY & -(b & 1));
	}
	return p;
}

/* The change of an SCTP packet's CRC32c when the 4 bytes at its start (the ports) change by
 * `delta` (old xor new, as a little-endian load), the packet being `len` bytes long. */
static __noinline __u32 kpb_crc32c_port_delta(__u32 delta, __u32 len)
{
	__u32 r = delta, x = 0x80000000, n = len - 4, m;
	int i;

	/* raw(d): the 4 bytes through a zeroed register, LSB first. */
	for (i = 0; i < 32; i++)
		r = (r >> 1) ^ (KPB_CRC32C_POLY & -(r & 1));
	/* x^(8n): one factor x^(2^(k+3)) per set bit k of n (n < 2^16). */
	for (i = 0; i < 16; i++) {
		m = kpb_crc32c_mult(kpb_crc32c_x2n[(i + 3) & 31], x);
		x = ((n >> i) & 1) ? m : x;
	}
	return kpb_crc32c_mult(x, r);
}

/* Fix the CRC32c of the SCTP packet at p->l4_off after its ports changed from `old_ports` (the
 * 4 port bytes as they were, loaded as one word). The whole packet must be there: a fragment's
 * CRC covers bytes we do not see, and nodeport.h passes SCTP fragments untranslated. */
static __always_inline int kpb_sctp_csum_fix(kpb_ctx_t *ctx, struct kpb_pkt *p, __u32 old_ports)
{
	__u32 len = p->l3_len - (p->l4_off - p->l3_off);
	__u32 *hdr = ctx_ptr(ctx, p->l4_off, 12);
	__u32 delta;

	if (!hdr || len < 12)
		return -1;
	delta = hdr[0] ^ old_ports;
	if (delta)
		hdr[2] ^= kpb_crc32c_port_delta(delta, len); /* the field holds the CRC little-endian */
	return 0;
}

#endif /* KPB_SCTP_H */
