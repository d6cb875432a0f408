/**
 * @module
 * Runs an HTTP server on a bind address the way kube-proxy runs its health and metrics servers:
 * a bind failure is retried every 5s, or is fatal when `bindAddressHardFail` is set.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatBindAddress, type BindAddress } from './bind-address.ts';
import type { Timers } from './clock.ts';

export interface HttpListenerOptions {
  /** Used in messages, e.g. `healthz server`. */
  name: string;
  address: BindAddress;
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  timers: Timers;
  /** Pause between bind attempts. @default 5000 */
  retryMs?: number;
  /** Give up on the first bind failure instead of retrying. @default false */
  hardFail?: boolean;
  /** Each bind failure, for the log (and, with hardFail, the Warning event). */
  onBindError?: (err: Error) => void;
  /** Errors of the bound server (for example EMFILE on accept); it keeps serving. */
  onServerError?: (err: Error) => void;
}

/** A running (or retrying) listener. */
export interface HttpListener {
  /** Resolves with the bound address once bound; rejects on the first failure when hardFail is set. */
  readonly listening: Promise<AddressInfo>;
  /** Stops retrying, closes the server and its connections. */
  close(): Promise<void>;
}

/** Start serving `handler` on `address`. */
export function startHttpListener(options: HttpListenerOptions): HttpListener {
  const retryMs = options.retryMs ?? 5000;
  const where = formatBindAddress(options.address);
  let server: Server | null = null;
  let retry: unknown = null;
  let closed = false;
  let resolve!: (a: AddressInfo) => void;
  let reject!: (e: Error) => void;
  const listening = new Promise<AddressInfo>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Callers that only close() must not see an unhandled rejection.
  listening.catch(() => {});

  const attempt = (): void => {
    retry = null;
    if (closed) return;
    const s = createServer(options.handler);
    s.once('error', (cause: Error) => {
      const err = new Error(`Cannot start ${options.name} on ${where}: ${cause.message}`, { cause });
      options.onBindError?.(err);
      s.close();
      if (options.hardFail) {
        reject(err);
        return;
      }
      if (!closed) retry = options.timers.setTimeout(attempt, retryMs);
    });
    s.listen(options.address.port, options.address.host, () => {
      server = s;
      // Without a listener an accept error would be thrown and end the process.
      s.on('error', (err: Error) => options.onServerError?.(err));
      if (closed) {
        s.close();
        return;
      }
      resolve(s.address() as AddressInfo);
    });
  };
  attempt();

  return {
    listening,
    close: async () => {
      closed = true;
      if (retry !== null) options.timers.clearTimeout(retry);
      reject(new Error(`${options.name} on ${where} closed before it was bound`));
      const s = server;
      server = null;
      if (s === null) return;
      await new Promise<void>((done) => {
        s.close(() => done());
        s.closeAllConnections();
      });
    },
  };
}
