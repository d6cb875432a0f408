/**
 * @module
 * IP and CIDR parsing for the model. Every address is kept two ways: canonical text (what the
 * model compares and logs) and 16 bytes in network order, IPv4 v4-mapped (what lb_structs.h
 * stores). IPv4 parsing is "sloppy" like Kubernetes' ParseIPSloppy: leading zeros are read as
 * decimal, because the apiserver has accepted such addresses in the past and kube-proxy still
 * honours them.
 */

export type IpFamily = 'IPv4' | 'IPv6';

export type ParsedIp = {
  family: IpFamily;
  /** Canonical text: dotted quad for IPv4, RFC 5952 for IPv6. */
  text: string;
  /** 16 bytes, network order; IPv4 as ::ffff:a.b.c.d. */
  bytes: Uint8Array;
};

export type ParsedCidr = {
  family: IpFamily;
  /** Network address (host bits cleared), canonical text. */
  address: string;
  /** Prefix length within the family (0..32 or 0..128). */
  prefixLen: number;
  /** Network address, 16 bytes, v4-mapped for IPv4. */
  bytes: Uint8Array;
  /** "address/prefixLen". */
  text: string;
};

const V4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/** Four dot-separated decimal octets of 1-3 digits each (a character loop: this runs per endpoint). */
function parseV4Octets(s: string): number[] | null {
  const out: number[] = [];
  let n = 0;
  let digits = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || n > 255 || out.length === 4) return null;
      out.push(n);
      n = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      n = n * 10 + (c - 48);
      digits++;
    } else {
      return null;
    }
  }
  return out.length === 4 ? out : null;
}

/**
 * The address as a number when `s` is a canonical dotted quad ("10.0.0.1": no leading zeros, no
 * spaces), else -1. The per-endpoint fast path: no allocation; anything else goes to parseIp.
 */
export function canonicalIpv4(s: string): number {
  let v = 0;
  let n = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || n > 255) return -1;
      v = v * 256 + n;
      if (++dots > 4) return -1;
      n = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3 && !(digits === 1 && n === 0)) {
      n = n * 10 + (c - 48);
      digits++;
    } else {
      return -1;
    }
  }
  return dots === 4 ? v : -1;
}

function parseV6Groups(s: string): number[] | null {
  // Returns 16 bytes or null. Accepts an embedded IPv4 tail and one "::".
  if (s.length === 0 || s.includes('%')) return null;
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const toBytes = (part: string, allowV4Tail: boolean): number[] | null => {
    if (part === '') return [];
    const groups = part.split(':');
    const bytes: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      if (allowV4Tail && i === groups.length - 1 && g.includes('.')) {
        const v4 = parseV4Octets(g);
        if (!v4) return null;
        bytes.push(...v4);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      const n = Number.parseInt(g, 16);
      bytes.push(n >> 8, n & 0xff);
    }
    return bytes;
  };
  if (halves.length === 1) {
    const b = toBytes(halves[0], true);
    return b && b.length === 16 ? b : null;
  }
  const head = toBytes(halves[0], false);
  const tail = toBytes(halves[1], true);
  if (!head || !tail || head.length + tail.length > 14) return null;
  return [...head, ...new Array<number>(16 - head.length - tail.length).fill(0), ...tail];
}

function isV4Mapped(b: ArrayLike<number>): boolean {
  for (let i = 0; i < 12; i++) if (b[i] !== V4_MAPPED_PREFIX[i]) return false;
  return true;
}

/** Formats 16 bytes as text; v4-mapped bytes print as a dotted quad. */
export function formatIp(bytes: ArrayLike<number>): string {
  if (isV4Mapped(bytes)) return `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  // RFC 5952: compress the longest run (length >= 2) of zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/**
 * Parses an IP address. IPv4-mapped IPv6 text (::ffff:a.b.c.d) counts as IPv4, as Go's net.IP
 * does. Returns null for anything that is not an address (CIDRs, zones, hostnames, empty).
 */
export function parseIp(input: string): ParsedIp | null {
  const quad = canonicalIpv4(input);
  if (quad >= 0) {
    // The common case, without the general parse's intermediate arrays and text.
    const u8 = new Uint8Array(16);
    u8[10] = 0xff;
    u8[11] = 0xff;
    u8[12] = quad >>> 24;
    u8[13] = (quad >>> 16) & 255;
    u8[14] = (quad >>> 8) & 255;
    u8[15] = quad & 255;
    return { family: 'IPv4', text: input, bytes: u8 };
  }
  const s = input.trim();
  const v4 = s.includes(':') ? null : parseV4Octets(s);
  let bytes: number[] | null = null;
  if (v4) bytes = [...V4_MAPPED_PREFIX, ...v4];
  else if (s.includes(':')) bytes = parseV6Groups(s);
  if (!bytes) return null;
  const u8 = Uint8Array.from(bytes);
  return { family: isV4Mapped(u8) ? 'IPv4' : 'IPv6', text: formatIp(u8), bytes: u8 };
}

/** Parses "address/len"; host bits are cleared. Returns null when malformed. */
export function parseCidr(input: string): ParsedCidr | null {
  const s = input.trim();
  const slash = s.indexOf('/');
  if (slash < 0) return null;
  const ip = parseIp(s.slice(0, slash));
  const lenText = s.slice(slash + 1);
  if (!ip || !/^[0-9]{1,3}$/.test(lenText)) return null;
  const prefixLen = Number.parseInt(lenText, 10);
  const max = ip.family === 'IPv4' ? 32 : 128;
  if (prefixLen > max) return null;
  const bits = prefixLen + (ip.family === 'IPv4' ? 96 : 0);
  const bytes = new Uint8Array(ip.bytes);
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    bytes[i] &= (0xff << (8 - keep)) & 0xff;
  }
  const address = formatIp(bytes);
  return { family: ip.family, address, prefixLen, bytes, text: `${address}/${prefixLen}` };
}

/** True when `ip` lies inside `cidr` (same family only). */
export function cidrContains(cidr: ParsedCidr, ip: ParsedIp): boolean {
  if (cidr.family !== ip.family) return false;
  const bits = cidr.prefixLen + (cidr.family === 'IPv4' ? 96 : 0);
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    const mask = (0xff << (8 - keep)) & 0xff;
    if ((ip.bytes[i] & mask) !== cidr.bytes[i]) return false;
  }
  return true;
}

/** The 16-byte wildcard of a family as lb_structs.h encodes it (::ffff:0.0.0.0 or ::). */
export function wildcardBytes(family: IpFamily): Uint8Array {
  const b = new Uint8Array(16);
  if (family === 'IPv4') {
    b[10] = 0xff;
    b[11] = 0xff;
  }
  return b;
}

/** True for 127.0.0.0/8 and ::1. */
export function isLoopback(ip: ParsedIp): boolean {
  if (ip.family === 'IPv4') return ip.bytes[12] === 127;
  return ip.text === '::1';
}
