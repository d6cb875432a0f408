// Packet builder and parser for datapath tests. The builder is chained layer by layer
// (eth -> ipv4/ipv6 -> tcp/udp/icmp -> payload) and computes lengths and checksums itself,
// independently of the BPF code, so a test can compare a program's output with a packet whose
// checksums we know are right. The parser verifies checksums of what a program produced.

export type Bytes = Uint8Array;

/** IPv4 dotted quad or IPv6 text to network-order bytes (4 or 16). */
export function addrBytes(addr: string): Bytes {
  if (addr.includes(':')) return ipv6Bytes(addr);
  const parts = addr.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new RangeError(`Invalid IPv4 address "${addr}"`);
  }
  return Uint8Array.from(parts);
}

function ipv6Bytes(addr: string): Bytes {
  const [head, tail, extra] = addr.split('::');
  if (extra !== undefined) throw new RangeError(`Invalid IPv6 address "${addr}"`);
  const words = (s: string | undefined): number[] =>
    s ? s.split(':').map((w) => {
      const n = parseInt(w, 16);
      if (!/^[0-9a-fA-F]{1,4}$/.test(w)) throw new RangeError(`Invalid IPv6 address "${addr}"`);
      return n;
    }) : [];
  const h = words(head);
  const t = tail === undefined ? [] : words(tail);
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  const all = [...h, ...new Array(fill).fill(0), ...t];
  if (all.length !== 8) throw new RangeError(`Invalid IPv6 address "${addr}"`);
  const out = new Uint8Array(16);
  all.forEach((w, i) => { out[2 * i] = w >> 8; out[2 * i + 1] = w & 0xff; });
  return out;
}

/** 16-byte map form of an address: IPv4 v4-mapped (::ffff:a.b.c.d), as lb_structs.h stores it. */
export function addr16(addr: string): Bytes {
  const b = addrBytes(addr);
  if (b.length === 16) return b;
  const out = new Uint8Array(16);
  out[10] = 0xff; out[11] = 0xff;
  out.set(b, 12);
  return out;
}

/** Text form of 4 or 16 bytes (IPv6 uncompressed-but-trimmed: each word in hex, "::" for the first zero run). */
export function addrText(b: Bytes): string {
  if (b.length === 4) return Array.from(b).join('.');
  const w: string[] = [];
  for (let i = 0; i < 16; i += 2) w.push(((b[i] << 8) | b[i + 1]).toString(16));
  const s = w.join(':');
  const m = s.match(/(^|:)0(:0)+(:|$)/);
  return m ? s.replace(m[0], '::') : s;
}

function macBytes(mac: string): Bytes {
  const p = mac.split(':').map((x) => parseInt(x, 16));
  if (p.length !== 6 || p.some((x) => Number.isNaN(x))) throw new RangeError(`Invalid MAC "${mac}"`);
  return Uint8Array.from(p);
}

export function macText(b: Bytes): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
}

/** One's complement sum of 16-bit words (not folded to 16 bits until csumFinish). */
function sum16(b: Bytes, acc = 0): number {
  for (let i = 0; i + 1 < b.length; i += 2) acc += (b[i] << 8) | b[i + 1];
  if (b.length % 2) acc += b[b.length - 1] << 8;
  return acc;
}

function csumFinish(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return ~acc & 0xffff;
}

/** Internet checksum of `b` (RFC 1071). */
export function inetChecksum(b: Bytes): number {
  return csumFinish(sum16(b));
}

function pseudoSum(src: Bytes, dst: Bytes, proto: number, len: number): number {
  let acc = sum16(src) + sum16(dst) + proto;
  acc += src.length === 16 ? (Math.floor(len / 0x10000) + (len & 0xffff)) : len;
  return acc;
}

export const PROTO = { ICMP: 1, IPIP: 4, TCP: 6, UDP: 17, IPV6: 41, ICMPV6: 58, SCTP: 132 } as const;

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC32c (Castagnoli, RFC 3309) of `b`, table-driven, independent of the BPF code. */
export function crc32c(b: Bytes): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC32C_TABLE[(c ^ x) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** An SCTP packet's checksum as RFC 4960 places it: CRC32c with the field zeroed, little-endian. */
function sctpChecksum(seg: Bytes): number {
  const z = Uint8Array.from(seg);
  z.fill(0, 8, 12);
  return crc32c(z);
}
export const TCP_FLAGS = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

export interface EthOpts { src?: string; dst?: string; type?: number }
export interface Ipv4Opts {
  src: string; dst: string; ttl?: number; id?: number; tos?: number;
  /** raw flags+fragment offset field (host order), e.g. 0x2000 = MF */
  fragField?: number;
  options?: Bytes;
  /** override the IHL nibble (to build a malformed header) */
  ihl?: number;
  /** override the total length field */
  totalLength?: number;
  proto?: number;
}
export interface Ipv6ExtHeader { type: number; /** bytes after next-header/len; padded to 8 */ data?: Bytes }
export interface Ipv6Opts { src: string; dst: string; hopLimit?: number; ext?: Ipv6ExtHeader[]; payloadLength?: number; nextHeader?: number }
export interface TcpOpts { sport: number; dport: number; flags?: number; seq?: number; ack?: number; window?: number; dataOffset?: number }
export interface UdpOpts { sport: number; dport: number; /** send checksum 0 (IPv4 only: "no checksum") */ noChecksum?: boolean }
export interface IcmpOpts { type: number; code: number; /** the 4 bytes after the checksum (id/seq, unused, MTU) */ rest?: number }
/** An SCTP common header; the payload (chunks) is the builder's payload, a DATA chunk by default. */
export interface SctpOpts { sport: number; dport: number; vtag?: number }

type L3 = { kind: 'ipv4'; o: Ipv4Opts } | { kind: 'ipv6'; o: Ipv6Opts };
type L4 = { kind: 'tcp'; o: TcpOpts } | { kind: 'udp'; o: UdpOpts } | { kind: 'icmp'; o: IcmpOpts } | { kind: 'sctp'; o: SctpOpts };

/** Chained packet builder: `pkt().eth().ipv4({...}).tcp({...}).payload(...).build()`. */
export class PacketBuilder {
  #eth: EthOpts | null = null;
  #l3: L3 | null = null;
  #l4: L4 | null = null;
  #payload: Bytes = new Uint8Array(0);
  #truncate: number | null = null;

  eth(o: EthOpts = {}): this { this.#eth = o; return this; }
  ipv4(o: Ipv4Opts): this { this.#l3 = { kind: 'ipv4', o }; return this; }
  ipv6(o: Ipv6Opts): this { this.#l3 = { kind: 'ipv6', o }; return this; }
  /** IPv4 or IPv6 by the source address's form, for tables that run in both families. */
  ip(o: { src: string; dst: string; ttl?: number }): this {
    return o.src.includes(':') ? this.ipv6({ src: o.src, dst: o.dst, hopLimit: o.ttl }) : this.ipv4(o);
  }
  tcp(o: TcpOpts): this { this.#l4 = { kind: 'tcp', o }; return this; }
  udp(o: UdpOpts): this { this.#l4 = { kind: 'udp', o }; return this; }
  icmp(o: IcmpOpts): this { this.#l4 = { kind: 'icmp', o }; return this; }
  sctp(o: SctpOpts): this { this.#l4 = { kind: 'sctp', o }; return this; }
  payload(p: Bytes | string): this { this.#payload = typeof p === 'string' ? new TextEncoder().encode(p) : p; return this; }
  /** Cut the built frame to n bytes (headers keep the lengths of the full packet). */
  truncate(n: number): this { this.#truncate = n; return this; }

  build(): Buffer {
    const l3 = this.#l3;
    let body: Bytes;
    if (!l3) {
      body = this.#payload;
    } else {
      const src = addrBytes(l3.o.src);
      const dst = addrBytes(l3.o.dst);
      const l4 = this.#l4 ? this.#buildL4(this.#l4, src, dst, l3.kind === 'ipv6') : this.#payload;
      const proto = this.#l4 ? protoOf(this.#l4, l3.kind === 'ipv6') : 0;
      body = l3.kind === 'ipv4' ? buildIpv4(l3.o, src, dst, proto, l4) : buildIpv6(l3.o, src, dst, proto, l4);
    }
    let out: Bytes = body;
    if (this.#eth) {
      const e = this.#eth;
      const type = e.type ?? (l3?.kind === 'ipv6' ? 0x86dd : 0x0800);
      out = concat(macBytes(e.dst ?? '02:00:00:00:00:02'), macBytes(e.src ?? '02:00:00:00:00:01'), u16(type), body);
    }
    const buf = Buffer.from(out);
    return this.#truncate === null ? buf : buf.subarray(0, this.#truncate);
  }

  /** The L3 packet only (no Ethernet), e.g. to embed in an ICMP error. */
  buildL3(): Buffer {
    const saved = this.#eth;
    this.#eth = null;
    try { return this.build(); } finally { this.#eth = saved; }
  }

  #buildL4(l4: L4, src: Bytes, dst: Bytes, v6: boolean): Bytes {
    const p = this.#payload;
    if (l4.kind === 'tcp') {
      const o = l4.o;
      const h = new Uint8Array(20);
      const dv = new DataView(h.buffer);
      dv.setUint16(0, o.sport); dv.setUint16(2, o.dport);
      dv.setUint32(4, o.seq ?? 1000); dv.setUint32(8, o.ack ?? 0);
      h[12] = (o.dataOffset ?? 5) << 4; h[13] = o.flags ?? TCP_FLAGS.SYN;
      dv.setUint16(14, o.window ?? 65535);
      const seg = concat(h, p);
      const c = csumFinish(sum16(seg, pseudoSum(src, dst, PROTO.TCP, seg.length)));
      seg[16] = c >> 8; seg[17] = c & 0xff;
      return seg;
    }
    if (l4.kind === 'udp') {
      const o = l4.o;
      const seg = concat(new Uint8Array(8), p);
      const dv = new DataView(seg.buffer);
      dv.setUint16(0, o.sport); dv.setUint16(2, o.dport); dv.setUint16(4, seg.length);
      if (!(o.noChecksum && !v6)) {
        let c = csumFinish(sum16(seg, pseudoSum(src, dst, PROTO.UDP, seg.length)));
        if (c === 0) c = 0xffff;
        dv.setUint16(6, c);
      }
      return seg;
    }
    if (l4.kind === 'sctp') {
      const o = l4.o;
      // A DATA chunk carrying the payload when none is given as chunks (type 0, flags B|E).
      const chunks = p.length ? p : sctpDataChunk(new TextEncoder().encode('sctp'));
      const seg = concat(new Uint8Array(12), chunks);
      const dv = new DataView(seg.buffer);
      dv.setUint16(0, o.sport); dv.setUint16(2, o.dport); dv.setUint32(4, o.vtag ?? 0x01020304);
      dv.setUint32(8, sctpChecksum(seg), true);
      return seg;
    }
    const o = l4.o;
    const seg = concat(new Uint8Array(8), p);
    const dv = new DataView(seg.buffer);
    seg[0] = o.type; seg[1] = o.code; dv.setUint32(4, o.rest ?? 0);
    const c = v6 ? csumFinish(sum16(seg, pseudoSum(src, dst, PROTO.ICMPV6, seg.length))) : inetChecksum(seg);
    dv.setUint16(2, c);
    return seg;
  }
}

export function pkt(): PacketBuilder {
  return new PacketBuilder();
}

/** An SCTP DATA chunk (TSN 1, stream 0) carrying `data`, padded to 4 bytes. */
export function sctpDataChunk(data: Bytes): Bytes {
  const len = 16 + data.length;
  const c = new Uint8Array(Math.ceil(len / 4) * 4);
  const dv = new DataView(c.buffer);
  c[0] = 0; c[1] = 0x03; dv.setUint16(2, len); dv.setUint32(4, 1);
  c.set(data, 16);
  return c;
}

function protoOf(l4: L4, v6: boolean): number {
  if (l4.kind === 'tcp') return PROTO.TCP;
  if (l4.kind === 'udp') return PROTO.UDP;
  if (l4.kind === 'sctp') return PROTO.SCTP;
  return v6 ? PROTO.ICMPV6 : PROTO.ICMP;
}

function buildIpv4(o: Ipv4Opts, src: Bytes, dst: Bytes, proto: number, l4: Bytes): Bytes {
  const opts = o.options ?? new Uint8Array(0);
  if (opts.length % 4) throw new RangeError('IPv4 options must be a multiple of 4 bytes');
  const h = new Uint8Array(20 + opts.length);
  const dv = new DataView(h.buffer);
  h[0] = 0x40 | (o.ihl ?? h.length / 4);
  h[1] = o.tos ?? 0;
  dv.setUint16(2, o.totalLength ?? h.length + l4.length);
  dv.setUint16(4, o.id ?? 1);
  dv.setUint16(6, o.fragField ?? 0x4000); // DF
  h[8] = o.ttl ?? 64;
  h[9] = o.proto ?? proto;
  h.set(src, 12); h.set(dst, 16); h.set(opts, 20);
  dv.setUint16(10, inetChecksum(h));
  return concat(h, l4);
}

function buildIpv6(o: Ipv6Opts, src: Bytes, dst: Bytes, proto: number, l4: Bytes): Bytes {
  const exts: Bytes[] = [];
  const chain = o.ext ?? [];
  for (let i = 0; i < chain.length; i++) {
    const next = i + 1 < chain.length ? chain[i + 1].type : (o.nextHeader ?? proto);
    const e = chain[i];
    if (e.type === 44) { // fragment header: fixed 8 bytes
      const f = new Uint8Array(8);
      f[0] = next;
      f.set((e.data ?? new Uint8Array(6)).subarray(0, 6), 2);
      exts.push(f);
      continue;
    }
    const data = e.data ?? new Uint8Array(6);
    const len = Math.ceil((data.length + 2) / 8) * 8;
    const x = new Uint8Array(len);
    x[0] = next; x[1] = len / 8 - 1; x.set(data, 2);
    exts.push(x);
  }
  const ext = concat(...exts);
  const h = new Uint8Array(40);
  const dv = new DataView(h.buffer);
  dv.setUint32(0, 0x60000000);
  dv.setUint16(4, o.payloadLength ?? ext.length + l4.length);
  h[6] = chain.length ? chain[0].type : (o.nextHeader ?? proto);
  h[7] = o.hopLimit ?? 64;
  h.set(src, 8); h.set(dst, 24);
  return concat(h, ext, l4);
}

function u16(v: number): Bytes {
  return Uint8Array.of(v >> 8, v & 0xff);
}

export function concat(...parts: Bytes[]): Bytes {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parser

export interface Parsed {
  eth: { dst: string; src: string; type: number };
  ip?: {
    version: 4 | 6; src: string; dst: string; ttl: number; proto: number; length: number;
    /** IPv4 header checksum verifies (always true for IPv6) */
    checksumOk: boolean; id?: number; fragField?: number; tos?: number;
  };
  tcp?: { sport: number; dport: number; flags: number; seq: number; ack: number; checksumOk: boolean };
  udp?: { sport: number; dport: number; checksum: number; checksumOk: boolean };
  icmp?: { type: number; code: number; rest: number; checksumOk: boolean };
  sctp?: { sport: number; dport: number; vtag: number; checksumOk: boolean };
  /** bytes after the L4 header (for ICMP: after the 8-byte header, i.e. the embedded packet) */
  payload: Buffer;
  /** the L3 packet (after Ethernet), for embedded-header comparisons */
  l3: Buffer;
}

/** Parse an Ethernet frame; checksums are recomputed independently and reported, not thrown. */
export function parse(frame: Buffer): Parsed {
  if (frame.length < 14) throw new RangeError(`Frame of ${frame.length} bytes is shorter than Ethernet`);
  const type = frame.readUInt16BE(12);
  const out: Parsed = {
    eth: { dst: macText(frame.subarray(0, 6)), src: macText(frame.subarray(6, 12)), type },
    payload: frame.subarray(14), l3: frame.subarray(14),
  };
  return type === 0x0800 || type === 0x86dd ? parseL3(frame.subarray(14), out) : out;
}

/** Parse an L3 packet (as embedded in ICMP errors or after decapsulation). */
export function parseIp(l3: Buffer): Parsed {
  return parseL3(l3, { eth: { dst: '', src: '', type: 0 }, payload: l3, l3 });
}

function parseL3(b: Buffer, out: Parsed): Parsed {
  const version = b[0] >> 4;
  let src: Bytes, dst: Bytes, proto: number, l4off: number, end: number;
  if (version === 4) {
    const ihl = (b[0] & 0x0f) * 4;
    src = b.subarray(12, 16); dst = b.subarray(16, 20); proto = b[9];
    end = Math.min(b.readUInt16BE(2), b.length);
    l4off = ihl;
    out.ip = {
      version: 4, src: addrText(src), dst: addrText(dst), ttl: b[8], proto, length: b.readUInt16BE(2),
      checksumOk: inetChecksum(b.subarray(0, ihl)) === 0, id: b.readUInt16BE(4), fragField: b.readUInt16BE(6), tos: b[1],
    };
  } else if (version === 6) {
    src = b.subarray(8, 24); dst = b.subarray(24, 40);
    let nh = b[6];
    l4off = 40;
    for (let i = 0; i < 8 && (nh === 0 || nh === 43 || nh === 60 || nh === 44); i++) {
      const next = b[l4off];
      l4off += nh === 44 ? 8 : (b[l4off + 1] + 1) * 8;
      nh = next;
    }
    proto = nh;
    end = Math.min(40 + b.readUInt16BE(4), b.length);
    out.ip = { version: 6, src: addrText(src), dst: addrText(dst), ttl: b[7], proto, length: 40 + b.readUInt16BE(4), checksumOk: true };
  } else {
    return out;
  }
  out.l3 = b.subarray(0, end);
  const seg = b.subarray(l4off, end);
  const pseudo = pseudoSum(src, dst, proto, seg.length);
  if (proto === PROTO.TCP && seg.length >= 20) {
    out.tcp = {
      sport: seg.readUInt16BE(0), dport: seg.readUInt16BE(2), flags: seg[13], seq: seg.readUInt32BE(4), ack: seg.readUInt32BE(8),
      checksumOk: csumFinish(sum16(seg, pseudo)) === 0,
    };
    out.payload = seg.subarray((seg[12] >> 4) * 4);
  } else if (proto === PROTO.UDP && seg.length >= 8) {
    const c = seg.readUInt16BE(6);
    out.udp = {
      sport: seg.readUInt16BE(0), dport: seg.readUInt16BE(2), checksum: c,
      checksumOk: (c === 0 && version === 4) || csumFinish(sum16(seg, pseudo)) === 0,
    };
    out.payload = seg.subarray(8);
  } else if (proto === PROTO.SCTP && seg.length >= 12) {
    out.sctp = {
      sport: seg.readUInt16BE(0), dport: seg.readUInt16BE(2), vtag: seg.readUInt32BE(4),
      checksumOk: seg.readUInt32LE(8) === sctpChecksum(seg),
    };
    out.payload = seg.subarray(12);
  } else if ((proto === PROTO.ICMP || proto === PROTO.ICMPV6) && seg.length >= 8) {
    out.icmp = {
      type: seg[0], code: seg[1], rest: seg.readUInt32BE(4),
      checksumOk: (proto === PROTO.ICMPV6 ? csumFinish(sum16(seg, pseudo)) : inetChecksum(seg)) === 0,
    };
    out.payload = seg.subarray(8);
  } else {
    out.payload = seg;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Fragments

/**
 * Split an L3 packet (IPv4, or IPv6 without extension headers) into fragments whose IP packets
 * are at most `mtu` bytes, the way a sending host does: IPv4 copies the header with MF and the
 * offset set (DF cleared); IPv6 inserts a fragment header. `id` is the identification.
 */
export function fragmentL3(l3: Buffer, mtu: number, id: number): Buffer[] {
  const v = l3[0] >> 4;
  const hlen = v === 4 ? (l3[0] & 0x0f) * 4 : 40;
  const extra = v === 4 ? 0 : 8;
  const data = l3.subarray(hlen, v === 4 ? l3.readUInt16BE(2) : 40 + l3.readUInt16BE(4));
  const chunk = Math.floor((mtu - hlen - extra) / 8) * 8;
  if (chunk <= 0) throw new RangeError(`MTU ${mtu} leaves no room for fragment data`);
  const out: Buffer[] = [];
  for (let off = 0; off < data.length; off += chunk) {
    const part = data.subarray(off, Math.min(off + chunk, data.length));
    const more = off + part.length < data.length;
    if (v === 4) {
      const h = Buffer.from(l3.subarray(0, hlen));
      h.writeUInt16BE(hlen + part.length, 2);
      h.writeUInt16BE(id & 0xffff, 4);
      h.writeUInt16BE((more ? 0x2000 : 0) | (off / 8), 6);
      h.writeUInt16BE(0, 10);
      h.writeUInt16BE(inetChecksum(h), 10);
      out.push(Buffer.concat([h, part]));
    } else {
      const h = Buffer.from(l3.subarray(0, 40));
      const fh = Buffer.alloc(8);
      fh[0] = l3[6];
      fh.writeUInt16BE((off / 8) << 3 | (more ? 1 : 0), 2);
      fh.writeUInt32BE(id >>> 0, 4);
      h[6] = 44;
      h.writeUInt16BE(8 + part.length, 4);
      out.push(Buffer.concat([h, fh, part]));
    }
  }
  return out;
}

/** Identity and place of one fragment (null when the packet is not a fragment). */
export function fragInfo(l3: Buffer): { id: number; offset: number; more: boolean; proto: number; hlen: number } | null {
  if (l3[0] >> 4 === 4) {
    const f = l3.readUInt16BE(6);
    if (!(f & 0x3fff)) return null;
    return { id: l3.readUInt16BE(4), offset: (f & 0x1fff) * 8, more: Boolean(f & 0x2000), proto: l3[9], hlen: (l3[0] & 0x0f) * 4 };
  }
  if (l3[6] !== 44) return null;
  const fo = l3.readUInt16BE(42);
  return { id: l3.readUInt32BE(44), offset: (fo >> 3) * 8, more: Boolean(fo & 1), proto: l3[40], hlen: 48 };
}

/**
 * Put fragments (L3, any order) back into one L3 packet, the way a receiving host does: the
 * first fragment's header (its source and destination must be the same in every fragment),
 * without fragment fields. Throws when fragments disagree, overlap or leave a hole.
 */
export function reassembleL3(frags: Buffer[]): Buffer {
  const infos = frags.map((f) => ({ f, i: fragInfo(f) }));
  if (infos.some((x) => !x.i)) throw new Error('not every packet is a fragment');
  const v = frags[0][0] >> 4;
  const addr = (f: Buffer) => (v === 4 ? f.subarray(12, 20) : f.subarray(8, 40)).toString('hex');
  for (const x of infos) {
    if (addr(x.f) !== addr(frags[0]) || x.i!.id !== infos[0].i!.id) throw new Error('fragments of different datagrams');
  }
  infos.sort((a, b) => a.i!.offset - b.i!.offset);
  let next = 0;
  const parts: Buffer[] = [];
  for (const { f, i } of infos) {
    if (i!.offset !== next) throw new Error(`fragment at ${i!.offset}, expected ${next}`);
    const end = v === 4 ? f.readUInt16BE(2) : 40 + f.readUInt16BE(4);
    const part = f.subarray(i!.hlen, end);
    parts.push(part);
    next += part.length;
  }
  if (infos[infos.length - 1].i!.more) throw new Error('the last fragment says more follow');
  const first = infos[0];
  const data = Buffer.concat(parts);
  if (v === 4) {
    const h = Buffer.from(first.f.subarray(0, first.i!.hlen));
    h.writeUInt16BE(h.length + data.length, 2);
    h.writeUInt16BE(0, 6);
    h.writeUInt16BE(0, 10);
    h.writeUInt16BE(inetChecksum(h), 10);
    return Buffer.concat([h, data]);
  }
  const h = Buffer.from(first.f.subarray(0, 40));
  h[6] = first.i!.proto;
  h.writeUInt16BE(data.length, 4);
  return Buffer.concat([h, data]);
}
