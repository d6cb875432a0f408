/**
 * @module
 * SyncCoordinator: the gate around each sync, in the shape of kube-proxy's syncProxyRules
 * (spec §5.20, style anchor A5):
 * - nothing is programmed before both the Service and the EndpointSlice caches report synced,
 *   so the first sync sees a complete view;
 * - the mode is decided once, at the start of a sync, so changes arriving meanwhile cannot alter
 *   it mid-run;
 * - a full sync (everything recompiled) happens first and when asked: a change of the node, its
 *   addresses or the options; nothing else recompiles everything;
 * - a verifying sync (the changes, then the maps compared with the state and drift repaired)
 *   follows a failure (the state keeps what it could not write, so the retry is exact) and runs
 *   every verify period (kube-proxy's sync period). Its comparison may give way to changes that
 *   arrive meanwhile ({ verified: false }): the next sync is verifying again and resumes it,
 *   until it finishes (lb-programmer.ts verifySteps());
 *   once the last finished one is two periods old, `verifyOverdue` says it must not give way;
 * - a failure is rethrown so the runner schedules its retry.
 */

export type SyncMode = 'full' | 'partial' | 'verify';

/** verified: false when a verifying sync gave way to changes before it compared every entry. */
export type SyncOutcome = { ok: boolean; verified?: boolean };

export type SyncCoordinatorOptions = {
  /** Does the work; returns { ok: false } (or throws) when part of it failed. */
  sync: (mode: SyncMode) => SyncOutcome | void | Promise<SyncOutcome | void>;
  now: () => number;
  /** How often the maps are compared with the state. @default 30000 */
  verifyPeriodMs?: number;
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
  readonly #verifyPeriod: number;
  #servicesSynced = false;
  #endpointSlicesSynced = false;
  #needFull = true;
  #fullReason = 'start-up';
  #needVerify = false;
  #lastVerify = -Infinity;
  #inProgress = false;

  constructor(opts: SyncCoordinatorOptions) {
    this.#sync = opts.sync;
    this.#now = opts.now;
    this.#verifyPeriod = opts.verifyPeriodMs ?? 30_000;
    if (!(this.#verifyPeriod > 0)) throw new RangeError(`Invalid verifyPeriodMs "${opts.verifyPeriodMs}"`);
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

  /** Makes the next sync full (the node, its addresses or the options changed). */
  requestFullSync(reason: string): void {
    if (!this.#needFull) this.#fullReason = reason;
    this.#needFull = true;
  }

  /** Why the next sync will be full, or null when it is not. */
  get pendingFullReason(): string | null {
    return this.#needFull ? this.#fullReason : null;
  }

  /** The mode the next sync would run in. */
  nextMode(): SyncMode {
    if (this.#needFull) return 'full';
    if (this.#needVerify || this.#now() - this.#lastVerify >= this.#verifyPeriod) return 'verify';
    return 'partial';
  }

  /** The last finished comparison of the maps is two verify periods old (or none finished). */
  get verifyOverdue(): boolean {
    return this.#now() - this.#lastVerify >= 2 * this.#verifyPeriod;
  }

  /**
   * Runs one sync unless the caches are not synced yet ('skipped'). Throws SyncError when the
   * sync failed, after marking the next one verifying (or full, when it threw).
   */
  async syncOnce(): Promise<SyncMode | 'skipped'> {
    if (!this.initialized) return 'skipped';
    if (this.#inProgress) throw new SyncError('Cannot start a sync while one is in progress');
    const mode = this.nextMode();
    this.#needFull = false;
    this.#needVerify = false;
    this.#inProgress = true;
    try {
      const out = await this.#sync(mode);
      if (out && out.ok === false) {
        this.#needVerify = true;
        throw new SyncError(`The ${mode} sync failed (its errors are logged above); the next sync retries what could not be written and compares the maps`);
      }
      if (mode !== 'partial' && !(mode === 'verify' && out?.verified === false)) this.#lastVerify = this.#now();
      return mode;
    } catch (err) {
      if (err instanceof SyncError) throw err;
      // A sync that threw before its work was done may have consumed changes it did not program:
      // only a full sync is sure to cover them.
      this.requestFullSync('previous sync failed');
      throw new SyncError(`The ${mode} sync failed; the next sync is full`, { cause: err });
    } finally {
      this.#inProgress = false;
    }
  }
}
