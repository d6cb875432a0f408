/**
 * @module
 * Test helpers for the LB programming: the model built from Kubernetes objects through the real
 * change trackers, the codec from the built object's BTF (build/bpf/tc.bpf.o, parsed only), a
 * programmer over in-memory maps, and readable renderings of what the maps hold (frontend, flags,
 * backends in slot order) and canonical dumps (every entry as hex) for byte-for-byte comparisons.
 */
import { join } from 'node:path';
import { BpfObject, createMap, type BpfMap } from 'bpf-loader-napi';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { EndpointsChangeTracker, type EndpointsMap } from '../../model/endpoints-change-tracker.ts';
import { formatIp } from '../../model/ip.ts';
import { ServiceChangeTracker, type ServicePortMap } from '../../model/service-change-tracker.ts';
import * as lb from '../../translate/lb-types.ts';
import { LbIds } from '../ids.ts';
import { LbCodec, type MapLayouts } from '../lb-codec.ts';
import type { LbMapIo, PackedMapName } from '../lb-io.ts';
import { LbProgrammer, type LbProgrammerOptions } from '../lb-programmer.ts';
import { KIND_FRONTEND, zeroCounts, type LbState, type MapCounts } from '../lb-state.ts';
import { maglevTable } from '../../translate/maglev.ts';
import { MemoryLbMapIo } from './memory-lb-map-io.ts';

export const TC_OBJECT = join(import.meta.dirname, '..', '..', '..', 'build', 'bpf', 'tc.bpf.o');

let layouts: Map<string, MapLayouts> | null = null;

/** Key and value layouts of the LB maps, from the built tc object's BTF (needs `make bpf`). */
export function objectLayouts(name: lb.LbMapName): MapLayouts {
  if (!layouts) {
    const obj = BpfObject.open(TC_OBJECT);
    layouts = new Map(obj.maps.map((m) => [m.name, { key: m.keyLayout, value: m.valueLayout }]));
    obj.close();
  }
  return layouts.get(name) ?? {};
}

export const objectCodec = (): LbCodec => new LbCodec(objectLayouts);

export type Model = { services: ServicePortMap; endpoints: EndpointsMap };

export function buildModel(services: V1Service[], slices: V1EndpointSlice[], nodeName = 'node-a'): Model {
  const st = new ServiceChangeTracker();
  const et = new EndpointsChangeTracker(nodeName);
  for (const s of services) st.update(null, s);
  for (const s of slices) et.update(null, s);
  const model: Model = { services: new Map(), endpoints: new Map() };
  st.apply(model.services);
  et.apply(model.endpoints);
  return model;
}

/** Ample capacity, so only tests about capacity meet a limit. */
export function capacity(over: Partial<MapCounts> = {}): MapCounts {
  const c = zeroCounts();
  for (const m of Object.keys(c) as (keyof MapCounts)[]) c[m] = over[m] ?? 1 << 20;
  return c;
}

/** A programmer over in-memory maps. */
export function memoryProgrammer(o: Partial<Omit<LbProgrammerOptions, 'io' | 'codec'>> & { maps?: Partial<Record<lb.LbMapName, number>> } = {}) {
  const codec = objectCodec();
  const io = new MemoryLbMapIo(codec, o.maps ?? {});
  const ids = o.ids ?? new LbIds({ now: () => 0 });
  const programmer = new LbProgrammer({ io, codec, ids, capacity: o.capacity ?? capacity(), maglevTableSize: o.maglevTableSize ?? 251, ...o });
  return { programmer, io, ids, codec };
}

const FLAG_NAMES = Object.entries(lb)
  .filter(([k]) => k.startsWith('LB_SVC_'))
  .map(([k, v]) => [k.slice('LB_SVC_'.length), v as number] as const)
  .sort((a, b) => a[1] - b[1]);

export function flagNames(flags: number): string {
  return FLAG_NAMES.filter(([, v]) => flags & v).map(([k]) => k).join('|');
}

const PROTO: Record<number, string> = { 0: 'ANY', 6: 'TCP', 17: 'UDP', 132: 'SCTP' };

/** One line per lb_services entry the maps hold: "addr:port/PROTO scope flags [backends]" (sorted). */
export function renderServices(io: LbMapIo, codec: LbCodec): string[] {
  const svc = io.dump('lb_services');
  const slots = new Map<string, number>();
  const s = io.dump('lb_slots');
  for (let i = 0; i < s.count; i++) slots.set(`${codec.slotKeyId(s.keys, i * codec.slotKeySize)}/${codec.slotKeySlot(s.keys, i * codec.slotKeySize)}`, s.values.readUInt32LE(i * 4));
  const b = io.dump('lb_backends');
  const backends = new Map<number, Buffer>();
  for (let i = 0; i < b.count; i++) backends.set(b.keys.readUInt32LE(i * 4), b.values.subarray(i * codec.backendSize, (i + 1) * codec.backendSize));
  const lines: string[] = [];
  for (let i = 0; i < svc.count; i++) {
    const key = codec.serviceKeyFields(svc.keys, i * codec.serviceKeySize);
    const v = svc.values.subarray(i * codec.serviceValueSize, (i + 1) * codec.serviceValueSize);
    const id = codec.serviceValueId(v, 0);
    const count = codec.serviceValueCount(v, 0);
    const list: string[] = [];
    for (let slot = 1; slot <= count; slot++) {
      const bid = slots.get(`${id}/${slot}`);
      const be = bid === undefined ? undefined : backends.get(bid);
      if (!be) {
        list.push('MISSING');
        continue;
      }
      const f = codec.backendFields(be, 0);
      const flags = codec.backendFlags(be, 0);
      list.push(`${formatIp(f.addr)}:${f.port}${flags & lb.LB_BE_LOCAL ? 'L' : ''}${flags & lb.LB_BE_TERMINATING ? 'T' : ''}`);
    }
    const scope = key.scope === lb.LB_SCOPE_INTERNAL ? 'int' : 'ext';
    const timeout = codec.serviceValueTimeout(v, 0);
    const local = codec.serviceValueLocal(v, 0);
    lines.push(`${formatIp(key.addr)}:${key.port}/${PROTO[key.proto]} ${scope} ${flagNames(codec.serviceValueFlags(v, 0))}${timeout ? ` t=${timeout}` : ''}${local ? ` local=${local}` : ''} [${list.join(' ')}]`);
  }
  return lines.sort();
}

/** Every entry of every control-plane map, "map key=hex value=hex", sorted; Maglev tables as their content. */
export function dumpMaps(io: LbMapIo, codec: LbCodec): string[] {
  const out: string[] = [];
  for (const map of ['lb_services', 'lb_slots', 'lb_backends', 'lb_rev_nat', 'lb_src_ranges', 'lb_node_addrs'] as PackedMapName[]) {
    const d = io.dump(map);
    const [ks, vs] = codec.sizes(map);
    for (let i = 0; i < d.count; i++) out.push(`${map} ${d.keys.subarray(i * ks, (i + 1) * ks).toString('hex')}=${d.values.subarray(i * vs, (i + 1) * vs).toString('hex')}`);
  }
  for (const sid of io.dumpMaglev().keys()) {
    const t = io.maglevTable?.(sid);
    out.push(`lb_maglev ${sid}=${t ? Buffer.from(t.buffer, t.byteOffset, t.byteLength).toString('hex') : '?'}`);
  }
  return out.sort();
}

/**
 * The control-plane LB maps created from the built tc object's specs (no program, no pin): real
 * kernel maps for tests and benchmarks. Needs root. Close them with close().
 */
export function createLbMaps(sizes: Partial<Record<lb.LbMapName, number>> = {}): { maps: Map<lb.LbMapName, BpfMap>; close(): void } {
  if (process.getuid?.() !== 0) throw new Error('Creating BPF maps needs root');
  const obj = BpfObject.open(TC_OBJECT);
  const maps = new Map<lb.LbMapName, BpfMap>();
  try {
    for (const name of lb.LB_MAP_NAMES) {
      const spec = obj.maps.find((m) => m.name === name)!;
      const inner = spec.innerMap ? createMap({ ...spec.innerMap, name: 'lb_maglev_tpl' }) : undefined;
      maps.set(name, createMap({ ...spec, maxEntries: sizes[name] ?? spec.maxEntries, name, innerTemplate: inner, keyLayout: spec.keyLayout, valueLayout: spec.valueLayout }));
      inner?.close();
    }
  } finally {
    obj.close();
  }
  return { maps, close: () => { for (const m of maps.values()) m.close(); } };
}

/** What `state` holds, in dumpMaps' format (Maglev tables computed as the flush writes them). */
export function dumpState(state: LbState, maglevTableSize: number): string[] {
  const c = state.codec;
  const out: string[] = [];
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n, 0);
    return b.toString('hex');
  };
  for (const sid of state.serviceIds()) {
    out.push(`lb_services ${state.key(sid).toString('hex')}=${state.value(sid).toString('hex')}`);
    if (state.kind(sid) !== KIND_FRONTEND) continue;
    out.push(`lb_rev_nat ${u32(sid)}=${state.revNatValue(sid).toString('hex')}`);
    const slots = state.slots(sid);
    const key = Buffer.alloc(c.slotKeySize);
    slots.forEach((bid, i) => {
      c.writeSlotKey(key, 0, sid, i + 1);
      out.push(`lb_slots ${key.toString('hex')}=${u32(bid)}`);
    });
    const ranges = state.ranges(sid);
    for (let o = 0; o < ranges.length; o += c.srcRangeKeySize) out.push(`lb_src_ranges ${ranges.subarray(o, o + c.srcRangeKeySize).toString('hex')}=01`);
    if (state.maglev(sid)) {
      const t = maglevTable(state.maglevBackends(sid), maglevTableSize);
      out.push(`lb_maglev ${sid}=${Buffer.from(t.buffer, t.byteOffset, t.byteLength).toString('hex')}`);
    }
  }
  for (const bid of state.backendIds()) out.push(`lb_backends ${u32(bid)}=${state.backendValue(bid).toString('hex')}`);
  const na = Buffer.alloc(c.nodeAddrKeySize);
  for (const addr of state.nodeAddrs.values()) {
    c.writeNodeAddrKey(na, 0, addr);
    out.push(`lb_node_addrs ${na.toString('hex')}=${Buffer.alloc(c.nodeAddrValueSize).toString('hex')}`);
  }
  return out.sort();
}
