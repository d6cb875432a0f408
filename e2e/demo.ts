// `make demo`: the whole product in well under a minute. Brings up the namespace cluster of
// architecture §5 around a real kube-apiserver, runs our agent on both nodes the way the DaemonSet
// would, creates one Service of each type with a backend on each node, sends traffic from pods and
// from an external client while printing who answered and which source address they saw, then
// prints a summary table and removes everything (also on Ctrl-C and on failure; exit code 1 when a
// request went wrong, 130 on Ctrl-C).
//
// Run it as `make demo`, which builds the BPF objects, the loader addon and the Kubernetes
// binaries first; it needs root, bpffs and cgroup v2 like the e2e tests. KPB_DEMO_AGENT_ARGS adds
// agent flags (e.g. `KPB_DEMO_AGENT_ARGS=--bpf-xdp=off make demo` for the tc-only path).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { VersionApi } from '@kubernetes/client-node';
import { agentCommand, startAgent } from './cluster/agent.ts';
import { startCluster, type Cluster, type ClusterNode } from './cluster/cluster.ts';
import { K8S_BIN } from './cluster/control-plane.ts';
import { PLAN } from './cluster/plan.ts';
import { runIn, type Proc } from './cluster/proc.ts';
import { run } from './cluster/run.ts';
import { BPFFS, findCgroup2Mount } from './cluster/sandbox.ts';
import { echo, httpGet, startEchoServer, waitForHttp } from './cluster/workload.ts';
import {
  attachSummary, attemptLine, clock, datapathReasons, dsrFallback, hostPort, makeStyle, renderTable, seconds, SUMMARY_HEADERS, summaryRows, tally, wantColour,
  type Attempt,
} from './demo/format.ts';
import { makeFabricNicLike } from './demo/fabric.ts';
import {
  CLIENT_ROUTES, DEMO_NAMESPACE, demoPods, demoServices, dsrCases, ECHO_PORT, NODE_PORT_TCP, slicesFor, snatCases,
  type Case, type DemoPods,
} from './demo/scenario.ts';

const ROOT = join(import.meta.dirname, '..');
/** Requests per case: with two backends, four random picks miss one of them 1 time in 8. */
const REQUESTS_PER_CASE = 4;
/** Per request: room for one lost SYN (retransmitted after 1 s) on a busy machine. */
const REQUEST_TIMEOUT_MS = 3_000;
const AGENT_READY_TIMEOUT_MS = 45_000;
/** How long the agents get to turn new Services into map entries before the demo gives up. */
const PROGRAMMED_TIMEOUT_MS = 20_000;
const PROBE_TIMEOUT_MS = 500;
const AGENT_LOG_TAIL_LINES = 20;
/** Extra agent flags from the environment, e.g. KPB_DEMO_AGENT_ARGS='--bpf-xdp=off --v=4'. */
const EXTRA_AGENT_ARGS = (process.env.KPB_DEMO_AGENT_ARGS ?? '').split(/\s+/).filter((a) => a !== '');
/** kube-proxy's healthz port (KubeProxyConfiguration healthzBindAddress default). */
const HEALTHZ_PORT = 10256;
/** kube-proxy's metrics port (metricsBindAddress default 127.0.0.1:10249). */
const METRICS_PORT = 10249;

const style = makeStyle(wantColour(process.stdout.isTTY, process.env));
const t0 = performance.now();
const say = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};
const step = (msg: string): void => say(`${style.dim(clock(performance.now() - t0))} ${msg}`);
const since = (t: number): string => seconds(performance.now() - t);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A failure the demo explains itself; `detail` (e.g. an agent's log tail) goes under the message. */
class DemoError extends Error {
  readonly detail: string | undefined;
  constructor(message: string, detail?: string) {
    super(message);
    this.detail = detail;
  }
}

/** What `make demo` builds first; running e2e/demo.ts directly skips that, so say what is missing. */
function checkPrerequisites(): void {
  const need = [
    ...['sock', 'tc', 'xdp'].map((p) => join(ROOT, 'build', 'bpf', `${p}.bpf.o`)),
    join(ROOT, 'datapath', 'bpf-loader-napi', 'build', 'bpf_loader.node'),
    join(K8S_BIN, 'kube-apiserver'), join(K8S_BIN, 'etcd'),
  ];
  const missing = need.filter((p) => !existsSync(p));
  if (missing.length > 0) throw new DemoError(`missing build outputs (run \`make demo\`, which builds them): ${missing.join(', ')}`);
  if (process.getuid?.() !== 0) throw new DemoError('the demo creates network namespaces, cgroups and BPF programs: run it as root');
  step('prerequisites: BPF objects (sock, tc, xdp), loader addon, kube-apiserver and etcd binaries');
}

/** What a run may leave on the machine, by name; all of it must be gone after teardown. */
function leftovers(cluster: Cluster): string[] {
  const netns = existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith(`${cluster.runId}-`)).map((n) => `netns ${n}`) : [];
  const paths = [join(findCgroup2Mount(), cluster.runId), join(BPFFS, cluster.runId), cluster.dir].filter((p) => existsSync(p));
  return [...netns, ...paths];
}

/**
 * The part of an agent's output worth reading when it failed: its error lines (which come first
 * when it prints usage after them) and then its last lines.
 */
function tail(text: string, lines: number): string {
  const all = text.trimEnd().split('\n');
  const errors = all.filter((l) => /^(Error|E\d{4} |F\d{4} )/.test(l)).slice(0, 5);
  const last = all.slice(-lines).filter((l) => !errors.includes(l));
  const shown = errors.length > 0 && last.length < all.length ? [...errors, '...', ...last] : [...errors, ...last];
  return shown.map((l) => `    | ${l}`).join('\n');
}

/**
 * Starts the agent on every node with `args` and waits for each /healthz (kube-proxy's port
 * 10256, asked from inside the node). An agent that exits or stays unhealthy fails the demo here,
 * with its log tail, rather than as a confusing traffic failure later.
 */
async function startAgents(cluster: Cluster, args: readonly string[]): Promise<Proc[]> {
  const nodes = Object.values(cluster.nodes);
  return Promise.all(nodes.map(async (node: ClusterNode) => {
    const t = performance.now();
    const proc = startAgent(node, args);
    const healthz = `http://127.0.0.1:${HEALTHZ_PORT}/healthz`;
    const exited = proc.exited.then(({ code, signal }) => {
      throw new DemoError(`${node.name} agent exited (${code ?? signal}) before becoming ready`, tail(proc.output, AGENT_LOG_TAIL_LINES));
    });
    try {
      await Promise.race([waitForHttp(node.place, healthz, AGENT_READY_TIMEOUT_MS), exited]);
    } catch (err) {
      if (err instanceof DemoError) throw err;
      throw new DemoError(`${node.name} agent not ready: ${(err as Error).message}`, tail(proc.output, AGENT_LOG_TAIL_LINES));
    } finally {
      exited.catch(() => {}); // the race is over; a later exit is reported by the traffic instead
    }
    // The devices are attached at the first sync; a short wait, since it only adds detail.
    await proc.waitFor(/"Attached the north-south datapath"/, 5_000).catch(() => undefined);
    const attached = attachSummary(proc.output) ?? 'north-south path not attached yet';
    step(`${node.name} agent ready ${style.dim(`(${since(t)}; pid ${proc.pid}; ${attached})`)}`);
    return proc;
  }));
}

/** Strips the harness's "echo from <netns>: tcp <host> port <n>: " prefix, leaving the reason. */
function reason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const m = /port \d+: ([^]*)$/.exec(msg);
  return (m?.[1] ?? msg).trim().split('\n')[0]!;
}

/** One request of `c`, checked against the backend list and the expected source. */
async function send(c: Case, backendNode: Map<string, string>, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Attempt> {
  const t = performance.now();
  const base = { caseId: c.id, client: c.client, serviceType: c.serviceType, host: c.host, port: c.port, proto: c.proto };
  try {
    const [reply] = await echo(c.from, c.proto, c.host, c.port, { timeoutMs });
    const node = backendNode.get(reply!.name);
    const expected = node === undefined ? undefined : c.expectSeen?.(node);
    let error: string | undefined;
    if (node === undefined) error = `answered by ${reply!.name}, which is not an endpoint`;
    else if (expected !== undefined && reply!.peer !== expected) error = `expected source ${expected}`;
    return { ...base, backend: reply!.name, backendNode: node, seen: reply!.peer, error, ms: performance.now() - t };
  } catch (err) {
    return { ...base, error: reason(err), ms: performance.now() - t };
  }
}

async function runCases(cases: readonly Case[], backendNode: Map<string, string>, into: Attempt[]): Promise<void> {
  for (const c of cases) {
    say(`  ${style.bold(c.title)}`);
    for (let i = 0; i < REQUESTS_PER_CASE; i++) {
      const a = await send(c, backendNode);
      into.push(a);
      say(`    ${attemptLine(a, style)}`);
    }
  }
}

/**
 * Polls `probe` until one request is answered: the agents program maps asynchronously after the
 * apiserver stores a Service, and the demo should show steady state, not the race. Gives up after
 * PROGRAMMED_TIMEOUT_MS with the last error; the traffic that follows then shows what fails.
 */
async function waitProgrammed(what: string, probe: Case, backendNode: Map<string, string>): Promise<{ ok: boolean; text: string }> {
  const t = performance.now();
  let last: Attempt | undefined;
  for (let i = 0; performance.now() - t < PROGRAMMED_TIMEOUT_MS && i < 1_000; i++) {
    // A short timeout: a request sent before the maps were written only waits to be dropped.
    last = await send({ ...probe, expectSeen: undefined }, backendNode, PROBE_TIMEOUT_MS);
    if (last.backend !== undefined) return { ok: true, text: `${what} ${since(t)}` };
    await sleep(250);
  }
  return { ok: false, text: `${what}: ${probe.client} -> ${hostPort(probe.host, probe.port)}/${probe.proto} unanswered after ${seconds(PROGRAMMED_TIMEOUT_MS)} (${last?.error ?? '?'})` };
}

/**
 * Prints where each node's datapath handled the packets, from the agent's own counters (only
 * what changed since `baseline`, if given), and returns the scrapes for a later baseline.
 */
async function showDatapathReasons(cluster: Cluster, baseline: Map<string, string> = new Map()): Promise<Map<string, string>> {
  const what = baseline.size === 0 ? '' : ', since the previous table';
  say(style.bold('Where the datapath handled them') + style.dim(` (kubeproxy_bpf_packet_reasons_total on :${METRICS_PORT}${what})`));
  const scrapes = new Map<string, string>();
  for (const node of Object.values(cluster.nodes)) {
    const metrics = await httpGet(node.place, `http://127.0.0.1:${METRICS_PORT}/metrics`);
    if (metrics.status === 200) scrapes.set(node.name, metrics.body);
    say(`  ${node.name}  ${metrics.status === 200 ? datapathReasons(metrics.body, baseline.get(node.name)) : `metrics unavailable (HTTP ${metrics.status})`}`);
  }
  say();
  return scrapes;
}

/**
 * Shows what node-a's datapath holds, as an operator would see it: `kube-proxy inspect services`
 * and `kube-proxy inspect conntrack` (the binary the image ships, reading the agent's pins).
 */
async function showInspect(cluster: Cluster): Promise<void> {
  const node = cluster.nodes['node-a'];
  for (const [what, limit] of [['services', 40], ['conntrack', 12]] as const) {
    const cmd = ['kube-proxy', 'inspect', what];
    say(style.bold(`What node-a's datapath holds`) + style.dim(` (${cmd.join(' ')})`));
    const r = await runIn(node.place, [...agentCommand(), 'inspect', what, `--bpf-pin-path=${node.pinPath}`], { allowFailure: true, timeoutMs: 30_000 });
    const lines = (r.code === 0 ? r.stdout : `${style.warn('inspect failed')}: ${r.stderr}`).trimEnd().split('\n');
    for (const l of lines.slice(0, limit)) say(`  ${l}`);
    if (lines.length > limit) say(style.dim(`  ... ${lines.length - limit} more`));
    say();
  }
}

async function createServices(cluster: Cluster, pods: DemoPods): Promise<{ clusterIPs: string[] }> {
  const t = performance.now();
  await cluster.admin.createNamespace(DEMO_NAMESPACE);
  let clusterIPs: string[] = [];
  const lines: string[] = [];
  for (const d of demoServices(cluster.dualStack)) {
    const svc = await cluster.admin.createService(DEMO_NAMESPACE, d.service);
    const name = svc.metadata!.name!;
    for (const slice of slicesFor(name, pods.backends, cluster.dualStack)) await cluster.admin.createEndpointSlice(DEMO_NAMESPACE, slice);
    const ips = svc.spec?.clusterIPs ?? [];
    if (d.kind === 'ClusterIP') clusterIPs = ips;
    const ports = (svc.spec?.ports ?? []).map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol}`).join(' ');
    let extra = '';
    if (d.loadBalancerIngress !== undefined) {
      // A cloud controller's job: the LB address lives in status, written through the status subresource.
      svc.status = { loadBalancer: { ingress: [{ ip: d.loadBalancerIngress, ipMode: 'VIP' }] } };
      await cluster.admin.core.replaceNamespacedServiceStatus({ namespace: DEMO_NAMESPACE, name, body: svc });
      extra = `  ingress ${d.loadBalancerIngress} (status.loadBalancer)`;
    }
    if (svc.spec?.externalIPs?.length) extra = `  externalIPs ${svc.spec.externalIPs.join(', ')}`;
    lines.push(`${d.kind.padEnd(12)}  ${name.padEnd(13)}  ${ips.join(', ').padEnd(32)}  ${ports}${extra}`);
  }
  // The external client reaches the LB and external IPs through a node, as if announced by BGP/ARP.
  for (const r of CLIENT_ROUTES) {
    const via = cluster.nodes[r.via].ipv4;
    await run(['ip', '-n', cluster.client.netns, 'route', 'add', r.dst, 'via', via]);
  }
  step(`services created in namespace ${DEMO_NAMESPACE} ${style.dim(`(${since(t)})`)}:`);
  for (const l of lines) say(`           ${l}`);
  say(`           endpoints: ${pods.backends.map((p) => `${p.name} (${p.node}) ${p.ipv4}${cluster.dualStack ? ` ${p.ipv6}` : ''}`).join(', ')}, port ${ECHO_PORT}`);
  say(`           client routes: ${CLIENT_ROUTES.map((r) => `${r.dst} via ${r.via}`).join(', ')}`);
  return { clusterIPs };
}

async function main(): Promise<number> {
  say(style.bold('kube-proxy-bpf demo: a real kube-apiserver, two nodes, our agent on each, every Service type'));
  checkPrerequisites();

  step('starting the cluster: network namespaces, PKI, etcd, kube-apiserver, Node objects ...');
  let t = performance.now();
  const cluster = await startCluster();
  liveCluster = cluster;
  let tornDown = false;
  const teardown = async (): Promise<void> => {
    if (tornDown) return;
    tornDown = true;
    const tt = performance.now();
    step('tearing down: agents, echo servers, kube-apiserver, etcd, namespaces, cgroups, BPF pins, run folder ...');
    await cluster.stop();
    const left = leftovers(cluster);
    if (left.length > 0) throw new DemoError(`teardown left behind: ${left.join(', ')}`);
    step(`torn down, nothing left behind ${style.dim(`(${since(tt)}; checked namespaces, cgroups, pins, run folder)`)}`);
  };
  try {
    const version = await cluster.admin.kubeconfig.makeApiClient(VersionApi).getCode();
    step(`control plane up: kube-apiserver ${version.gitVersion} + etcd ${style.dim(`(${since(t)}; kube-apiserver ready ${seconds(cluster.controlPlane.startupMs)} after etcd start; ${cluster.dualStack ? 'dual-stack' : 'IPv4'})`)}`);
    const pods = demoPods(cluster);
    const backendNode = new Map(pods.backends.map((p) => [p.name, p.node]));

    t = performance.now();
    await Promise.all(pods.backends.map((p) => startEchoServer(p.place, p.name, [ECHO_PORT], cluster.teardown)));
    step(`echo servers up: ${pods.backends.map((p) => `${p.name} on ${p.node}`).join(', ')} ${style.dim(`(${since(t)}; TCP+UDP :${ECHO_PORT}, IPv4+IPv6)`)}`);

    t = performance.now();
    const fabric = await makeFabricNicLike(cluster);
    step(`fabric made NIC-like for native XDP ${style.dim(`(${since(t)}; TX checksum offload off on ${fabric.checksumOffloadOff} veths, XDP_PASS on ${fabric.xdpPassPorts.join(', ')}; see e2e/demo/fabric.ts)`)}`);

    const snatArgs = ['--bpf-lb-mode=snat', '--v=2', ...EXTRA_AGENT_ARGS];
    step(`starting the agent on node-a and node-b (${snatArgs.join(' ')}) ...`);
    let agents = await startAgents(cluster, snatArgs);

    const allocated = await createServices(cluster, pods);
    const cases = snatCases(cluster, pods, allocated);
    const byId = new Map(cases.map((c) => [c.id, c]));
    // One probe per agent, plus the two addresses that only work once the node's tc/XDP path has them.
    const programmed = await Promise.all([
      waitProgrammed('node-a', byId.get('cip-tcp4')!, backendNode),
      waitProgrammed('node-b', byId.get('cip-udp4')!, backendNode),
      waitProgrammed('LB IP', byId.get('lb-tcp4')!, backendNode),
      waitProgrammed('external IP', byId.get('eip-tcp4')!, backendNode),
    ]);
    if (programmed.every((p) => p.ok)) step(`services programmed ${style.dim(`(answering after: ${programmed.map((p) => p.text).join(', ')})`)}`);
    else step(style.warn(`not every service answers yet: ${programmed.filter((p) => !p.ok).map((p) => p.text).join('; ')}`));

    const attempts: Attempt[] = [];
    say();
    say(style.bold('Traffic, agents in SNAT mode'));
    await runCases(cases, backendNode, attempts);
    say();

    const snatCounters = await showDatapathReasons(cluster);

    // DSR is a per-agent setting (--bpf-lb-mode), so the agents restart with it; pinned maps keep
    // serving in between, and the new agents resync the same Services.
    let dsrNote: string | undefined;
    t = performance.now();
    step('restarting the agents with --bpf-lb-mode=dsr ...');
    await Promise.all(agents.map((a) => a.stop()));
    const dsr = dsrCases(cluster);
    try {
      agents = await startAgents(cluster, ['--bpf-lb-mode=dsr', '--v=2', ...EXTRA_AGENT_ARGS]);
      // The agent says so when it cannot do DSR and falls back; believe it rather than label
      // SNAT traffic as DSR.
      const fallback = agents.map((a) => dsrFallback(a.output)).find((w) => w !== undefined);
      if (fallback !== undefined) throw new DemoError(`the agent accepts --bpf-lb-mode=dsr but warns: ${fallback}`);
      const ready = await waitProgrammed('node-a', dsr[0]!, backendNode);
      if (!ready.ok) throw new DemoError(ready.text);
      step(`agents restarted in DSR mode ${style.dim(`(${since(t)})`)}`);
      say();
      say(style.bold('Traffic, agents in DSR mode'));
      await runCases(dsr, backendNode, attempts);
      say();
      await showDatapathReasons(cluster, snatCounters);
    } catch (err) {
      dsrNote = (err as Error).message;
      const detail = err instanceof DemoError && err.detail !== undefined ? `\n${err.detail}` : '';
      say();
      say(style.bold('Traffic, agents in DSR mode'));
      say(`  ${style.warn('not available yet')}: ${dsrNote}${detail}`);
      say();
    }

    say(style.bold('Summary'));
    const rows = summaryRows(attempts).map((r) => r.map((cell, i) => (i === r.length - 1 ? colourResult(cell) : cell)));
    if (dsrNote !== undefined) rows.push([`client ${PLAN.client.ipv4}`, 'NodePort (DSR)', `${hostPort(cluster.nodes['node-a'].ipv4, NODE_PORT_TCP)}/tcp`, '-', '-', style.warn('not available yet (see above)')]);
    say(renderTable(SUMMARY_HEADERS, rows).split('\n').map((l) => `  ${l}`).join('\n'));
    const { ok, failed } = tally(attempts);
    say();
    const verdict = failed === 0
      ? style.ok(`all ${ok} requests answered as expected`)
      : style.fail(`${failed} of ${ok + failed} requests failed or saw the wrong source`);
    say(`${verdict}${dsrNote === undefined ? '' : style.warn(' (DSR not available yet)')}`);
    say();
    await showInspect(cluster);
    await teardown();
    return failed === 0 ? 0 : 1;
  } catch (err) {
    // Say what went wrong first, while the context is on screen, then remove everything.
    reportFailure(err);
    await teardown().catch((tErr: Error) => say(style.fail(`teardown: ${tErr.message}`)));
    return 1;
  }
}

function colourResult(cell: string): string {
  return cell.startsWith('ok') ? style.ok(cell) : style.fail(cell);
}

function reportFailure(err: unknown): void {
  const e = err as Partial<DemoError>;
  process.stdout.write(`\n${style.fail('demo failed')}: ${e.message ?? String(err)}\n${e.detail === undefined ? '' : `${e.detail}\n`}\n`);
}

// Ctrl-C and SIGTERM: the harness's own listener (hooked when the cluster's Teardown is made)
// removes everything synchronously in this same emit; it exits by itself only when it is the sole
// listener, so this one exits right after it has run.
let interrupted = false;
let liveCluster: Cluster | undefined;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    say(`\n${sig}: tearing everything down`);
    setImmediate(() => {
      // Before startCluster returns, the harness undoes its own partial start; nothing to check here.
      const left = liveCluster === undefined ? undefined : leftovers(liveCluster);
      if (left === undefined) say('torn down');
      else say(left.length === 0 ? 'torn down, nothing left behind' : style.fail(`teardown left behind: ${left.join(', ')}`));
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    reportFailure(err);
    process.exit(1);
  },
);
