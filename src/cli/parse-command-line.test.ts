import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FLAGS } from './flags.ts';
import { parseCommandLine } from './parse-command-line.ts';
import type { CommandLine } from './parse-command-line.ts';

function run(argv: string[]): CommandLine {
  const r = parseCommandLine(argv, {});
  assert.equal(r.kind, 'run', r.kind === 'exit' ? r.output.split('\n')[0] : '');
  return (r as { options: CommandLine }).options;
}

function exit(argv: string[]): { code: number; first: string } {
  const r = parseCommandLine(argv, {});
  assert.equal(r.kind, 'exit', JSON.stringify(argv));
  const e = r as { code: number; output: string };
  return { code: e.code, first: e.output.split('\n')[0] };
}

test('parseCommandLine() accepts the flags of a stock kubeadm DaemonSet', () => {
  const o = run(['--config=/var/lib/kube-proxy/config.conf', '--hostname-override=Node-A ']);
  assert.equal(o.configFile, '/var/lib/kube-proxy/config.conf');
  assert.equal(o.hostnameOverride, 'node-a', 'trimmed and lowercased');
});

test('parseCommandLine() converts values as pflag does', () => {
  const o = run([
    '--oom-score-adj', '-500', '-v', '3', '--vmodule=proxier=4,sync*=5', '--nodeport-addresses=192.0.2.0/24,primary',
    '--nodeport-addresses', '2001:db8:1::/64', '--iptables-sync-period=1m', '--kube-api-qps=20.5', '--masquerade-all',
    '--feature-gates=A=true,B=false', '--iptables-localhost-nodeports=false', '--cleanup=1', '--master', 'https://192.0.2.10:6443',
  ]);
  assert.equal(o.flagConfig.oomScoreAdj, -500);
  assert.deepEqual(o.flagConfig.logging, { verbosity: 3, vmodule: [{ filePattern: 'proxier', verbosity: 4 }, { filePattern: 'sync*', verbosity: 5 }] });
  assert.deepEqual(o.flagConfig.nodePortAddresses, ['192.0.2.0/24', 'primary', '2001:db8:1::/64']);
  assert.equal(o.flagConfig.iptables?.syncPeriod, '1m0s');
  assert.equal(o.flagConfig.nftables?.syncPeriod, '1m0s', 'iptables sync flags feed the nftables section too');
  assert.equal(o.flagConfig.iptables?.masqueradeAll, true);
  assert.equal(o.flagConfig.nftables?.masqueradeAll, true);
  assert.equal(o.flagConfig.iptables?.localhostNodePorts, false);
  assert.equal(o.flagConfig.clientConnection?.qps, 20.5);
  assert.deepEqual(o.flagConfig.featureGates, { A: true, B: false });
  assert.equal(o.cleanup, true);
  assert.equal(o.master, 'https://192.0.2.10:6443');
  assert.deepEqual(o.loggingOverrides, o.flagConfig.logging);
});

test('parseCommandLine() accepts every -v spelling and lets the last repeat win', () => {
  for (const argv of [['-v=2'], ['-v', '2'], ['-v2'], ['--v=2'], ['--v', '2'], ['--v=1', '--v=2']]) {
    assert.equal(run(argv).flagConfig.logging?.verbosity, 2, argv.join(' '));
  }
});

test('parseCommandLine() builds BpfOptions from --bpf-* flags', () => {
  const o = run(['--bpf-lb-mode=dsr', '--bpf-lb-algorithm=maglev', '--bpf-maglev-table-size=251', '--bpf-xdp=off', '--bpf-socket-lb=host-namespace-only',
    '--bpf-devices=eth0,eth1', '--bpf-pin-path=/sys/fs/bpf/test', '--bpf-map-conntrack=1024', '--bpf-remove-stale-kube-proxy-rules=false',
    '--bpf-nodeport-snat-port-range=40000-41000']);
  assert.equal(o.bpf.lbMode, 'dsr');
  assert.equal(o.bpf.algorithm, 'maglev');
  assert.equal(o.bpf.maglevTableSize, 251);
  assert.equal(o.bpf.xdp, 'off');
  assert.equal(o.bpf.socketLB, 'host-namespace-only');
  assert.deepEqual(o.bpf.devices, ['eth0', 'eth1']);
  assert.equal(o.bpf.pinPath, '/sys/fs/bpf/test');
  assert.equal(o.bpf.mapSizes.conntrack, 1024);
  assert.equal(o.bpf.mapSizes.services, 65536);
  assert.deepEqual(o.bpf.mapSizesSet, ['conntrack'], 'only the sizes given on the command line are fixed; the others scale with the node');
  assert.equal(o.bpf.removeStaleKubeProxyRules, false);
  assert.deepEqual(o.bpf.nodePortSnatPortRange, { min: 40000, max: 41000 });
});

test('parseCommandLine() warns about deprecated and legacy flags', () => {
  const o = run(['--healthz-port=12345', '--logtostderr=true']);
  assert.deepEqual(o.warnings, [
    'Flag --healthz-port has been deprecated, This flag is deprecated and will be removed in a future release. Please use --healthz-bind-address instead.',
    "Flag --logtostderr has no effect: kube-proxy-bpf always logs to stderr in klog's text format",
  ]);
});

test('parseCommandLine() handles --help and --version with exit code 0', () => {
  assert.deepEqual(exit(['--help']).code, 0);
  assert.deepEqual(exit(['-h']).code, 0);
  assert.deepEqual(exit(['--version']), { code: 0, first: 'Kubernetes v1.37.2 (kube-proxy-bpf v0.1.0)' });
  assert.match(exit(['--version=raw']).first, /^version\.Info\{Major:"1", Minor:"37", GitVersion:"v1\.37\.2"/);
  assert.equal(run(['--version=false']).cleanup, false);
});

test('parseCommandLine() rejects bad command lines with exit code 1 and a usage error', () => {
  const table: [string[], string][] = [
    [['--foo'], 'Error: unknown flag: --foo'],
    [['--hostnameOverride=x'], 'Error: unknown flag: --hostnameOverride'],
    [['-x'], "Error: unknown shorthand flag: 'x' in -x"],
    [['--cleanup-iptables'], 'Error: unknown flag: --cleanup-iptables (removed from kube-proxy: use --cleanup)'],
    [['--proxy-port-range=30000-31000'], 'Error: unknown flag: --proxy-port-range (removed from kube-proxy: it belonged to the removed userspace proxy mode)'],
    [['--udp-timeout=250ms'], 'Error: unknown flag: --udp-timeout (removed from kube-proxy: it belonged to the removed userspace proxy mode)'],
    [['--resource-container=/kube-proxy'], 'Error: unknown flag: --resource-container (removed from kube-proxy: it was removed from kube-proxy)'],
    [['--cleanup', 'false'], 'Error: "kube-proxy" does not take any arguments, got ["false"]'],
    [['extra'], 'Error: "kube-proxy" does not take any arguments, got ["extra"]'],
    [['--kube-api-burst=ten'], 'Error: invalid argument "ten" for "--kube-api-burst" flag: strconv.ParseInt: parsing "ten": invalid syntax'],
    [['--iptables-masquerade-bit=99999999999'], 'Error: invalid argument "99999999999" for "--iptables-masquerade-bit" flag: strconv.ParseInt: parsing "99999999999": value out of range'],
    [['--cleanup=maybe'], 'Error: invalid argument "maybe" for "--cleanup" flag: strconv.ParseBool: parsing "maybe": invalid syntax'],
    [['--iptables-sync-period=30'], 'Error: invalid argument "30" for "--iptables-sync-period" flag: time: invalid duration "30"'],
    [['--feature-gates=A'], 'Error: invalid argument "A" for "--feature-gates" flag: missing bool value for A'],
    [['-v=-1'], 'Error: invalid argument "-1" for "-v, --v" flag: strconv.ParseInt: parsing "-1": invalid syntax'],
    [['--kubeconfig'], 'Error: flag needs an argument: --kubeconfig'],
    [['--version=full'], 'Error: invalid argument "full" for "--version" flag: strconv.ParseBool: parsing "full": invalid syntax'],
    [['--version=v1.36.0'], 'Error: invalid argument "v1.36.0" for "--version" flag: version "v1.36.0" must match major/minor/patch of default version "v1.37.2"'],
    [['--version=vbogus'], 'Error: invalid argument "vbogus" for "--version" flag: could not parse "vbogus" as version'],
    [['--bind-address=fe80::1%eth0'], 'Error: invalid argument "fe80::1%eth0" for "--bind-address" flag: "fe80::1%eth0" is not a valid IP address'],
  ];
  for (const [argv, want] of table) assert.deepEqual(exit(argv), { code: 1, first: want }, argv.join(' '));
});

test('every kube-proxy flag of spec §1 is present', () => {
  const names = new Set(FLAGS.map((f) => f.name));
  const spec = ['config', 'write-config-to', 'cleanup', 'init-only', 'feature-gates', 'version', 'help', 'kubeconfig', 'master',
    'kube-api-content-type', 'kube-api-qps', 'kube-api-burst', 'config-sync-period', 'hostname-override', 'bind-address',
    'healthz-bind-address', 'metrics-bind-address', 'bind-address-hard-fail', 'healthz-port', 'metrics-port', 'profiling',
    'show-hidden-metrics-for-version', 'oom-score-adj', 'proxy-mode', 'masquerade-all', 'cluster-cidr', 'nodeport-addresses',
    'detect-local-mode', 'pod-bridge-interface', 'pod-interface-name-prefix', 'iptables-sync-period', 'iptables-min-sync-period',
    'iptables-masquerade-bit', 'iptables-localhost-nodeports', 'ipvs-sync-period', 'ipvs-min-sync-period', 'ipvs-scheduler',
    'ipvs-exclude-cidrs', 'ipvs-strict-arp', 'ipvs-tcp-timeout', 'ipvs-tcpfin-timeout', 'ipvs-udp-timeout', 'conntrack-max-per-core',
    'conntrack-min', 'conntrack-tcp-timeout-established', 'conntrack-tcp-timeout-close-wait', 'conntrack-tcp-be-liberal',
    'conntrack-udp-timeout', 'conntrack-udp-timeout-stream', 'v', 'vmodule', 'logging-format', 'log-flush-frequency',
    'log-text-split-stream', 'log-text-info-buffer-size'];
  assert.deepEqual(spec.filter((n) => !names.has(n)), []);
});

test('parseCommandLine() follows upstream\'s details: `_` as `-`, an empty --hostname-override ignored, --version=vX.Y.Z, sloppy --bind-address', () => {
  assert.equal(run(['--hostname_override=Node-B']).hostnameOverride, 'node-b', 'pflag normalizes _ to -');
  assert.equal(run(['--add-dir-header']).explicit.has('add_dir_header'), true, 'klog flags also answer to their dashed names');
  const empty = run(['--hostname-override=']);
  assert.equal(empty.hostnameOverride, undefined);
  assert.equal(empty.flagConfig.hostnameOverride, undefined, 'an empty override leaves the config alone');
  assert.equal(run(['--version=v1.37.2-rc.1+abc']).versionOverride, 'v1.37.2-rc.1+abc', 'sets the reported version and runs');
  assert.equal(run(['--bind-address=010.001.002.003']).flagConfig.bindAddress, '010.001.002.003', 'ParseIPSloppy reads leading zeros as decimal');
});
