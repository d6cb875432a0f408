/**
 * @module
 * Attaches the north-south programs to the external devices: tc (clsact) ingress and egress,
 * then XDP in front of it. Restart-safe without a gap:
 * - tc filters are netlink objects, not bpf_links, so they cannot be pinned; ours sit at a fixed
 *   handle and priority, and a restart replaces the program in place (netlink "change" of the
 *   same filter through libbpf) instead of deleting first;
 * - XDP is a bpf_link pinned under <pin>/links/xdp-<device>; a restart updates the link's
 *   program. Native mode first; when the driver refuses, tc alone serves the device and that is
 *   logged and reported (metric), never silent. Generic mode only when asked (tests on veth).
 * Everything goes through bpf-loader-napi (netlink and bpf syscalls); no `tc` or `ip` is run.
 */
import { existsSync, unlinkSync } from 'node:fs';
import { attachTc, attachXdp, openPinnedLink, tcDetach, tcQuery, type BpfProgram, type Link } from 'bpf-loader-napi';
import type { Logger } from '../log/logger.ts';
import type { HostDevice } from './host-info.ts';
import { checkPin } from './pin-folder.ts';

/** Our tc filters' handle and priority ("KP"), the same on every device and in both directions. */
export const TC_HANDLE = 0x4b50;
export const TC_PRIORITY = 0x4b50;

export type XdpMode = 'native' | 'off' | 'generic';

export type DeviceAttachment = {
  device: string;
  ifindex: number;
  /** 'native' | 'generic' when XDP runs, 'off' when tc alone serves the device. */
  xdp: 'native' | 'generic' | 'off';
  /** Why XDP is off although it was asked for ('' when it was not asked for or runs). */
  xdpFallbackReason: string;
  tc: 'attached' | 'replaced';
};

export type AttachDevicesInput = {
  devices: HostDevice[];
  tcIngress: BpfProgram;
  tcEgress: BpfProgram;
  xdp: BpfProgram;
  xdpMode: XdpMode;
  pinPath: string;
  logger: Logger;
  /**
   * Open XDP link handles by device name, kept by the caller: while the agent holds them, removing
   * a pin detaches nothing, and a detach by someone else is seen in their info (self-repair).
   */
  xdpLinks: Map<string, Link>;
};

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Our filter on `dev` in `direction`. */
export function ourTcFilter(ifindex: number, direction: 'ingress' | 'egress') {
  return { ifindex, direction, handle: TC_HANDLE, priority: TC_PRIORITY };
}

export function attachTcOne(prog: BpfProgram, dev: Pick<HostDevice, 'name' | 'ifindex'>, direction: 'ingress' | 'egress'): 'attached' | 'replaced' {
  const filter = ourTcFilter(dev.ifindex, direction);
  try {
    const had = tcQuery(filter) !== 0;
    // A previous run's filter gets the new program in place, so packets never miss a program.
    // Closing leaves the filter on the device (it is not a bpf_link).
    attachTc(prog, dev.ifindex, { direction, handle: TC_HANDLE, priority: TC_PRIORITY, replace: true }).close();
    return had ? 'replaced' : 'attached';
  } catch (err) {
    throw new Error(`cannot attach tc ${direction} on ${dev.name}: ${errText(err)}`, { cause: err });
  }
}

/** Path of the XDP link pin of device `name`. */
export function xdpLinkPin(pinPath: string, name: string): string {
  return `${pinPath}/links/xdp-${name}`;
}

/** Replaces the handle kept for `dev` (closing the previous one). */
function keep(links: Map<string, Link>, name: string, link: Link | null): void {
  const old = links.get(name);
  if (old && old !== link) old.close();
  if (link) links.set(name, link);
  else links.delete(name);
}

export function attachXdpOne(input: Omit<AttachDevicesInput, 'devices'>, dev: Pick<HostDevice, 'name' | 'ifindex' | 'kind'>): Pick<DeviceAttachment, 'xdp' | 'xdpFallbackReason'> {
  const path = xdpLinkPin(input.pinPath, dev.name);
  if (checkPin(path)) {
    const link = openPinnedLink(path);
    const info = link.info();
    if (input.xdpMode !== 'off' && info.type === 'xdp' && info.attached === true && Number(info.ifindex) === dev.ifindex) {
      link.update(input.xdp);
      keep(input.xdpLinks, dev.name, link);
      input.logger.v(2).info('Updated the XDP program in place', { device: dev.name });
      return { xdp: input.xdpMode === 'generic' ? 'generic' : 'native', xdpFallbackReason: '' };
    }
    // XDP turned off, the device was recreated, or the link was detached: the old one goes.
    try {
      if (info.attached === true) link.detach();
    } finally {
      link.close();
    }
    unlinkSync(path);
  }
  keep(input.xdpLinks, dev.name, null);
  if (input.xdpMode === 'off') return { xdp: 'off', xdpFallbackReason: '' };
  if (input.xdpMode === 'native' && dev.kind === 'veth') {
    // veth accepts native XDP, but XDP_TX/XDP_REDIRECT frames are lost unless the peer device
    // runs an XDP program too: remote backends would be unreachable with no error anywhere.
    input.logger.warning('Native XDP on a veth device forwards to remote backends only when its peer runs an XDP program; use --bpf-xdp=generic or off if they are unreachable', { device: dev.name });
  }
  let link: Link;
  try {
    link = attachXdp(input.xdp, dev.ifindex, { mode: input.xdpMode });
  } catch (err) {
    if (input.xdpMode === 'generic') throw new Error(`cannot attach XDP (generic) on ${dev.name}: ${errText(err)}`, { cause: err });
    const reason = (err as { code?: string }).code ?? 'attach_failed';
    input.logger.warning('Native XDP is not available on this device; tc alone serves its services', { device: dev.name, err: errText(err) });
    return { xdp: 'off', xdpFallbackReason: reason };
  }
  try {
    link.pin(path);
  } catch (err) {
    link.close(); // unpinned: closing detaches it again
    throw new Error(`cannot pin the XDP link of ${dev.name} at ${path}: ${errText(err)}`, { cause: err });
  }
  keep(input.xdpLinks, dev.name, link);
  return { xdp: input.xdpMode, xdpFallbackReason: '' };
}

/** Attaches tc then XDP on every device; throws naming the device on a tc failure. */
export function attachDevices(input: AttachDevicesInput): DeviceAttachment[] {
  const out: DeviceAttachment[] = [];
  for (const dev of input.devices) {
    const ing = attachTcOne(input.tcIngress, dev, 'ingress');
    attachTcOne(input.tcEgress, dev, 'egress');
    const x = attachXdpOne(input, dev);
    out.push({ device: dev.name, ifindex: dev.ifindex, tc: ing, ...x });
  }
  return out;
}

/**
 * Removes our tc filters (by our handle and priority) from `devices`, and with `pinPath` also their pinned
 * XDP links; returns "tc filter <device> <direction>" / "xdp link <device>" per item removed. The
 * tc part serves --cleanup, which finds the filters without any record of where they were put.
 */
export function detachDevices(devices: HostDevice[], pinPath: string | null, xdpLinks?: Map<string, Link>): string[] {
  const removed: string[] = [];
  for (const dev of devices) {
    for (const direction of ['ingress', 'egress'] as const) {
      if (tcDetach(ourTcFilter(dev.ifindex, direction))) removed.push(`tc filter ${dev.name} ${direction}`);
    }
    if (xdpLinks) keep(xdpLinks, dev.name, null);
    const xdpPin = pinPath === null ? null : xdpLinkPin(pinPath, dev.name);
    if (xdpPin !== null && existsSync(xdpPin)) {
      const link = openPinnedLink(xdpPin);
      try {
        link.detach();
      } finally {
        link.close();
      }
      unlinkSync(xdpPin);
      removed.push(`xdp link ${dev.name}`);
    }
  }
  return removed;
}
