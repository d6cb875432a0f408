/**
 * @module
 * An in-memory LbMaps for tests, in the spirit of kube-proxy's fake backends: it keeps the map
 * contents, records every call, can be told to fail chosen writes with an errno, and checks after
 * every single write that no service entry points at a missing slot or backend (what the
 * datapath would see at that instant).
 */
import { entryKey } from '../translate/keys.ts';
import { emptyLbState, type LbEntry, type LbMapName, type LbState } from '../translate/lb-types.ts';
import { invariantViolations, type LbMaps } from './apply.ts';

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

export type FailRule = { map: LbMapName; kind: 'update' | 'delete'; match?: (key: unknown) => boolean; errno?: number; code?: string };

export class MemoryLbMaps implements LbMaps {
  readonly state: LbState = emptyLbState();
  /** "update lb_slots service_id=1,slot=1" per write, batches as "updateBatch lb_slots n=3". */
  readonly calls: string[] = [];
  /** Invariant violations seen after any write (should stay empty). */
  readonly violations: string[] = [];
  readonly failRules: FailRule[] = [];
  readonly #batches: boolean;

  constructor(opts: { batches?: boolean } = {}) {
    this.#batches = opts.batches ?? false;
    if (this.#batches) {
      this.updateBatch = (map, keys, values) => {
        this.calls.push(`updateBatch ${map} n=${keys.length}`);
        keys.forEach((k, i) => this.#write(map, 'update', k, values[i]));
      };
      this.deleteBatch = (map, keys) => {
        this.calls.push(`deleteBatch ${map} n=${keys.length}`);
        for (const k of keys) this.#write(map, 'delete', k);
      };
    }
  }

  updateBatch?: (map: LbMapName, keys: unknown[], values: unknown[]) => void;
  deleteBatch?: (map: LbMapName, keys: unknown[]) => void;

  update(map: LbMapName, key: unknown, value: unknown): void {
    this.calls.push(`update ${map} ${entryKey(key)}`);
    this.#write(map, 'update', key, value);
  }

  delete(map: LbMapName, key: unknown): void {
    this.calls.push(`delete ${map} ${entryKey(key)}`);
    this.#write(map, 'delete', key);
  }

  #write(map: LbMapName, kind: 'update' | 'delete', key: unknown, value?: unknown): void {
    const rule = this.failRules.find((r) => r.map === map && r.kind === kind && (!r.match || r.match(key)));
    if (rule) throw new MapError(`${kind} ${map}: injected failure`, rule.errno ?? 28, rule.code ?? 'ENOSPC');
    const m = this.state[map] as Map<string, LbEntry>;
    const k = entryKey(key);
    if (kind === 'delete') {
      if (!m.delete(k)) throw new MapError(`delete ${map}: no such entry`, 2, 'ENOENT');
    } else {
      m.set(k, { key, value, owners: [] } as LbEntry);
    }
    for (const v of invariantViolations(this.state)) this.violations.push(`after ${kind} ${map} ${k}: ${v}`);
  }
}
