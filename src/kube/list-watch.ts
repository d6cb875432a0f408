/**
 * @module
 * The list/watch transport the reflector runs on. The default one talks to the API server
 * (api-list-watch.ts); tests feed events through their own implementation, so the cache,
 * backoff and 410 logic is exercised without a server.
 */

/** The fields every listed or watched object has that the reflector reads. */
export interface KubeObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

/** Query parameters of a list request. */
export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  /** `"0"`: any cached version is fine; `""`: a consistent (quorum) read. Not sent with `continue`. */
  resourceVersion?: string;
  limit?: number;
  continue?: string;
}

/** One page of a list. */
export interface ListPage<T> {
  items: T[];
  resourceVersion: string;
  /** Set when more pages follow. */
  continue?: string;
}

/** Query parameters of a watch request. */
export interface WatchOptions {
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion: string;
  allowWatchBookmarks: boolean;
  /** The server ends the watch after this long; the reflector then re-watches. */
  timeoutSeconds: number;
}

/** A metav1.Status, as ERROR watch events and failed requests carry it. */
export interface ApiStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
}

export type WatchEvent<T> =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: T }
  | { type: 'BOOKMARK'; object: KubeObject }
  | { type: 'ERROR'; object: ApiStatus };

/** List and watch one resource; items and event objects are what the cache keeps (the projections of projections.ts for the proxy's informers). */
export interface ListWatch<T extends KubeObject> {
  /** Fetch one page. Rejects with ApiStatusError when the server answers with a Status. */
  list(options: ListOptions, signal: AbortSignal): Promise<ListPage<T>>;
  /**
   * Stream events to `onEvent` until the server ends the watch (resolves) or it fails (rejects).
   * Aborting `signal` ends it; the promise then settles either way.
   */
  watch(options: WatchOptions, onEvent: (event: WatchEvent<T>) => void, signal: AbortSignal): Promise<void>;
}

/** A request the API server refused; `code` is the HTTP status (410 = resource version too old). */
export class ApiStatusError extends Error {
  readonly code: number;
  readonly reason: string;

  constructor(message: string, code: number, reason = '', options?: ErrorOptions) {
    super(message, options);
    this.name = 'ApiStatusError';
    this.code = code;
    this.reason = reason;
  }

  /** Build the error from a Status object; `what` says which request failed. */
  static fromStatus(what: string, status: ApiStatus, httpCode?: number): ApiStatusError {
    const code = status.code ?? httpCode ?? 0;
    return new ApiStatusError(`${what}: ${status.message ?? status.reason ?? `status ${code}`} (${code}${status.reason ? ` ${status.reason}` : ''})`, code, status.reason ?? '');
  }
}

/** True when the resource version we hold is gone from the server's history and a re-list is needed. */
export function isGone(err: unknown): boolean {
  return err instanceof ApiStatusError && (err.code === 410 || err.reason === 'Expired' || err.reason === 'Gone');
}
