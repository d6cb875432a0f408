// First-sync list time in protobuf and in JSON, side by side, against the real apiserver (issue 14
// item 5). Not a test: it prints a table and writes e2e/bench/results/list-encoding-<stamp>.json.
//
//   node e2e/bench/list-encoding.ts            (BENCH_SERVICES=10000, BENCH_ROUNDS=5)
//
// BENCH_SERVICES selector-less Services, each with an EndpointSlice of 10 endpoints, are written
// to the bench cluster's apiserver. Then, as system:kube-proxy (node-a's identity, through the
// test's loopback forward), the agent's own transport (src/kube/api-list-watch.ts) lists Services
// and EndpointSlices exactly as the informers do at start (pages of 500, resourceVersion "0",
// kube-proxy's label selector), alternating the two encodings round by round. Per list: wall time
// from the first request to every projection in hand, response bytes, and this process's CPU
// time (decode plus TLS); median and range over the rounds. The machine is shared: the figures are
// noisy when others run, and say so.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startCluster } from '../cluster/cluster.ts';
import { writeKubeconfig } from '../cluster/kubeconfig.ts';
import { createApiListWatches } from '../../src/kube/api-list-watch.ts';
import { loadKubeConfig } from '../../src/kube/kube-config.ts';
import type { KubeObject, ListWatch } from '../../src/kube/list-watch.ts';
import { PROXY_LABEL_SELECTOR, SERVICE_LABEL_SELECTOR } from '../../src/kube/proxy-informers.ts';
import { BENCH_NAMESPACE, endpointSlice, service, syntheticEndpoint } from './objects.ts';

const SERVICES = Number(process.env.BENCH_SERVICES ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ENDPOINTS = 10;
type Enc = 'protobuf' | 'json';
type Sample = { ms: number; bytes: number; cpuMs: number; items: number; pages: number };

const log = (m: string) => process.stdout.write(`[list-encoding ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

async function pool<T>(items: readonly T[], concurrency: number, fn: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (i < items.length) await fn(items[i++]!);
  }));
}

/** One informer-style list of every page; `bytes` counts the response bodies. */
async function listAll(lw: ListWatch<KubeObject>, labelSelector: string, bytes: { n: number }): Promise<Sample> {
  const before = bytes.n;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let cont: string | undefined;
  let items = 0;
  let pages = 0;
  do {
    const base = { labelSelector, limit: 500 };
    const page = await lw.list(cont ? { ...base, continue: cont } : { ...base, resourceVersion: '0' }, new AbortController().signal);
    items += page.items.length;
    pages++;
    cont = page.continue;
  } while (cont);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { ms, bytes: bytes.n - before, cpuMs: (cpu.user + cpu.system) / 1000, items, pages };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const summary = (xs: number[]) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });

const cluster = await startCluster({ runIdPrefix: 'kpb-bench', podsPerNode: 1, dualStack: false });
const stop = async () => { await cluster.stop(); };
process.once('SIGINT', () => void stop().finally(() => process.exit(130)));
process.once('SIGTERM', () => void stop().finally(() => process.exit(143)));
try {
  await cluster.admin.createNamespace(BENCH_NAMESPACE);
  log(`creating ${SERVICES} Services with ${ENDPOINTS}-endpoint slices`);
  const t0 = Date.now();
  await pool(Array.from({ length: SERVICES }, (_, i) => i), 32, async (i) => {
    const name = `enc-${String(i).padStart(5, '0')}`;
    await cluster.admin.createService(BENCH_NAMESPACE, service({ name, type: 'ClusterIP', protocol: 'TCP', port: 80, targetPort: 8080 }));
    await cluster.admin.createEndpointSlice(BENCH_NAMESPACE, endpointSlice(name, 'TCP', 8080, Array.from({ length: ENDPOINTS }, (_, j) => ({ ip: syntheticEndpoint((i * ENDPOINTS + j) % 61440), node: 'node-b' }))));
  });
  log(`created in ${((Date.now() - t0) / 1000).toFixed(0)} s`);

  const node = cluster.nodes['node-a'];
  const kubeconfig = writeKubeconfig(join(node.dir, 'bench-forward.kubeconfig'), {
    server: cluster.localServerUrl, caFile: cluster.pki.caCert, certFile: node.clientCert.cert, keyFile: node.clientCert.key, user: 'system:kube-proxy',
  });
  const bytes = { n: 0 };
  const transports = Object.fromEntries((['protobuf', 'json'] as const).map((enc) => [enc, createApiListWatches(loadKubeConfig({ kubeconfig }), {
    userAgent: 'kpb-bench', qps: 1000, burst: 1000,
    contentType: enc === 'protobuf' ? 'application/vnd.kubernetes.protobuf' : 'application/json',
  })])) as Record<Enc, ReturnType<typeof createApiListWatches>>;
  // Response sizes: the transport does not expose them, so wrap its client's get().
  for (const t of Object.values(transports)) {
    const get = t.client.get.bind(t.client);
    t.client.get = async (...args: Parameters<typeof get>) => {
      const res = await get(...args);
      const body = Buffer.from(await res.body.arrayBuffer());
      bytes.n += body.length;
      // What ApiListWatch.list reads of the body.
      const replay = { arrayBuffer: async () => body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength), text: async () => body.toString('utf8') };
      return { ...res, body: replay } as unknown as typeof res;
    };
  }
  // Warm both paths (TLS session, watch cache, JIT) once.
  for (const enc of ['protobuf', 'json'] as const) await listAll(transports[enc].services as ListWatch<KubeObject>, SERVICE_LABEL_SELECTOR, bytes);

  const rounds: Record<Enc, Record<'services' | 'endpointslices', Sample[]>> = { protobuf: { services: [], endpointslices: [] }, json: { services: [], endpointslices: [] } };
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which encoding goes first, so drift on the shared machine hits both alike.
    for (const enc of (r % 2 === 0 ? ['protobuf', 'json'] : ['json', 'protobuf']) as Enc[]) {
      rounds[enc].services.push(await listAll(transports[enc].services as ListWatch<KubeObject>, SERVICE_LABEL_SELECTOR, bytes));
      rounds[enc].endpointslices.push(await listAll(transports[enc].endpointSlices as ListWatch<KubeObject>, PROXY_LABEL_SELECTOR, bytes));
    }
    log(`round ${r + 1}/${ROUNDS}: services ${rounds.protobuf.services.at(-1)!.ms.toFixed(0)} ms protobuf, ${rounds.json.services.at(-1)!.ms.toFixed(0)} ms JSON`);
  }
  for (const t of Object.values(transports)) await t.client.close();

  const result = {
    services: SERVICES, endpointsPerService: ENDPOINTS, rounds: ROUNDS,
    machine: { cpus: cpus().length, loadavg: loadavg().map((x) => Number(x.toFixed(2))) },
    lists: Object.fromEntries((['protobuf', 'json'] as const).map((enc) => [enc, Object.fromEntries((['services', 'endpointslices'] as const).map((res) => {
      const s = rounds[enc][res];
      return [res, { items: s[0]!.items, pages: s[0]!.pages, bytes: s[0]!.bytes, ms: summary(s.map((x) => x.ms)), cpuMs: summary(s.map((x) => x.cpuMs)) }];
    }))])),
  };
  const fmt = (x: { median: number; min: number; max: number }) => `${x.median.toFixed(0)} (${x.min.toFixed(0)}-${x.max.toFixed(0)})`;
  process.stdout.write(`\nFirst-sync list at ${SERVICES} Services (${ENDPOINTS} endpoints each), ${ROUNDS} rounds, median (min-max); load ${result.machine.loadavg.join(' ')} on ${result.machine.cpus} CPUs\n`);
  process.stdout.write('| list | encoding | objects | pages | bytes | wall ms | client CPU ms |\n|---|---|---|---|---|---|---|\n');
  for (const res of ['services', 'endpointslices'] as const) {
    for (const enc of ['protobuf', 'json'] as const) {
      const l = (result.lists as Record<Enc, Record<string, { items: number; pages: number; bytes: number; ms: never; cpuMs: never }>>)[enc][res]!;
      process.stdout.write(`| ${res} | ${enc} | ${l.items} | ${l.pages} | ${l.bytes} | ${fmt(l.ms)} | ${fmt(l.cpuMs)} |\n`);
    }
  }
  const dir = join(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `list-encoding-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  log(`wrote ${file}`);
} finally {
  await stop();
}
