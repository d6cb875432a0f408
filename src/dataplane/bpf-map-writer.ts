/**
 * @module
 * BpfLbMapIo: lb-io.ts's LbMapIo over the loaded (pinned) maps of bpf-loader-napi: packed batch
 * updates, deletes and lookups straight from and into the state's buffers, and the codecs' BTF
 * layouts for LbCodec. Maglev tables are special: each write creates a fresh inner array of M
 * backend ids and swaps it into lb_maglev atomically (a half-filled table is never visible). The
 * kernel only lets us read an inner map's id back, so the io remembers the id it swapped in per
 * service id (not the table: 64 KiB each); a table it did not write (adopted after a restart)
 * reads as unknown and is rewritten. maglevTable() reads a table back by its inner map's id.
 */
import { createMap, openMapById, type BpfMap } from 'bpf-loader-napi';
import { LB_MAP_NAMES, type LbMapName } from '../translate/lb-types.ts';
import { LbCodec } from './lb-codec.ts';
import type { LbMapIo, PackedDump, PackedMapName } from './lb-io.ts';

/** lb_maps.h struct lb_maglev_inner's map_flags (UAPI BPF_F_INNER_MAP). */
export const BPF_F_INNER_MAP = 1 << 12;

export class BpfLbMapIo implements LbMapIo {
  readonly #maps: Record<LbMapName, BpfMap>;
  readonly #maglevM: number;
  /** service id -> id of the inner map this process swapped in */
  readonly #maglev = new Map<number, number>();

  constructor(lookup: (name: LbMapName) => BpfMap, maglevTableSize: number) {
    this.#maps = Object.fromEntries(LB_MAP_NAMES.map((n) => [n, lookup(n)])) as Record<LbMapName, BpfMap>;
    this.#maglevM = maglevTableSize;
  }

  map(name: LbMapName): BpfMap {
    return this.#maps[name];
  }

  /** The LbCodec for these maps, from their BTF layouts. */
  codec(): LbCodec {
    return new LbCodec((name) => ({ key: this.#maps[name].keyCodec?.layout, value: this.#maps[name].valueCodec?.layout }));
  }

  /** Max entries of each map as loaded. */
  capacity(name: LbMapName): number {
    return this.#maps[name].maxEntries;
  }

  update(map: PackedMapName, keys: Buffer, values: Buffer): void {
    this.#maps[map].updatePacked(keys, values);
  }

  delete(map: PackedMapName, keys: Buffer): void {
    this.#maps[map].deletePacked(keys);
  }

  dump(map: PackedMapName): PackedDump {
    return this.#maps[map].lookupPacked();
  }

  dumpChunks(map: PackedMapName, max: number): Iterable<PackedDump> {
    return this.#maps[map].lookupPackedChunks(max);
  }

  setMaglev(serviceId: number, table: Uint32Array): void {
    if (table.length !== this.#maglevM) {
      throw new RangeError(`Maglev table of service id ${serviceId} has ${table.length} entries, the loaded inner map size is ${this.#maglevM}`);
    }
    // BPF_F_INNER_MAP (1 << 12), as lb_maps.h's template has it: the kernel then accepts an
    // inner array of any size (--bpf-maglev-table-size), and requires equal flags.
    const inner = createMap({ type: 'array', keySize: 4, valueSize: 4, maxEntries: this.#maglevM, flags: BPF_F_INNER_MAP, name: 'lb_maglev_in' });
    try {
      const idx = Buffer.alloc(table.length * 4);
      for (let i = 0; i < table.length; i++) idx.writeUInt32LE(i, i * 4);
      inner.updatePacked(idx, Buffer.from(table.buffer, table.byteOffset, table.byteLength));
      this.#maps.lb_maglev.update(serviceId, inner.fd);
      this.#maglev.set(serviceId, inner.info().id);
    } finally {
      // The outer map holds its own reference; our fd is no longer needed.
      inner.close();
    }
  }

  deleteMaglev(serviceId: number): void {
    this.#maps.lb_maglev.delete(serviceId);
    this.#maglev.delete(serviceId);
  }

  dumpMaglev(): Map<number, boolean> {
    const out = new Map<number, boolean>();
    const d = this.#maps.lb_maglev.lookupPacked();
    for (let i = 0; i < d.count; i++) {
      const sid = d.keys.readUInt32LE(i * 4);
      out.set(sid, this.#maglev.get(sid) === d.values.readUInt32LE(i * 4));
    }
    return out;
  }

  maglevTable(serviceId: number): Uint32Array | undefined {
    const id = this.#maps.lb_maglev.lookup(Buffer.from(new Uint32Array([serviceId]).buffer));
    if (!id) return undefined;
    const inner = openMapById(id.readUInt32LE(0));
    try {
      const d = inner.lookupPacked();
      const out = new Uint32Array(inner.maxEntries);
      for (let i = 0; i < d.count; i++) out[d.keys.readUInt32LE(i * 4)] = d.values.readUInt32LE(i * 4);
      return out;
    } finally {
      inner.close();
    }
  }
}
