// The body of e2e/bench/sync-micro.ts (which bundles this file and runs it as the agent runs).
// Control-plane micro-benchmark of the real pipeline without an apiserver (issue 10, item 6):
// an in-memory list/watch (500-item JSON pages, JSON watch lines) feeds the real Reflectors ->
// change trackers -> translation -> writes to real BPF maps created from build/bpf/tc.bpf.o's map
// specs (no pins, no programs, no attach). Not a test: it prints numbers.
//
//   node --expose-gc e2e/bench/sync-micro.ts --services 10000 --endpoints 10 --changes 200 \
//        [--variant distinct|shared|conflict] [--json]
//
// Variants (the endpoint address scheme, measuring.md "Endpoint address schemes matter"):
//   distinct  every endpoint address is used by one Service; a change gives a Service fresh ones;
//   shared    every address is used by two Services (service i shares half its endpoints with i+1);
//   conflict  distinct, plus two Services that claim one ExternalIP:port.
// firstSyncMs: reflector start -> end of the first full programming (listing, decoding, trackers,
// translation, map writes; map creation included, program verification not: no programs load),
// less the time the in-memory server spent making its pages' JSON (serverMs: an apiserver's work,
// done in another process for a real agent; the agent's JSON.parse of every page is counted).
// changeP50Ms/P99Ms: one EndpointSlice change (a watch event) -> end of the sync that programs it.
// fullRecomputes: syncs after the first that translated every Service port.
// rssMiB (and heap*, external): after the changes and two full GCs, once the GC's observers ran
// (the agent's malloc trimmer returns the C heap freed by the list and the first sync). The
// in-memory list/watch lives in this process but keeps nothing of the listed objects (pages are
// made from an index when asked); it holds only the changed objects' JSON (~0.3 MiB at 200
// changes). mallocTrims: how many times the trimmer returned memory. After the first sync it compacts
// the heap and unmaps start-up's file pages as the agent does (compactMs, releasedFileMiB).
// Needs root (BPF maps) and `make bpf`. Diagnostics (stderr): KPB_BENCH_STAGES=1 memory per stage
// (=2 also V8 spaces and resident mappings); KPB_BENCH_PROFILE=<file> a CPU profile of the first
// programming; KPB_HEAP_SNAPSHOT=<file> a heap snapshot at the end.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BpfObject, createMap, mallocStats, mallocTrim, releaseFilePages, type BpfMap } from 'bpf-loader-napi';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { systemClock, systemTimers } from '../../src/health/clock.ts';
import { projectEndpointSlice, projectNode, projectService, type EndpointSliceProjection, type ServiceProjection } from '../../src/kube/projections.ts';
import { startProxyInformers } from '../../src/kube/proxy-informers.ts';
import { defaultBpfOptions } from '../../src/config/bpf-options.ts';
import { demandOf, sizeMaps } from '../../src/dataplane/map-sizes.ts';
import { totalmem } from 'node:os';
import { MemoryListWatch } from './memory-list-watch.ts';
import { startMallocTrimmer } from '../../src/cli/malloc-trimmer.ts';
import { compactHeap } from '../../src/cli/compact-heap.ts';
import { BENCH_NAMESPACE, endpointSlice, service } from './objects.ts';
// --- the pipeline under test: trackers -> LbProgrammer (compile, LB state, flush) ---
import { EndpointsChangeTracker, type EndpointsMap } from '../../src/model/endpoints-change-tracker.ts';
import { ServiceChangeTracker, type ServicePortMap } from '../../src/model/service-change-tracker.ts';
import { LbIds } from '../../src/dataplane/ids.ts';
import { BpfLbMapIo } from '../../src/dataplane/bpf-map-writer.ts';
import { LbProgrammer } from '../../src/dataplane/lb-programmer.ts';
import { runSteps } from '../../src/runner/run-steps.ts';
import { LB_MAP_NAMES, type LbMapName } from '../../src/translate/lb-types.ts';

const { values } = parseArgs({
  options: {
    services: { type: 'string', default: '10000' },
    endpoints: { type: 'string', default: '10' },
    changes: { type: 'string', default: '200' },
    variant: { type: 'string', default: 'distinct' },
    json: { type: 'boolean', default: false },
    'verify-every': { type: 'string', default: '0' },
    'verify-blocking': { type: 'boolean', default: false },
  },
});
const N = Number(values.services);
const E = Number(values.endpoints);
const CHANGES = Number(values.changes);
const variant = String(values.variant);
// As the agent does every sync period (sync-coordinator.ts, proxy-server.ts): every Nth change
// arrives VERIFY_CHANGE_AT_MS into a verifying sync (the maps compared with the state), and is
// timed from then to the end of the sync that programs it. The comparison runs in slices that
// give way to changes (run-steps.ts), or in one piece with --verify-blocking (as before issue 10's
// p99 work). 0: no verifying syncs.
const VERIFY_EVERY = Number(values['verify-every']);
const VERIFY_BLOCKING = values['verify-blocking'];
const VERIFY_CHANGE_AT_MS = 5;
if (!['distinct', 'shared', 'conflict'].includes(variant)) throw new Error(`unknown --variant ${variant}: distinct, shared or conflict`);
if (process.getuid?.() !== 0) throw new Error('sync-micro needs root (it creates BPF maps)');
const log = (msg: string) => { if (!values.json) console.log(msg); };

// Benchmark range 198.18.0.0/15 above the nodes' pod /24s (never routed: nothing is attached).
const addr = (n: number) => {
  const v = (198 << 24 | 18 << 16 | 3 << 8) + n;
  if (n < 0 || v > (198 << 24 | 19 << 16 | 0xffff)) throw new RangeError(`endpoint address ${n} out of range`);
  return `${v >>> 24}.${(v >> 16) & 255}.${(v >> 8) & 255}.${v & 255}`;
};
const clusterIP = (i: number) => `198.19.${(i + 1) >> 8 & 255}.${(i + 1) & 255}`.replace(/^198\.19\./, `198.19.`);
const SLICE_MAX = 100;
const ADDRESSES = 130304;
let fresh = 0;
const slicesPerService = Math.max(1, Math.ceil(E / SLICE_MAX));
/** Endpoint address indexes of slice s of service i, generation g (0: as listed). */
function endpointIndexes(i: number, s: number, g: number): number[] {
  const n = Math.min(SLICE_MAX, E - s * SLICE_MAX);
  if (variant === 'shared') {
    // Every address serves two Services: i's second half is i+1's first half; a change moves i's
    // set onto other Services' addresses, so it stays shared.
    const half = Math.ceil(E / 2);
    const span = Math.max(E, N * half);
    return Array.from({ length: n }, (_, j) => ((i + g * 7919) * half + s * SLICE_MAX + j) % span);
  }
  if (g === 0) return Array.from({ length: n }, (_, j) => i * E + s * SLICE_MAX + j);
  // Fresh addresses above the listed ones, as a rollout gives new pods.
  return Array.from({ length: n }, () => N * E + (fresh++ % (ADDRESSES - N * E)));
}
function sliceOf(i: number, s: number, g: number): V1EndpointSlice {
  const eps = endpointIndexes(i, s, g).map((n, j) => ({ ip: addr(n), node: j % 2 ? 'node-a' : 'node-b' }));
  const sl = endpointSlice(`s${i}`, 'TCP', 8080, eps, new Date());
  sl.metadata!.name = `s${i}-${s}`;
  return sl;
}
function serviceOf(i: number): V1Service {
  const s = service({ name: `s${i}`, type: i % 5 === 0 ? 'NodePort' : 'ClusterIP', protocol: 'TCP', port: 80, targetPort: 8080, clusterIP: clusterIP(i), ...(i % 5 === 0 ? { nodePort: 30000 + (i / 5) % 2768 } : {}) });
  s.spec!.clusterIPs = [clusterIP(i)];
  s.metadata!.creationTimestamp = new Date(Date.UTC(2026, 0, 1) + i * 1000);
  // Two Services claiming one ExternalIP:port.
  if (variant === 'conflict' && i < 2) s.spec!.externalIPs = ['203.0.113.10'];
  return s;
}

// The objects, stored before the list (as the apiserver holds them when the agent starts).
const services = new MemoryListWatch(projectService);
const slices = new MemoryListWatch(projectEndpointSlice);
services.generate(N, serviceOf);
slices.generate(N * slicesPerService, (n) => sliceOf(Math.floor(n / slicesPerService), n % slicesPerService, 0));

// BPF maps from the object's specs (no programs, no pins), sized as the agent sizes them.
const obj = BpfObject.open(process.env.KPB_TC_OBJECT ?? join(import.meta.dirname, '..', '..', 'build', 'bpf', 'tc.bpf.o'));
const maps = new Map<LbMapName, BpfMap>();
function createMaps(sizes: Partial<Record<LbMapName, number>>): void {
  for (const name of LB_MAP_NAMES) {
    const spec = obj.maps.find((m) => m.name === name)!;
    const inner = spec.innerMap ? createMap({ ...spec.innerMap, name: 'lb_maglev_tpl' }) : undefined;
    maps.set(name, createMap({ ...spec, maxEntries: sizes[name] ?? spec.maxEntries, name, innerTemplate: inner, keyLayout: spec.keyLayout, valueLayout: spec.valueLayout }));
    inner?.close();
  }
}

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
// As the agent does (proxy-server.ts): malloc's freed pages go back to the kernel after major GCs.
const trimmer = startMallocTrimmer({ freeBytes: () => mallocStats().freeBytes, trim: mallocTrim });
const cpu0 = process.cpuUsage();

// --- pipeline ---
const svcT = new ServiceChangeTracker();
const epT = new EndpointsChangeTracker('node-a');
const serviceMap: ServicePortMap = new Map();
const endpointsMap: EndpointsMap = new Map();
const ids = new LbIds({ now: () => Date.now() });
let programmer: LbProgrammer;
const node = { name: 'node-a', labels: {}, nodeIPs: ['192.0.2.11'], nodePortAddresses: ['192.0.2.11'], localhostNodePorts: true };
function sync(mode: 'full' | 'partial', verify = false): void {
  const ta = performance.now();
  const a = svcT.apply(serviceMap);
  const b = epT.apply(endpointsMap);
  if (mode === 'full') log(`trackers applied in ${(performance.now() - ta).toFixed(0)} ms`);
  const r = programmer.program(serviceMap, endpointsMap, new Set([...a.updatedServices, ...b.updatedServices]), mode, verify);
  if (!r.ok) throw new Error(`sync failed: ${r.failures[0]?.message}`);
  if (r.notProgrammed > 0) throw new Error(`${r.notProgrammed} Services did not fit in the maps`);
}
const handler = {
  service: (p: ServiceProjection | null, c: ServiceProjection | null) => svcT.update(p, c),
  slice: (p: EndpointSliceProjection | null, c: EndpointSliceProjection | null) => epT.update(p, c),
};
// --- end of pipeline ---

let onSynced: () => void = () => {};
const allSynced = new Promise<void>((r) => { onSynced = r; });
const stage = (what: string) => {
  if (!process.env.KPB_BENCH_STAGES) return;
  const m = process.memoryUsage();
  if (process.env.KPB_BENCH_STAGES === '2') {
    // Where the resident memory is: the V8 spaces (committed/used), and the process's mappings.
    const spaces = process.getBuiltinModule('node:v8').getHeapSpaceStatistics().filter((sp) => sp.space_size > 0);
    console.error(`${what}: ${spaces.map((sp) => `${sp.space_name} ${(sp.physical_space_size / 2 ** 20).toFixed(1)}/${(sp.space_used_size / 2 ** 20).toFixed(1)}`).join(' ')} MiB`);
    const rss = new Map<string, number>();
    let name = '';
    for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
      const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
      if (head) name = (head[1] || '(anonymous)').split('/').pop()!;
      const kb = /^Rss:\s+(\d+) kB/.exec(line);
      if (kb) rss.set(name, (rss.get(name) ?? 0) + Number(kb[1]));
    }
    const ms = mallocStats();
    console.error(`${what}: malloc arenas ${(ms.arenaBytes / 2 ** 20).toFixed(1)} (in use ${(ms.inUseBytes / 2 ** 20).toFixed(1)}, free ${(ms.freeBytes / 2 ** 20).toFixed(1)}), mmap'd chunks ${(ms.mmapBytes / 2 ** 20).toFixed(1)} MiB`);
    console.error(`${what}: resident ${[...rss].sort((x, y) => y[1] - x[1]).slice(0, 4).map(([n, k]) => `${n} ${(k / 1024).toFixed(0)}`).join(', ')} MiB`);
  }
  console.error(`${what}: rss ${(m.rss / 2 ** 20).toFixed(0)} heapTotal ${(m.heapTotal / 2 ** 20).toFixed(0)} heapUsed ${(m.heapUsed / 2 ** 20).toFixed(0)} external ${(m.external / 2 ** 20).toFixed(0)} MiB`);
};
stage('before the list');
const t0 = performance.now();
const cpuAtStart = process.cpuUsage();
// The agent's own informers (selectors, the slim EndpointSlice cache), over the in-memory transport.
const informers = startProxyInformers({
  nodeName: 'node-a', transport: { services, endpointSlices: slices, nodes: new MemoryListWatch(projectNode) },
  resyncPeriodMs: 0, clock: systemClock, timers: systemTimers, onError: (e) => { throw e; },
  handler: {
    onService: handler.service, onEndpointSlice: handler.slice, onNode: () => {},
    onSynced: () => { if (informers?.synced()) onSynced(); },
  },
});
await allSynced;
const serverMs = () => services.serverMs + slices.serverMs;
const listedMs = performance.now() - t0 - serverMs();
stage('listed');
// Sized as the agent sizes them (map-sizes.ts), from the listed objects.
const demand = demandOf(informers.services.items(), epT.endpointCounts());
const defaults = defaultBpfOptions().mapSizes;
const { sizes } = sizeMaps({ flags: defaults, explicit: new Set(), defaults, totalMemory: totalmem(), demand, pinned: {} });
// KPB_BENCH_PROFILE=<file>: a CPU profile of the programming of the first sync (after the list).
const inspector = process.env.KPB_BENCH_PROFILE ? new (await import('node:inspector')).Session() : null;
if (inspector) {
  inspector.connect();
  inspector.post('Profiler.enable');
  inspector.post('Profiler.setSamplingInterval', { interval: 100 });
  inspector.post('Profiler.start');
}
const tm = performance.now();
createMaps({ lb_services: sizes.services, lb_rev_nat: sizes.services, lb_backends: sizes.backends, lb_slots: sizes.slots });
const io = new BpfLbMapIo((n) => maps.get(n)!, 16381);
programmer = new LbProgrammer({
  io, codec: io.codec(), ids, maglevTableSize: 16381,
  capacity: { lb_services: io.capacity('lb_services'), lb_slots: io.capacity('lb_slots'), lb_backends: io.capacity('lb_backends'), lb_rev_nat: io.capacity('lb_rev_nat'), lb_maglev: io.capacity('lb_maglev'), lb_src_ranges: io.capacity('lb_src_ranges') },
});
programmer.configure(node, { families: ['IPv4', 'IPv6'] });
log(`maps created in ${(performance.now() - tm).toFixed(0)} ms`);
sync('full');
const firstSyncMs = performance.now() - t0 - serverMs();
const firstSyncCpu = process.cpuUsage(cpuAtStart);
if (inspector) {
  inspector.post('Profiler.stop', (err, r) => { if (!err) writeFileSync(process.env.KPB_BENCH_PROFILE!, JSON.stringify(r.profile)); });
}
// As the agent does after its first successful sync (proxy-server.ts): one compacting GC gives back
// what the heap grew for the list and the sync, then the executable's pages used only at start-up
// are unmapped. KPB_AS_BEFORE=1 skips both (to compare with the same build).
const asBefore = Boolean(process.env.KPB_AS_BEFORE);
const compaction = asBefore ? null : compactHeap();
const released = asBefore ? { mappings: 0, bytes: 0 } : releaseFilePages();
stage('first sync');
log(`first full programming ${firstSyncMs.toFixed(0)} ms (listed after ${listedMs.toFixed(0)} ms; the server's page making, ${serverMs().toFixed(0)} ms, left out)`);

await slices.watching();
const times: number[] = [];
const verifyTimes: number[] = [];
const verifyChangeTimes: number[] = [];
let verifiesFinished = 0;
let verifiesDropped = 0;
const gen = new Map<number, number>();
for (let c = 0; c < CHANGES; c++) {
  // One EndpointSlice change: a slice of service i gets new endpoints.
  const i = (c * 7919) % N;
  const k = c % slicesPerService;
  const g = (gen.get(i * slicesPerService + k) ?? 0) + 1;
  gen.set(i * slicesPerService + k, g);
  const next = sliceOf(i, k, g);
  if (VERIFY_EVERY > 0 && (c + 1) % VERIFY_EVERY === 0) {
    // The change arrives while a verifying sync compares the maps.
    const tv = performance.now();
    const arrival = tv + VERIFY_CHANGE_AT_MS;
    const timer = new Promise<void>((r) => setTimeout(() => { slices.emit(next); r(); }, VERIFY_CHANGE_AT_MS));
    if (VERIFY_BLOCKING) {
      sync('partial', true);
    } else {
      sync('partial');
      const v = await runSteps(programmer.verifySteps(), { sliceMs: 4, now: () => performance.now(), stop: () => epT.pendingCount > 0 });
      if (v.done) verifiesFinished++;
      else verifiesDropped++;
    }
    verifyTimes.push(performance.now() - tv);
    await timer;
    sync('partial');
    times.push(performance.now() - arrival);
    verifyChangeTimes.push(performance.now() - arrival);
    continue;
  }
  const t = performance.now();
  slices.emit(next);
  sync('partial');
  times.push(performance.now() - t);
}
// Verifying syncs with no change arriving: how long a full comparison takes (and repairs nothing).
const fullVerifyTimes: number[] = [];
for (let k = 0; VERIFY_EVERY > 0 && k < 3; k++) {
  const tv = performance.now();
  if (VERIFY_BLOCKING) sync('partial', true);
  else {
    const v = await runSteps(programmer.verifySteps(), { sliceMs: 4, now: () => performance.now(), stop: () => epT.pendingCount > 0 });
    if (!v.done || v.value.repaired > 0) throw new Error('a verifying run with nothing changing did not finish cleanly');
  }
  fullVerifyTimes.push(performance.now() - tv);
}
await informers.stop();
const cpu = process.cpuUsage(cpu0);
gc(); gc();
// The GC's observers run after it (the agent's malloc trimmer among them), as in the agent; then
// what that turn allocated is collected again, so heapUsed is the live heap.
await new Promise((r) => setTimeout(r, 20));
trimmer.stop();
gc();
stage('after the changes, collected');
const mem = process.memoryUsage();
// KPB_HEAP_SNAPSHOT=<file>: where the heap goes (read it with Chrome's devtools or by constructor).
if (process.env.KPB_HEAP_SNAPSHOT) (await import('node:v8')).writeHeapSnapshot(process.env.KPB_HEAP_SNAPSHOT);
const q = (xs: number[], p: number) => xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]! : 0;
const out = {
  variant, services: N, endpoints: E, changes: CHANGES,
  firstSyncMs: Math.round(firstSyncMs), changeP50Ms: +q(times, 0.5).toFixed(2), changeP99Ms: +q(times, 0.99).toFixed(2),
  fullRecomputes: programmer.fullRecomputes, heapUsedMiB: +(mem.heapUsed / 2 ** 20).toFixed(1), rssMiB: +(mem.rss / 2 ** 20).toFixed(1),
  cpuMs: Math.round((cpu.user + cpu.system) / 1000),
  firstSyncCpuMs: Math.round((firstSyncCpu.user + firstSyncCpu.system) / 1000), serverMs: Math.round(serverMs()),
  heapTotalMiB: +(mem.heapTotal / 2 ** 20).toFixed(1), externalMiB: +(mem.external / 2 ** 20).toFixed(1),
  mallocTrims: trimmer.trims, releasedFileMiB: +(released.bytes / 2 ** 20).toFixed(1), compactMs: Math.round(compaction?.ms ?? 0),
  ...(VERIFY_EVERY > 0 ? {
    verifyEvery: VERIFY_EVERY, verifyBlocking: VERIFY_BLOCKING, verifySyncs: verifyTimes.length, verifiesFinished, verifiesDropped,
    // A change arriving during a verifying sync: arrival -> programmed.
    changeDuringVerifyMaxMs: +Math.max(...verifyChangeTimes).toFixed(2), changeDuringVerifyP50Ms: +q(verifyChangeTimes, 0.5).toFixed(2),
    // A whole comparison with nothing arriving (its wall time, slices and turns included).
    fullVerifyMs: fullVerifyTimes.map((x) => Math.round(x)),
  } : {}),
};
for (const m of maps.values()) m.close();
console.log(values.json ? JSON.stringify(out) : out);
