/**
 * @module
 * Canonical strings for map keys, so wanted and applied entries (including entries dumped from
 * pinned maps after a restart, decoded by the codec) compare by content: numbers in decimal,
 * byte arrays in hex, object fields in name order.
 */
import { formatIp } from '../model/ip.ts';

export function entryKey(key: unknown): string {
  if (typeof key === 'number' || typeof key === 'bigint') return String(key);
  if (key instanceof Uint8Array) return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex');
  if (key && typeof key === 'object') {
    const obj = key as Record<string, unknown>;
    return Object.keys(obj)
      .sort()
      .map((f) => `${f}=${entryKey(obj[f])}`)
      .join(',');
  }
  throw new TypeError(`Cannot build a map key from ${typeof key}`);
}

/** Identity of a backend for id allocation: address, target port and protocol. */
export function backendIdentity(addr: Uint8Array, port: number, proto: number): string {
  return `${formatIp(addr)}|${port}|${proto}`;
}
