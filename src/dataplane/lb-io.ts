/**
 * @module
 * LbMapIo: what the LB state writer needs from the maps, in the kernel's own layout: packed keys
 * and values back to back (the encoders write them at fixed offsets into preallocated buffers),
 * written in batches without concatenation, dumped with batch lookups (whole, or in chunks). Maglev tables
 * are swapped in whole (a fresh inner array per write, so a half-filled table is never visible);
 * the io remembers the inner map id it swapped in per service id, which a dump reports back.
 * Implementations: BpfLbMapIo (bpf-map-writer.ts, the kernel) and MemoryLbMapIo (tests).
 */
import type { LbMapName } from '../translate/lb-types.ts';

/** Maps written with packed entries (lb_maglev has its own calls). */
export type PackedMapName = Exclude<LbMapName, 'lb_maglev'>;

export type PackedDump = { keys: Buffer; values: Buffer; count: number };

export interface LbMapIo {
  /** Create or replace `keys.length / keySize` entries. Throws when any entry fails. */
  update(map: PackedMapName, keys: Buffer, values: Buffer): void;
  /** Remove entries; absent keys are not an error. */
  delete(map: PackedMapName, keys: Buffer): void;
  /** Every entry of the map, packed. */
  dump(map: PackedMapName): PackedDump;
  /**
   * Every entry of the map, packed, in chunks of about `max` entries (a hash bucket is not split),
   * so a caller can do other work between them (the verifying comparison, lb-reconcile.ts).
   */
  dumpChunks(map: PackedMapName, max: number): Iterable<PackedDump>;
  /** Swap in the Maglev table of `serviceId` (M backend ids). */
  setMaglev(serviceId: number, table: Uint32Array): void;
  deleteMaglev(serviceId: number): void;
  /**
   * Service ids with a table in lb_maglev, each with `true` when it is the table this io last
   * swapped in (false: written by someone else, e.g. the previous agent; it is rewritten).
   */
  dumpMaglev(): Map<number, boolean>;
  /** The table this io last swapped in for `serviceId` (tests and the property check). */
  maglevTable?(serviceId: number): Uint32Array | undefined;
}
