// The warm loop of progcost.inner.ts: a conntrack entry keyed by the translated packet that maps it
// back to the original packet, as a forward (not a reply) entry, so repeated runs of one frame keep
// taking the established path. A benchmark device only: no real flow ever has such an entry.
import type { NpEnv } from '../../datapath/test/np-env.ts';
import { addr16, type Parsed } from '../../datapath/test/packet.ts';

export function writeMirror(env: NpEnv, original: Parsed, translated: Parsed): void {
  const ports = (p: Parsed) => (p.udp ?? p.tcp)!;
  const o = ports(original);
  const t = ports(translated);
  const ct = env.map('kpb_ct');
  const fwdKey = { src: addr16(original.ip!.src), dst: addr16(original.ip!.dst), sport: o.sport, dport: o.dport, proto: original.ip!.proto, pad: new Uint8Array(3) };
  const fwd = ct.lookup(fwdKey) as Record<string, unknown> | undefined;
  if (!fwd) throw new Error('warm loop: the first packet left no forward entry');
  ct.update({ src: addr16(translated.ip!.src), dst: addr16(translated.ip!.dst), sport: t.sport, dport: t.dport, proto: translated.ip!.proto, pad: new Uint8Array(3) }, {
    ...fwd,
    nat_src: addr16(original.ip!.src), nat_dst: addr16(original.ip!.dst), nat_sport: o.sport, nat_dport: o.dport,
  });
}
