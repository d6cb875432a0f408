// An in-memory list/watch for the control-plane micro-benchmark: the objects live as JSON text, a
// list answers with pages of 500 items as the apiserver would (one JSON document per page, decoded
// and projected by the agent's own decodeListPage), and a watch receives events as JSON lines
// through the agent's WatchDecoder. Only the transport is fake; the Reflector and everything after
// it are the real ones.
import { decodeListPage } from '../../src/kube/api-list-watch.ts';
import type { KubeObject, ListOptions, ListPage, ListWatch, WatchEvent, WatchOptions } from '../../src/kube/list-watch.ts';
import { WatchDecoder } from '../../src/kube/watch-decoder.ts';

export class MemoryListWatch<T extends KubeObject> implements ListWatch<T> {
  /** Objects by namespace/name, as JSON text (what a list page would carry). */
  readonly #objects = new Map<string, string>();
  #rv = 1;
  #watchers = new Set<(line: string) => void>();
  #onWatch: (() => void)[] = [];
  readonly #project: (raw: unknown) => T;

  /** @param project the agent's projection of this resource (projections.ts). */
  constructor(project: (raw: unknown) => T) {
    this.#project = project;
  }

  /** Stores (or replaces) an object without telling watchers (before the list). */
  put(obj: { metadata?: { name?: string; namespace?: string; resourceVersion?: string } }): void {
    obj.metadata!.resourceVersion = String(++this.#rv);
    this.#objects.set(`${obj.metadata!.namespace ?? ''}/${obj.metadata!.name}`, JSON.stringify(obj));
  }

  /** Stores an object and sends ADDED or MODIFIED to every watch; returns when they handled it. */
  emit(obj: { metadata?: { name?: string; namespace?: string; resourceVersion?: string } }, type?: 'ADDED' | 'MODIFIED' | 'DELETED'): void {
    const key = `${obj.metadata!.namespace ?? ''}/${obj.metadata!.name}`;
    const kind = type ?? (this.#objects.has(key) ? 'MODIFIED' : 'ADDED');
    obj.metadata!.resourceVersion = String(++this.#rv);
    const text = JSON.stringify(obj);
    if (kind === 'DELETED') this.#objects.delete(key);
    else this.#objects.set(key, text);
    const line = `{"type":"${kind}","object":${text}}\n`;
    for (const w of this.#watchers) w(line);
  }

  /** Resolves once a watch is open (events emitted before that would be lost, as on a real server). */
  watching(): Promise<void> {
    if (this.#watchers.size > 0) return Promise.resolve();
    return new Promise((resolve) => this.#onWatch.push(resolve));
  }

  async list(options: ListOptions): Promise<ListPage<T>> {
    const all = [...this.#objects.values()];
    const start = options.continue ? Number(options.continue) : 0;
    const limit = options.limit ?? 500;
    const end = Math.min(all.length, start + limit);
    const more = end < all.length ? String(end) : '';
    const text = `{"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"${this.#rv}","continue":"${more}"},"items":[${all.slice(start, end).join(',')}]}`;
    return decodeListPage(text, this.#project);
  }

  watch(_options: WatchOptions, onEvent: (event: WatchEvent<T>) => void, signal: AbortSignal): Promise<void> {
    const decoder = new WatchDecoder<T>('watch memory', this.#project);
    return new Promise((resolve) => {
      const w = (line: string) => {
        for (const ev of decoder.push(line)) onEvent(ev);
      };
      this.#watchers.add(w);
      for (const f of this.#onWatch.splice(0)) f();
      signal.addEventListener('abort', () => {
        this.#watchers.delete(w);
        resolve();
      }, { once: true });
    });
  }
}
