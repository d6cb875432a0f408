/**
 * @module
 * Builds the API client configuration the way kube-proxy does (spec §1.2): with neither
 * `--kubeconfig` nor `--master`, the in-cluster service account config (no fallback); otherwise
 * the kubeconfig file (if any) with `--master` overriding its server.
 *
 * Our own reader of the kubeconfig format rather than @kubernetes/client-node's KubeConfig: that
 * one imports the package's whole generated client and node-fetch, whose dependencies print Node
 * deprecation warnings (DEP0040 punycode, DEP0169 url.parse) into the agent's klog stream. The
 * agent needs only what kube-proxy deployments use: the server, its CA and TLS name, client
 * certificates, bearer tokens (inline or a token file, re-read per request since service account
 * tokens rotate) and basic auth. Exec and auth-provider plugins are refused with a clear error.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { parse as parseYaml } from 'yaml';

export interface KubeConfigOptions {
  /** `--kubeconfig` / `clientConnection.kubeconfig`. */
  kubeconfig?: string;
  /** `--master`: the API server URL; wins over the kubeconfig's server. */
  master?: string;
  /** Where KUBERNETES_SERVICE_HOST/PORT are read for the in-cluster config. @default process.env */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface KubeCluster {
  name: string;
  server: string;
  skipTLSVerify: boolean;
  caFile?: string;
  caData?: string;
  tlsServerName?: string;
}

export interface KubeUser {
  name: string;
  token?: string;
  tokenFile?: string;
  certFile?: string;
  certData?: string;
  keyFile?: string;
  keyData?: string;
  username?: string;
  password?: string;
  /** Set when the kubeconfig names a plugin we do not run (exec, auth-provider). */
  plugin?: string;
}

/** The part of node:https RequestOptions the transport reads. */
export interface HttpsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized?: boolean;
  servername?: string;
  headers?: Record<string, string>;
  auth?: string;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** One cluster and one user: what the proxy talks to and as whom. */
export class KubeClientConfig {
  readonly #cluster: KubeCluster | null;
  readonly #user: KubeUser | null;

  constructor(cluster: KubeCluster | null, user: KubeUser | null) {
    this.#cluster = cluster;
    this.#user = user;
  }

  getCurrentCluster(): KubeCluster | null {
    return this.#cluster;
  }

  getCurrentUser(): KubeUser | null {
    return this.#user;
  }

  /**
   * Fills TLS material and credentials into `opts`; files are read on every call, so rotated
   * tokens and certificates are picked up.
   * @throws {Error} naming the file that cannot be read or the plugin that is not supported
   */
  async applyToHTTPSOptions(opts: HttpsOptions): Promise<void> {
    const c = this.#cluster;
    const u = this.#user;
    const read = (what: string, path: string): Buffer => {
      try {
        return readFileSync(path);
      } catch (e) {
        throw new Error(`Cannot read the ${what} ${path}: ${(e as Error).message}`, { cause: e });
      }
    };
    if (c) {
      if (c.caData) opts.ca = Buffer.from(c.caData, 'base64');
      else if (c.caFile) opts.ca = read('certificate authority', c.caFile);
      if (c.skipTLSVerify) opts.rejectUnauthorized = false;
      if (c.tlsServerName) opts.servername = c.tlsServerName;
    }
    if (!u) return;
    if (u.plugin) throw new Error(`Cannot authenticate as user "${u.name}": ${u.plugin} credential plugins are not supported by kube-proxy-bpf; use a token, token file or client certificate`);
    if (u.certData) opts.cert = Buffer.from(u.certData, 'base64');
    else if (u.certFile) opts.cert = read('client certificate', u.certFile);
    if (u.keyData) opts.key = Buffer.from(u.keyData, 'base64');
    else if (u.keyFile) opts.key = read('client key', u.keyFile);
    let token = u.token;
    if (!token && u.tokenFile) token = read('token file', u.tokenFile).toString('utf8').trim();
    if (token) opts.headers = { ...opts.headers, Authorization: `Bearer ${token}` };
    else if (u.username) opts.auth = `${u.username}:${u.password ?? ''}`;
  }
}

/**
 * Load the client configuration.
 *
 * @throws {Error} naming the file or the missing environment when no configuration can be built
 */
export function loadKubeConfig(options: KubeConfigOptions): KubeClientConfig {
  const path = options.kubeconfig?.trim() ?? '';
  const master = normalizeServer(options.master?.trim() ?? '');
  if (path === '' && master === '') {
    const env = options.env ?? process.env;
    const host = env.KUBERNETES_SERVICE_HOST;
    const port = env.KUBERNETES_SERVICE_PORT;
    if (!host || !port) {
      throw new Error('Cannot build the API client: neither --kubeconfig nor --master is set, and KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not defined for the in-cluster config');
    }
    const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
    return new KubeClientConfig(
      { name: 'inCluster', server, skipTLSVerify: false, caFile: `${SA_DIR}/ca.crt` },
      { name: 'inClusterUser', tokenFile: `${SA_DIR}/token` },
    );
  }
  if (path === '') return new KubeClientConfig({ name: 'master', server: master, skipTLSVerify: false }, null);
  let doc: KubeconfigFile;
  try {
    doc = (parseYaml(readFileSync(path, 'utf8')) ?? {}) as KubeconfigFile;
    if (typeof doc !== 'object') throw new Error('not a kubeconfig document');
  } catch (cause) {
    throw new Error(`Cannot load kubeconfig "${path}": ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  const base = dirname(path);
  const context = (doc.contexts ?? []).find((c) => c?.name === doc['current-context'])?.context;
  const rawCluster = (doc.clusters ?? []).find((c) => c?.name === context?.cluster);
  const rawUser = (doc.users ?? []).find((u) => u?.name === context?.user);
  let cluster = rawCluster ? toCluster(rawCluster.name ?? '', rawCluster.cluster ?? {}, base) : null;
  if (cluster === null && master === '') throw new Error(`Cannot use kubeconfig "${path}": its current context names no cluster`);
  if (master !== '') cluster = cluster ? { ...cluster, server: master } : { name: 'master', server: master, skipTLSVerify: false };
  return new KubeClientConfig(cluster, rawUser ? toUser(rawUser.name ?? '', rawUser.user ?? {}, base) : null);
}

type Named<K extends string, T> = { name?: string } & { [key in K]?: T };
type KubeconfigFile = {
  'current-context'?: string;
  clusters?: Named<'cluster', Record<string, unknown>>[];
  users?: Named<'user', Record<string, unknown>>[];
  contexts?: Named<'context', { cluster?: string; user?: string }>[];
};

/** Relative paths in a kubeconfig are relative to the file's folder, as client-go resolves them. */
const resolvePath = (base: string, p: unknown): string | undefined => (typeof p === 'string' && p !== '' ? (isAbsolute(p) ? p : join(base, p)) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function toCluster(name: string, c: Record<string, unknown>, base: string): KubeCluster {
  const out: KubeCluster = { name, server: normalizeServer(str(c.server) ?? ''), skipTLSVerify: c['insecure-skip-tls-verify'] === true };
  const caFile = resolvePath(base, c['certificate-authority']);
  if (caFile) out.caFile = caFile;
  const caData = str(c['certificate-authority-data']);
  if (caData) out.caData = caData;
  const sni = str(c['tls-server-name']);
  if (sni) out.tlsServerName = sni;
  return out;
}

function toUser(name: string, u: Record<string, unknown>, base: string): KubeUser {
  const out: KubeUser = { name };
  const set = <K extends keyof KubeUser>(k: K, v: KubeUser[K] | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  set('token', str(u.token));
  set('tokenFile', resolvePath(base, u.tokenFile));
  set('certFile', resolvePath(base, u['client-certificate']));
  set('certData', str(u['client-certificate-data']));
  set('keyFile', resolvePath(base, u['client-key']));
  set('keyData', str(u['client-key-data']));
  set('username', str(u.username));
  set('password', str(u.password));
  if (u.exec) out.plugin = 'exec';
  else if (u['auth-provider']) out.plugin = 'auth-provider';
  return out;
}

/** client-go accepts a bare host[:port] for --master and assumes https. */
function normalizeServer(server: string): string {
  if (server === '' || /^[a-z][a-z0-9+.-]*:\/\//i.test(server)) return server;
  return `https://${server}`;
}

/**
 * The User-Agent header, in client-go's `<binary>/<version> (<os>/<arch>) <source>/<commit>` form,
 * so API server audit logs and priority-and-fairness rules that key on `kube-proxy` still match.
 */
export function kubeProxyUserAgent(version: string, commit = 'unknown'): string {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  return `kube-proxy/${version} (${process.platform}/${arch}) kube-proxy-bpf/${commit}`;
}
