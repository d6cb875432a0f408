/**
 * @module
 * Builds the API client configuration the way kube-proxy does (spec §1.2): with neither
 * `--kubeconfig` nor `--master`, the in-cluster service account config (no fallback); otherwise
 * the kubeconfig file (if any) with `--master` overriding its server.
 */
import { KubeConfig } from '@kubernetes/client-node';

export interface KubeConfigOptions {
  /** `--kubeconfig` / `clientConnection.kubeconfig`. */
  kubeconfig?: string;
  /** `--master`: the API server URL; wins over the kubeconfig's server. */
  master?: string;
  /** Where KUBERNETES_SERVICE_HOST/PORT are read for the in-cluster check. @default process.env */
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Load the client configuration.
 *
 * @throws {Error} naming the file or the missing environment when no configuration can be built
 */
export function loadKubeConfig(options: KubeConfigOptions): KubeConfig {
  const path = options.kubeconfig?.trim() ?? '';
  const master = normalizeServer(options.master?.trim() ?? '');
  const kc = new KubeConfig();
  if (path === '' && master === '') {
    const env = options.env ?? process.env;
    if (!env.KUBERNETES_SERVICE_HOST || !env.KUBERNETES_SERVICE_PORT) {
      throw new Error('Cannot build the API client: neither --kubeconfig nor --master is set, and KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not defined for the in-cluster config');
    }
    kc.loadFromCluster();
    return kc;
  }
  if (path !== '') {
    try {
      kc.loadFromFile(path);
    } catch (cause) {
      throw new Error(`Cannot load kubeconfig "${path}": ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    const cluster = kc.getCurrentCluster();
    if (cluster === null && master === '') throw new Error(`Cannot use kubeconfig "${path}": its current context names no cluster`);
    if (master !== '') {
      if (cluster === null) {
        kc.loadFromClusterAndUser({ name: 'master', server: master, skipTLSVerify: false }, kc.getCurrentUser() ?? { name: 'master-user' });
      } else {
        kc.clusters = kc.clusters.map((c) => (c.name === cluster.name ? { ...c, server: master } : c));
      }
    }
    return kc;
  }
  // --master alone: no credentials, the server's certificate checked against the system roots.
  kc.loadFromClusterAndUser({ name: 'master', server: master, skipTLSVerify: false }, { name: 'master-user' });
  return kc;
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
