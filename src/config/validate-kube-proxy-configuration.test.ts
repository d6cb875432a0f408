import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultKubeProxyConfiguration } from './defaults.ts';
import { formatFieldErrors } from './field-error.ts';
import type { KubeProxyConfiguration } from './types.ts';
import { validateKubeProxyConfiguration, validateLoggingConfiguration } from './validate-kube-proxy-configuration.ts';
import { featureGateLookup } from './feature-gates.ts';

type Case = [name: string, mutate: (c: KubeProxyConfiguration) => void, want: string];

const cases: Case[] = [
  ['masqueradeBit above 31', (c) => (c.iptables.masqueradeBit = 40), 'KubeProxyConfiguration.iptables.masqueradeBit: Invalid value: 40: must be within the range [0, 31]'],
  ['nftables masqueradeBit below 0', (c) => (c.nftables.masqueradeBit = -1), 'KubeProxyConfiguration.nftables.masqueradeBit: Invalid value: -1: must be within the range [0, 31]'],
  ['minSyncPeriod above syncPeriod', (c) => (c.iptables.minSyncPeriod = '1m0s'),
    'KubeProxyConfiguration.iptables.minSyncPeriod: Invalid value: "1m0s": must be less than or equal to KubeProxyConfiguration.iptables.syncPeriod'],
  ['nftables mode checks its own section', (c) => ((c.mode = 'nftables'), (c.nftables.syncPeriod = '-1s')),
    'KubeProxyConfiguration.nftables.syncPeriod: Invalid value: "-1s": must be greater than 0'],
  ['negative conntrack', (c) => (c.conntrack.min = -1), 'KubeProxyConfiguration.conntrack.min: Invalid value: -1: must be greater than or equal to 0'],
  ['negative conntrack timeout', (c) => (c.conntrack.udpTimeout = '-5s'), 'KubeProxyConfiguration.conntrack.udpTimeout: Invalid value: "-5s": must be greater than or equal to 0'],
  ['oomScoreAdj out of range', (c) => (c.oomScoreAdj = 1001), 'KubeProxyConfiguration.oomScoreAdj: Invalid value: 1001: must be within the range [-1000, 1000]'],
  ['configSyncPeriod zero', (c) => (c.configSyncPeriod = '0s'), 'KubeProxyConfiguration.configSyncPeriod: Invalid value: "0s": must be greater than 0'],
  ['negative burst', (c) => (c.clientConnection.burst = -1), 'KubeProxyConfiguration.clientConnection.burst: Invalid value: -1: must be greater than or equal to 0'],
  ['bindAddress not an IP', (c) => (c.bindAddress = 'node-a'), 'KubeProxyConfiguration.bindAddress: Invalid value: "node-a": not a valid textual representation of an IP address'],
  ['healthz without port', (c) => (c.healthzBindAddress = 'localhost'), 'KubeProxyConfiguration.healthzBindAddress: Invalid value: "localhost": must be IP:port'],
  ['metrics with bad port', (c) => (c.metricsBindAddress = '127.0.0.1:70000'), 'KubeProxyConfiguration.metricsBindAddress: Invalid value: "70000": must be a valid port'],
  ['clusterCIDR not a CIDR', (c) => (c.clusterCIDR = '198.18.0.0'),
    'KubeProxyConfiguration.clusterCIDR: Invalid value: "198.18.0.0": must be a valid CIDR block (e.g. 10.100.0.0/16 or fde4:8dba:82e1::/48)'],
  ['clusterCIDR two of one family', (c) => (c.clusterCIDR = '198.18.0.0/16,198.19.0.0/16'),
    'KubeProxyConfiguration.clusterCIDR: Invalid value: "198.18.0.0/16,198.19.0.0/16": must be a valid DualStack CIDR (e.g. 10.100.0.0/16,fde4:8dba:82e1::/48)'],
  ['clusterCIDR three', (c) => (c.clusterCIDR = '198.18.0.0/16,2001:db8::/56,198.19.0.0/16'),
    'KubeProxyConfiguration.clusterCIDR: Invalid value: "198.18.0.0/16,2001:db8::/56,198.19.0.0/16": only one CIDR allowed or a valid DualStack CIDR (e.g. 10.100.0.0/16,fde4:8dba:82e1::/48)'],
  ['nodePortAddresses bad entry', (c) => (c.nodePortAddresses = ['primary', 'eth0']),
    'KubeProxyConfiguration.nodePortAddresses[1]: Invalid value: "eth0": must be a valid CIDR or one of "primary", "localhost", "all"'],
  ['unknown mode', (c) => (c.mode = 'userspace'), 'KubeProxyConfiguration.mode: Unsupported value: "userspace": supported values: "iptables", "ipvs", "nftables"'],
  ['unknown detectLocalMode', (c) => (c.detectLocalMode = 'Pods'),
    'KubeProxyConfiguration.detectLocalMode: Unsupported value: "Pods": supported values: "ClusterCIDR", "NodeCIDR", "BridgeInterface", "InterfaceNamePrefix"'],
  ['BridgeInterface without a bridge', (c) => (c.detectLocalMode = 'BridgeInterface'),
    'KubeProxyConfiguration.detectLocal.bridgeInterface: Required value: must not be empty when detectLocalMode is BridgeInterface'],
  // Upstream leaves the scheduler name to the kernel.
  ['ipvs scheduler', (c) => ((c.mode = 'ipvs'), (c.ipvs.scheduler = 'fifo')), '[]'],
  ['sloppy IPv4', (c) => (c.bindAddress = '010.001.002.003'), '[]'],
  ['IPv6 zone', (c) => (c.bindAddress = 'fe80::1%eth0'), 'KubeProxyConfiguration.bindAddress: Invalid value: "fe80::1%eth0": not a valid textual representation of an IP address'],
  ['excludeCIDRs', (c) => (c.ipvs.excludeCIDRs = ['x']), 'KubeProxyConfiguration.ipvs.excludeCIDRs[0]: Invalid value: "x": must be a valid CIDR'],
  ['hidden metrics version', (c) => (c.showHiddenMetricsForVersion = '1.30'),
    "KubeProxyConfiguration.showHiddenMetricsForVersion: Invalid value: \"1.30\": must be omitted or have the value '1.36': only the previous minor version is allowed"],
  ['bad feature gate name', (c) => (c.featureGates = { 'not a gate': true }), 'KubeProxyConfiguration.featureGates: Invalid value: "not a gate": unrecognized feature gate'],
  ['unknown feature gate', (c) => (c.featureGates = { NoSuchGate: true }), 'KubeProxyConfiguration.featureGates: Invalid value: "NoSuchGate": unrecognized feature gate'],
];

test('validateKubeProxyConfiguration() accepts the defaults and common valid values', () => {
  assert.deepEqual(validateKubeProxyConfiguration(defaultKubeProxyConfiguration()), []);
  const c = defaultKubeProxyConfiguration();
  Object.assign(c, { clusterCIDR: '198.18.0.0/16,2001:db8:10::/56', nodePortAddresses: ['primary', '192.0.2.0/24'], healthzBindAddress: '', showHiddenMetricsForVersion: '1.36' });
  c.metricsBindAddress = '[::1]:10249';
  c.featureGates = { NFTablesProxyMode: true, AllAlpha: false };
  assert.deepEqual(validateKubeProxyConfiguration(c), []);
});

test('validateKubeProxyConfiguration() names the field and the reason', () => {
  for (const [name, mutate, want] of cases) {
    const c = defaultKubeProxyConfiguration();
    mutate(c);
    assert.equal(formatFieldErrors(validateKubeProxyConfiguration(c)), want, name);
  }
});

test('formatFieldErrors() brackets several errors like an aggregate', () => {
  const c = defaultKubeProxyConfiguration();
  c.oomScoreAdj = 2000;
  c.iptables.masqueradeBit = 32;
  assert.match(formatFieldErrors(validateKubeProxyConfiguration(c)), /^\[.*masqueradeBit.*, .*oomScoreAdj.*\]$/);
});

test('validateLoggingConfiguration() allows json (LoggingBetaOptions) and gates the split-stream options on LoggingAlphaOptions', () => {
  const table: [string, (c: ReturnType<typeof defaultKubeProxyConfiguration>) => void, Record<string, boolean>, string][] = [
    ['json', (c) => (c.logging.format = 'json'), {}, ''],
    ['xml', (c) => (c.logging.format = 'xml'), {}, 'logging.format: Invalid value: "xml": Unsupported log format'],
    ['json without beta', (c) => (c.logging.format = 'json'), { LoggingBetaOptions: false }, 'logging.format: Invalid value: "json": Unsupported log format'],
    ['split stream', (c) => (c.logging.options.json.splitStream = true), {}, 'logging.options.json.splitStream: Forbidden: Feature LoggingAlphaOptions is disabled'],
    ['buffer', (c) => (c.logging.options.text.infoBufferSize = '1Ki'), {}, 'logging.options.text.infoBufferSize: Forbidden: Feature LoggingAlphaOptions is disabled'],
    ['split stream with alpha', (c) => ((c.logging.options.text.splitStream = true), (c.logging.options.text.infoBufferSize = '1Ki')), { LoggingAlphaOptions: true }, ''],
  ];
  for (const [name, mutate, gates, want] of table) {
    const c = defaultKubeProxyConfiguration();
    mutate(c);
    const errs = validateLoggingConfiguration(c, featureGateLookup(gates));
    assert.equal(errs.length === 0 ? '' : formatFieldErrors(errs), want, name);
  }
});
