/**
 * @module
 * The default list/watch transport: plain HTTP requests to the API server through undici, with
 * the TLS material, credentials and server taken from the KubeConfig. It asks for what
 * `--kube-api-content-type` (clientConnection.contentType, protobuf by default) and
 * acceptContentTypes say, with client-go's Accept header, and decodes whatever the server answers
 * by its Content-Type: protobuf (protobuf-decoder.ts) or JSON, so a server or a proxy in between
 * that does not speak protobuf gets JSON. It sends a `kube-proxy/...` User-Agent and waits on the
 * shared client-side rate limiter before each request. Exercised against a real kube-apiserver by
 * the e2e suite; the pure parts (URLs, headers, stream decoding, status errors) are unit-tested.
 */
import type { HttpsOptions as RequestOptions, KubeClientConfig as KubeConfig } from './kube-config.ts';
import { Agent, request, type Dispatcher } from 'undici';
import { systemClock, systemTimers, type Clock, type Timers } from '../health/clock.ts';
import { ApiStatusError, type ApiStatus, type KubeObject, type ListOptions, type ListPage, type ListWatch, type WatchEvent, type WatchOptions } from './list-watch.ts';
import { projectEndpointSlice, projectNode, projectService, projectServiceCIDR, type EndpointSliceProjection, type NodeProjection, type ServiceCIDRProjection, type ServiceProjection } from './projections.ts';
import { decodeProtobufList, decodeProtobufStatus, ProtobufWatchDecoder, RESOURCE_CODECS, type ResourceCodec } from './protobuf-decoder.ts';
import { RateLimiter } from './rate-limiter.ts';
import { WatchDecoder } from './watch-decoder.ts';

export const PROTOBUF = 'application/vnd.kubernetes.protobuf';

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
  /** clientConnection.contentType (`--kube-api-content-type`). @default 'application/vnd.kubernetes.protobuf' */
  contentType?: string;
  /** clientConnection.acceptContentTypes: the Accept header as is, when set. @default '' */
  acceptContentTypes?: string;
  clock?: Clock;
  timers?: Timers;
  onRequest?: (record: RequestRecord) => void;
  /** The encoding a resource's responses came in, when it is seen first or changes. */
  onEncoding?: (path: string, encoding: 'protobuf' | 'json') => void;
}

/** The Accept header, as client-go builds it from the two settings. */
export function acceptHeader(contentType: string, acceptContentTypes: string): string {
  if (acceptContentTypes !== '') return acceptContentTypes;
  return contentType !== '' ? `${contentType}, */*` : 'application/json';
}

/** How a response body is to be decoded, from its Content-Type; throws on anything else. */
export function responseEncoding(contentType: string | undefined, what: string): 'protobuf' | 'json' {
  const media = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (media === PROTOBUF) return 'protobuf';
  if (media === 'application/json' || media === '') return 'json';
  throw new SyntaxError(`${what}: the server answered ${contentType}, which is neither ${PROTOBUF} nor application/json`);
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

/** Turn a non-200 answer into an ApiStatusError, using the Status body (JSON or protobuf) when there is one. */
export function responseError(what: string, httpCode: number, bodyBytes: string | Uint8Array): ApiStatusError {
  if (typeof bodyBytes !== 'string') {
    const pb = decodeProtobufStatus(bodyBytes);
    if (pb) return ApiStatusError.fromStatus(what, pb, httpCode);
  }
  const body = typeof bodyBytes === 'string' ? bodyBytes : Buffer.from(bodyBytes).toString('utf8');
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
  readonly #accept: string;
  readonly #seen = new Map<string, 'protobuf' | 'json'>();

  constructor(kc: KubeConfig, options: ApiTransportOptions) {
    if (kc.getCurrentCluster() === null) throw new Error('Cannot create the API client: the kubeconfig has no current cluster');
    this.#kc = kc;
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#limiter = new RateLimiter({ qps: options.qps ?? 5, burst: options.burst ?? 10, clock: this.#clock, timers: options.timers ?? systemTimers });
    this.#accept = acceptHeader(options.contentType ?? PROTOBUF, options.acceptContentTypes ?? '');
  }

  /** Records the encoding a response of `path` came in (for the onEncoding callback). */
  noteEncoding(path: string, encoding: 'protobuf' | 'json'): void {
    if (this.#seen.get(path) === encoding) return;
    this.#seen.set(path, encoding);
    this.#o.onEncoding?.(path, encoding);
  }

  /** GET `path` with `query`; the caller consumes or dumps the body. */
  async get(path: string, query: Readonly<Record<string, string | number | boolean | undefined>>, signal: AbortSignal, bodyTimeoutMs: number): Promise<Dispatcher.ResponseData> {
    const server = this.#kc.getCurrentCluster()?.server ?? '';
    const url = buildRequestUrl(server, path, query);
    const waited = await this.#limiter.wait(signal);
    // Re-applied per request: token files and exec plugins rotate credentials.
    const opts: RequestOptions = {};
    await this.#kc.applyToHTTPSOptions(opts);
    const headers: Record<string, string> = { Accept: this.#accept, 'User-Agent': this.#o.userAgent };
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
 * Where the top-level "items" array of a list page and each of its elements lie in the text, or
 * null when the page is not shaped that way (then it is parsed whole). One pass over the text,
 * minding strings and escapes.
 */
export function listItemBounds(text: string): { open: number; close: number; items: number[] } | null {
  let depth = 0;
  let open = -1;
  let keyAt = -1;
  let itemStart = -1;
  const items: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      // A string: to its closing quote. At depth 1 it may be the "items" key.
      const start = i;
      for (;;) {
        i = text.indexOf('"', i + 1);
        if (i < 0) return null;
        // Escaped when an odd number of backslashes precede it.
        let k = i - 1;
        while (text.charCodeAt(k) === 92) k--;
        if ((i - 1 - k) % 2 === 0) break;
      }
      if (depth === 2 && open >= 0) return null;
      if (depth === 1 && open < 0 && i - start === 6 && text.startsWith('"items"', start)) keyAt = i;
      continue;
    }
    if (c === 123 || c === 91) {
      depth++;
      if (depth === 2 && c === 91 && keyAt >= 0 && open < 0 && /^\s*:\s*$/.test(text.slice(keyAt + 1, i))) open = i;
      else if (depth === 3 && open >= 0 && itemStart < 0) itemStart = i;
    } else if (c === 125 || c === 93) {
      depth--;
      if (depth === 2 && itemStart >= 0) {
        items.push(itemStart, i + 1);
        itemStart = -1;
      } else if (depth === 1 && open >= 0 && c === 93) {
        return { open, close: i, items };
      }
      if (depth < 0) return null;
    } else if (depth === 2 && open >= 0 && c !== 44 && c !== 32 && c !== 10 && c !== 13 && c !== 9) {
      // Anything but objects in the items array (null, numbers): parse the page whole.
      return null;
    }
  }
  return null;
}

/**
 * Decodes one list page, each item parsed and turned into its projection on its own: the full
 * objects of one item die young, instead of a whole page of them outliving a few young-generation
 * collections (with the agent's small semi-space) and being promoted first.
 */
export function decodeListPage<T>(text: string, project: (raw: unknown) => T): ListPage<T> {
  // No reviver: JSON.parse calls one for every value of the page (most of the decoding time at
  // 10k objects); the projection reads the few fields it keeps, timestamps included.
  const bounds = listItemBounds(text);
  if (bounds) {
    const envelope = JSON.parse(text.slice(0, bounds.open + 1) + text.slice(bounds.close)) as { metadata?: { resourceVersion?: string; continue?: string } };
    const out = new Array<T>(bounds.items.length / 2);
    for (let i = 0; i < bounds.items.length; i += 2) out[i / 2] = project(JSON.parse(text.slice(bounds.items[i], bounds.items[i + 1])));
    return { items: out, resourceVersion: envelope.metadata?.resourceVersion ?? '', continue: envelope.metadata?.continue || undefined };
  }
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
  #codec: ResourceCodec;

  /**
   * @param path the collection, e.g. `/api/v1/services`
   * @param project turns a JSON-decoded object into what the cache keeps (see projections.ts)
   * @param codec the same projection for protobuf (protobuf-decoder.ts RESOURCE_CODECS)
   */
  constructor(client: ApiClient, path: string, project: (raw: unknown) => T, codec: ResourceCodec) {
    this.#client = client;
    this.#path = path;
    this.#project = project;
    this.#codec = codec;
  }

  async list(options: ListOptions, signal: AbortSignal): Promise<ListPage<T>> {
    const what = `list ${this.#path}`;
    const res = await this.#client.get(this.#path, listQuery(options), signal, 300_000);
    const body = new Uint8Array(await res.body.arrayBuffer());
    if (res.statusCode !== 200) throw responseError(what, res.statusCode, body);
    const encoding = responseEncoding(headerOf(res, 'content-type'), what);
    this.#client.noteEncoding(this.#path, encoding);
    if (encoding === 'protobuf') return decodeProtobufList<T>(body, this.#codec, what);
    return decodeListPage(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'), this.#project);
  }

  async watch(options: WatchOptions, onEvent: (event: WatchEvent<T>) => void, signal: AbortSignal): Promise<void> {
    const what = `watch ${this.#path}`;
    // Idle longer than the server's own timeout plus a margin means the connection is dead.
    const res = await this.#client.get(this.#path, watchQuery(options), signal, (options.timeoutSeconds + 60) * 1000);
    if (res.statusCode !== 200) throw responseError(what, res.statusCode, new Uint8Array(await res.body.arrayBuffer()));
    const decoder = responseEncoding(headerOf(res, 'content-type'), what) === 'protobuf'
      ? new ProtobufWatchDecoder<T>(what, this.#codec)
      : new WatchDecoder<T>(what, this.#project);
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

function headerOf(res: Dispatcher.ResponseData, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
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
    services: new ApiListWatch(client, '/api/v1/services', projectService, RESOURCE_CODECS.services),
    endpointSlices: new ApiListWatch(client, '/apis/discovery.k8s.io/v1/endpointslices', projectEndpointSlice, RESOURCE_CODECS.endpointslices),
    nodes: new ApiListWatch(client, '/api/v1/nodes', projectNode, RESOURCE_CODECS.nodes),
    serviceCIDRs: new ApiListWatch(client, '/apis/networking.k8s.io/v1/servicecidrs', projectServiceCIDR, RESOURCE_CODECS.servicecidrs),
  };
}
