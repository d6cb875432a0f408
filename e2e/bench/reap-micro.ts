// Micro-benchmark of one stale-connection reaping (stale-connection-reaper.ts): the real socket
// terminator (sock_term.bpf.o, iterators in every network namespace of the machine) and the two
// north-south conntrack maps the reaper walks at the agent's default size (262,144), kpb_ct4 holding N UDP entries
// that do not match, as a busy node's would. One backend of a UDP Service leaves and comes back
// three times; each reaping is timed whole (what held the event loop before it ran in steps) and
// step by step (what a sync can now wait for at most).
//   usage (root): node e2e/bench/reap-micro.ts [conntrack entries, default 0]
// Prints one JSON object: wholeMs per reaping, steps per reaping, longest and median step.
import { join } from 'node:path';
import { BpfObject, createMap } from 'bpf-loader-napi';
import { StaleConnectionReaper } from '../../src/dataplane/stale-connection-reaper.ts';
import { SocketTerminator } from '../../src/dataplane/socket-terminator.ts';
import { ServiceChangeTracker, type ServicePortMap } from '../../src/model/service-change-tracker.ts';
import { EndpointsChangeTracker, type EndpointsMap } from '../../src/model/endpoints-change-tracker.ts';
import { slice, svc } from '../../src/model/testing/fixtures.ts';
const N = Number(process.argv[2] ?? 0);
const obj = BpfObject.open(join(import.meta.dirname, '..', '..', 'build', 'bpf', 'tc.bpf.o'));
const maps = ['kpb_ct4', 'kpb_ct6'].map((name) => {
  const spec = obj.maps.find((m) => m.name === name)!;
  return createMap({ ...spec, maxEntries: 262144, name, keyLayout: spec.keyLayout, valueLayout: spec.valueLayout });
});
const ct4 = maps[0]!;
const vs = ct4.info().valueSize;
for (let i = 0; i < N; i += 4096) {
  const n = Math.min(4096, N - i);
  const k = Buffer.alloc(16 * n); const v = Buffer.alloc(vs * n);
  for (let j = 0; j < n; j++) { k.writeUInt32BE(0xc6120000 + i + j, j * 16); k.writeUInt32BE(0xc6130001, j * 16 + 4); k.writeUInt16BE(4000, j * 16 + 8); k.writeUInt16BE(53, j * 16 + 10); k[j * 16 + 12] = 17; }
  ct4.updatePacked(k, v);
}
const so = BpfObject.open(join(import.meta.dirname, '..', '..', 'build', 'bpf', 'sock_term.bpf.o'));
const coll = await so.load();
const term = new SocketTerminator({ collection: coll });
const reaper = new StaleConnectionReaper({ terminator: term, conntrack: () => maps, nodeAddresses: () => null });
const st = new ServiceChangeTracker(); const et = new EndpointsChangeTracker('node-a');
const services: ServicePortMap = new Map(); const endpoints: EndpointsMap = new Map();
st.update(null, svc('dns', { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] }));
let prev: ReturnType<typeof slice> | null = null;
const whole: number[] = [];
const stepMs: number[] = [];
const stepCounts: number[] = [];
for (let r = 0; r < 6; r++) {
  const s = slice('dns', 'dns-1', (r % 2 ? ['198.18.1.5'] : ['198.18.1.5', '198.18.2.5']).map((ip) => ({ ip })), { ports: [{ name: 'dns', port: 5353, protocol: 'UDP' }] });
  et.update(prev, s);
  prev = s;
  const changed = new Set([...st.apply(services).updatedServices, ...et.apply(endpoints).updatedServices]);
  const t0 = performance.now();
  const flows = reaper.staleFlows(changed, services, endpoints);
  if (flows.length === 0) continue;
  const steps = reaper.reapSteps(flows);
  let n = 0;
  for (;;) {
    const t = performance.now();
    const x = steps.next();
    stepMs.push(performance.now() - t);
    n++;
    if (x.done) break;
  }
  whole.push(performance.now() - t0);
  stepCounts.push(n);
}
stepMs.sort((a, b) => a - b);
const round = (x: number) => Math.round(x * 100) / 100;
console.log(JSON.stringify({
  conntrackEntries: N, wholeMs: whole.map(round), steps: stepCounts,
  longestStepMs: round(stepMs.at(-1)!), medianStepMs: round(stepMs[Math.floor(stepMs.length / 2)]!),
}));
term.close();
coll.close();
for (const m of maps) m.close();
