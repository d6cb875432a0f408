/**
 * @module
 * Self-repair (issue 11 item 4), the counterpart of kube-proxy recreating its deleted chains:
 * once per sync period the agent checks that what it attached is still attached and that its
 * pins are still there and still its own, and puts back whatever is missing.
 * - Socket (cgroup) and XDP attachments are bpf_links whose handles the agent keeps open: a link
 *   someone detached reports `attached: false` (or carries another program); it is replaced by a
 *   new link, pinned in its place. A removed pin detaches nothing while we hold the handle, and is
 *   pinned again.
 * - tc filters are found by our handle and priority; a missing or foreign one is put back in place.
 * - Map pins that are missing, or name another map than ours, are pinned again from our handles,
 *   so the next agent (and `kube-proxy inspect`) finds the live maps.
 * Each repair is one record naming the hook, what was repaired and why; the caller logs and counts
 * them (kubeproxy_bpf_datapath_repairs_total{hook}).
 */
import { existsSync, unlinkSync } from 'node:fs';
import { openPinnedLink, openPinnedMap, tcQuery, type BpfMap, type BpfProgram, type Link } from 'bpf-loader-napi';
import { ourTcFilter } from './attach-devices.ts';

/** Bounded label values of kubeproxy_bpf_datapath_repairs_total. */
export type RepairHook = 'cgroup' | 'tc' | 'xdp' | 'link_pin' | 'map_pin';

export type Repair = { hook: RepairHook; what: string; why: string };

/** One kept bpf_link: the program it must run, its pin, and how to make a new one. */
export type KeptLink = {
  what: string;
  hook: 'cgroup' | 'xdp';
  pin: string;
  program: BpfProgram;
  programId: number;
  /** ifindex (XDP) or cgroup id (cgroup) the link must point at. */
  target: number | bigint;
  get: () => Link | undefined;
  /** Attaches a fresh link (not yet pinned) and keeps it in place of the old handle. */
  reattach: () => Link;
};

export type RepairState = {
  links: KeptLink[];
  /** `filter`: handle and priority of the filter when not the north-south one (ourTcFilter), e.g. the pod-side filters. */
  tc: { device: string; ifindex: number; direction: 'ingress' | 'egress'; programId: number; reattach: () => void; filter?: { handle: number; priority: number } }[];
  maps: { name: string; pin: string; map: BpfMap; id: number }[];
};

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Whether the pin at `path` is the link `linkId` (false when absent or another object). */
function pinnedLinkIs(path: string, linkId: number): boolean {
  if (!existsSync(path)) return false;
  try {
    const l = openPinnedLink(path);
    try {
      return l.info().id === linkId;
    } finally {
      l.close();
    }
  } catch {
    return false;
  }
}

function pinnedMapIs(path: string, mapId: number): boolean {
  if (!existsSync(path)) return false;
  try {
    const m = openPinnedMap(path);
    try {
      return m.info().id === mapId;
    } finally {
      m.close();
    }
  } catch {
    return false;
  }
}

function repin(path: string, pin: (p: string) => void): void {
  if (existsSync(path)) unlinkSync(path);
  pin(path);
}

function checkLink(k: KeptLink, out: Repair[], errors: Error[]): void {
  const link = k.get();
  let why = '';
  if (!link) why = 'no link is held';
  else {
    try {
      const info = link.info();
      const target = k.hook === 'xdp' ? Number(info.ifindex) : info.cgroupId;
      if (info.attached !== true) why = 'the link was detached';
      else if (Number(info.progId) !== k.programId) why = `the link runs program ${info.progId}, not ours (${k.programId})`;
      else if (target !== k.target) why = `the link points at ${String(target)}, not ${String(k.target)}`;
    } catch (err) {
      why = `cannot read the link: ${errText(err)}`;
    }
  }
  try {
    if (why !== '') {
      const fresh = k.reattach();
      repin(k.pin, (p) => fresh.pin(p));
      out.push({ hook: k.hook, what: k.what, why });
      return;
    }
    const id = Number(link!.info().id);
    if (!pinnedLinkIs(k.pin, id)) {
      const wasThere = existsSync(k.pin);
      repin(k.pin, (p) => link!.pin(p));
      out.push({ hook: 'link_pin', what: k.pin, why: wasThere ? 'the pin named another object' : 'the pin was removed' });
    }
  } catch (err) {
    errors.push(new Error(`cannot repair ${k.what} (${why || 'pin'}): ${errText(err)}`, { cause: err }));
  }
}

/**
 * Checks every attachment and pin in `state` and repairs what is missing. Returns the repairs made
 * and the errors of repairs that failed (each names the object; the rest are still attempted).
 */
export function repairDatapath(state: RepairState): { repairs: Repair[]; errors: Error[] } {
  const repairs: Repair[] = [];
  const errors: Error[] = [];
  for (const k of state.links) checkLink(k, repairs, errors);
  for (const t of state.tc) {
    try {
      const id = tcQuery(t.filter ? { ifindex: t.ifindex, direction: t.direction, ...t.filter } : ourTcFilter(t.ifindex, t.direction));
      if (id === t.programId) continue;
      t.reattach();
      repairs.push({ hook: 'tc', what: `tc ${t.direction} on ${t.device}`, why: id === 0 ? 'the filter was removed' : `the filter runs program ${id}, not ours (${t.programId})` });
    } catch (err) {
      // A device that went away is not ours to repair: the device watcher re-attaches by node IP.
      if ((err as { code?: string }).code === 'ENODEV') continue;
      errors.push(new Error(`cannot repair tc ${t.direction} on ${t.device}: ${errText(err)}`, { cause: err }));
    }
  }
  for (const m of state.maps) {
    if (pinnedMapIs(m.pin, m.id)) continue;
    try {
      const wasThere = existsSync(m.pin);
      repin(m.pin, (p) => m.map.pin(p));
      repairs.push({ hook: 'map_pin', what: m.pin, why: wasThere ? 'the pin named another map' : 'the pin was removed' });
    } catch (err) {
      errors.push(new Error(`cannot pin map ${m.name} again at ${m.pin}: ${errText(err)}`, { cause: err }));
    }
  }
  return { repairs, errors };
}
