/**
 * @module
 * BpfLbMaps: apply.ts's LbMaps over the loaded (pinned) maps of bpf-loader-napi, encoding through
 * the codecs the addon derives from BTF, plus the reader syncMaps uses to see what the maps
 * really hold. Maglev tables are special: each write creates a fresh inner array of M backend
 * ids and swaps it into lb_maglev atomically (a half-filled table is never visible). The kernel
 * only lets us read an inner map's id back, so the reader returns the tables this process wrote
 * and an empty table for one it did not (adopted after a restart), which makes the next full
 * sync rewrite it: harmless, since the swap is atomic.
 */
import { createMap, type BpfMap } from 'bpf-loader-napi';
import { LB_MAP_NAMES, type LbMapName } from '../translate/lb-types.ts';
import type { LbMaps } from './apply.ts';

/** lb_maps.h struct lb_maglev_inner's map_flags (UAPI BPF_F_INNER_MAP). */
export const BPF_F_INNER_MAP = 1 << 12;

export class BpfLbMaps implements LbMaps {
  readonly #maps: Record<LbMapName, BpfMap>;
  readonly #maglevM: number;
  /** service id -> the table last swapped in by this process */
  readonly #maglev = new Map<number, Uint32Array>();

  constructor(lookup: (name: LbMapName) => BpfMap, maglevTableSize: number) {
    this.#maps = Object.fromEntries(LB_MAP_NAMES.map((n) => [n, lookup(n)])) as Record<LbMapName, BpfMap>;
    this.#maglevM = maglevTableSize;
  }

  map(name: LbMapName): BpfMap {
    return this.#maps[name];
  }

  update(map: LbMapName, key: unknown, value: unknown): void {
    if (map === 'lb_maglev') return this.#writeMaglev(key as number, value as Uint32Array);
    this.#maps[map].update(key, value);
  }

  delete(map: LbMapName, key: unknown): void {
    // A missing entry already is the wanted state; BpfMap.delete reports it as false.
    this.#maps[map].delete(key);
    if (map === 'lb_maglev') this.#maglev.delete(key as number);
  }

  updateBatch(map: LbMapName, keys: unknown[], values: unknown[]): void {
    if (map === 'lb_maglev') {
      keys.forEach((k, i) => this.#writeMaglev(k as number, values[i] as Uint32Array));
      return;
    }
    this.#maps[map].updateBatch(keys, values);
  }

  deleteBatch(map: LbMapName, keys: unknown[]): void {
    this.#maps[map].deleteBatch(keys);
    if (map === 'lb_maglev') for (const k of keys) this.#maglev.delete(k as number);
  }

  /** Decoded entries of `map` (see the module comment for lb_maglev). */
  *read(map: LbMapName): Iterable<[unknown, unknown]> {
    if (map === 'lb_maglev') {
      for (const id of this.#maps.lb_maglev.keys()) yield [id, this.#maglev.get(id as number) ?? new Uint32Array(0)];
      return;
    }
    yield* this.#maps[map].entries();
  }

  #writeMaglev(serviceId: number, table: Uint32Array): void {
    if (table.length !== this.#maglevM) {
      throw new RangeError(`Maglev table of service id ${serviceId} has ${table.length} entries, the loaded inner map size is ${this.#maglevM}`);
    }
    // BPF_F_INNER_MAP (1 << 12), as lb_maps.h's template has it: the kernel then accepts an
    // inner array of any size (--bpf-maglev-table-size), and requires equal flags.
    const inner = createMap({ type: 'array', keySize: 4, valueSize: 4, maxEntries: this.#maglevM, flags: BPF_F_INNER_MAP, name: 'lb_maglev_in' });
    try {
      const idx = Array.from({ length: table.length }, (_, i) => i);
      inner.updateBatch(idx, Array.from(table));
      this.#maps.lb_maglev.update(serviceId, inner.fd);
      this.#maglev.set(serviceId, Uint32Array.from(table));
    } finally {
      // The outer map holds its own reference; our fd is no longer needed.
      inner.close();
    }
  }
}
