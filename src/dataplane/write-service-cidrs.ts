/**
 * @module
 * writeServiceCidrs: makes lb_service_cidrs (sock_lb.h, an LPM trie) hold exactly `cidrs`, adding
 * the new ranges before removing the old ones so a range that moves never leaves a gap. Keys are
 * encoded by field name through the map's BTF codec: the address 16 bytes (IPv4 v4-mapped) and
 * prefixlen counting those 16 bytes (96 + n for an IPv4 /n).
 */
import type { BpfMap } from 'bpf-loader-napi';
import { formatIp, type ParsedCidr } from '../model/ip.ts';

type Key = { prefixlen: number; addr: Uint8Array };

export function writeServiceCidrs(map: BpfMap, cidrs: readonly ParsedCidr[]): { added: string[]; removed: string[] } {
  const text = (k: Key) => `${formatIp(k.addr)}/${k.prefixlen - (k.addr[10] === 0xff && k.addr.subarray(0, 10).every((b) => b === 0) ? 96 : 0)}`;
  const wanted = new Map<string, Key>();
  for (const c of cidrs) wanted.set(c.text, { prefixlen: c.prefixLen + (c.family === 'IPv4' ? 96 : 0), addr: c.bytes });
  const present = new Map<string, Key>();
  for (const k of map.keys()) present.set(text(k as Key), k as Key);
  const added: string[] = [];
  const removed: string[] = [];
  for (const [t, k] of wanted) {
    if (present.has(t)) continue;
    map.update(k, 1);
    added.push(t);
  }
  for (const [t, k] of present) {
    if (wanted.has(t)) continue;
    map.delete(k);
    removed.push(t);
  }
  return { added, removed };
}
