/**
 * @module
 * flushLbState: writes what changed in the LB state since the last successful flush (the ids it
 * touched, each with a snapshot of what the maps hold), in batches of packed entries, in the order
 * that never shows the datapath a half-written service (architecture §4, "Consistency when
 * updating"):
 *   1. upsert backends, slots, reverse NAT, Maglev tables, source ranges, node addresses: whatever
 *      a service entry may point at exists before it does;
 *   2. upsert service entries, internal scope first (an external entry flagged TWO_SCOPES never
 *      lacks its internal twin); a changed backend_count switches traffic atomically, and a
 *      shrink lowers the count here, before its trailing slots go;
 *   3. delete service entries (external first), then slots, reverse NAT, Maglev tables, source
 *      ranges, then backends nobody references, then node addresses.
 * A failed write degrades only the frontends it touches: a frontend whose backend, slot, reverse
 * NAT or table failed keeps its previous service entry (never switched to half-written slots),
 * and nothing it may still point at is deleted; backends are deleted only when nothing failed.
 * After a failure the snapshots stay, so the next flush retries exactly the difference.
 */
import { maglevTable } from '../translate/maglev.ts';
import type { LbMapIo, PackedMapName } from './lb-io.ts';
import { containsKey, KIND_FREE, KIND_FRONTEND, type BackendSnapshot, type FrontendSnapshot, type LbState } from './lb-state.ts';

export type FlushFailure = {
  map: PackedMapName | 'lb_maglev';
  kind: 'update' | 'delete';
  /** Entries that failed. */
  count: number;
  errno?: number;
  code?: string;
  /** The first failure's message. */
  message: string;
  /** Service ids (frontends) the failed entries belong to; backend ids for lb_backends. */
  ids: number[];
};

export type FlushResult = { ok: boolean; ops: number; failures: FlushFailure[]; failedServiceIds: Set<number> };

/** A reusable buffer of packed entries for one map. */
class Batch {
  keys = Buffer.alloc(0);
  values = Buffer.alloc(0);
  n = 0;
  /** The service or backend id each entry belongs to. */
  owners: number[] = [];
  readonly ks: number;
  readonly vs: number;

  constructor(ks: number, vs: number) {
    this.ks = ks;
    this.vs = vs;
  }

  reset(): this {
    this.n = 0;
    this.owners.length = 0;
    return this;
  }

  /** Room for one more entry; returns its key and value offsets. */
  add(owner: number): number {
    if ((this.n + 1) * this.ks > this.keys.length) {
      const cap = Math.max(64, this.n * 2);
      const k = Buffer.alloc(cap * this.ks);
      this.keys.copy(k);
      this.keys = k;
      const v = Buffer.alloc(cap * this.vs);
      this.values.copy(v);
      this.values = v;
    }
    this.owners.push(owner);
    return this.n++;
  }

  keyAt(i: number): Buffer {
    return this.keys.subarray(i * this.ks, (i + 1) * this.ks);
  }

  valueAt(i: number): Buffer {
    return this.values.subarray(i * this.vs, (i + 1) * this.vs);
  }
}

function errInfo(err: unknown): { errno?: number; code?: string; message: string } {
  const e = err as { errno?: unknown; code?: unknown; message?: unknown };
  return {
    ...(typeof e?.errno === 'number' ? { errno: e.errno } : {}),
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
    message: typeof e?.message === 'string' ? e.message : String(err),
  };
}

/** Flushes LbStates to one set of maps, reusing its batch buffers between flushes. */
export class LbFlusher {
  readonly #io: LbMapIo;
  readonly #maglevM: number;
  #batches = new Map<string, Batch>();

  constructor(io: LbMapIo, maglevTableSize: number) {
    this.#io = io;
    this.#maglevM = maglevTableSize;
  }

  #batch(name: string, ks: number, vs: number): Batch {
    let b = this.#batches.get(name);
    if (!b) this.#batches.set(name, (b = new Batch(ks, vs)));
    return b.reset();
  }

  flush(state: LbState): FlushResult {
    const io = this.#io;
    const c = state.codec;
    // The dirty ids and their snapshots as arrays: the passes below index them (iterating the
    // Maps a dozen times would allocate an entry pair per id and pass).
    const fIds: number[] = [];
    const fSnaps: FrontendSnapshot[] = [];
    state.dirtyFrontends.forEach((snap, sid) => {
      fIds.push(sid);
      fSnaps.push(snap);
    });
    const bIds: number[] = [];
    const bSnaps: BackendSnapshot[] = [];
    state.dirtyBackends.forEach((snap, bid) => {
      bIds.push(bid);
      bSnaps.push(snap);
    });
    const failures: FlushFailure[] = [];
    const failedF = new Set<number>();
    let ops = 0;

    /** Writes a batch; returns the indexes that failed (one by one after a failed batch). */
    const write = (map: PackedMapName, kind: 'update' | 'delete', b: Batch): Set<number> => {
      const bad = new Set<number>();
      if (b.n === 0) return bad;
      ops += b.n;
      const keys = b.keys.subarray(0, b.n * b.ks);
      try {
        if (kind === 'update') io.update(map, keys, b.values.subarray(0, b.n * b.vs));
        else io.delete(map, keys);
        return bad;
      } catch {
        // One by one, to find the entries that fail (updates are idempotent; deletes skip absent keys).
      }
      let first: ReturnType<typeof errInfo> | null = null;
      for (let i = 0; i < b.n; i++) {
        try {
          if (kind === 'update') io.update(map, b.keyAt(i), b.valueAt(i));
          else io.delete(map, b.keyAt(i));
        } catch (err) {
          first ??= errInfo(err);
          bad.add(i);
        }
      }
      if (bad.size > 0) failures.push({ map, kind, count: bad.size, ...first!, ids: [...new Set([...bad].map((i) => b.owners[i]!))] });
      return bad;
    };
    const failOwners = (b: Batch, bad: Set<number>) => {
      for (const i of bad) failedF.add(b.owners[i]!);
    };
    const u32 = (buf: Buffer, off: number, v: number) => buf.writeUInt32LE(v, off);

    // 1. Backends.
    const be = this.#batch('be+', 4, c.backendSize);
    for (let x = 0; x < bIds.length; x++) {
      const bid = bIds[x]!;
      const snap = bSnaps[x]!;
      if (state.backendRefs(bid) === 0) continue;
      const val = state.backendValue(bid);
      if (snap.value && snap.value.equals(val)) continue;
      const i = be.add(bid);
      u32(be.keys, i * 4, bid);
      val.copy(be.values, i * be.vs);
    }
    const badB = write('lb_backends', 'update', be);
    if (badB.size > 0) {
      const failed = new Set([...badB].map((i) => be.owners[i]!));
      for (const sid of fIds) if (state.slots(sid).some((id) => failed.has(id))) failedF.add(sid);
    }
    const live = (sid: number) => state.kind(sid) === KIND_FRONTEND && !failedF.has(sid);

    // 2. Slots.
    const sl = this.#batch('slot+', c.slotKeySize, 4);
    for (let x = 0; x < fIds.length; x++) {
      const sid = fIds[x]!;
      const snap = fSnaps[x]!;
      if (!live(sid)) continue;
      const cur = state.slots(sid);
      for (let i = 0; i < cur.length; i++) {
        if (i < snap.slots.length && snap.slots[i] === cur[i]) continue;
        const j = sl.add(sid);
        c.writeSlotKey(sl.keys, j * sl.ks, sid, i + 1);
        u32(sl.values, j * 4, cur[i]!);
      }
    }
    failOwners(sl, write('lb_slots', 'update', sl));

    // 3. Reverse NAT.
    const rn = this.#batch('rn+', 4, c.revNatSize);
    for (let x = 0; x < fIds.length; x++) {
      const sid = fIds[x]!;
      const snap = fSnaps[x]!;
      if (!live(sid)) continue;
      const want = state.revNatValue(sid);
      if (snap.revNat && snap.revNat.equals(want)) continue;
      const j = rn.add(sid);
      u32(rn.keys, j * 4, sid);
      want.copy(rn.values, j * rn.vs);
    }
    failOwners(rn, write('lb_rev_nat', 'update', rn));

    // 4. Maglev tables, swapped in whole.
    for (let x = 0; x < fIds.length; x++) {
      const sid = fIds[x]!;
      const snap = fSnaps[x]!;
      if (!live(sid) || !state.maglev(sid)) continue;
      const cur = state.slots(sid);
      if (snap.maglev === 1 && snap.slots.length === cur.length && snap.slots.every((v, i) => v === cur[i])) continue;
      ops++;
      try {
        io.setMaglev(sid, maglevTable(state.maglevBackends(sid), this.#maglevM));
      } catch (err) {
        failedF.add(sid);
        failures.push({ map: 'lb_maglev', kind: 'update', count: 1, ...errInfo(err), ids: [sid] });
      }
    }

    // 5. Source ranges.
    const rk = c.srcRangeKeySize;
    const sr = this.#batch('sr+', rk, 1);
    for (let x = 0; x < fIds.length; x++) {
      const sid = fIds[x]!;
      const snap = fSnaps[x]!;
      if (!live(sid)) continue;
      const cur = state.ranges(sid);
      for (let o = 0; o < cur.length; o += rk) {
        if (containsKey(snap.ranges, cur.subarray(o, o + rk), rk)) continue;
        const j = sr.add(sid);
        cur.copy(sr.keys, j * rk, o, o + rk);
        sr.values[j] = 1;
      }
    }
    failOwners(sr, write('lb_src_ranges', 'update', sr));

    // 6. Node addresses.
    const na = this.#batch('na+', c.nodeAddrKeySize, c.nodeAddrValueSize);
    if (state.nodeAddrsSnapshot) {
      for (const [k, addr] of state.nodeAddrs) {
        if (state.nodeAddrsSnapshot.has(k)) continue;
        const j = na.add(0);
        c.writeNodeAddrKey(na.keys, j * na.ks, addr);
        na.values.fill(0, j * na.vs, (j + 1) * na.vs);
      }
      write('lb_node_addrs', 'update', na);
    }

    // 7. Service entries: internal scope, then external.
    for (const internal of [true, false]) {
      const sv = this.#batch('svc+', c.serviceKeySize, c.serviceValueSize);
      for (let x = 0; x < fIds.length; x++) {
        const sid = fIds[x]!;
        const snap = fSnaps[x]!;
        const kind = state.kind(sid);
        if (kind === KIND_FREE || failedF.has(sid)) continue;
        const key = state.key(sid);
        if (state.isInternal(key) !== internal) continue;
        const val = state.value(sid);
        if (snap.key && snap.key.equals(key) && snap.value && snap.value.equals(val)) continue;
        const j = sv.add(sid);
        key.copy(sv.keys, j * sv.ks);
        val.copy(sv.values, j * sv.vs);
      }
      failOwners(sv, write('lb_services', 'update', sv));
    }

    // 8. Delete service entries: external scope, then internal.
    for (const internal of [false, true]) {
      const sv = this.#batch('svc-', c.serviceKeySize, 0);
      for (let x = 0; x < fIds.length; x++) {
        const sid = fIds[x]!;
        const snap = fSnaps[x]!;
        if (!snap.key || (state.kind(sid) !== KIND_FREE && snap.key.equals(state.key(sid)))) continue;
        if (state.isInternal(snap.key) !== internal) continue;
        const j = sv.add(sid);
        snap.key.copy(sv.keys, j * sv.ks);
      }
      if (internal) {
        for (const key of state.strayServiceKeys) {
          const j = sv.add(0);
          key.copy(sv.keys, j * sv.ks);
        }
      }
      failOwners(sv, write('lb_services', 'delete', sv));
    }
    const settled = (sid: number) => !failedF.has(sid);

    // 9. Trailing or abandoned slots.
    const sd = this.#batch('slot-', c.slotKeySize, 0);
    for (let x = 0; x < fIds.length; x++) {
      const sid = fIds[x]!;
      const snap = fSnaps[x]!;
      if (!settled(sid)) continue;
      const n = state.kind(sid) === KIND_FRONTEND ? state.slots(sid).length : 0;
      for (let i = n; i < snap.slots.length; i++) {
        if (snap.slots[i] === 0) continue;
        const j = sd.add(sid);
        c.writeSlotKey(sd.keys, j * sd.ks, sid, i + 1);
      }
    }
    for (const key of state.straySlotKeys) {
      const j = sd.add(0);
      key.copy(sd.keys, j * sd.ks);
    }
    failOwners(sd, write('lb_slots', 'delete', sd));

    // 10-12. Reverse NAT, Maglev tables and source ranges of frontends that went.
    const rd = this.#batch('rn-', 4, 0);
    for (let x = 0; x < fIds.length; x++) {
      const sid = fIds[x]!;
      const snap = fSnaps[x]!;
      if (!settled(sid) || !snap.revNat || state.kind(sid) === KIND_FRONTEND) continue;
      const j = rd.add(sid);
      u32(rd.keys, j * 4, sid);
    }
    failOwners(rd, write('lb_rev_nat', 'delete', rd));
    for (let x = 0; x < fIds.length; x++) {
      const sid = fIds[x]!;
      const snap = fSnaps[x]!;
      if (!settled(sid) || snap.maglev === 0 || state.maglev(sid)) continue;
      ops++;
      try {
        io.deleteMaglev(sid);
      } catch (err) {
        failedF.add(sid);
        failures.push({ map: 'lb_maglev', kind: 'delete', count: 1, ...errInfo(err), ids: [sid] });
      }
    }
    const srd = this.#batch('sr-', rk, 0);
    for (let x = 0; x < fIds.length; x++) {
      const sid = fIds[x]!;
      const snap = fSnaps[x]!;
      if (!settled(sid)) continue;
      const cur = state.ranges(sid);
      for (let o = 0; o < snap.ranges.length; o += rk) {
        if (containsKey(cur, snap.ranges.subarray(o, o + rk), rk)) continue;
        const j = srd.add(sid);
        snap.ranges.copy(srd.keys, j * rk, o, o + rk);
      }
    }
    failOwners(srd, write('lb_src_ranges', 'delete', srd));

    // 13. Backends nobody references, only when nothing failed: a frontend that kept its
    // previous entry may still point at them.
    if (failures.length === 0) {
      const bd = this.#batch('be-', 4, 0);
      for (let x = 0; x < bIds.length; x++) {
        const bid = bIds[x]!;
        const snap = bSnaps[x]!;
        if (state.backendRefs(bid) > 0 || !snap.value) continue;
        const j = bd.add(bid);
        u32(bd.keys, j * 4, bid);
      }
      write('lb_backends', 'delete', bd);
    }

    // 14. Node addresses that went.
    if (state.nodeAddrsSnapshot) {
      const nd = this.#batch('na-', c.nodeAddrKeySize, 0);
      for (const [k, addr] of state.nodeAddrsSnapshot) {
        if (state.nodeAddrs.has(k)) continue;
        const j = nd.add(0);
        c.writeNodeAddrKey(nd.keys, j * nd.ks, addr);
      }
      write('lb_node_addrs', 'delete', nd);
    }

    const ok = failures.length === 0;
    if (ok) state.commit();
    // A full sync's batches are big; keep only small buffers between syncs.
    for (const [name, b] of this.#batches) if (b.keys.length + b.values.length > 1 << 20) this.#batches.delete(name);
    return { ok, ops, failures, failedServiceIds: failedF };
  }
}
