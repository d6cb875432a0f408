/**
 * @module
 * An in-memory LbMapIo for tests, in the spirit of kube-proxy's fake backends: it keeps the
 * packed entries of each map, enforces max entries (E2BIG, as a full kernel hash map), records
 * every call, can be told to fail chosen writes with an errno, and checks after every single
 * entry written (a batch is applied entry by entry) what the datapath could see at that instant:
 * a service entry never counts a missing slot, a slot never names a missing backend, a TWO_SCOPES
 * external entry never lacks its internal twin, a Maglev entry never lacks its table, and reverse
 * NAT exists while its service entry does.
 */
import { LB_SCOPE_EXTERNAL, LB_SCOPE_INTERNAL, LB_SVC_MAGLEV, LB_SVC_TWO_SCOPES, LB_SVC_VIP_MARKER, type LbMapName } from '../../translate/lb-types.ts';
import type { LbCodec } from '../lb-codec.ts';
import type { LbMapIo, PackedDump, PackedMapName } from '../lb-io.ts';

export class MapError extends Error {
  readonly errno: number;
  readonly code: string;
  constructor(message: string, errno: number, code: string) {
    super(message);
    this.name = 'MapError';
    this.errno = errno;
    this.code = code;
  }
}

export type FailRule = { map: LbMapName; kind: 'update' | 'delete'; match?: (key: Buffer) => boolean; errno?: number; code?: string };

export class MemoryLbMapIo implements LbMapIo {
  readonly maps = new Map<PackedMapName, Map<string, Buffer>>();
  readonly maglev = new Map<number, Uint32Array>();
  /** Service ids whose table was written by "someone else" (reported unknown by dumpMaglev). */
  readonly foreignMaglev = new Set<number>();
  /** "update lb_slots n=3" per batch call. */
  readonly calls: string[] = [];
  readonly violations: string[] = [];
  readonly failRules: FailRule[] = [];
  readonly #codec: LbCodec;
  readonly #capacity: Partial<Record<LbMapName, number>>;
  readonly #sizes: Record<PackedMapName, [number, number]>;

  constructor(codec: LbCodec, capacity: Partial<Record<LbMapName, number>> = {}) {
    this.#codec = codec;
    this.#capacity = capacity;
    this.#sizes = {
      lb_services: codec.sizes('lb_services'),
      lb_slots: codec.sizes('lb_slots'),
      lb_backends: codec.sizes('lb_backends'),
      lb_rev_nat: codec.sizes('lb_rev_nat'),
      lb_src_ranges: codec.sizes('lb_src_ranges'),
      lb_node_addrs: codec.sizes('lb_node_addrs'),
    };
    for (const m of Object.keys(this.#sizes) as PackedMapName[]) this.maps.set(m, new Map());
  }

  #fail(map: LbMapName, kind: 'update' | 'delete', key: Buffer): void {
    const rule = this.failRules.find((r) => r.map === map && r.kind === kind && (!r.match || r.match(key)));
    if (rule) throw new MapError(`${kind} ${map}: injected failure`, rule.errno ?? 28, rule.code ?? 'ENOSPC');
  }

  update(map: PackedMapName, keys: Buffer, values: Buffer): void {
    const [ks, vs] = this.#sizes[map];
    const n = keys.length / ks;
    this.calls.push(`update ${map} n=${n}`);
    const m = this.maps.get(map)!;
    for (let i = 0; i < n; i++) {
      const key = Buffer.from(keys.subarray(i * ks, (i + 1) * ks));
      this.#fail(map, 'update', key);
      const k = key.toString('hex');
      if (!m.has(k) && m.size >= (this.#capacity[map] ?? Infinity)) throw new MapError(`update ${map}: map full (${m.size} entries)`, 7, 'E2BIG');
      m.set(k, Buffer.from(values.subarray(i * vs, (i + 1) * vs)));
      this.#check(`update ${map} ${k}`, map, key);
    }
  }

  delete(map: PackedMapName, keys: Buffer): void {
    const [ks] = this.#sizes[map];
    const n = keys.length / ks;
    this.calls.push(`delete ${map} n=${n}`);
    const m = this.maps.get(map)!;
    for (let i = 0; i < n; i++) {
      const key = Buffer.from(keys.subarray(i * ks, (i + 1) * ks));
      this.#fail(map, 'delete', key);
      m.delete(key.toString('hex'));
      this.#check(`delete ${map} ${key.toString('hex')}`, map, key);
    }
  }

  dump(map: PackedMapName): PackedDump {
    const m = this.maps.get(map)!;
    const [ks, vs] = this.#sizes[map];
    const keys = Buffer.alloc(m.size * ks);
    const values = Buffer.alloc(m.size * vs);
    let i = 0;
    for (const [k, v] of m) {
      Buffer.from(k, 'hex').copy(keys, i * ks);
      v.copy(values, i * vs);
      i++;
    }
    return { keys, values, count: m.size };
  }

  *dumpChunks(map: PackedMapName, max: number): Generator<PackedDump, void, void> {
    const d = this.dump(map);
    const [ks, vs] = this.#sizes[map];
    for (let i = 0; i === 0 || i < d.count; i += max) {
      const n = Math.min(max, d.count - i);
      yield { keys: d.keys.subarray(i * ks, (i + n) * ks), values: d.values.subarray(i * vs, (i + n) * vs), count: n };
    }
  }

  setMaglev(serviceId: number, table: Uint32Array): void {
    this.calls.push(`setMaglev ${serviceId}`);
    this.#fail('lb_maglev', 'update', Buffer.from(new Uint32Array([serviceId]).buffer));
    if (!this.maglev.has(serviceId) && this.maglev.size >= (this.#capacity.lb_maglev ?? Infinity)) throw new MapError('update lb_maglev: map full', 7, 'E2BIG');
    this.maglev.set(serviceId, Uint32Array.from(table));
    this.foreignMaglev.delete(serviceId);
    for (const id of new Set(table)) {
      if (!this.maps.get('lb_backends')!.has(u32hex(id))) this.violations.push(`after setMaglev ${serviceId}: table names missing backend ${id}`);
    }
  }

  deleteMaglev(serviceId: number): void {
    this.calls.push(`deleteMaglev ${serviceId}`);
    this.#fail('lb_maglev', 'delete', Buffer.from(new Uint32Array([serviceId]).buffer));
    this.maglev.delete(serviceId);
    this.#check(`deleteMaglev ${serviceId}`, 'lb_maglev', Buffer.from(new Uint32Array([serviceId]).buffer));
  }

  dumpMaglev(): Map<number, boolean> {
    return new Map([...this.maglev.keys()].map((sid) => [sid, !this.foreignMaglev.has(sid)]));
  }

  maglevTable(serviceId: number): Uint32Array | undefined {
    return this.maglev.get(serviceId);
  }

  /** Number of entries of a map. */
  size(map: PackedMapName | 'lb_maglev'): number {
    return map === 'lb_maglev' ? this.maglev.size : this.maps.get(map)!.size;
  }

  /** The invariant, around the entry just written (full checks stay cheap on test-sized maps). */
  #check(what: string, map: LbMapName, key: Buffer): void {
    const c = this.#codec;
    const svcs = this.maps.get('lb_services')!;
    const slots = this.maps.get('lb_slots')!;
    const backends = this.maps.get('lb_backends')!;
    const revNat = this.maps.get('lb_rev_nat')!;
    const checkService = (k: Buffer, v: Buffer) => {
      const flags = c.serviceValueFlags(v, 0);
      if (flags & LB_SVC_VIP_MARKER) return;
      const sid = c.serviceValueId(v, 0);
      const count = c.serviceValueCount(v, 0);
      const slotKey = Buffer.alloc(c.slotKeySize);
      for (let s = 1; s <= count; s++) {
        c.writeSlotKey(slotKey, 0, sid, s);
        const b = slots.get(slotKey.toString('hex'));
        if (!b) this.violations.push(`after ${what}: service id ${sid} counts missing slot ${s}`);
        else if (!backends.has(b.toString('hex'))) this.violations.push(`after ${what}: slot ${s} of service id ${sid} names missing backend ${b.readUInt32LE(0)}`);
      }
      if (flags & LB_SVC_MAGLEV && count > 0 && !this.maglev.has(sid)) this.violations.push(`after ${what}: service id ${sid} lacks its Maglev table`);
      if (!revNat.has(u32hex(sid))) this.violations.push(`after ${what}: service id ${sid} lacks reverse NAT`);
      const f = c.serviceKeyFields(k, 0);
      if (flags & LB_SVC_TWO_SCOPES && f.scope === LB_SCOPE_EXTERNAL) {
        const twin = Buffer.alloc(c.serviceKeySize);
        c.writeServiceKey(twin, 0, f.addr, f.port, f.proto, LB_SCOPE_INTERNAL);
        if (!svcs.has(twin.toString('hex'))) this.violations.push(`after ${what}: external entry of service id ${sid} lacks its internal twin`);
      }
    };
    if (map === 'lb_services') {
      const v = svcs.get(key.toString('hex'));
      if (v) checkService(key, v);
      else {
        const f = c.serviceKeyFields(key, 0);
        if (f.scope === LB_SCOPE_INTERNAL) {
          const ext = Buffer.alloc(c.serviceKeySize);
          c.writeServiceKey(ext, 0, f.addr, f.port, f.proto, LB_SCOPE_EXTERNAL);
          const ev = svcs.get(ext.toString('hex'));
          if (ev && c.serviceValueFlags(ev, 0) & LB_SVC_TWO_SCOPES) this.violations.push(`after ${what}: internal twin removed while the external entry remains`);
        }
      }
      return;
    }
    if (map === 'lb_slots') {
      const b = slots.get(key.toString('hex'));
      if (b && !backends.has(b.toString('hex'))) this.violations.push(`after ${what}: slot names missing backend ${b.readUInt32LE(0)}`);
    }
    // A delete of anything a service may point at: re-check the services that could.
    if (map === 'lb_slots' || map === 'lb_backends' || map === 'lb_maglev' || map === 'lb_rev_nat') {
      for (const [k, v] of svcs) checkService(Buffer.from(k, 'hex'), v);
      if (map === 'lb_backends' && !backends.has(key.toString('hex'))) {
        const id = key.readUInt32LE(0);
        for (const [sid, t] of this.maglev) if (t.includes(id)) this.violations.push(`after ${what}: Maglev table of service id ${sid} names deleted backend ${id}`);
      }
    }
  }
}

function u32hex(n: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n, 0);
  return b.toString('hex');
}
