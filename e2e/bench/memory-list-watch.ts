// An in-memory list/watch for the control-plane micro-benchmark: a list answers with pages of 500
// items as the apiserver would (one JSON document per page, decoded and projected by the agent's
// own decodeListPage), and a watch receives events as JSON lines through the agent's WatchDecoder.
// Only the transport is fake; the Reflector and everything after it are the real ones. The listed
// objects are generated page by page from an index (not held), so the benchmark's heap figures are
// the agent's own; the time spent making a page's text (the apiserver's work, in another process
// for a real agent) is counted in `serverMs` so that the benchmark can leave it out.
import { decodeListPage } from '../../src/kube/api-list-watch.ts';
import type { KubeObject, ListOptions, ListPage, ListWatch, WatchEvent, WatchOptions } from '../../src/kube/list-watch.ts';
import { WatchDecoder } from '../../src/kube/watch-decoder.ts';

export class MemoryListWatch<T extends KubeObject> implements ListWatch<T> {
  /** Objects by namespace/name, as JSON text (what a list page would carry). */
  readonly #objects = new Map<string, string>();
  /** Objects generated on demand: `count` of them, the i-th from `item(i)` (before put() ones). */
  #generated: { count: number; item: (i: number) => { metadata?: object } } | null = null;
  #rv = 1;
  #watchers = new Set<(line: string) => void>();
  #onWatch: (() => void)[] = [];
  readonly #project: (raw: unknown) => T;
  /** Milliseconds spent making list pages' text (the server's side). */
  serverMs = 0;

  /** @param project the agent's projection of this resource (projections.ts). */
  constructor(project: (raw: unknown) => T) {
    this.#project = project;
  }

  /** Lists `count` objects made by `item(i)` when asked, instead of storing them. */
  generate(count: number, item: (i: number) => { metadata?: object }): void {
    this.#generated = { count, item };
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
    const t0 = performance.now();
    const gen = this.#generated;
    const stored = [...this.#objects.values()];
    const total = (gen?.count ?? 0) + stored.length;
    const start = options.continue ? Number(options.continue) : 0;
    const limit = options.limit ?? 500;
    const end = Math.min(total, start + limit);
    const more = end < total ? String(end) : '';
    const items: string[] = [];
    for (let i = start; i < end; i++) {
      if (gen && i < gen.count) {
        const obj = gen.item(i) as { metadata?: { resourceVersion?: string } };
        obj.metadata = { ...obj.metadata, resourceVersion: '1' };
        items.push(JSON.stringify(obj));
      } else {
        items.push(stored[i - (gen?.count ?? 0)]!);
      }
    }
    const text = `{"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"${this.#rv}","continue":"${more}"},"items":[${items.join(',')}]}`;
    this.serverMs += performance.now() - t0;
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
