// Focused control-plane micro-benchmark, no cluster: N Services x E endpoints go through the
// change trackers into the model, then a full translate + diff + apply against in-memory maps,
// then single-endpoint changes each translated as a partial sync. Reports per-change latency
// and heap, the numbers the full `--part control` bench measures end to end at much higher cost.
// Run: node --expose-gc e2e/bench/translate-micro.ts [services=10000] [endpoints=10] [changes=20]
import { EndpointsChangeTracker, type EndpointsMap } from '../../src/model/endpoints-change-tracker.ts';
import { ServiceChangeTracker, type ServicePortMap } from '../../src/model/service-change-tracker.ts';
import { LbIds } from '../../src/dataplane/ids.ts';
import { syncMaps } from '../../src/dataplane/apply-sync.ts';
import { emptyLbState } from '../../src/translate/lb-types.ts';
import { Translator } from '../../src/translate/translate.ts';
import { endpointSlice, service } from './objects.ts';

// 10.128.0.0/9: room for 100k distinct endpoint addresses (objects.ts' synthetic range holds 61k).
const syntheticEndpoint = (n: number) => `10.${128 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;

const [N = 10000, E = 10, CHANGES = 20] = process.argv.slice(2).map(Number);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const heapMiB = () => { gc(); gc(); return process.memoryUsage().heapUsed / 2 ** 20; };
const ip = (i: number) => `10.96.${(i >> 8) & 255}.${i & 255}`.replace(/^10\.96\./, `10.${96 + (i >> 16)}.`);

const base = heapMiB();
const svcT = new ServiceChangeTracker();
const epT = new EndpointsChangeTracker('node-a');
const slices = new Map<number, ReturnType<typeof endpointSlice>>();
// Generation 0: service i's own E addresses; a change gives it E fresh ones (as a rollout would).
const eps = (i: number, gen: number) => Array.from({ length: E }, (_, j) => ({ ip: syntheticEndpoint((gen === 0 ? i * E : N * E + gen * E) + j + 1), node: j % 2 ? 'node-a' : 'node-b' }));
for (let i = 0; i < N; i++) {
  svcT.update(null, service({ name: `s${i}`, type: i % 5 === 0 ? 'NodePort' : 'ClusterIP', protocol: 'TCP', port: 80, targetPort: 8080, clusterIP: ip(i + 1), ...(i % 5 === 0 ? { nodePort: 30000 + i / 5 } : {}) }));
  const s = endpointSlice(`s${i}`, 'TCP', 8080, eps(i, 0));
  slices.set(i, s);
  epT.update(null, s);
}
const services: ServicePortMap = new Map();
const endpoints: EndpointsMap = new Map();
svcT.apply(services);
epT.apply(endpoints);
const modelHeap = heapMiB();

const node = { name: 'node-a', labels: {}, nodeIPs: ['192.168.0.2'], nodePortAddresses: ['192.168.0.2'], localhostNodePorts: true };
const ids = new LbIds({ now: () => Date.now() });
const applied = emptyLbState();
const maps = { update() {}, delete() {} } as never;
const translator = new Translator();
let t = performance.now();
const full = translator.translate({ services, endpoints }, node, {}, ids, 'full');
const fullMs = performance.now() - t;
t = performance.now();
const r = syncMaps({ wanted: full.wanted, applied, maps, ids, mode: 'full' });
const fullSyncMs = performance.now() - t;
const stateHeap = heapMiB();
const times: number[] = [];
const translateTimes: number[] = [];
for (let c = 0; c < CHANGES; c++) {
  const i = (c * 7919) % N;
  const prev = slices.get(i)!;
  const next = endpointSlice(`s${i}`, 'TCP', 8080, eps(i, c + 1));
  slices.set(i, next);
  const t0 = performance.now();
  epT.update(prev, next);
  epT.apply(endpoints);
  const t1 = performance.now();
  const res = translator.translate({ services, endpoints }, node, {}, ids, 'partial');
  translateTimes.push(performance.now() - t1);
  const s = syncMaps({ wanted: res.wanted, applied, maps, ids, mode: 'partial', touched: res.touched });
  if (!s.ok) throw new Error('apply failed');
  times.push(performance.now() - t0);
}
const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!.toFixed(1);
console.log(JSON.stringify({
  services: N, endpointsPerService: E, entries: Object.fromEntries(Object.entries(full.wanted).map(([k, v]) => [k, v.size])),
  fullTranslateMs: +fullMs.toFixed(0), fullSyncMs: +fullSyncMs.toFixed(0), ops: r.ops,
  changeTranslateMs: { p50: q(translateTimes, 0.5), p99: q(translateTimes, 0.99) },
  changeSyncMs: { p50: q(times, 0.5), p99: q(times, 0.99) },
  heapMiB: { model: +(modelHeap - base).toFixed(0), modelPlusState: +(stateHeap - base).toFixed(0) },
  rssMiB: +(process.memoryUsage().rss / 2 ** 20).toFixed(0),
}));
