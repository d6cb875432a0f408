/**
 * @module
 * Decodes the API server's JSON watch stream: one event object per line, split across
 * arbitrary chunk boundaries.
 */
import type { WatchEvent } from './list-watch.ts';

const EVENT_TYPES = new Set(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']);

/** Accumulates chunks and yields complete events. */
export class WatchDecoder<T> {
  #buffer = '';
  #utf8 = new TextDecoder('utf-8');
  #what: string;
  #project: ((raw: unknown) => T) | undefined;

  /**
   * @param what names the watch in error messages, e.g. `watch services`.
   * @param project turns the object of ADDED/MODIFIED/DELETED events into what the cache keeps
   */
  constructor(what: string, project?: (raw: unknown) => T) {
    this.#what = what;
    this.#project = project;
  }

  /**
   * Feed one chunk; returns the events it completed.
   * @throws {SyntaxError} on a line that is not a watch event; the stream cannot be trusted after it
   */
  push(chunk: Uint8Array | string): WatchEvent<T>[] {
    this.#buffer += typeof chunk === 'string' ? chunk : this.#utf8.decode(chunk, { stream: true });
    const out: WatchEvent<T>[] = [];
    let nl: number;
    while ((nl = this.#buffer.indexOf('\n')) >= 0) {
      const line = this.#buffer.slice(0, nl).trim();
      this.#buffer = this.#buffer.slice(nl + 1);
      if (line !== '') out.push(this.#decode(line));
    }
    return out;
  }

  /** The stream ended: decode what is left (a last line without newline). */
  end(): WatchEvent<T>[] {
    const line = (this.#buffer + this.#utf8.decode()).trim();
    this.#buffer = '';
    return line === '' ? [] : [this.#decode(line)];
  }

  #decode(line: string): WatchEvent<T> {
    let ev: unknown;
    try {
      // With a projection, no reviver: it would run for every value; the projection converts what it keeps.
      ev = this.#project ? JSON.parse(line) : JSON.parse(line, reviveTimestamps);
    } catch (err) {
      throw new SyntaxError(`${this.#what}: cannot decode event: ${(err as Error).message}`);
    }
    const e = ev as { type?: unknown; object?: unknown };
    if (typeof e !== 'object' || e === null || typeof e.type !== 'string' || !EVENT_TYPES.has(e.type) || typeof e.object !== 'object' || e.object === null) {
      throw new SyntaxError(`${this.#what}: cannot decode event: expected {type, object}, got ${line.slice(0, 120)}`);
    }
    if (this.#project && (e.type === 'ADDED' || e.type === 'MODIFIED' || e.type === 'DELETED')) e.object = this.#project(e.object);
    return ev as WatchEvent<T>;
  }
}

/**
 * The client library's types declare metadata timestamps as Date; turn the two that code reads
 * (creation and deletion) into Dates so objects from the wire match those types there, and drop
 * metadata.managedFields.
 * Other timestamps (conditions, ...) stay RFC 3339 strings.
 */
export function reviveTimestamps(this: unknown, key: string, value: unknown): unknown {
  // Server-side-apply bookkeeping, often as large as the rest of the object, read by nobody here:
  // dropped at decode time so informer caches of every Service and EndpointSlice do not hold it.
  if (key === 'managedFields') return undefined;
  if ((key === 'deletionTimestamp' || key === 'creationTimestamp') && typeof value === 'string') {
    const d = new Date(value);
    return Number.isNaN(d.getTime()) ? value : d;
  }
  return value;
}
