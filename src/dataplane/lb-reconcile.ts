/**
 * @module
 * What the maps really hold, compared with the LB state: each map read in batches of STEP_ENTRIES
 * (a batch of lb_slots at 10k Services x 10 endpoints is ~0.1 ms; the whole map in one call, ~50 ms,
 * held back changes), with a step between batches. Used when the
 * state was rebuilt (start-up, where the maps may hold a previous agent's entries; a change of the
 * node or the options) and every sync period (drift: entries changed or deleted behind our back,
 * the BPF counterpart of kube-proxy's canary and full resync). Each id whose entries differ gets a
 * snapshot of what the maps hold, so the next flush writes exactly the repair, in the usual order.
 * Also seeds the id allocators from the pinned maps at start-up, so established flows keep ids.
 */
import { frontendKey, type FrontendKey } from '../translate/compile-port.ts';
import { backendKey, type BackendKey } from '../model/backend-key.ts';
import type { LbIds } from './ids.ts';
import type { LbCodec } from './lb-codec.ts';
import type { LbMapIo } from './lb-io.ts';
import { containsKey, KIND_FREE, KIND_FRONTEND, KIND_MARKER, NO_BACKEND, NOTHING, type FrontendSnapshot, type LbState, type Touches } from './lb-state.ts';
import { LB_SVC_VIP_MARKER } from '../translate/lb-types.ts';

/** Slots per entry never exceed backend_count's range; a higher slot in the maps is a stray. */
const MAX_SLOT = 65535;
const EMPTY_IDS: readonly number[] = Object.freeze([]);
const EMPTY = Buffer.alloc(0);

/** The identity (frontendKey) of an encoded lb_service_key. */
export function serviceKeyIdentity(codec: LbCodec, key: Uint8Array, off = 0): FrontendKey {
  const f = codec.serviceKeyFields(key, off);
  return frontendKey(f.addr, f.port, f.proto, f.scope);
}

/**
 * Adopts the ids the pinned lb_services and lb_backends hold. Ids above `bound` (a sparse id of an
 * older allocator) are not adopted: their entries get new ids and the old ones are replaced.
 */
export function seedIdsFromMaps(ids: LbIds, io: LbMapIo, codec: LbCodec, bound: { services: number; backends: number }): { services: FrontendKey[]; backends: BackendKey[] } {
  const s = io.dump('lb_services');
  const services: [FrontendKey, number][] = [];
  for (let i = 0; i < s.count; i++) {
    services.push([serviceKeyIdentity(codec, s.keys, i * codec.serviceKeySize), codec.serviceValueId(s.values, i * codec.serviceValueSize)]);
  }
  const b = io.dump('lb_backends');
  const backends: [BackendKey, number][] = [];
  for (let i = 0; i < b.count; i++) {
    const f = codec.backendFields(b.values, i * codec.backendSize);
    backends.push([backendKey(f.addr, f.port, f.proto), b.keys.readUInt32LE(i * 4)]);
  }
  return { services: ids.services.seed(services, bound.services), backends: ids.backends.seed(backends, bound.backends) };
}

type KernelFrontend = { key: Buffer | null; value: Buffer | null; slots: number[]; revNat: Buffer | null; maglev: number; ranges: Buffer[] };

export type ReconcileResult = { frontends: number; backends: number; strays: number };

/** Entries (of the maps or of the state) handled between two yields of reconcileSteps(). */
export const STEP_ENTRIES = 256;

/**
 * Compares every control-plane map with `state` and records a snapshot for each id that differs.
 * Returns how many service and backend ids differ (0: the maps hold exactly the state).
 */
export function reconcileLbState(state: LbState, io: LbMapIo): ReconcileResult {
  const steps = reconcileSteps(state, io);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * reconcileLbState() in steps: yields after every `stepEntries` entries read or compared, so the
 * verifying sync can give way to changes (lb-programmer.ts verifySteps()). Nothing is recorded in
 * `state` before the last step: a run dropped part-way leaves the state as it was.
 *
 * The state and the maps may change between steps (a change programmed while the run is paused),
 * and the run resumes where it was: the ids a change touches (LbState.watchTouches()) are left
 * out of the comparison, whatever was read of them before or after. That is exact for the others:
 * their entries did not move, and a hash map's batch walk (a bucket cursor) sees each entry that
 * stays in the map exactly once. The touched ones were just written from the state (or, if that
 * write failed, keep their snapshots, and the failed sync makes the next one verify again), and
 * the next comparison covers them. A stray key that a change has since claimed is not deleted.
 */
export function* reconcileSteps(state: LbState, io: LbMapIo, stepEntries = STEP_ENTRIES): Generator<void, ReconcileResult, void> {
  const touched = state.watchTouches();
  try {
    return yield* compareSteps(state, io, stepEntries, touched);
  } finally {
    state.unwatchTouches(touched);
  }
}

function* compareSteps(state: LbState, io: LbMapIo, stepEntries: number, touched: Touches): Generator<void, ReconcileResult, void> {
  const c = state.codec;
  state.reserve();
  let work = 0;
  const frontendSnaps: [number, FrontendSnapshot][] = [];
  const backendSnaps: [number, Buffer | null][] = [];
  const straySlots: Buffer[] = [];
  const kernel = new Map<number, KernelFrontend>();
  const view = (sid: number): KernelFrontend => {
    let k = kernel.get(sid);
    if (!k) kernel.set(sid, (k = { key: null, value: null, slots: [], revNat: null, maglev: 0, ranges: [] }));
    return k;
  };
  const strays: Buffer[] = [];

  for (const svc of io.dumpChunks('lb_services', stepEntries)) {
    yield;
    for (let i = 0; i < svc.count; i++) {
      const key = Buffer.from(svc.keys.subarray(i * c.serviceKeySize, (i + 1) * c.serviceKeySize));
      const value = Buffer.from(svc.values.subarray(i * c.serviceValueSize, (i + 1) * c.serviceValueSize));
      // A key the state knows is compared under the state's id (its entry is switched to that id);
      // else under the id in its value, unless another key holds that id (then it is a stray).
      let sid = state.ids.services.lookup(serviceKeyIdentity(c, key));
      if (sid === undefined) {
        sid = c.serviceValueId(value, 0);
        if (state.ids.services.keyOf(sid) !== undefined) sid = undefined;
      }
      if (sid === undefined || kernel.get(sid)?.key) {
        strays.push(key);
        continue;
      }
      const k = view(sid);
      k.key = key;
      k.value = value;
    }
  }
  for (const slots of io.dumpChunks('lb_slots', stepEntries)) {
    yield;
    for (let i = 0; i < slots.count; i++) {
      const sid = c.slotKeyId(slots.keys, i * c.slotKeySize);
      const slot = c.slotKeySlot(slots.keys, i * c.slotKeySize);
      const bid = slots.values.readUInt32LE(i * 4);
      if (slot < 1 || slot > MAX_SLOT) {
        // Unreachable for the datapath, but it takes room.
        straySlots.push(Buffer.from(slots.keys.subarray(i * c.slotKeySize, (i + 1) * c.slotKeySize)));
        continue;
      }
      const k = view(sid);
      k.slots[slot - 1] = bid;
    }
  }
  for (const rn of io.dumpChunks('lb_rev_nat', stepEntries)) {
    yield;
    for (let i = 0; i < rn.count; i++) {
      view(rn.keys.readUInt32LE(i * 4)).revNat = Buffer.from(rn.values.subarray(i * c.revNatSize, (i + 1) * c.revNatSize));
    }
  }
  for (const [sid, known] of io.dumpMaglev()) view(sid).maglev = known ? 1 : 2;
  const sr = io.dump('lb_src_ranges');
  for (let i = 0; i < sr.count; i++) {
    const key = Buffer.from(sr.keys.subarray(i * c.srcRangeKeySize, (i + 1) * c.srcRangeKeySize));
    view(c.srcRangeKeyId(key, 0)).ranges.push(key);
  }

  let frontends = 0;
  const compare = (sid: number) => {
    if (touched.services.has(sid)) return;
    const k = kernel.get(sid);
    const kind = state.kind(sid);
    if (!k) {
      // The maps hold nothing for this id (all of them at a first start).
      if (kind !== KIND_FREE) {
        frontends++;
        frontendSnaps.push([sid, NOTHING]);
      }
      return;
    }
    const snap: FrontendSnapshot = {
      kind: k?.key ? (c.serviceValueFlags(k.value!, 0) & LB_SVC_VIP_MARKER ? KIND_MARKER : KIND_FRONTEND) : KIND_FREE,
      key: k?.key ?? null,
      value: k?.value ?? null,
      slots: k && k.slots.length > 0 ? Array.from(k.slots, (v) => v ?? 0) : EMPTY_IDS,
      revNat: k?.revNat ?? null,
      maglev: k?.maglev ?? 0,
      ranges: k && k.ranges.length > 0 ? Buffer.concat(k.ranges) : EMPTY,
    };
    if (same(state, sid, kind, snap)) return;
    frontends++;
    frontendSnaps.push([sid, snap]);
  };
  for (const sid of state.serviceIds()) {
    compare(sid);
    if (++work % stepEntries === 0) yield;
  }
  for (const sid of kernel.keys()) if (state.kind(sid) === KIND_FREE) compare(sid);

  let backends = 0;
  const inKernel = new Set<number>();
  for (const be of io.dumpChunks('lb_backends', stepEntries)) {
    yield;
    for (let i = 0; i < be.count; i++) {
      const bid = be.keys.readUInt32LE(i * 4);
      inKernel.add(bid);
      if (touched.backends.has(bid)) continue;
      const value = be.values.subarray(i * c.backendSize, (i + 1) * c.backendSize);
      if (state.backendRefs(bid) > 0 && state.backendValue(bid).equals(value)) continue;
      backends++;
      backendSnaps.push([bid, Buffer.from(value)]);
    }
  }
  for (const bid of state.backendIds()) {
    if (++work % stepEntries === 0) yield;
    if (inKernel.has(bid) || touched.backends.has(bid)) continue;
    backends++;
    backendSnaps.push([bid, null]);
  }

  const na = io.dump('lb_node_addrs');
  const have = new Map<string, Uint8Array>();
  for (let i = 0; i < na.count; i++) {
    const addr = Buffer.from(na.keys.subarray(i * c.nodeAddrKeySize, i * c.nodeAddrKeySize + 16));
    have.set(addr.toString('hex'), addr);
  }
  // The last step: what differs is recorded, at once, but for ids a change touched after they
  // were compared, and stray keys a change has since claimed.
  frontends = 0;
  for (const [sid, snap] of frontendSnaps) {
    if (touched.services.has(sid)) continue;
    state.setFrontendSnapshot(sid, snap);
    frontends++;
  }
  backends = 0;
  for (const [bid, value] of backendSnaps) {
    if (touched.backends.has(bid)) continue;
    state.setBackendSnapshot(bid, value ? { value } : NO_BACKEND);
    backends++;
  }
  if (touched.services.size > 0) {
    const claimed = (key: Buffer) => state.ids.services.lookup(serviceKeyIdentity(c, key)) !== undefined;
    const unclaimed = strays.filter((k) => !claimed(k));
    strays.length = 0;
    strays.push(...unclaimed);
  }
  if (have.size !== state.nodeAddrs.size || [...have.keys()].some((k) => !state.nodeAddrs.has(k))) state.nodeAddrsSnapshot = have;
  state.straySlotKeys.push(...straySlots);
  state.strayServiceKeys.push(...strays);
  return { frontends, backends, strays: strays.length + state.straySlotKeys.length };
}

/** True when the maps hold exactly the state's entries for `sid`. */
function same(state: LbState, sid: number, kind: number, k: FrontendSnapshot): boolean {
  if (kind === KIND_FREE) return k.key === null && k.slots.length === 0 && k.revNat === null && k.maglev === 0 && k.ranges.length === 0;
  if (!k.key || !k.key.equals(state.key(sid)) || !k.value || !k.value.equals(state.value(sid))) return false;
  const cur = state.slots(sid);
  if (k.slots.length !== cur.length || k.slots.some((v, i) => v !== cur[i])) return false;
  if (kind === KIND_FRONTEND) {
    if (!k.revNat || !k.revNat.equals(state.revNatValue(sid))) return false;
  } else if (k.revNat) return false;
  if ((k.maglev === 1) !== state.maglev(sid) || k.maglev === 2) return false;
  const ranges = state.ranges(sid);
  const rk = state.codec.srcRangeKeySize;
  if (ranges.length !== k.ranges.length) return false;
  for (let o = 0; o < ranges.length; o += rk) if (!containsKey(k.ranges, ranges.subarray(o, o + rk), rk)) return false;
  return true;
}
