/**
 * @module
 * Attaches the north-south programs to the external devices: tc (clsact) ingress and egress,
 * then XDP in front of it. Restart-safe without a gap:
 * - tc filters are netlink objects, not bpf_links, so they cannot be pinned; ours sit at a fixed
 *   handle and priority, and a restart replaces them in place (`tc filter replace ... bpf
 *   object-pinned`, with the new program pinned under <pin>/progs/) instead of deleting first;
 * - XDP is a bpf_link pinned under <pin>/links/xdp-<device>; a restart updates the link's
 *   program. Native mode first; when the driver refuses, tc alone serves the device and that is
 *   logged and reported (metric), never silent. Generic mode only when asked (tests on veth).
 */
import { existsSync, unlinkSync } from 'node:fs';
import { attachTc, attachXdp, openPinnedLink, type BpfProgram, type Link } from 'bpf-loader-napi';
import type { Logger } from '../log/logger.ts';
import { run, type HostDevice } from './host-info.ts';

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

/** Pins `prog` at `path`, replacing a pin of a previous run. */
function pinProgram(prog: BpfProgram, path: string): void {
  if (existsSync(path)) unlinkSync(path);
  prog.pin(path);
}

function attachTcOne(prog: BpfProgram, dev: HostDevice, direction: 'ingress' | 'egress', pinPath: string): 'attached' | 'replaced' {
  let link: Link;
  try {
    link = attachTc(prog, dev.ifindex, { direction, handle: TC_HANDLE, priority: TC_PRIORITY });
  } catch (err) {
    if ((err as { code?: string }).code !== 'EEXIST') throw new Error(`cannot attach tc ${direction} on ${dev.name}: ${errText(err)}`, { cause: err });
    // A previous run's filter: replace it in place, so packets never miss a program.
    const pinned = `${pinPath}/progs/tc-${direction}`;
    pinProgram(prog, pinned);
    run('tc', [
      'filter', 'replace', 'dev', dev.name, direction, 'protocol', 'all', 'pref', String(TC_PRIORITY), 'handle', `0x${TC_HANDLE.toString(16)}`,
      'bpf', 'direct-action', 'object-pinned', pinned,
    ]);
    return 'replaced';
  }
  // Closing leaves a tc filter on the device (it is not a bpf_link).
  link.close();
  return 'attached';
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
    const ing = attachTcOne(input.tcIngress, dev, 'ingress', input.pinPath);
    attachTcOne(input.tcEgress, dev, 'egress', input.pinPath);
    const x = attachXdpOne(input, dev);
    out.push({ device: dev.name, ifindex: dev.ifindex, tc: ing, ...x });
  }
  return out;
}

/**
 * Removes our tc filters (found by priority) from `devices`, and with `pinPath` also their pinned
 * XDP links; returns "tc filter <device> <direction>" / "xdp link <device>" per item removed. The
 * tc part serves --cleanup, which finds the filters without any record of where they were put.
 */
export function detachDevices(devices: HostDevice[], pinPath: string | null): string[] {
  const removed: string[] = [];
  for (const dev of devices) {
    for (const direction of ['ingress', 'egress'] as const) {
      let filters: { pref?: number }[] = [];
      try {
        filters = JSON.parse(run('tc', ['-j', 'filter', 'show', 'dev', dev.name, direction]) || '[]');
      } catch {
        continue; // no clsact qdisc on this device
      }
      if (!filters.some((f) => f.pref === TC_PRIORITY)) continue;
      run('tc', ['filter', 'del', 'dev', dev.name, direction, 'pref', String(TC_PRIORITY)]);
      removed.push(`tc filter ${dev.name} ${direction}`);
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
