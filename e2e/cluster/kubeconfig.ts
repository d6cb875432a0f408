// Writes a kubeconfig file. JSON is valid YAML, and both client-go and @kubernetes/client-node
// read it, so no YAML writer is needed. Paths are absolute because kubeconfig-relative paths are
// resolved against the file's folder by client-go but not by every client.
import { writeFileSync } from 'node:fs';

export interface KubeconfigSpec {
  server: string;
  caFile: string;
  /** Client certificate authentication. */
  certFile?: string;
  keyFile?: string;
  /** Bearer token authentication (e.g. a ServiceAccount token from the TokenRequest API). */
  token?: string;
  user?: string;
}

export function writeKubeconfig(path: string, spec: KubeconfigSpec): string {
  const user = spec.user ?? 'default';
  const credentials: Record<string, string> = {};
  if (spec.certFile !== undefined) credentials['client-certificate'] = spec.certFile;
  if (spec.keyFile !== undefined) credentials['client-key'] = spec.keyFile;
  if (spec.token !== undefined) credentials['token'] = spec.token;
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'kpb-e2e', cluster: { server: spec.server, 'certificate-authority': spec.caFile } }],
    users: [{ name: user, user: credentials }],
    contexts: [{ name: 'default', context: { cluster: 'kpb-e2e', user } }],
    'current-context': 'default',
  };
  writeFileSync(path, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
  return path;
}
