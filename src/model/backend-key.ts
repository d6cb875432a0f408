/**
 * @module
 * The identity of a backend (address, target port, protocol) as a compact key: a number for IPv4
 * (address × 2^18 + port × 4 + protocol code: 50 bits, exact in a double), text for IPv6. 100k
 * endpoints then cost no string each in the id maps. backendKeyText gives the stable text form
 * ("address|port|protocol number"), which Maglev hashes so that every node builds the same table.
 */
import { formatIp } from './ip.ts';

export type BackendKey = number | string;

const PROTO_CODE: Record<number, number> = { 6: 0, 17: 1, 132: 2 };
const CODE_PROTO = [6, 17, 132, 0];

function isV4Mapped(b: ArrayLike<number>): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** The key of a backend at `addr` (16 bytes, IPv4 v4-mapped), `port`, IP protocol number `proto`. */
export function backendKey(addr: ArrayLike<number>, port: number, proto: number): BackendKey {
  if (isV4Mapped(addr) && proto in PROTO_CODE) {
    const v4 = ((addr[12]! << 24) >>> 0) + (addr[13]! << 16) + (addr[14]! << 8) + addr[15]!;
    return v4 * 262144 + port * 4 + PROTO_CODE[proto]!;
  }
  return `${formatIp(addr)}|${port}|${proto}`;
}

/** backendKey() of an IPv4 address given as a number (see canonicalIpv4). */
export function backendKeyV4(v4: number, port: number, proto: number): BackendKey {
  const code = PROTO_CODE[proto];
  if (code === undefined) return `${v4 >>> 24}.${(v4 >>> 16) & 255}.${(v4 >>> 8) & 255}.${v4 & 255}|${port}|${proto}`;
  return v4 * 262144 + port * 4 + code;
}

/** The IPv4 address of a number key, as a number. */
export function backendKeyV4Address(key: number): number {
  return Math.floor(key / 262144);
}

/** The 16 address bytes of a key. */
export function backendKeyAddr(key: BackendKey): Uint8Array {
  const out = new Uint8Array(16);
  if (typeof key === 'number') {
    const v4 = Math.floor(key / 262144);
    out[10] = 0xff;
    out[11] = 0xff;
    out[12] = (v4 >>> 24) & 255;
    out[13] = (v4 >>> 16) & 255;
    out[14] = (v4 >>> 8) & 255;
    out[15] = v4 & 255;
    return out;
  }
  throw new TypeError(`The address of backend "${key}" is in its text: parse it`);
}

/** "address|port|protocol number", the same for both forms of a key. */
export function backendKeyText(key: BackendKey): string {
  if (typeof key === 'string') return key;
  const low = key % 262144;
  const a = backendKeyAddr(key);
  return `${a[12]}.${a[13]}.${a[14]}.${a[15]}|${low >>> 2}|${CODE_PROTO[low & 3]}`;
}
