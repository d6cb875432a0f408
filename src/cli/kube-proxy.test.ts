/*
 * Starts the real entry point as a child process for every path that ends before the proxy runs:
 * --version, --help, usage errors, --write-config-to with kubeadm's ConfigMap, lenient decoding,
 * invalid values, and --cleanup (inside a throwaway network namespace; needs root).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeKubeProxyConfiguration } from '../config/decode-kube-proxy-configuration.ts';

const entry = fileURLToPath(new URL('./kube-proxy.ts', import.meta.url));
const kubeadmConfig = fileURLToPath(new URL('../config/testdata/kubeadm-config.conf', import.meta.url));

function kubeProxy(args: string[], prefix: string[] = []) {
  const argv = [...prefix, process.execPath, entry, ...args];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'kpb-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('kube-proxy --version prints the Kubernetes version it stands in for', () => {
  assert.deepEqual(kubeProxy(['--version']), { code: 0, stdout: 'Kubernetes v1.37.2 (kube-proxy-bpf v0.1.0)\n', stderr: '' });
});

test('kube-proxy --help documents kube-proxy flags and the --bpf-* flags', () => {
  const r = kubeProxy(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /\n {6}--hostname-override string +If non-empty/);
  assert.match(r.stdout, /\n {2}-v, --v Level +number for the log level verbosity/);
  assert.match(r.stdout, /\n {6}--bpf-lb-mode string +How NodePort/);
  assert.match(r.stdout, /\n {6}--bpf-maglev-table-size int32 +.*\(default 16381\)/);
  assert.doesNotMatch(r.stdout, /--healthz-port/, 'deprecated flags are hidden, as pflag hides them');
});

test('kube-proxy rejects an unknown flag with a usage error and exit code 1', () => {
  const r = kubeProxy(['--no-such-flag']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^Error: unknown flag: --no-such-flag\n/);
  assert.match(r.stderr, /\nUsage:\n {2}kube-proxy \[flags\]\n/);
});

test('kube-proxy --write-config-to decodes, validates and writes kubeadm\'s config.conf', (t) => {
  const out = join(tempDir(t), 'effective.yaml');
  const r = kubeProxy([`--config=${kubeadmConfig}`, '--hostname-override=Node-A', `--write-config-to=${out}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^I\d{4} .* kube-proxy\.ts:\d+\] "Wrote configuration" file=".*effective\.yaml"\n$/);
  const { config, strictError } = decodeKubeProxyConfiguration(readFileSync(out, 'utf8'));
  assert.equal(strictError, undefined, 'the written file decodes strictly');
  assert.equal(config.hostnameOverride, 'node-a');
  assert.equal(config.mode, 'iptables');
  assert.equal(config.clusterCIDR, '198.18.0.0/16');
  assert.equal(config.clientConnection.kubeconfig, '/var/lib/kube-proxy/kubeconfig.conf');
  assert.equal(config.detectLocalMode, 'ClusterCIDR');
});

test('kube-proxy warns about unknown config fields and continues', (t) => {
  const dir = tempDir(t);
  const conf = join(dir, 'config.conf');
  writeFileSync(conf, `${readFileSync(kubeadmConfig, 'utf8')}udpIdleTimeout: 250ms\nconntrack:\n  max: 0\n`);
  const out = join(dir, 'effective.yaml');
  const r = kubeProxy([`--config=${conf}`, `--write-config-to=${out}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /"Using lenient decoding as strict decoding failed" err="strict decoding error: unknown field \\"udpIdleTimeout\\", duplicate field \\"conntrack\\", unknown field \\"conntrack.max\\""/);
  const { config } = decodeKubeProxyConfiguration(readFileSync(out, 'utf8'));
  // As with sigs.k8s.io/yaml, the last duplicate replaces the whole value; defaults refill it.
  assert.equal(config.conntrack.maxPerCore, 32768);
});

test('kube-proxy refuses an invalid config value, naming the field', (t) => {
  const conf = join(tempDir(t), 'config.conf');
  writeFileSync(conf, readFileSync(kubeadmConfig, 'utf8').replace('  masqueradeBit: null\n  minSyncPeriod: 0s\n  syncPeriod: 0s\nipvs', '  masqueradeBit: 40\n  minSyncPeriod: 0s\n  syncPeriod: 0s\nipvs'));
  const r = kubeProxy([`--config=${conf}`, '--write-config-to=/dev/null']);
  assert.equal(r.code, 1);
  // Logging has started by then, so upstream reports it as one klog line, no stack trace.
  assert.match(r.stderr, /^E\d{4} [\d:.]+ +\d+ kube-proxy\.ts:\d+\] "command failed" err="failed validate: KubeProxyConfiguration\.iptables\.masqueradeBit: Invalid value: 40: must be within the range \[0, 31\]"\n$/);
});

test('kube-proxy --cleanup removes kube-proxy rules in its network namespace and exits 0', (t) => {
  assert.equal(process.getuid?.(), 0, 'this test needs root to create a network namespace');
  const ns = `kpb-cleanup-${process.pid}-cli`;
  execFileSync('ip', ['netns', 'add', ns]);
  t.after(() => execFileSync('ip', ['netns', 'del', ns]));
  const rules = readFileSync(new URL('../cleanup/testdata/kube-proxy-iptables-v4.rules', import.meta.url), 'utf8');
  execFileSync('ip', ['netns', 'exec', ns, 'iptables-restore', '--noflush'], { input: rules });
  const pinPath = join(tempDir(t), 'no-pins-yet');
  const r = kubeProxy(['--cleanup', `--bpf-pin-path=${pinPath}`], ['ip', 'netns', 'exec', ns]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /"Removed kube-proxy state" item="iptables-nft nat chain KUBE-SERVICES"/);
  const after = execFileSync('ip', ['netns', 'exec', ns, 'iptables-save'], { encoding: 'utf8' });
  assert.doesNotMatch(after, /KUBE-SERVICES|KUBE-SVC-|KUBE-SEP-/);
  assert.match(after, /-A USER-CHAIN -s 192\.0\.2\.100\/32 -j ACCEPT/);
});

test('kube-proxy logs Node warnings and crashes as klog lines (no "(node:pid)" lines, no stack)', (t) => {
  const dir = tempDir(t);
  // A preloaded module emits a warning and throws later, as a dependency might.
  const preload = join(dir, 'misbehave.mjs');
  writeFileSync(preload, "setTimeout(() => process.emitWarning('something odd', 'DeprecationWarning', 'DEP0999'), 0);\nsetTimeout(() => { throw new Error('boom from a timer'); }, 50);\n");
  // --write-config-to: the entry never starts the proxy (no sysctl or map is touched); the pending
  // timers keep the process alive until the warning and the throw.
  const s = spawnSync(process.execPath, ['--import', preload, entry, `--write-config-to=${join(dir, 'out.yaml')}`], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(s.status, 1, s.stderr);
  const lines = s.stderr.trim().split('\n');
  for (const l of lines) assert.match(l, /^[IWEF]\d{4} [\d:.]+ +\d+ [^ \]]+:\d+\] "/, `not a klog line: ${l}`);
  assert.ok(lines.some((l) => /^W.*"Node\.js warning" name="DeprecationWarning" warning="something odd"/.test(l)), s.stderr);
  assert.ok(lines.some((l) => /^E.*"Unhandled error" err="boom from a timer"/.test(l)), s.stderr);
});
