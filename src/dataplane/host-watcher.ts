/**
 * @module
 * HostWatcher: the node's devices and addresses, kept current between syncs by an rtnetlink
 * subscription (bpf-loader-napi's watchNetlink), so a sync reads a cached list and a change of a
 * device or address is noticed when it happens, not at the next periodic sync:
 * - link and address events mark the cached list stale and call `onDevicesChanged` (the agent
 *   asks for a sync, which re-dumps once and re-attaches if the node's devices moved);
 * - route and neighbour events call `onRoutesChanged` (the datapath's next-hop cache is
 *   invalidated by bumping its generation);
 * - an overrun of the subscription ("lost") counts as every kind of change.
 * Without a subscription (the kernel refused the socket) every call to devices() dumps, which is
 * still correct, only not event-driven; start() says so once.
 */
import { watchNetlink, type NetEvent, type NetlinkWatch } from 'bpf-loader-napi';
import { hostDevices, type HostDevice } from './host-info.ts';

export type HostWatcherOptions = {
  /** Links or addresses changed (or events were lost). */
  onDevicesChanged: () => void;
  /** Routes or neighbours changed (or events were lost). */
  onRoutesChanged: () => void;
  /** @default hostDevices (rtnetlink dumps) */
  dump?: () => HostDevice[];
  /** @default watchNetlink */
  watch?: (onEvent: (ev: NetEvent) => void, opts: { onError: (err: unknown) => void }) => Pick<NetlinkWatch, 'close'>;
  /** A callback threw; the watcher goes on. */
  onError?: (err: unknown) => void;
};

export class HostWatcher {
  readonly #opts: HostWatcherOptions;
  readonly #dump: () => HostDevice[];
  #watch: Pick<NetlinkWatch, 'close'> | null = null;
  #cached: HostDevice[] | null = null;
  #dumps = 0;

  constructor(opts: HostWatcherOptions) {
    this.#opts = opts;
    this.#dump = opts.dump ?? hostDevices;
  }

  /** Subscribes; returns null, or the reason the subscription failed (then devices() always dumps). */
  start(): Error | null {
    if (this.#watch) return null;
    const onError = this.#opts.onError ?? ((err: unknown) => { throw err; });
    try {
      this.#watch = (this.#opts.watch ?? watchNetlink)((ev) => this.#onEvent(ev), { onError });
      return null;
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  }

  #onEvent(ev: NetEvent): void {
    if (ev.links || ev.addresses || ev.lost) {
      this.#cached = null;
      this.#opts.onDevicesChanged();
    }
    if (ev.routes || ev.neighbours || ev.lost) this.#opts.onRoutesChanged();
  }

  /** The devices with their addresses: the cached list, re-dumped after a change (always without a subscription). */
  devices(): HostDevice[] {
    if (this.#cached && this.#watch) return this.#cached;
    this.#dumps++;
    this.#cached = this.#dump();
    return this.#cached;
  }

  /** Forgets the cached list (the next devices() dumps), e.g. once per sync period as a safety net. */
  invalidate(): void {
    this.#cached = null;
  }

  /** How many dumps devices() made (for tests and the debug log). */
  get dumps(): number {
    return this.#dumps;
  }

  get watching(): boolean {
    return this.#watch !== null;
  }

  /** Unsubscribes; no callback runs afterwards. Idempotent. */
  stop(): void {
    this.#watch?.close();
    this.#watch = null;
    this.#cached = null;
  }
}
