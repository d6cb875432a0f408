import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadEffectiveConfig } from './load-effective-config.ts';
import type { EffectiveConfig } from './load-effective-config.ts';
import { parseCommandLine } from './parse-command-line.ts';
import type { CommandLine } from './parse-command-line.ts';

const head = 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n';

function load(argv: string[], files: Record<string, string> = {}): EffectiveConfig {
  const r = parseCommandLine(argv, {});
  assert.equal(r.kind, 'run');
  return loadEffectiveConfig((r as { options: CommandLine }).options, (p) => {
    if (!(p in files)) throw new Error(`open ${p}: no such file or directory`);
    return files[p];
  });
}

test('loadEffectiveConfig() without --config uses the flags over the defaults plus platform defaults', () => {
  const { config } = load(['--proxy-mode=nftables', '--iptables-min-sync-period=0s', '--cluster-cidr=198.18.0.0/16', '--bind-address=2001:db8:1::11']);
  assert.equal(config.mode, 'nftables');
  assert.deepEqual(config.nodePortAddresses, ['primary'], 'nftables defaults nodePortAddresses to primary');
  assert.equal(config.detectLocalMode, 'ClusterCIDR');
  assert.equal(config.nftables.minSyncPeriod, '1s', 'v1alpha1 defaulting treats 0s as unset, as upstream');
  // As upstream: the flags start from a configuration defaulted for 0.0.0.0, so --bind-address=::
  // alone leaves the servers on IPv4 (only a config file's bindAddress moves them).
  assert.equal(config.healthzBindAddress, '0.0.0.0:10256');
  assert.equal(config.metricsBindAddress, '127.0.0.1:10249');
});

test('loadEffectiveConfig() applies the deprecated port flags and empty addresses only without --config', () => {
  assert.equal(load(['--healthz-port=12345']).config.healthzBindAddress, '0.0.0.0:12345');
  assert.equal(load(['--healthz-bind-address=192.0.2.11', '--healthz-port=0']).config.healthzBindAddress, '');
  assert.equal(load(['--healthz-bind-address=192.0.2.11:1234', '--healthz-port=99']).config.healthzBindAddress, '192.0.2.11:1234');
  assert.equal(load(['--metrics-bind-address=']).config.metricsBindAddress, '', 'an empty address disables the server');
  const withFile = load(['--config=/c', '--healthz-port=12345', '--metrics-bind-address='], { '/c': head });
  assert.equal(withFile.config.healthzBindAddress, '0.0.0.0:10256');
  assert.equal(withFile.config.metricsBindAddress, '127.0.0.1:10249');
  assert.ok(withFile.warnings.includes('Flag --healthz-port is ignored because --config is set'));
});

test('loadEffectiveConfig() with --config lets the file win except hostname and logging flags', () => {
  const files = { '/c': `${head}hostnameOverride: from-file\nclusterCIDR: 198.18.0.0/16\nlogging:\n  verbosity: 1\n  vmodule:\n  - filePattern: proxier\n    verbosity: 2\n  - filePattern: runner\n    verbosity: 3\n` };
  const { config, warnings } = load(['--config=/c', '--cluster-cidr=203.0.113.0/24', '--hostname-override=From-Flag', '-v=4', '--vmodule=runner=5,sync=6', '--feature-gates=X=true'], files);
  assert.equal(config.clusterCIDR, '198.18.0.0/16');
  assert.equal(config.hostnameOverride, 'from-flag');
  assert.equal(config.logging.verbosity, 4);
  assert.deepEqual(config.logging.vmodule, [
    { filePattern: 'proxier', verbosity: 2 },
    { filePattern: 'runner', verbosity: 5 },
    { filePattern: 'sync', verbosity: 6 },
  ]);
  assert.deepEqual(config.featureGates, {}, '--feature-gates is ignored with --config');
  assert.deepEqual(warnings, [
    'Flag --feature-gates is ignored because --config is set; set it in the config file instead',
    'Flag --cluster-cidr is ignored because --config is set; set it in the config file instead',
  ]);
});

test('loadEffectiveConfig() reports lenient decoding and fails on unreadable, undecodable or invalid input', () => {
  assert.equal(load(['--config=/c'], { '/c': `${head}udpIdleTimeout: 250ms\n` }).strictDecodingError, 'strict decoding error: unknown field "udpIdleTimeout"');
  const table: [string[], Record<string, string>, string][] = [
    [['--config=/missing'], {}, 'failed complete: Cannot read config file "/missing": open /missing: no such file or directory'],
    [['--config=/c'], { '/c': 'kind: KubeProxyConfiguration\n' }, `failed complete: Cannot load config file "/c": Cannot decode KubeProxyConfiguration: Object 'apiVersion' is missing`],
    [['--config=/c'], { '/c': `${head}iptables:\n  masqueradeBit: 40\n` }, 'failed validate: KubeProxyConfiguration.iptables.masqueradeBit: Invalid value: 40: must be within the range [0, 31]'],
    [['--iptables-masquerade-bit=32'], {}, 'failed validate: [KubeProxyConfiguration.iptables.masqueradeBit: Invalid value: 32: must be within the range [0, 31], KubeProxyConfiguration.nftables.masqueradeBit: Invalid value: 32: must be within the range [0, 31]]'],
    [['--proxy-mode=userspace'], {}, 'failed validate: KubeProxyConfiguration.mode: Unsupported value: "userspace": supported values: "iptables", "ipvs", "nftables"'],
    [['--bpf-maglev-table-size=1000'], {}, 'failed validate: --bpf-maglev-table-size: Invalid value: 1000: must be a prime number no larger than 65537 (e.g. 251, 16381, 65521)'],
  ];
  for (const [argv, files, want] of table) {
    assert.throws(() => load(argv, files), (e: unknown) => e instanceof ConfigError && e.message === want, want);
  }
});
