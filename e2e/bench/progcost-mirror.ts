// The warm loop of progcost.inner.ts: a conntrack entry keyed by the translated packet that maps it
// back to the original packet, as a forward (not a reply) entry with the same cached next hop, so
// repeated runs of one frame keep taking the established path. A benchmark device only: no real
// flow ever has such an entry. IPv4 (kpb_ct4, whose key addresses are __be32).
import type { NpEnv } from '../../datapath/test/np-env.ts';
import { addr16, addrBytes, type Parsed } from '../../datapath/test/packet.ts';

const be32 = (a: string): number => Buffer.from(addrBytes(a)).readUInt32BE(0);

export function writeMirror(env: NpEnv, original: Parsed, translated: Parsed): void {
  const ports = (p: Parsed) => (p.udp ?? p.tcp)!;
  const o = ports(original);
  const t = ports(translated);
  const ct = env.map('kpb_ct4');
  const key = (p: Parsed, l4: { sport: number; dport: number }) =>
    ({ src: be32(p.ip!.src), dst: be32(p.ip!.dst), sport: l4.sport, dport: l4.dport, proto: p.ip!.proto, pad: new Uint8Array(3) });
  const fwd = ct.lookup(key(original, o)) as Record<string, unknown> | undefined;
  if (!fwd) throw new Error('warm loop: the first packet left no forward entry');
  ct.update(key(translated, t), {
    ...fwd,
    nat_src: addr16(original.ip!.src), nat_dst: addr16(original.ip!.dst), nat_sport: o.sport, nat_dport: o.dport,
  });
}
