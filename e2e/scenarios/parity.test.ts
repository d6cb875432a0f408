// Drop-in parity, measured side by side with upstream kube-proxy v1.37.2 (.cache/k8s/bin/kube-proxy,
// built by `make k8s`): the command line and config file details (each written out with
// --write-config-to by both and compared), then both running on node-b against the real apiserver
// (upstream first, ours after it): /flagz, /statusz, /healthz?verbose, kubernetes_build_info,
// kubernetes_feature_enabled. Then ours alone: the conntrack sysctls in the node namespace, a
// klog-only log (and JSON lines with --logging-format=json), and `kube-proxy inspect` against the
// running agent. (The BPF conntrack lifetimes from the same settings: conntrack-timeout.test.ts.)
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { agentCommand } from '../cluster/agent.ts';
import { startCluster, type Cluster } from '../cluster/cluster.ts';
import { endpointSliceFor } from '../cluster/endpoint-slice.ts';
import { runIn } from '../cluster/proc.ts';
import { run } from '../cluster/run.ts';
import { echo, startEchoServer } from '../cluster/workload.ts';
import { KUBE_PROXY_BIN, startUpstream } from '../bench/upstream.ts';
import { eventually, startReadyAgent } from './support.ts';

const NS = 'kpb-parity';
const PORT = 8080;
const KLOG_LINE = /^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ [^ \]]+:\d+\] "/;

function requireUpstream(): void {
  assert.ok(existsSync(KUBE_PROXY_BIN), `upstream kube-proxy is missing at ${KUBE_PROXY_BIN}: run "make k8s"`);
}

/** Runs a kube-proxy binary with --write-config-to and returns the written file, decoded. */
async function writtenConfig(cmd: string[], args: string[], dir: string, tag: string): Promise<{ code: number; config: Record<string, unknown> | null; stderr: string }> {
  const out = join(dir, `${tag}.yaml`);
  rmSync(out, { force: true });
  const r = await run([...cmd, ...args, `--write-config-to=${out}`], { allowFailure: true, timeoutMs: 60_000 });
  return { code: r.code, config: existsSync(out) ? (parseYaml(readFileSync(out, 'utf8')) as Record<string, unknown>) : null, stderr: r.stderr };
}

describe('command line and config file, next to upstream kube-proxy', () => {
  let dir = '';
  before(() => {
    requireUpstream();
    dir = mkdtempSync(join(tmpdir(), 'kpb-parity-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const CASES: { name: string; args: string[]; file?: string; fields: string[] }[] = [
    { name: 'a config file ending in ---', args: [], file: 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: ipvs\nipvs:\n  scheduler: bogus\n---\n', fields: ['mode', 'ipvs.scheduler'] },
    { name: '--hostname_override (underscore)', args: ['--hostname_override=Node-X'], fields: ['hostnameOverride'] },
    { name: 'an empty --hostname-override', args: ['--hostname-override='], fields: ['hostnameOverride'] },
    { name: '--bind-address=:: without a config file', args: ['--bind-address=::'], fields: ['bindAddress', 'healthzBindAddress', 'metricsBindAddress'] },
    { name: 'a sloppy IPv4 --bind-address', args: ['--bind-address=010.001.002.003'], fields: ['bindAddress'] },
    { name: '--version=vX.Y.Z', args: ['--version=v1.37.2-rc.0'], fields: ['mode'] },
    { name: '--logging-format=json with the split-stream flags and LoggingAlphaOptions', args: ['--feature-gates=LoggingAlphaOptions=true', '--logging-format=json', '--log-json-split-stream', '--log-json-info-buffer-size=1Ki'], fields: ['logging.format', 'logging.options.json.splitStream'] },
    { name: '--proxy-mode=ipvs: --ipvs-min-sync-period defaults to 1s', args: ['--proxy-mode=ipvs'], fields: ['ipvs.minSyncPeriod'] },
  ];
  const pick = (c: Record<string, unknown> | null, path: string): unknown => path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], c ?? undefined);

  for (const c of CASES) {
    test(`${c.name}: accepted like upstream, same values written`, async () => {
      const args = [...c.args];
      if (c.file) {
        writeFileSync(join(dir, 'in.yaml'), c.file);
        args.push(`--config=${join(dir, 'in.yaml')}`);
      }
      const up = await writtenConfig([KUBE_PROXY_BIN], args, dir, 'upstream');
      const ours = await writtenConfig(agentCommand(), args, dir, 'ours');
      assert.equal(ours.code, up.code, `exit codes differ: upstream ${up.code} (${up.stderr.trim()}), ours ${ours.code} (${ours.stderr.trim()})`);
      for (const f of c.fields) assert.deepEqual(pick(ours.config, f), pick(up.config, f), `${f}: upstream ${JSON.stringify(pick(up.config, f))}, ours ${JSON.stringify(pick(ours.config, f))}`);
      if (args.includes('--logging-format=json')) {
        for (const line of ours.stderr.trim().split('\n').filter((l) => l !== '')) assert.ok(JSON.parse(line).msg, `not a JSON log line: ${line}`);
      }
    });
  }

  test('refused like upstream: a zoned --bind-address, a foreign --version, split streams without LoggingAlphaOptions', async () => {
    for (const args of [['--bind-address=fe80::1%eth0'], ['--version=v1.36.0'], ['--log-text-split-stream']]) {
      const up = await writtenConfig([KUBE_PROXY_BIN], args, dir, 'upstream');
      const ours = await writtenConfig(agentCommand(), args, dir, 'ours');
      assert.equal(up.code, 1, `upstream accepted ${args.join(' ')}`);
      assert.equal(ours.code, 1, `ours accepted ${args.join(' ')}: ${ours.stderr}`);
      const lastLine = (s: string) => s.trim().split('\n').filter((l) => /Error|command failed/.test(l)).pop() ?? '';
      // Same wording of the reason (ours names fields by their JSON keys, and files differ).
      const reason = (s: string) => lastLine(s).replace(/^.*?(invalid argument|initialize logging)/, '$1');
      assert.equal(reason(ours.stderr), reason(up.stderr), `${args.join(' ')}:\nupstream: ${lastLine(up.stderr)}\nours:     ${lastLine(ours.stderr)}`);
    }
  });
});

test('a failure while running is reported like upstream: "Error running ProxyServer" and "command failed" klog lines, exit 1, no stack', async (t) => {
  requireUpstream();
  // No kubeconfig and no in-cluster environment: both fail creating the client, before touching
  // anything; still, each runs in a namespace of its own.
  const ns = `kpb-parity-${process.pid}`;
  await run(['ip', 'netns', 'add', ns]);
  t.after(() => run(['ip', 'netns', 'del', ns], { allowFailure: true }));
  const go = async (cmd: string[]) => {
    const r = await run(['env', '-u', 'KUBERNETES_SERVICE_HOST', '-u', 'KUBERNETES_SERVICE_PORT', 'ip', 'netns', 'exec', ns, ...cmd, '--hostname-override=n1', '--proxy-mode=nftables', '--bpf-pin-path=/sys/fs/bpf/none'].filter((a) => !(cmd[0] === KUBE_PROXY_BIN && a.startsWith('--bpf-'))), { allowFailure: true, timeoutMs: 60_000 });
    const lines = r.stderr.trim().split('\n');
    return { code: r.code, lines, tail: lines.slice(-2).map((l) => /^E\d{4} .*\] "([^"]+)" err=/.exec(l)?.[1] ?? l) };
  };
  const up = await go([KUBE_PROXY_BIN]);
  const ours = await go(agentCommand());
  assert.equal(up.code, 1);
  assert.equal(ours.code, up.code);
  assert.deepEqual(up.tail, ['Error running ProxyServer', 'command failed'], up.lines.join('\n'));
  assert.deepEqual(ours.tail, up.tail, ours.lines.join('\n'));
  for (const l of ours.lines) assert.match(l, KLOG_LINE, 'a line of ours that is not klog');
});

describe('running next to upstream kube-proxy on node-b', () => {
  let cluster: Cluster;
  const upstreamPages = new Map<string, string>();
  const curl = async (node: keyof Cluster['nodes'], path: string, headers: string[] = []): Promise<string> => {
    const r = await runIn(cluster.nodes[node].place, ['curl', '-sf', '--max-time', '5', ...headers.flatMap((h) => ['-H', h]), `http://127.0.0.1:10249${path}`], { timeoutMs: 10_000 });
    return r.stdout;
  };
  const PAGES: [string, string[]][] = [['/metrics', []], ['/flagz', []], ['/statusz', []], ['/healthz?verbose', []], ['/statusz#json', ['Accept: application/json;v=v1alpha1;g=config.k8s.io;as=Statusz']]];

  before(async () => {
    requireUpstream();
    cluster = await startCluster();
    const b1 = cluster.nodes['node-b'].pods[0]!;
    await startEchoServer(b1.place, b1.name, [PORT], cluster.teardown);
    await cluster.admin.createNamespace(NS);
    await cluster.admin.createService(NS, { metadata: { name: 'echo' }, spec: { type: 'NodePort', ports: [{ name: 'udp', port: 53, targetPort: PORT, protocol: 'UDP' }, { name: 'tcp', port: 80, targetPort: PORT }] } });
    await cluster.admin.createEndpointSlice(NS, endpointSliceFor('echo', 'IPv4', [{ target: b1 }], [{ name: 'udp', port: PORT, protocol: 'UDP' }, { name: 'tcp', port: PORT }]));
    // Upstream first, alone on node-b (it owns :10249 and its nftables rules while it runs).
    const up = await startUpstream(cluster.nodes['node-b'], 'nftables', { metricsBindAddress: '127.0.0.1:10249' });
    await eventually('upstream serves /statusz', () => curl('node-b', '/statusz'), 60_000, 500);
    for (const [p, h] of PAGES) upstreamPages.set(p, await curl('node-b', p.replace(/#.*/, ''), h));
    await up.stop();
  });
  after(async () => {
    await cluster?.stop();
  });

  test('same /flagz flags, /statusz fields, /healthz?verbose, build info and feature gate series as upstream', async (t) => {
    const agent = await startReadyAgent(cluster.nodes['node-b'], ['--v=2']);
    const ours = new Map<string, string>();
    for (const [p, h] of PAGES) ours.set(p, await curl('node-b', p.replace(/#.*/, ''), h));
    // /flagz: every flag upstream lists is listed by ours (plus our --bpf-* flags), in the same form.
    // Upstream picks the separator (`:` or `=`, with or without a space) at random, to discourage parsing.
    const flags = (s: string) => new Map(s.split('\n').slice(3).map((l) => /^([a-z0-9-]+)(?:\s*[:=]\s*|\s+)(.*)$/.exec(l)).filter((m) => m !== null).map((m) => [m[1]!, m[2]!.trim()]));
    const upFlags = flags(upstreamPages.get('/flagz')!);
    const ourFlags = flags(ours.get('/flagz')!);
    assert.ok(upFlags.size > 40, `upstream /flagz looks empty: ${upstreamPages.get('/flagz')}`);
    assert.deepEqual([...upFlags.keys()].filter((k) => !ourFlags.has(k)), [], 'flags upstream lists and ours does not');
    for (const k of ['kube-api-content-type', 'iptables-sync-period', 'conntrack-tcp-timeout-established', 'nodeport-addresses', 'feature-gates']) {
      assert.equal(ourFlags.get(k), upFlags.get(k), `/flagz ${k}`);
    }
    assert.equal(ours.get('/flagz')!.split('\n').slice(0, 3).join('\n'), upstreamPages.get('/flagz')!.split('\n').slice(0, 3).join('\n'));
    // /statusz: the same fields, versions and paths (upstream randomizes the separator).
    // The separator may be `:`, `=` or only spaces, so lines are matched by their field names.
    const NAMES = ['Started', 'Up', 'Go version', 'Binary version', 'Emulation version', 'Paths'];
    const fields = (s: string) => Object.fromEntries(s.split('\n').slice(4).filter((l) => l !== '').map((l) => {
      const name = NAMES.find((n) => l.startsWith(n)) ?? l;
      return [name, l.slice(name.length).replace(/^[\s:=]+/, '').trim()];
    }));
    const upStatus = fields(upstreamPages.get('/statusz')!);
    const ourStatus = fields(ours.get('/statusz')!);
    assert.deepEqual(Object.keys(ourStatus), Object.keys(upStatus));
    for (const k of ['Binary version', 'Emulation version', 'Paths']) assert.equal(ourStatus[k], upStatus[k], `/statusz ${k}`);
    const upJson = JSON.parse(upstreamPages.get('/statusz#json')!) as Record<string, unknown>;
    const ourJson = JSON.parse(ours.get('/statusz#json')!) as Record<string, unknown>;
    assert.deepEqual(Object.keys(ourJson), Object.keys(upJson));
    assert.deepEqual([ourJson.kind, ourJson.binaryVersion, ourJson.paths], [upJson.kind, upJson.binaryVersion, upJson.paths]);
    assert.equal(ours.get('/healthz?verbose'), upstreamPages.get('/healthz?verbose'));
    // Metrics: build info labels and the feature gate series.
    const series = (text: string, name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`)).sort();
    const label = (line: string, l: string) => new RegExp(`${l}="([^"]*)"`).exec(line)?.[1];
    const [upBuild] = series(upstreamPages.get('/metrics')!, 'kubernetes_build_info');
    const [ourBuild] = series(ours.get('/metrics')!, 'kubernetes_build_info');
    for (const l of ['major', 'minor', 'platform', 'git_version']) assert.equal(label(ourBuild!, l), label(upBuild!, l), `kubernetes_build_info ${l}`);
    const upGates = series(upstreamPages.get('/metrics')!, 'kubernetes_feature_enabled');
    assert.equal(upGates.length, 254);
    assert.deepEqual(series(ours.get('/metrics')!, 'kubernetes_feature_enabled'), upGates);
    t.diagnostic(`${upGates.length} feature gate series identical; /flagz ${ourFlags.size} flags (upstream ${upFlags.size})`);
    await agent.stop();
    // A clean log: klog lines only (no Node warnings, no stack traces).
    const bad = agent.output.split('\n').filter((l) => l !== '' && !KLOG_LINE.test(l) && !/^\t/.test(l) && l !== ' >');
    assert.deepEqual(bad, [], 'lines in our log that are not klog');
  });

  test('the conntrack settings land in the node namespace; inspect reads the running agent', async (t) => {
    const nodeA = cluster.nodes['node-a'];
    const conntrack = { maxPerCore: 32768, min: 131072, tcpEstablishedTimeout: '2h0m0s', tcpCloseWaitTimeout: '30m0s', tcpBeLiberal: true, udpTimeout: '4s', udpStreamTimeout: '50s' };
    const agent = await startReadyAgent(nodeA, ['--v=2', '--bpf-xdp=generic'], { config: { conntrack } });
    const agentB = await startReadyAgent(cluster.nodes['node-b'], ['--v=2', '--bpf-xdp=generic']);
    t.after(() => Promise.all([agent.stop(), agentB.stop()]));
    const sysctl = async (name: string) => Number((await runIn(nodeA.place, ['cat', `/proc/sys/net/netfilter/${name}`])).stdout.trim());
    assert.deepEqual({
      established: await sysctl('nf_conntrack_tcp_timeout_established'), closeWait: await sysctl('nf_conntrack_tcp_timeout_close_wait'),
      liberal: await sysctl('nf_conntrack_tcp_be_liberal'), udp: await sysctl('nf_conntrack_udp_timeout'), udpStream: await sysctl('nf_conntrack_udp_timeout_stream'),
    }, { established: 7200, closeWait: 1800, liberal: 1, udp: 4, udpStream: 50 });
    assert.match(agent.output, /"Set sysctl" entry="net\/netfilter\/nf_conntrack_udp_timeout" value=4/);
    // The root namespace keeps its own values.
    assert.notEqual(Number(readFileSync('/proc/sys/net/netfilter/nf_conntrack_udp_timeout', 'utf8')), 4);

    // inspect against the running agent (the binary the image ships), as `kubectl exec` would run it.
    const inspect = async (...args: string[]) => {
      const r = await runIn(nodeA.place, [...agentCommand(), 'inspect', ...args, `--bpf-pin-path=${nodeA.pinPath}`], { timeoutMs: 30_000, allowFailure: true });
      assert.equal(r.code, 0, `inspect ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    const svc = await cluster.admin.core.readNamespacedService({ name: 'echo', namespace: NS });
    const nodePort = svc.spec!.ports!.find((p) => p.name === 'udp')!.nodePort!;
    const services = JSON.parse(await inspect('services', '-o', 'json')) as { frontend: { address: string; port: number; protocol: string }; flags: string[]; backends: { address: string; state: string }[] }[];
    const vip = services.find((s) => s.frontend.address === svc.spec!.clusterIP && s.frontend.port === 53);
    assert.ok(vip, `the ClusterIP is not listed: ${JSON.stringify(services.map((s) => s.frontend))}`);
    assert.deepEqual(vip.flags, ['ClusterIP']);
    assert.deepEqual(vip.backends.map((b) => [b.address, b.state]), [[cluster.nodes['node-b'].pods[0]!.ipv4, 'active']]);
    assert.match(await inspect('services'), /^FRONTEND +PROTO +SCOPE +ID +FLAGS +BACKENDS\n/);
    assert.match(await inspect('backends'), new RegExp(`${cluster.nodes['node-b'].pods[0]!.ipv4.replace(/\./g, '\\.')}:${PORT}`));
    assert.match(await inspect('config'), /lb_services +hash/);

    // A UDP NodePort flow from outside: inspect finds its north-south conntrack entries by port.
    await eventually('NodePort UDP served', () => echo(cluster.client, 'udp', nodeA.ipv4, nodePort, { timeoutMs: 1_000 }), 20_000, 300);
    const found = JSON.parse(await inspect('conntrack', '-o', 'json', '--port', String(nodePort))) as { protocol: string; destination: string; expiresInSeconds: number }[];
    assert.ok(found.some((e) => e.protocol === 'UDP' && e.destination === `${nodeA.ipv4}:${nodePort}`), `no conntrack entry for the UDP NodePort flow: ${JSON.stringify(found)}`);
    assert.deepEqual(JSON.parse(await inspect('conntrack', '-o', 'json', '--port', '1')), [], 'the --port filter lets other entries through');
    assert.match(await inspect('counters'), /^HOOK +KIND +NAME +PACKETS\n(.*\n)*tc_ingress +verdict /);
  });

  test('--logging-format=json: every line of the running agent is a JSON object', async () => {
    const node = cluster.nodes['node-b'];
    const agent = (await import('../cluster/agent.ts')).startAgent(node, ['--v=2', '--logging-format=json', '--bpf-xdp=generic']);
    await agent.waitFor(/"msg":"Sync done","v":2,"mode":"full","ok":true/, 60_000);
    await agent.stop();
    for (const line of agent.output.split('\n').filter((l) => l !== '')) {
      const o = JSON.parse(line) as Record<string, unknown>;
      assert.ok(typeof o.ts === 'number' && typeof o.caller === 'string' && typeof o.msg === 'string', line);
    }
  });
});
