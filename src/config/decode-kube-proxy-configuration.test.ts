import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ConfigDecodeError, decodeKubeProxyConfiguration } from './decode-kube-proxy-configuration.ts';
import { defaultKubeProxyConfiguration } from './defaults.ts';

const kubeadm = readFileSync(new URL('./testdata/kubeadm-config.conf', import.meta.url), 'utf8');
const head = 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n';

test('decodeKubeProxyConfiguration() reads kubeadm config.conf strictly and defaults its zero values', () => {
  const { config, strictError } = decodeKubeProxyConfiguration(kubeadm);
  assert.equal(strictError, undefined);
  assert.equal(config.clientConnection.kubeconfig, '/var/lib/kube-proxy/kubeconfig.conf');
  assert.equal(config.clientConnection.qps, 5);
  assert.equal(config.clientConnection.burst, 10);
  assert.equal(config.clientConnection.contentType, 'application/vnd.kubernetes.protobuf');
  assert.equal(config.healthzBindAddress, '0.0.0.0:10256');
  assert.equal(config.metricsBindAddress, '127.0.0.1:10249');
  assert.equal(config.iptables.masqueradeBit, 14);
  assert.equal(config.iptables.syncPeriod, '30s');
  assert.equal(config.iptables.minSyncPeriod, '1s');
  assert.equal(config.conntrack.maxPerCore, 32768);
  assert.equal(config.conntrack.tcpEstablishedTimeout, '24h0m0s');
  assert.equal(config.oomScoreAdj, -999);
  assert.equal(config.configSyncPeriod, '15m0s');
  assert.equal(config.logging.flushFrequency, '5s');
  assert.equal(config.mode, 'iptables');
  assert.equal(config.clusterCIDR, '198.18.0.0/16');
});

test('decodeKubeProxyConfiguration() of the minimal document equals the defaults', () => {
  assert.deepEqual(decodeKubeProxyConfiguration(head).config, defaultKubeProxyConfiguration());
});

test('decodeKubeProxyConfiguration() reads JSON too', () => {
  const { config } = decodeKubeProxyConfiguration(
    JSON.stringify({ apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', kind: 'KubeProxyConfiguration', mode: 'nftables', oomScoreAdj: 0 }),
  );
  assert.equal(config.mode, 'nftables');
  assert.equal(config.oomScoreAdj, 0, 'pointer fields keep an explicit zero');
});

test('decodeKubeProxyConfiguration() falls back to lenient decoding for unknown and duplicate fields', () => {
  const { config, strictError } = decodeKubeProxyConfiguration(
    `${head}udpIdleTimeout: 250ms\nconntrack:\n  max: 5\n  min: 7\nbindAddress: 192.0.2.1\nbindAddress: 192.0.2.11\n`,
  );
  assert.equal(
    strictError,
    'strict decoding error: unknown field "udpIdleTimeout", unknown field "conntrack.max", duplicate field "bindAddress"',
  );
  assert.equal(config.conntrack.min, 7);
  assert.equal(config.bindAddress, '192.0.2.11', 'the last duplicate wins');
});

test('decodeKubeProxyConfiguration() canonicalises durations and converts plain scalars for string fields', () => {
  const { config } = decodeKubeProxyConfiguration(`${head}configSyncPeriod: 60m\nshowHiddenMetricsForVersion: 1.36\nlogging:\n  flushFrequency: 2000000000\n`);
  assert.equal(config.configSyncPeriod, '1h0m0s');
  assert.equal(config.showHiddenMetricsForVersion, '1.36');
  assert.equal(config.logging.flushFrequency, '2s');
});

test('decodeKubeProxyConfiguration() fails on what kube-proxy treats as fatal', () => {
  const table: [string, RegExp][] = [
    ['mode: [iptables', /Cannot parse KubeProxyConfiguration/],
    ['bindAddress: 0.0.0.0\n', /'Kind' is missing/],
    ['kind: KubeProxyConfiguration\n', /'apiVersion' is missing/],
    ['apiVersion: kubeproxy.config.k8s.io/v1alpha2\nkind: KubeProxyConfiguration\n', /no kind "KubeProxyConfiguration" is registered for version "kubeproxy.config.k8s.io\/v1alpha2"/],
    ['apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeletConfiguration\n', /no kind "KubeletConfiguration"/],
    [`${head}iptables:\n  masqueradeBit: fourteen\n`, /cannot unmarshal string into field "iptables.masqueradeBit" of type int32/],
    [`${head}iptables:\n  masqueradeAll: "true"\n`, /field "iptables.masqueradeAll" of type bool/],
    [`${head}iptables:\n  syncPeriod: 30\n`, /field "iptables.syncPeriod" of type Duration/],
    [`${head}iptables:\n  syncPeriod: soon\n`, /field "iptables.syncPeriod": time: invalid duration "soon"/],
    [`${head}oomScoreAdj: 4294967296\n`, /field "oomScoreAdj" of type int32/],
    [`${head}nodePortAddresses: primary\n`, /field "nodePortAddresses" of type \[\]string/],
  ];
  for (const [text, want] of table) {
    assert.throws(() => decodeKubeProxyConfiguration(text), (e: unknown) => e instanceof ConfigDecodeError && want.test(e.message), text);
  }
});

test('decodeKubeProxyConfiguration() reads the first document, as upstream (a trailing `---` is fine)', () => {
  assert.equal(decodeKubeProxyConfiguration(`${head}mode: ipvs\n---\n`).config.mode, 'ipvs');
  assert.equal(decodeKubeProxyConfiguration(`---\n${head}mode: nftables\n---\nkind: Other\n`).config.mode, 'nftables');
});
