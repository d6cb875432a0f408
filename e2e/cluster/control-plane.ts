// Starts etcd and kube-apiserver (built by `make k8s`) inside the control-plane namespace and
// waits until the apiserver's /readyz passes. etcd listens on loopback only: it is reachable just
// from that namespace, so it needs no TLS. Its data folder is inside the run folder, removed at
// teardown.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import type { ClusterPki, ClientCert } from './certs.ts';
import { PLAN } from './plan.ts';
import { Proc, type Placement } from './proc.ts';
import type { Teardown } from './teardown.ts';

export const K8S_BIN = join(import.meta.dirname, '..', '..', '.cache', 'k8s', 'bin');

export interface ControlPlaneOptions {
  place: Placement;
  /** Private folder for etcd data and logs. */
  dir: string;
  pki: ClusterPki;
  /** Certificate the readiness probe presents (any authenticated user may GET /readyz). */
  probeCert: ClientCert;
  /** 127.0.0.1 port in this process's namespace that forwards to the apiserver. */
  forwardPort: number;
  dualStack: boolean;
  /** Extra kube-apiserver flags (feature gates, admission plugins); later flags win. */
  extraArgs?: readonly string[];
  teardown: Teardown;
  /** Milliseconds to wait for /readyz (default 60 s). */
  readyTimeoutMs?: number;
}

export interface ControlPlane {
  etcd: Proc;
  apiserver: Proc;
  /** URL other namespaces (nodes) use. */
  serverUrl: string;
  /** Milliseconds from starting etcd to /readyz passing. */
  startupMs: number;
}

export function requireBinary(name: string): string {
  const path = join(K8S_BIN, name);
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`make k8s\` to build it from the Go module proxy`);
  return path;
}

function getReadyz(port: number, pki: ClusterPki, cert: ClientCert): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port, path: '/readyz', method: 'GET', timeout: 2_000,
      ca: readFileSync(pki.caCert), cert: readFileSync(cert.cert), key: readFileSync(cert.key),
      agent: false,
    }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const etcdBin = requireBinary('etcd');
  const apiserverBin = requireBinary('kube-apiserver');
  const started = Date.now();
  const dataDir = join(opts.dir, 'etcd');
  mkdirSync(dataDir, { mode: 0o700 });
  const etcd = new Proc(opts.place, [
    etcdBin, '--name=kpb-e2e', `--data-dir=${dataDir}`,
    '--listen-client-urls=http://127.0.0.1:2379', '--advertise-client-urls=http://127.0.0.1:2379',
    '--listen-peer-urls=http://127.0.0.1:2380', '--initial-advertise-peer-urls=http://127.0.0.1:2380',
    '--initial-cluster=kpb-e2e=http://127.0.0.1:2380', '--initial-cluster-state=new',
    // A throwaway test store: durability is worthless here and fsync dominates apiserver writes.
    '--unsafe-no-fsync', '--log-level=warn',
  ], { name: 'etcd', logFile: join(opts.dir, 'etcd.log') });
  opts.teardown.add('etcd', () => etcd.stop(), () => etcd.kill());

  const serviceRange = opts.dualStack ? `${PLAN.serviceCIDRv4},${PLAN.serviceCIDRv6}` : PLAN.serviceCIDRv4;
  const apiserver = new Proc(opts.place, [
    apiserverBin,
    '--etcd-servers=http://127.0.0.1:2379',
    `--advertise-address=${PLAN.controlPlane.ipv4}`,
    `--secure-port=${PLAN.apiserverPort}`,
    `--tls-cert-file=${opts.pki.apiserverCert}`, `--tls-private-key-file=${opts.pki.apiserverKey}`,
    `--client-ca-file=${opts.pki.caCert}`,
    `--service-account-key-file=${opts.pki.saPub}`,
    `--service-account-signing-key-file=${opts.pki.saKey}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-cluster-ip-range=${serviceRange}`,
    '--authorization-mode=Node,RBAC',
    '--enable-admission-plugins=NodeRestriction',
    '--allow-privileged=true',
    `--cert-dir=${join(opts.dir, 'apiserver-certs')}`,
    '--profiling=false',
    ...(opts.extraArgs ?? []),
  ], { name: 'kube-apiserver', logFile: join(opts.dir, 'kube-apiserver.log') });
  opts.teardown.add('kube-apiserver', () => apiserver.stop(), () => apiserver.kill());

  const timeoutMs = opts.readyTimeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    if (!apiserver.running) throw new Error(`kube-apiserver exited during start-up; log tail:\n${apiserver.output.slice(-4000)}`);
    if (!etcd.running) throw new Error(`etcd exited during start-up; log tail:\n${etcd.output.slice(-4000)}`);
    try {
      const res = await getReadyz(opts.forwardPort, opts.pki, opts.probeCert);
      if (res.status === 200) break;
      last = `HTTP ${res.status}: ${res.body.slice(-800)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(`kube-apiserver not ready within ${timeoutMs} ms (last /readyz: ${last}); log tail:\n${apiserver.output.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    etcd, apiserver,
    serverUrl: `https://${PLAN.controlPlane.ipv4}:${PLAN.apiserverPort}`,
    startupMs: Date.now() - started,
  };
}
