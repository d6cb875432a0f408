/**
 * @module
 * SyncCoordinator: the gate around each sync, in the shape of kube-proxy's syncProxyRules
 * (spec §5.20, style anchor A5):
 * - nothing is programmed before both the Service and the EndpointSlice caches report synced,
 *   so the first sync sees a complete view;
 * - "partial or full" is decided once, at the start of a sync, so changes arriving meanwhile
 *   cannot alter it mid-run;
 * - a full sync happens first, after any failure (the consumed changes are not replayed, so
 *   only a full sync is sure to repair them), when asked (node labels changed, state deleted
 *   behind our back), and every fullSyncPeriod;
 * - a failure is rethrown so the runner schedules its retry.
 */

export type SyncMode = 'full' | 'partial';

export type SyncOutcome = { ok: boolean };

export type SyncCoordinatorOptions = {
  /** Does the work; returns { ok: false } (or throws) when part of it failed. */
  sync: (mode: SyncMode) => SyncOutcome | void | Promise<SyncOutcome | void>;
  now: () => number;
  /** @default 3600000 (1 hour, upstream's FullSyncPeriod) */
  fullSyncPeriodMs?: number;
};

export class SyncError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SyncError';
  }
}

export class SyncCoordinator {
  readonly #sync: SyncCoordinatorOptions['sync'];
  readonly #now: () => number;
  readonly #fullPeriod: number;
  #servicesSynced = false;
  #endpointSlicesSynced = false;
  #needFull = true;
  #fullReason = 'start-up';
  #lastFull = -Infinity;
  #inProgress = false;

  constructor(opts: SyncCoordinatorOptions) {
    this.#sync = opts.sync;
    this.#now = opts.now;
    this.#fullPeriod = opts.fullSyncPeriodMs ?? 3_600_000;
    if (!(this.#fullPeriod > 0)) throw new RangeError(`Invalid fullSyncPeriodMs "${opts.fullSyncPeriodMs}"`);
  }

  /** OnServiceSynced. */
  setServicesSynced(): void {
    this.#servicesSynced = true;
  }

  /** OnEndpointSlicesSynced. */
  setEndpointSlicesSynced(): void {
    this.#endpointSlicesSynced = true;
  }

  /** Both caches have synced. */
  get initialized(): boolean {
    return this.#servicesSynced && this.#endpointSlicesSynced;
  }

  /** Makes the next sync full (node topology labels changed, maps found missing, ...). */
  requestFullSync(reason: string): void {
    if (!this.#needFull) this.#fullReason = reason;
    this.#needFull = true;
  }

  /** Why the next sync will be full, or null when it may be partial. */
  get pendingFullReason(): string | null {
    if (this.#needFull) return this.#fullReason;
    if (this.#now() - this.#lastFull >= this.#fullPeriod) return 'periodic';
    return null;
  }

  /**
   * Runs one sync unless the caches are not synced yet ('skipped'). Throws SyncError when the
   * sync failed, after marking the next one full.
   */
  async syncOnce(): Promise<SyncMode | 'skipped'> {
    if (!this.initialized) return 'skipped';
    if (this.#inProgress) throw new SyncError('Cannot start a sync while one is in progress');
    const mode: SyncMode = this.pendingFullReason !== null ? 'full' : 'partial';
    this.#needFull = false;
    this.#inProgress = true;
    try {
      const out = await this.#sync(mode);
      if (out && out.ok === false) {
        this.requestFullSync('previous sync failed');
        throw new SyncError(`The ${mode} sync failed (its errors are logged above); the next sync is full`);
      }
      if (mode === 'full') this.#lastFull = this.#now();
      return mode;
    } catch (err) {
      this.requestFullSync('previous sync failed');
      if (err instanceof SyncError) throw err;
      throw new SyncError(`The ${mode} sync failed; the next sync is full`, { cause: err });
    } finally {
      this.#inProgress = false;
    }
  }
}
