import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decodeKubeProxyConfiguration } from './decode-kube-proxy-configuration.ts';
import { defaultKubeProxyConfiguration } from './defaults.ts';
import { encodeKubeProxyConfiguration } from './encode-kube-proxy-configuration.ts';
import { KUBE_PROXY_BPF_VERSION } from './version.ts';

test('encodeKubeProxyConfiguration() writes sorted v1alpha1 YAML that decodes back strictly to the same config', () => {
  const c = defaultKubeProxyConfiguration();
  c.clusterCIDR = '198.18.0.0/16';
  c.showHiddenMetricsForVersion = '1.36';
  const text = encodeKubeProxyConfiguration(c);
  assert.match(text, /^apiVersion: kubeproxy\.config\.k8s\.io\/v1alpha1\nbindAddress: 0\.0\.0\.0\n/);
  assert.match(text, /\nkind: KubeProxyConfiguration\n/);
  assert.match(text, /\n {2}syncPeriod: 30s\n/);
  assert.match(text, /\nnodePortAddresses: null\n/);
  assert.match(text, /\nhostnameOverride: ""\n/);
  const back = decodeKubeProxyConfiguration(text);
  assert.equal(back.strictError, undefined);
  assert.deepEqual(back.config, c);
});

test('KUBE_PROXY_BPF_VERSION matches package.json', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  assert.equal(KUBE_PROXY_BPF_VERSION, pkg.version);
});
