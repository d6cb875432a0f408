import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubeProxyUserAgent, loadKubeConfig } from './kube-config.ts';

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- name: c1
  cluster:
    server: https://192.0.2.10:6443
    insecure-skip-tls-verify: true
users:
- name: u1
  user:
    token: abc
contexts:
- name: ctx
  context: { cluster: c1, user: u1 }
current-context: ctx
`;

function withFile(t: { after(fn: () => void): void }, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'kpb-kubeconfig-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const p = join(dir, 'kubeconfig');
  writeFileSync(p, text);
  return p;
}

test('loadKubeConfig reads the kubeconfig file', (t) => {
  const kc = loadKubeConfig({ kubeconfig: withFile(t, KUBECONFIG), env: {} });
  assert.equal(kc.getCurrentCluster()?.server, 'https://192.0.2.10:6443');
  assert.equal(kc.getCurrentUser()?.token, 'abc');
});

test('loadKubeConfig lets --master override the kubeconfig server and keeps its credentials', (t) => {
  const kc = loadKubeConfig({ kubeconfig: withFile(t, KUBECONFIG), master: 'https://192.0.2.20:6443', env: {} });
  assert.equal(kc.getCurrentCluster()?.server, 'https://192.0.2.20:6443');
  assert.equal(kc.getCurrentCluster()?.skipTLSVerify, true);
  assert.equal(kc.getCurrentUser()?.token, 'abc');
});

test('loadKubeConfig with --master alone builds a credential-less config, https by default', () => {
  const kc = loadKubeConfig({ master: '192.0.2.10:6443', env: {} });
  assert.equal(kc.getCurrentCluster()?.server, 'https://192.0.2.10:6443');
  assert.equal(loadKubeConfig({ master: 'http://127.0.0.1:8080', env: {} }).getCurrentCluster()?.server, 'http://127.0.0.1:8080');
});

test('loadKubeConfig uses the in-cluster config when neither flag is given', () => {
  const saved = { h: process.env.KUBERNETES_SERVICE_HOST, p: process.env.KUBERNETES_SERVICE_PORT };
  process.env.KUBERNETES_SERVICE_HOST = '2001:db8:20::1';
  process.env.KUBERNETES_SERVICE_PORT = '443';
  try {
    const kc = loadKubeConfig({});
    assert.equal(kc.getCurrentCluster()?.server, 'https://[2001:db8:20::1]:443');
    assert.equal(kc.getCurrentCluster()?.caFile, '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt');
  } finally {
    if (saved.h === undefined) delete process.env.KUBERNETES_SERVICE_HOST; else process.env.KUBERNETES_SERVICE_HOST = saved.h;
    if (saved.p === undefined) delete process.env.KUBERNETES_SERVICE_PORT; else process.env.KUBERNETES_SERVICE_PORT = saved.p;
  }
});

test('loadKubeConfig explains why no configuration can be built', (t) => {
  assert.throws(() => loadKubeConfig({ env: {} }), /neither --kubeconfig nor --master is set, and KUBERNETES_SERVICE_HOST/);
  assert.throws(() => loadKubeConfig({ kubeconfig: '/nonexistent/kubeconfig', env: {} }), /Cannot load kubeconfig "\/nonexistent\/kubeconfig": /);
  const noCluster = withFile(t, 'apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: []\n');
  assert.throws(() => loadKubeConfig({ kubeconfig: noCluster, env: {} }), /names no cluster/);
  assert.equal(loadKubeConfig({ kubeconfig: noCluster, master: 'https://192.0.2.10:6443', env: {} }).getCurrentCluster()?.server, 'https://192.0.2.10:6443');
});

test('kubeProxyUserAgent starts with kube-proxy/<version>', () => {
  assert.match(kubeProxyUserAgent('v1.37.0', 'abc123'), /^kube-proxy\/v1\.37\.0 \(linux\/(amd64|arm64|[a-z0-9]+)\) kube-proxy-bpf\/abc123$/);
});

test('KubeClientConfig.applyToHTTPSOptions() resolves relative files, reads token files per call and refuses plugins', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kpb-kubeconfig-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'ca.crt'), 'CA');
  writeFileSync(join(dir, 'token'), 'tok1\n');
  const file = join(dir, 'kubeconfig');
  writeFileSync(file, `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "https://192.0.2.10:6443", certificate-authority: ca.crt, tls-server-name: api } }]
users: [{ name: u, user: { tokenFile: token, client-certificate-data: ${Buffer.from('CERT').toString('base64')} } }, { name: x, user: { exec: { command: aws } } }]
contexts: [{ name: a, context: { cluster: c, user: u } }, { name: b, context: { cluster: c, user: x } }]
current-context: a
`);
  const opts: Record<string, unknown> = {};
  await loadKubeConfig({ kubeconfig: file, env: {} }).applyToHTTPSOptions(opts);
  assert.equal(String(opts.ca), 'CA');
  assert.equal(String(opts.cert), 'CERT');
  assert.equal(opts.servername, 'api');
  assert.deepEqual(opts.headers, { Authorization: 'Bearer tok1' });
  writeFileSync(join(dir, 'token'), 'tok2\n');
  const again: Record<string, unknown> = {};
  await loadKubeConfig({ kubeconfig: file, env: {} }).applyToHTTPSOptions(again);
  assert.deepEqual(again.headers, { Authorization: 'Bearer tok2' });
  writeFileSync(file, readFileSync(file, 'utf8').replace('current-context: a', 'current-context: b'));
  await assert.rejects(loadKubeConfig({ kubeconfig: file, env: {} }).applyToHTTPSOptions({}), /exec credential plugins are not supported/);
});
