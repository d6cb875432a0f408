/**
 * @module
 * The default list/watch transport: plain HTTP requests to the API server through undici, with
 * the TLS material, credentials and server taken from the KubeConfig. It speaks JSON (we
 * accept `--kube-api-content-type` for compatibility, but do not decode protobuf), sends a
 * `kube-proxy/...` User-Agent, and waits on the shared client-side rate limiter before each
 * request. Exercised against a real kube-apiserver by the e2e suite; the pure parts (URLs,
 * stream decoding, status errors) are unit-tested.
 */
import type { HttpsOptions as RequestOptions, KubeClientConfig as KubeConfig } from './kube-config.ts';
import { Agent, request, type Dispatcher } from 'undici';
import { systemClock, systemTimers, type Clock, type Timers } from '../health/clock.ts';
import { ApiStatusError, type ApiStatus, type KubeObject, type ListOptions, type ListPage, type ListWatch, type WatchEvent, type WatchOptions } from './list-watch.ts';
import { projectEndpointSlice, projectNode, projectService, projectServiceCIDR, type EndpointSliceProjection, type NodeProjection, type ServiceCIDRProjection, type ServiceProjection } from './projections.ts';
import { RateLimiter } from './rate-limiter.ts';
import { WatchDecoder } from './watch-decoder.ts';

/** One finished request, for the rest_client_* metrics. */
export interface RequestRecord {
  /** `GET` for both lists and watches, as client-go labels them. */
  method: string;
  /** The server's host:port. */
  host: string;
  /** The HTTP status, or `<error>` when no response arrived (client-go's convention). */
  code: string;
  durationSeconds: number;
  rateLimiterSeconds: number;
}

export interface ApiTransportOptions {
  /** See kubeProxyUserAgent. */
  userAgent: string;
  /** `--kube-api-qps`. @default 5 */
  qps?: number;
  /** `--kube-api-burst`. @default 10 */
  burst?: number;
  clock?: Clock;
  timers?: Timers;
  onRequest?: (record: RequestRecord) => void;
}

/** Build a request URL on `server` (which may carry a path prefix), leaving out unset parameters. */
export function buildRequestUrl(server: string, path: string, query: Readonly<Record<string, string | number | boolean | undefined>>): URL {
  const base = new URL(server);
  const url = new URL(base.pathname.replace(/\/+$/, '') + path, base);
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
  return url;
}

/** The request parameters of a list call, in the API's spelling. */
export function listQuery(o: ListOptions): Record<string, string | number | undefined> {
  return {
    labelSelector: o.labelSelector,
    fieldSelector: o.fieldSelector,
    limit: o.limit,
    continue: o.continue,
    // "" is meaningful (a consistent read) but is also the API default, so it is simply omitted.
    resourceVersion: o.continue ? undefined : o.resourceVersion,
  };
}

/** The request parameters of a watch call. */
export function watchQuery(o: WatchOptions): Record<string, string | number | boolean | undefined> {
  return {
    watch: 'true',
    labelSelector: o.labelSelector,
    fieldSelector: o.fieldSelector,
    resourceVersion: o.resourceVersion,
    allowWatchBookmarks: o.allowWatchBookmarks ? 'true' : undefined,
    timeoutSeconds: o.timeoutSeconds,
  };
}

/** Turn a non-200 answer into an ApiStatusError, using the Status body when there is one. */
export function responseError(what: string, httpCode: number, body: string): ApiStatusError {
  try {
    const status = JSON.parse(body) as ApiStatus;
    if (status && typeof status === 'object' && status.kind === 'Status') return ApiStatusError.fromStatus(what, status, httpCode);
  } catch {
    // Not JSON (a proxy in between, for example): report the raw text below.
  }
  return new ApiStatusError(`${what}: HTTP ${httpCode}: ${body.slice(0, 200).trim()}`, httpCode);
}

/** Sends authenticated GETs to the API server. One per process, shared by all resources. */
export class ApiClient {
  #kc: KubeConfig;
  #o: ApiTransportOptions;
  #clock: Clock;
  #limiter: RateLimiter;
  #agent: { key: string; agent: Agent } | null = null;

  constructor(kc: KubeConfig, options: ApiTransportOptions) {
    if (kc.getCurrentCluster() === null) throw new Error('Cannot create the API client: the kubeconfig has no current cluster');
    this.#kc = kc;
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#limiter = new RateLimiter({ qps: options.qps ?? 5, burst: options.burst ?? 10, clock: this.#clock, timers: options.timers ?? systemTimers });
  }

  /** GET `path` with `query`; the caller consumes or dumps the body. */
  async get(path: string, query: Readonly<Record<string, string | number | boolean | undefined>>, signal: AbortSignal, bodyTimeoutMs: number): Promise<Dispatcher.ResponseData> {
    const server = this.#kc.getCurrentCluster()?.server ?? '';
    const url = buildRequestUrl(server, path, query);
    const waited = await this.#limiter.wait(signal);
    // Re-applied per request: token files and exec plugins rotate credentials.
    const opts: RequestOptions = {};
    await this.#kc.applyToHTTPSOptions(opts);
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': this.#o.userAgent };
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
    if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    const started = this.#clock.now();
    let code = '<error>';
    try {
      const res = await request(url, {
        method: 'GET', headers, signal, dispatcher: this.#dispatcher(opts),
        headersTimeout: 60_000, bodyTimeout: bodyTimeoutMs,
      });
      code = String(res.statusCode);
      return res;
    } finally {
      this.#o.onRequest?.({
        method: 'GET', host: url.host, code,
        durationSeconds: (this.#clock.now() - started) / 1000, rateLimiterSeconds: waited / 1000,
      });
    }
  }

  /** Close pooled connections. */
  async close(): Promise<void> {
    await this.#agent?.agent.close();
    this.#agent = null;
  }

  #dispatcher(opts: RequestOptions): Agent {
    const tls = {
      ca: opts.ca as Buffer | undefined, cert: opts.cert as Buffer | undefined, key: opts.key as Buffer | undefined,
      rejectUnauthorized: opts.rejectUnauthorized !== false, servername: opts.servername,
    };
    // A new agent only when the TLS material changed (rotated client certificates).
    const key = JSON.stringify([tls.ca?.toString('base64'), tls.cert?.toString('base64'), tls.key?.toString('base64'), tls.rejectUnauthorized, tls.servername]);
    if (this.#agent?.key !== key) {
      const old = this.#agent?.agent;
      this.#agent = { key, agent: new Agent({ connect: tls, keepAliveTimeout: 30_000 }) };
      void old?.close();
    }
    return this.#agent.agent;
  }
}

/**
 * Decodes one list page, each item turned into its projection at once so the page's full objects
 * are garbage before the next page arrives.
 */
export function decodeListPage<T>(text: string, project: (raw: unknown) => T): ListPage<T> {
  // No reviver: JSON.parse calls one for every value of the page (most of the decoding time at
  // 10k objects); the projection reads the few fields it keeps, timestamps included.
  const list = JSON.parse(text) as { items?: unknown[] | null; metadata?: { resourceVersion?: string; continue?: string } };
  const items = list.items ?? [];
  const out = new Array<T>(items.length);
  for (let i = 0; i < items.length; i++) {
    out[i] = project(items[i]);
    items[i] = undefined;
  }
  return { items: out, resourceVersion: list.metadata?.resourceVersion ?? '', continue: list.metadata?.continue || undefined };
}

/** List and watch one collection (all namespaces) through an ApiClient, yielding projections. */
export class ApiListWatch<T extends KubeObject> implements ListWatch<T> {
  #client: ApiClient;
  #path: string;
  #project: (raw: unknown) => T;

  /**
   * @param path the collection, e.g. `/api/v1/services`
   * @param project turns a decoded object into what the cache keeps (see projections.ts)
   */
  constructor(client: ApiClient, path: string, project: (raw: unknown) => T) {
    this.#client = client;
    this.#path = path;
    this.#project = project;
  }

  async list(options: ListOptions, signal: AbortSignal): Promise<ListPage<T>> {
    const res = await this.#client.get(this.#path, listQuery(options), signal, 300_000);
    const text = await res.body.text();
    if (res.statusCode !== 200) throw responseError(`list ${this.#path}`, res.statusCode, text);
    return decodeListPage(text, this.#project);
  }

  async watch(options: WatchOptions, onEvent: (event: WatchEvent<T>) => void, signal: AbortSignal): Promise<void> {
    // Idle longer than the server's own timeout plus a margin means the connection is dead.
    const res = await this.#client.get(this.#path, watchQuery(options), signal, (options.timeoutSeconds + 60) * 1000);
    if (res.statusCode !== 200) throw responseError(`watch ${this.#path}`, res.statusCode, await res.body.text());
    const decoder = new WatchDecoder<T>(`watch ${this.#path}`, this.#project);
    try {
      for await (const chunk of res.body) {
        for (const ev of decoder.push(chunk as Buffer)) onEvent(ev);
        if (signal.aborted) return;
      }
      for (const ev of decoder.end()) onEvent(ev);
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    } finally {
      if (!res.body.destroyed) res.body.destroy();
    }
  }
}

/** The three collections kube-proxy watches, over one shared client. */
export interface ApiListWatches {
  client: ApiClient;
  services: ListWatch<ServiceProjection>;
  endpointSlices: ListWatch<EndpointSliceProjection>;
  nodes: ListWatch<NodeProjection>;
  serviceCIDRs: ListWatch<ServiceCIDRProjection>;
}

/**
 * Build the default transport for startProxyInformers.
 *
 * @example
 * const kc = loadKubeConfig({ kubeconfig: cfg.clientConnection.kubeconfig, master: argv.master });
 * const transport = createApiListWatches(kc, { userAgent: kubeProxyUserAgent(version), qps: 5, burst: 10 });
 */
export function createApiListWatches(kc: KubeConfig, options: ApiTransportOptions): ApiListWatches {
  const client = new ApiClient(kc, options);
  return {
    client,
    services: new ApiListWatch(client, '/api/v1/services', projectService),
    endpointSlices: new ApiListWatch(client, '/apis/discovery.k8s.io/v1/endpointslices', projectEndpointSlice),
    nodes: new ApiListWatch(client, '/api/v1/nodes', projectNode),
    serviceCIDRs: new ApiListWatch(client, '/apis/networking.k8s.io/v1/servicecidrs', projectServiceCIDR),
  };
}
