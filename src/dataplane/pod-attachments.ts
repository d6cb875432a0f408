/**
 * @module
 * PodAttachments: the pod-side programs (datapath/bpf/pod.bpf.c) on the node side of the pod
 * interfaces, for --bpf-socket-lb=host-namespace-only. Each sync hands it the node's devices (the
 * HostWatcher's list, re-dumped after link events, so an interface that appears between syncs is
 * served at the next one) and the local-traffic detection; it writes kpb_pod_cfg (which packets
 * are a pod's), attaches tc ingress and egress where they are missing and removes them from
 * interfaces that stopped being pods' (a device that went away is simply forgotten).
 *
 * The filters sit at their own handle and priority (POD_TC_HANDLE), apart from the north-south
 * ones (attach-devices.ts), which are removed from every device that is not external; a restart
 * replaces the program in place, like there. Everything goes through bpf-loader-napi (netlink).
 */
import { attachTc, tcDetach, tcQuery, type BpfMap, type BpfProgram } from 'bpf-loader-napi';
import type { IpFamily } from '../model/ip.ts';
import type { HostDevice } from './host-info.ts';
import type { PodDetection, PodMatch } from './pod-detection.ts';
import { podInterfaces } from './pod-interfaces.ts';
import type { RepairState } from './repair-datapath.ts';

/** The pod filters' handle and priority ("KQ"), on every pod interface, both directions. */
export const POD_TC_HANDLE = 0x4b51;
export const POD_TC_PRIORITY = 0x4b51;

/** The maps and program array only pod.bpf.c declares (pod.h, pod.bpf.c), pinned by name. */
export const POD_ONLY_PINS = ['kpb_pod_ct4', 'kpb_pod_ct6', 'kpb_pod_cfg', 'kpb_pod_counters', 'kpb_pod_next'] as const;

/** pod.h enum kpb_pod_cfg_flags. */
const CFG = { V4_CIDR: 1, V4_NONE: 2, V6_CIDR: 4, V6_NONE: 8 } as const;

export function podTcFilter(ifindex: number, direction: 'ingress' | 'egress') {
  return { ifindex, direction, handle: POD_TC_HANDLE, priority: POD_TC_PRIORITY };
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const gone = (err: unknown) => /ENODEV|No such device/.test(`${(err as { code?: string }).code ?? ''} ${errText(err)}`);

/**
 * The kpb_pod_cfg value (pod.h struct kpb_pod_cfg) for a detection, as the map's BTF codec takes
 * it: __be32 fields as numbers in network order, the IPv6 ones as 16 bytes.
 */
export function podCfgValue(pods: Record<IpFamily, PodMatch>): Record<string, unknown> {
  const v = { flags: 0, net4: 0, mask4: 0, pad: 0, net6: new Uint8Array(16), mask6: new Uint8Array(16) };
  const m4 = pods.IPv4;
  if (m4.kind === 'none') v.flags |= CFG.V4_NONE;
  else if (m4.kind === 'cidr') {
    v.flags |= CFG.V4_CIDR;
    v.mask4 = m4.cidr.prefixLen === 0 ? 0 : (0xffffffff << (32 - m4.cidr.prefixLen)) >>> 0;
    v.net4 = Buffer.from(m4.cidr.bytes.subarray(12)).readUInt32BE(0);
  }
  const m6 = pods.IPv6;
  if (m6.kind === 'none') v.flags |= CFG.V6_NONE;
  else if (m6.kind === 'cidr') {
    v.flags |= CFG.V6_CIDR;
    v.net6 = new Uint8Array(m6.cidr.bytes);
    for (let i = 0; i < 16; i++) v.mask6[i] = (0xff << (8 - Math.max(0, Math.min(8, m6.cidr.prefixLen - i * 8)))) & 0xff;
  }
  return v;
}

export type PodSyncResult = {
  /** "name" of each interface that got the programs in this sync ("replaced" when a previous run's filter was there). */
  attached: { device: string; how: 'attached' | 'replaced' }[];
  /** Interfaces whose programs were removed because they are no longer pods'. */
  detached: string[];
  errors: Error[];
};

export type PodAttachmentsOptions = {
  ingress: BpfProgram;
  egress: BpfProgram;
  /** kpb_pod_cfg */
  cfg: BpfMap;
};

export class PodAttachments {
  readonly #o: PodAttachmentsOptions;
  /** Attached interfaces by "name#ifindex". */
  readonly #current = new Map<string, Pick<HostDevice, 'name' | 'ifindex'>>();
  #cfgText = '';
  #swept = false;

  constructor(opts: PodAttachmentsOptions) {
    this.#o = opts;
  }

  /**
   * Brings the attachments in line with `devices` (all of the node's), `external` (the north-south
   * devices) and `d`. The first call also removes pod filters left on any other device by an earlier
   * run with another detection.
   */
  sync(devices: readonly HostDevice[], external: readonly HostDevice[], d: PodDetection): PodSyncResult {
    const out: PodSyncResult = { attached: [], detached: [], errors: [] };
    const cfg = podCfgValue(d.pods);
    const text = JSON.stringify(cfg, (_k, x: unknown) => (x instanceof Uint8Array ? [...x] : x));
    if (text !== this.#cfgText) {
      try {
        this.#o.cfg.update(0, cfg);
        this.#cfgText = text;
      } catch (err) {
        out.errors.push(new Error(`cannot write kpb_pod_cfg: ${errText(err)}`, { cause: err }));
        return out;
      }
    }
    // A detection that matches nothing in either family needs no programs anywhere.
    const matches = d.pods.IPv4.kind !== 'none' || d.pods.IPv6.kind !== 'none';
    const wanted = new Map((matches ? podInterfaces(devices, external, d) : []).map((x) => [`${x.name}#${x.ifindex}`, x]));
    const present = new Map(devices.map((x) => [x.ifindex, x]));
    for (const [key, dev] of this.#current) {
      if (wanted.has(key)) continue;
      this.#current.delete(key);
      if (present.get(dev.ifindex)?.name !== dev.name) continue; // the device went away
      try {
        if (this.#detachOne(dev.ifindex)) out.detached.push(dev.name);
      } catch (err) {
        if (!gone(err)) out.errors.push(new Error(`cannot remove the pod programs from ${dev.name}: ${errText(err)}`, { cause: err }));
      }
    }
    for (const [key, dev] of wanted) {
      if (this.#current.has(key)) continue;
      try {
        const how = this.#attachOne(dev);
        this.#current.set(key, { name: dev.name, ifindex: dev.ifindex });
        out.attached.push({ device: dev.name, how });
      } catch (err) {
        // Gone between the dump and now (a pod deleted): the next dump will not list it.
        if (!gone(err)) out.errors.push(err instanceof Error ? err : new Error(String(err)));
      }
    }
    if (!this.#swept && out.errors.length === 0) {
      this.#swept = true;
      const ours = new Set([...this.#current.values()].map((x) => x.ifindex));
      for (const dev of devices) {
        if (ours.has(dev.ifindex)) continue;
        try {
          if (this.#detachOne(dev.ifindex)) out.detached.push(dev.name);
        } catch (err) {
          if (!gone(err)) out.errors.push(new Error(`cannot remove the pod programs from ${dev.name}: ${errText(err)}`, { cause: err }));
        }
      }
    }
    return out;
  }

  /** Attaches ingress and egress on `dev` (in place of a previous run's filters). */
  #attachOne(dev: Pick<HostDevice, 'name' | 'ifindex'>): 'attached' | 'replaced' {
    let had = false;
    for (const [direction, prog] of [['ingress', this.#o.ingress], ['egress', this.#o.egress]] as const) {
      try {
        had = tcQuery(podTcFilter(dev.ifindex, direction)) !== 0 || had;
        attachTc(prog, dev.ifindex, { direction, handle: POD_TC_HANDLE, priority: POD_TC_PRIORITY, replace: true }).close();
      } catch (err) {
        throw new Error(`cannot attach the pod program at tc ${direction} of ${dev.name}: ${errText(err)}`, { cause: err });
      }
    }
    return had ? 'replaced' : 'attached';
  }

  /** Removes our pod filters from `ifindex`; whether there were any. */
  #detachOne(ifindex: number): boolean {
    let any = false;
    for (const direction of ['ingress', 'egress'] as const) any = tcDetach(podTcFilter(ifindex, direction)) || any;
    return any;
  }

  /** What self-repair checks: our filter in both directions of every pod interface. */
  repairEntries(programIds: { ingress: number; egress: number }): RepairState['tc'] {
    return [...this.#current.values()].flatMap((dev) => (['ingress', 'egress'] as const).map((direction) => ({
      device: dev.name, ifindex: dev.ifindex, direction, programId: programIds[direction], filter: { handle: POD_TC_HANDLE, priority: POD_TC_PRIORITY },
      reattach: () => void attachTc(direction === 'ingress' ? this.#o.ingress : this.#o.egress, dev.ifindex,
        { direction, handle: POD_TC_HANDLE, priority: POD_TC_PRIORITY, replace: true }).close(),
    })));
  }
}

/**
 * Removes the pod filters from every device in `devices` (--cleanup, or a run whose socket LB mode
 * needs none); returns "tc filter <device> <direction>" per filter removed.
 */
export function detachPodFilters(devices: readonly Pick<HostDevice, 'name' | 'ifindex'>[]): string[] {
  const removed: string[] = [];
  for (const dev of devices) {
    for (const direction of ['ingress', 'egress'] as const) {
      try {
        if (tcDetach(podTcFilter(dev.ifindex, direction))) removed.push(`tc filter ${dev.name} ${direction} (pods)`);
      } catch (err) {
        if (!gone(err)) throw new Error(`cannot remove the pod program at tc ${direction} of ${dev.name}: ${errText(err)}`, { cause: err });
      }
    }
  }
  return removed;
}
