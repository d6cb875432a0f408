/**
 * @module
 * One HTTP server per `healthCheckNodePort` of each LoadBalancer Service with
 * externalTrafficPolicy=Local (spec §3.3). Cloud load balancers probe it to learn whether this
 * node has ready local endpoints for the service, so they stop sending traffic where it would
 * be dropped.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

/** Closes one opened listener. */
export interface Closer {
  close(): Promise<void>;
}

/** Opens a listener on `host:port` (host `''` = every address); rejects on bind failure. */
export type ListenFn = (port: number, host: string, handler: (req: IncomingMessage, res: ServerResponse) => void) => Promise<Closer>;

export interface ServiceHealthServersOptions {
  /** Addresses to listen on, e.g. the node IPs matching nodePortAddresses; empty = wildcard. */
  addresses?: readonly string[];
  /** Whether the proxier itself is healthy (ProxyHealth.health().healthy). */
  proxyHealthy: () => boolean;
  /** @default listenHttp, a node:http server */
  listen?: ListenFn;
  /**
   * A port could not be opened (already in use, ...). Never fatal: log it, count it and emit the
   * `FailedToStartServiceHealthcheck` Warning event on the Service; the next sync retries it.
   */
  onBindError?: (service: { namespace: string; name: string }, port: number, err: Error) => void;
}

/** `namespace/name`, the key of both sync maps. */
export type ServiceKey = string;

interface Instance {
  namespace: string;
  name: string;
  port: number;
  endpoints: number;
  closers: Closer[];
}

/** The default ListenFn: a plain node:http server. */
export function listenHttp(port: number, host: string, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Closer> {
  return new Promise((resolve, reject) => {
    const server = createServer(handler);
    server.once('error', reject);
    const onListening = () => {
      server.off('error', reject);
      // Accept errors (EMFILE...) are transient; unhandled they would end the process.
      server.on('error', () => {});
      resolve({
        close: () => new Promise<void>((done) => {
          server.close(() => done());
          server.closeAllConnections();
        }),
      });
    };
    if (host === '') server.listen(port, onListening);
    else server.listen(port, host, onListening);
  });
}

/**
 * Keeps the set of health-check servers equal to the wanted set.
 *
 * @example
 * const hcs = new ServiceHealthServers({ proxyHealthy: () => health.health().healthy });
 * await hcs.syncServices(new Map([['default/web', 32000]]));
 * hcs.syncEndpoints(new Map([['default/web', 2]]));
 */
export class ServiceHealthServers {
  #opts: ServiceHealthServersOptions;
  #listen: ListenFn;
  #services = new Map<ServiceKey, Instance>();
  // syncServices calls run one after another, so a slow close never races a reopen of its port.
  #queue: Promise<void> = Promise.resolve();

  constructor(options: ServiceHealthServersOptions) {
    this.#opts = options;
    this.#listen = options.listen ?? listenHttp;
  }

  /**
   * Open servers for new services, close those of vanished ones, reopen on a port change.
   * Services whose port failed to open are not kept, so the next call tries again.
   */
  syncServices(wanted: ReadonlyMap<ServiceKey, number>): Promise<void> {
    const run = this.#queue.then(() => this.#syncServices(wanted));
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Set each service's count of ready local endpoints; services missing from the map get 0. */
  syncEndpoints(counts: ReadonlyMap<ServiceKey, number>): void {
    for (const [key, inst] of this.#services) inst.endpoints = counts.get(key) ?? 0;
  }

  /** The ports currently served, by service; for logs and tests. */
  ports(): Map<ServiceKey, number> {
    return new Map([...this.#services].map(([k, v]) => [k, v.port]));
  }

  /** Close every server. */
  async close(): Promise<void> {
    await this.syncServices(new Map());
  }

  async #syncServices(wanted: ReadonlyMap<ServiceKey, number>): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [key, inst] of this.#services) {
      if (wanted.get(key) === inst.port) continue;
      this.#services.delete(key);
      closing.push(...inst.closers.map((c) => c.close()));
    }
    await Promise.all(closing);
    for (const [key, port] of wanted) {
      if (this.#services.has(key)) continue;
      const slash = key.indexOf('/');
      const inst: Instance = { namespace: key.slice(0, slash), name: key.slice(slash + 1), port, endpoints: 0, closers: [] };
      try {
        inst.closers = await this.#open(inst);
        this.#services.set(key, inst);
      } catch (cause) {
        const err = new Error(`Cannot open health check node port ${port} for service "${key}": ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
        this.#opts.onBindError?.({ namespace: inst.namespace, name: inst.name }, port, err);
      }
    }
  }

  /** Listen on every configured address; all or nothing, so a half-open service is never kept. */
  async #open(inst: Instance): Promise<Closer[]> {
    const hosts = this.#opts.addresses?.length ? this.#opts.addresses : [''];
    const handler = (_req: IncomingMessage, res: ServerResponse) => this.#respond(inst, res);
    const opened: Closer[] = [];
    try {
      for (const host of hosts) opened.push(await this.#listen(inst.port, host, handler));
    } catch (err) {
      await Promise.all(opened.map((c) => c.close()));
      throw err;
    }
    return opened;
  }

  #respond(inst: Instance, res: ServerResponse): void {
    const count = inst.endpoints;
    const healthy = this.#opts.proxyHealthy();
    // Tab-indented like upstream's dedented template, so the bytes match what probes already parse.
    const body = JSON.stringify({ service: { namespace: inst.namespace, name: inst.name }, localEndpoints: count, serviceProxyHealthy: healthy }, null, '\t');
    res.writeHead(count > 0 && healthy ? 200 : 503, {
      'Content-Type': 'application/json',
      'X-Content-Type-Options': 'nosniff',
      'X-Load-Balancing-Endpoint-Weight': String(count),
    });
    res.end(body);
  }
}
