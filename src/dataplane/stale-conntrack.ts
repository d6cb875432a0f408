/**
 * @module
 * staleConntrackKeys: the north-south conntrack entries of UDP flows whose backend stopped serving
 * (stale-backends.ts), so the next datagram of such a flow is load-balanced afresh instead of
 * following its entry to a backend that is gone (kube-proxy flushes the same entries from the
 * kernel's conntrack, spec §5.14). Both directions of a flow go: the forward entry (frontend ->
 * backend: the packet's destination is the frontend, its translation the backend) and the reply
 * entry (backend -> client: its source is the backend, its translation back the frontend).
 *
 * Entries are read through the map's BTF codec, by field name (conntrack.h: src, dst, sport, dport,
 * proto; nat_src, nat_dst, nat_sport, nat_dport, flags); an address is 16 bytes (v4-mapped) or a
 * __be32 decoded as a number. A DSR forward entry's nat_dst is the tunnel's (the backend's node),
 * so its backend is found by backend_id (`backendOf`, from lb_backends). On the backend's node of a
 * DSR flow the entry translates nothing toward a backend (KPB_CT_DSR_BACKEND) and is left alone. TCP entries are kept, as kube-proxy
 * keeps them: the socket terminator resets TCP connections at the client, and a TCP flow from
 * outside ends on its own.
 */
import { formatIp, parseIp } from '../model/ip.ts';
import type { StaleFlow } from './stale-backends.ts';

/** conntrack.h enum kpb_ct_flags (stale-conntrack.test.ts compares them with the header). */
export const KPB_CT_REPLY = 1 << 2;
export const KPB_CT_DSR = 1 << 4;
export const KPB_CT_DSR_BACKEND = 1 << 5;

const UDP = 17;
type Decoded = Record<string, unknown>;

function addrText(v: unknown): string | null {
  if (typeof v === 'number') return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
  if (v instanceof Uint8Array && v.length === 16) return formatIp(v);
  return null;
}

/**
 * Keys (as decoded) of the entries to delete. `nodeAddresses` are the addresses NodePorts answer on
 * (lb_node_addrs): a flow to one of them is matched with the family's NodePort wildcard, as
 * StaleFlow names NodePort frontends.
 */
export function staleConntrackKeys(
  entries: Iterable<[unknown, unknown]>, flows: readonly StaleFlow[], nodeAddresses: ReadonlySet<string>,
  backendOf: (id: number) => { addr: string; port: number } | undefined = () => undefined,
): unknown[] {
  const stale = staleConntrackMatcher(flows, nodeAddresses, backendOf);
  const out: unknown[] = [];
  for (const [key, value] of entries) if (stale(key, value)) out.push(key);
  return out;
}

/** The key and value members staleConntrackMatcher() reads (conntrack.h). */
export const CONNTRACK_FIELDS = {
  key: ['src', 'dst', 'sport', 'dport', 'proto'],
  value: ['nat_src', 'nat_dst', 'nat_sport', 'nat_dport', 'flags', 'backend_id'],
} as const;

/**
 * staleConntrackKeys() for a map read in chunks: the flows are indexed once, and the returned
 * predicate says whether one entry (decoded, at least CONNTRACK_FIELDS) must be deleted.
 */
export function staleConntrackMatcher(
  flows: readonly StaleFlow[], nodeAddresses: ReadonlySet<string>,
  backendOf: (id: number) => { addr: string; port: number } | undefined = () => undefined,
): (key: unknown, value: unknown) => boolean {
  const wanted = new Set<string>();
  // The ports first: most entries fail on them, before any address is turned into text.
  const portPairs = new Set<number>();
  const frontendPorts = new Set<number>();
  for (const f of flows) {
    if (f.protocol !== 'UDP') continue;
    wanted.add(`${f.frontend}|${f.frontendPort}|${f.backend}|${f.backendPort}`);
    portPairs.add(f.frontendPort * 65536 + f.backendPort);
    frontendPorts.add(f.frontendPort);
  }
  const matches = (fe: string | null, fport: number, be: string | null, bport: number): boolean => {
    if (fe === null || be === null) return false;
    if (wanted.has(`${fe}|${fport}|${be}|${bport}`)) return true;
    if (!nodeAddresses.has(fe)) return false;
    const wildcard = parseIp(fe)?.family === 'IPv4' ? '0.0.0.0' : '::';
    return wanted.has(`${wildcard}|${fport}|${be}|${bport}`);
  };
  return (key, value) => {
    if (wanted.size === 0) return false;
    const k = key as Decoded;
    const v = value as Decoded;
    if (Number(k.proto) !== UDP) return false;
    const flags = Number(v.flags);
    if (flags & KPB_CT_DSR_BACKEND) return false;
    if (flags & KPB_CT_REPLY) {
      if (!portPairs.has(Number(v.nat_sport) * 65536 + Number(k.sport))) return false;
      return matches(addrText(v.nat_src), Number(v.nat_sport), addrText(k.src), Number(k.sport));
    }
    if (flags & KPB_CT_DSR) {
      if (!frontendPorts.has(Number(k.dport))) return false;
      const be = backendOf(Number(v.backend_id));
      return be !== undefined && matches(addrText(k.dst), Number(k.dport), be.addr, be.port);
    }
    if (!portPairs.has(Number(k.dport) * 65536 + Number(v.nat_dport))) return false;
    return matches(addrText(k.dst), Number(k.dport), addrText(v.nat_dst), Number(v.nat_dport));
  };
}
