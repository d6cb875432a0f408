/**
 * @module
 * apply(ops, maps, applied): performs diff()'s ops against the maps and keeps `applied` equal to
 * what the maps hold. Consecutive ops on the same map and of the same kind go out as one batch
 * when the maps support it (a failed batch is retried op by op to find the culprit).
 *
 * A failure degrades only the services it touches (architecture principle 5): the failed op is
 * reported with its services, map and errno; later ops keep going, except that a failed
 * service's entry is not switched over to half-written state. Every op is also checked against
 * the invariant "a service entry never points at a missing slot or backend" (from `applied`), so
 * even after a failure the datapath never follows a dangling id; a refused op is reported the
 * same way. The result lists the failed services so the next sync is made full.
 */
import { LB_SVC_MAGLEV, type LbEntry, type LbMapName, type LbServiceValue, type LbSlotKey, type LbState } from '../translate/lb-types.ts';
import type { LbOp } from './diff.ts';

/** The map writer; the real one wraps bpf-loader-napi maps and their codecs. */
export interface LbMaps {
  update(map: LbMapName, key: unknown, value: unknown): void;
  delete(map: LbMapName, key: unknown): void;
  updateBatch?(map: LbMapName, keys: unknown[], values: unknown[]): void;
  deleteBatch?(map: LbMapName, keys: unknown[]): void;
}

export type ApplyFailure = {
  /** Services ("namespace/name") the entry belongs to; empty for shared/adopted entries. */
  services: string[];
  map: LbMapName;
  kind: 'update' | 'delete';
  key: string;
  errno?: number;
  code?: string;
  message: string;
};

export type ApplyResult = {
  ok: boolean;
  failures: ApplyFailure[];
  failedServices: Set<string>;
  /** Ops performed. */
  done: number;
  /** Ops left out because their service had already failed. */
  skipped: number;
};

/** Indexes over `applied` that the invariant checks need. */
class Refs {
  /** service id -> lb_services value, for the service entries holding it */
  services = new Map<number, LbServiceValue>();
  /** backend id -> number of slots and Maglev tables naming it */
  backendRefs = new Map<number, number>();

  constructor(applied: LbState) {
    for (const e of applied.lb_services.values()) this.services.set(e.value.service_id, e.value);
    for (const e of applied.lb_slots.values()) this.ref(e.value, 1);
    for (const e of applied.lb_maglev.values()) for (const id of new Set(e.value)) this.ref(id, 1);
  }

  ref(id: number, d: number): void {
    const n = (this.backendRefs.get(id) ?? 0) + d;
    if (n <= 0) this.backendRefs.delete(id);
    else this.backendRefs.set(id, n);
  }
}

function slotKeyString(serviceId: number, slot: number): string {
  return `service_id=${serviceId},slot=${slot}`;
}

/** Why `op` would break the invariant given `applied`, or null when it is safe. */
function violation(op: LbOp, applied: LbState, refs: Refs): string | null {
  if (op.kind === 'update') {
    switch (op.map) {
      case 'lb_services': {
        const v = op.value as LbServiceValue;
        for (let slot = 1; slot <= v.backend_count; slot++) {
          const s = applied.lb_slots.get(slotKeyString(v.service_id, slot));
          if (!s) return `slot ${slot} of service id ${v.service_id} is missing`;
          if (!applied.lb_backends.has(String(s.value))) return `backend ${s.value} of service id ${v.service_id} is missing`;
        }
        if (v.flags & LB_SVC_MAGLEV && v.backend_count > 0 && !applied.lb_maglev.has(String(v.service_id))) {
          return `Maglev table of service id ${v.service_id} is missing`;
        }
        return null;
      }
      case 'lb_slots':
        return applied.lb_backends.has(String(op.value)) ? null : `backend ${op.value as number} is missing`;
      case 'lb_maglev':
        for (const id of new Set(op.value as Uint32Array)) if (!applied.lb_backends.has(String(id))) return `backend ${id} is missing`;
        return null;
      default:
        return null;
    }
  }
  switch (op.map) {
    case 'lb_slots': {
      const k = op.key as LbSlotKey;
      const svc = refs.services.get(k.service_id);
      return svc && svc.backend_count >= k.slot ? `service id ${k.service_id} still counts slot ${k.slot}` : null;
    }
    case 'lb_maglev': {
      const svc = refs.services.get(op.key as number);
      return svc && svc.flags & LB_SVC_MAGLEV && svc.backend_count > 0 ? `service id ${op.key as number} still uses its Maglev table` : null;
    }
    case 'lb_backends':
      return refs.backendRefs.has(op.key as number) ? `backend ${op.key as number} is still referenced` : null;
    default:
      return null;
  }
}

/** Records a successful op in `applied` and the indexes. */
function record(op: LbOp, applied: LbState, refs: Refs): void {
  const m = applied[op.map] as Map<string, LbEntry>;
  const old = m.get(op.keyString);
  if (op.map === 'lb_services' && old) refs.services.delete((old.value as LbServiceValue).service_id);
  if (op.map === 'lb_slots' && old) refs.ref(old.value as number, -1);
  if (op.map === 'lb_maglev' && old) for (const id of new Set(old.value as Uint32Array)) refs.ref(id, -1);
  if (op.kind === 'delete') {
    m.delete(op.keyString);
    return;
  }
  m.set(op.keyString, { key: op.key, value: op.value, owners: op.owners } as LbEntry);
  if (op.map === 'lb_services') refs.services.set((op.value as LbServiceValue).service_id, op.value as LbServiceValue);
  if (op.map === 'lb_slots') refs.ref(op.value as number, 1);
  if (op.map === 'lb_maglev') for (const id of new Set(op.value as Uint32Array)) refs.ref(id, 1);
}

function isNotFound(err: unknown): boolean {
  const e = err as { code?: unknown; errno?: unknown };
  return e?.code === 'ENOENT' || e?.errno === 2 || e?.errno === -2;
}

/** Performs `ops` in order; see the module comment. `applied` is updated in place. */
export function apply(ops: LbOp[], maps: LbMaps, applied: LbState): ApplyResult {
  const refs = new Refs(applied);
  const failures: ApplyFailure[] = [];
  const failedServices = new Set<string>();
  let done = 0;
  let skipped = 0;

  const fail = (op: LbOp, message: string, err?: unknown) => {
    const e = err as { errno?: unknown; code?: unknown } | undefined;
    failures.push({
      services: op.owners,
      map: op.map,
      kind: op.kind,
      key: op.keyString,
      ...(typeof e?.errno === 'number' ? { errno: e.errno } : {}),
      ...(typeof e?.code === 'string' ? { code: e.code } : {}),
      message,
    });
    for (const s of op.owners) failedServices.add(s);
  };

  const runOne = (op: LbOp) => {
    try {
      if (op.kind === 'update') maps.update(op.map, op.key, op.value);
      else maps.delete(op.map, op.key);
    } catch (err) {
      // Deleting what is already gone reached the wanted state.
      if (!(op.kind === 'delete' && isNotFound(err))) {
        fail(op, `${op.kind} ${op.map}: ${(err as Error)?.message ?? String(err)}`, err);
        return;
      }
    }
    record(op, applied, refs);
    done++;
  };

  for (let i = 0; i < ops.length; ) {
    let j = i + 1;
    while (j < ops.length && ops[j].map === ops[i].map && ops[j].kind === ops[i].kind) j++;
    const ready: LbOp[] = [];
    for (const op of ops.slice(i, j)) {
      // A failed service keeps its previous entry rather than switching to half-written slots.
      if (op.map === 'lb_services' && op.kind === 'update' && op.owners.some((s) => failedServices.has(s))) {
        skipped++;
        continue;
      }
      const why = violation(op, applied, refs);
      if (why) fail(op, `${op.kind} ${op.map} refused: ${why}`);
      else ready.push(op);
    }
    i = j;
    if (ready.length === 0) continue;
    const first = ready[0];
    const batch = first.kind === 'update' ? maps.updateBatch : maps.deleteBatch;
    if (ready.length > 1 && batch) {
      try {
        if (first.kind === 'update') maps.updateBatch!(first.map, ready.map((o) => o.key), ready.map((o) => o.value));
        else maps.deleteBatch!(first.map, ready.map((o) => o.key));
        for (const op of ready) record(op, applied, refs);
        done += ready.length;
        continue;
      } catch {
        // Fall through: one op at a time finds which entries failed (updates are idempotent,
        // and deleting an entry the batch already removed counts as success).
      }
    }
    for (const op of ready) runOne(op);
  }
  return { ok: failures.length === 0, failures, failedServices, done, skipped };
}

/** Every way `state` breaks "a service entry never points at a missing slot or backend". */
export function invariantViolations(state: LbState): string[] {
  const out: string[] = [];
  for (const [k, e] of state.lb_services) {
    const v = e.value;
    for (let slot = 1; slot <= v.backend_count; slot++) {
      const s = state.lb_slots.get(slotKeyString(v.service_id, slot));
      if (!s) out.push(`${k}: slot ${slot} missing`);
      else if (!state.lb_backends.has(String(s.value))) out.push(`${k}: slot ${slot} -> backend ${s.value} missing`);
    }
    if (v.flags & LB_SVC_MAGLEV && v.backend_count > 0) {
      const t = state.lb_maglev.get(String(v.service_id));
      if (!t) out.push(`${k}: Maglev table missing`);
      else for (const id of new Set(t.value)) if (!state.lb_backends.has(String(id))) out.push(`${k}: Maglev -> backend ${id} missing`);
    }
  }
  return out;
}
