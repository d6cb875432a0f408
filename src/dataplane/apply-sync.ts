/**
 * @module
 * syncMaps: one sync of the LB maps, the glue between translate() and the kernel.
 * - A full sync first re-reads what the maps really hold (when a reader is given), so entries
 *   deleted or changed behind our back are rewritten and strays removed (the BPF analogue of
 *   kube-proxy's canary check plus full resync). A partial sync trusts the cached applied state,
 *   so only entries that changed since the last sync are written.
 * - After a fully successful sync, ids of entries that are no longer wanted are released into
 *   quarantine. After a failure they are kept: the maps may still hold them.
 */
import { backendIdentity, entryKey } from '../translate/keys.ts';
import { LB_MAP_NAMES, type LbEntry, type LbMapName, type LbState } from '../translate/lb-types.ts';
import { apply, type ApplyResult, type LbMaps } from './apply.ts';
import { diff } from './diff.ts';
import type { LbIds } from './ids.ts';

export type MapReader = (map: LbMapName) => Iterable<[unknown, unknown]>;

export type SyncMapsInput = {
  wanted: LbState;
  /** The cached applied state; updated in place. */
  applied: LbState;
  maps: LbMaps;
  ids: LbIds;
  mode: 'full' | 'partial';
  /**
   * The keys an incremental translate touched (its `touched`). A partial sync then compares and
   * releases ids of just those keys; it relies on the previous sync having succeeded, which the
   * sync coordinator ensures (a failed sync makes the next one full).
   */
  touched?: ReadonlyMap<LbMapName, ReadonlySet<string>>;
  /** Dumps a map (decoded keys and values); used by full syncs. */
  readMap?: MapReader;
};

export type SyncMapsResult = ApplyResult & { ops: number; strays: number };

/** Replaces `applied` with what the maps hold, keeping known owners. Returns entries we did not expect. */
export function reloadApplied(applied: LbState, readMap: MapReader): number {
  let strays = 0;
  for (const map of LB_MAP_NAMES) {
    const cached = applied[map] as Map<string, LbEntry>;
    const fresh = new Map<string, LbEntry>();
    for (const [key, value] of readMap(map)) {
      const k = entryKey(key);
      const owners = cached.get(k)?.owners;
      if (!owners) strays++;
      fresh.set(k, { key, value, owners: owners ?? [] } as LbEntry);
    }
    cached.clear();
    for (const [k, e] of fresh) cached.set(k, e);
  }
  return strays;
}

export function syncMaps(input: SyncMapsInput): SyncMapsResult {
  const strays = input.mode === 'full' && input.readMap ? reloadApplied(input.applied, input.readMap) : 0;
  const only = input.mode === 'partial' ? input.touched : undefined;
  const ops = diff(input.wanted, input.applied, only);
  // Identities of the touched backends that go, read before apply drops them from `applied`.
  const goneBackends: [string, number][] = [];
  if (only) {
    for (const k of only.get('lb_backends') ?? []) {
      const b = input.wanted.lb_backends.has(k) ? undefined : input.applied.lb_backends.get(k)?.value;
      if (b) goneBackends.push([backendIdentity(b.addr, b.port, b.proto), Number(k)]);
    }
  }
  const result = apply(ops, input.maps, input.applied);
  if (result.ok && only) {
    for (const k of only.get('lb_services') ?? []) if (!input.wanted.lb_services.has(k)) input.ids.services.release(k);
    for (const [identity, id] of goneBackends) if (input.ids.backends.lookup(identity) === id) input.ids.backends.release(identity);
  } else if (result.ok) {
    input.ids.services.releaseAllExcept(new Set(input.wanted.lb_services.keys()));
    // lb_backends is keyed by id and an id belongs to one identity, so "the id is wanted" is
    // "the identity is wanted" without formatting every backend's identity on each sync.
    const backends = input.wanted.lb_backends;
    input.ids.backends.releaseIdsExcept((id) => backends.has(String(id)));
  }
  return { ...result, ops: ops.length, strays };
}
