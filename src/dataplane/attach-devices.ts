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
import { attachTc, attachXdp, openPinnedLink, tcDetach, tcQuery, type BpfProgram } from 'bpf-loader-napi';
import type { Logger } from '../log/logger.ts';
import type { HostDevice } from './host-info.ts';

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
};

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Our filter on `dev` in `direction`. */
export function ourTcFilter(ifindex: number, direction: 'ingress' | 'egress') {
  return { ifindex, direction, handle: TC_HANDLE, priority: TC_PRIORITY };
}

function attachTcOne(prog: BpfProgram, dev: HostDevice, direction: 'ingress' | 'egress'): 'attached' | 'replaced' {
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

function attachXdpOne(input: AttachDevicesInput, dev: HostDevice): Pick<DeviceAttachment, 'xdp' | 'xdpFallbackReason'> {
  const path = `${input.pinPath}/links/xdp-${dev.name}`;
  if (existsSync(path)) {
    const link = openPinnedLink(path);
    try {
      const info = link.info();
      if (input.xdpMode !== 'off' && Number(info.ifindex) === dev.ifindex) {
        // The pin keeps the link (and the attachment) alive after our handle closes.
        link.update(input.xdp);
        input.logger.v(2).info('Updated the XDP program in place', { device: dev.name });
        return { xdp: input.xdpMode === 'generic' ? 'generic' : 'native', xdpFallbackReason: '' };
      }
      // XDP turned off, or the device was recreated: the old attachment goes.
      link.detach();
      unlinkSync(path);
    } finally {
      link.close();
    }
  }
  if (input.xdpMode === 'off') return { xdp: 'off', xdpFallbackReason: '' };
  if (input.xdpMode === 'native' && dev.kind === 'veth') {
    // veth accepts native XDP, but XDP_TX/XDP_REDIRECT frames are lost unless the peer device
    // runs an XDP program too: remote backends would be unreachable with no error anywhere.
    input.logger.warning('Native XDP on a veth device forwards to remote backends only when its peer runs an XDP program; use --bpf-xdp=generic or off if they are unreachable', { device: dev.name });
  }
  try {
    const link = attachXdp(input.xdp, dev.ifindex, { mode: input.xdpMode });
    link.pin(path);
    link.close();
    return { xdp: input.xdpMode, xdpFallbackReason: '' };
  } catch (err) {
    if (input.xdpMode === 'generic') throw new Error(`cannot attach XDP (generic) on ${dev.name}: ${errText(err)}`, { cause: err });
    const reason = (err as { code?: string }).code ?? 'attach_failed';
    input.logger.warning('Native XDP is not available on this device; tc alone serves its services', { device: dev.name, err: errText(err) });
    return { xdp: 'off', xdpFallbackReason: reason };
  }
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
export function detachDevices(devices: HostDevice[], pinPath: string | null): string[] {
  const removed: string[] = [];
  for (const dev of devices) {
    for (const direction of ['ingress', 'egress'] as const) {
      if (tcDetach(ourTcFilter(dev.ifindex, direction))) removed.push(`tc filter ${dev.name} ${direction}`);
    }
    const xdpPin = pinPath === null ? null : `${pinPath}/links/xdp-${dev.name}`;
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
