// Attach decision for the north-south programs on one external device: native XDP when the
// driver supports it, always tc ingress/egress; a device without native XDP runs tc only, and the
// reason is reported (never silent: the caller logs it and exports a metric). Generic XDP is never
// chosen: it runs after the skb exists, so it costs more than tc alone (Cilium likewise offers
// native only). The control plane calls this per device.
import { attachXdp, attachTc, BpfError, type BpfProgram, type Link } from 'bpf-loader-napi';

export interface NorthSouthPrograms { xdp: BpfProgram; tcIngress: BpfProgram; tcEgress: BpfProgram }

export interface NorthSouthAttachment {
  mode: 'xdp+tc' | 'tc';
  /** why XDP is not in use, when mode is 'tc' */
  xdpFallbackReason?: string;
  links: Link[];
  detach(): void;
}

export function attachNorthSouth(progs: NorthSouthPrograms, ifindex: number, options: { xdp?: boolean } = {}): NorthSouthAttachment {
  const links: Link[] = [];
  const detach = () => { for (const l of links.splice(0).reverse()) l.detach(); };
  let mode: NorthSouthAttachment['mode'] = 'tc';
  let reason: string | undefined = 'XDP disabled by configuration';
  try {
    if (options.xdp ?? true) {
      try {
        links.push(attachXdp(progs.xdp, ifindex, { mode: 'native' }));
        mode = 'xdp+tc';
        reason = undefined;
      } catch (err) {
        // EOPNOTSUPP: the driver has no native XDP; EINVAL/EBUSY: e.g. MTU too large or another
        // program owns the hook. Any of them leaves tc doing all the work.
        if (!(err instanceof BpfError)) throw err;
        reason = `native XDP unavailable on ifindex ${ifindex}: ${err.code ?? err.message}`;
      }
    }
    links.push(attachTc(progs.tcIngress, ifindex, { direction: 'ingress' }));
    links.push(attachTc(progs.tcEgress, ifindex, { direction: 'egress' }));
  } catch (err) {
    detach();
    throw err;
  }
  return reason === undefined ? { mode, links, detach } : { mode, xdpFallbackReason: reason, links, detach };
}
