// Micro-benchmark of the map-fill part of a /metrics scrape (read-counters.ts): the maps of
// tc.bpf.o as the agent sizes them at 10k Services x 10 endpoints (lb_slots 262,144 holding 100k
// entries, lb_backends 100k, lb_services and lb_rev_nat 10k, the conntrack maps 262,144 holding
// N entries in kpb_ct4), counted by walking every map in chunks (the fallback) and by the kernel's
// counts (map_count.bpf.o, one iterator run; the LPM trie lb_src_ranges is still walked). The SNAT
// reservation tables (arrays) are left out: the agent counts their claimed slots by a BPF census
// (snat_gc.h), never by a walk.
//   usage (root): node e2e/bench/map-count-micro.ts [conntrack entries, default 0]
// Prints one JSON object: per method, the scrape's wall time and the longest piece between turns.
import { join } from 'node:path';
import { BpfObject, createMap, type BpfMap } from 'bpf-loader-napi';
import { MapEntryCounter } from '../../src/dataplane/map-entry-counter.ts';
import { readCounters } from '../../src/dataplane/read-counters.ts';

const CT = Number(process.argv[2] ?? 0);
const obj = BpfObject.open(join(import.meta.dirname, '..', '..', 'build', 'bpf', 'tc.bpf.o'));
const sizes: Record<string, [max: number, fill: number]> = {
  lb_services: [65536, 10000], lb_rev_nat: [65536, 10000], lb_backends: [131072, 100000], lb_slots: [262144, 100000],
  lb_src_ranges: [16384, 0], kpb_ct4: [262144, CT], kpb_ct6: [262144, 0],
};
const maps: BpfMap[] = [];
for (const [name, [max, n]] of Object.entries(sizes)) {
  const spec = obj.maps.find((m) => m.name === name)!;
  const m = createMap({ ...spec, maxEntries: max, name, keyLayout: undefined, valueLayout: undefined });
  maps.push(m);
  const vs = m.info().valueSize;
  for (let i = 0; i < n; i += 4096) {
    const c = Math.min(4096, n - i);
    const k = Buffer.alloc(m.keySize * c);
    for (let j = 0; j < c; j++) k.writeUInt32LE(i + j + 1, j * m.keySize);
    m.updatePacked(k, Buffer.alloc(vs * c));
  }
}
const counter = await MapEntryCounter.load(join(import.meta.dirname, '..', '..', 'build', 'bpf', 'map_count.bpf.o'));
const out: Record<string, { wallMs: number[]; longestPieceMs: number[] }> = { walk: { wallMs: [], longestPieceMs: [] }, kernel: { wallMs: [], longestPieceMs: [] } };
for (let r = 0; r < 6; r++) {
  const method = r % 2 === 0 ? 'walk' : 'kernel';
  let last = performance.now();
  let longest = 0;
  const turn = () => new Promise<void>((resolve) => {
    longest = Math.max(longest, performance.now() - last);
    setImmediate(() => {
      last = performance.now();
      resolve();
    });
  });
  const t0 = performance.now();
  last = t0;
  const snap = await readCounters({ sized: maps, ...(method === 'kernel' ? { kernelCounts: () => counter.counts() } : {}) }, [], turn);
  longest = Math.max(longest, performance.now() - last);
  out[method]!.wallMs.push(Math.round((performance.now() - t0) * 10) / 10);
  out[method]!.longestPieceMs.push(Math.round(longest * 100) / 100);
  if (snap.maps.find((x) => x.map === 'lb_slots')!.entries !== 100000) throw new Error('lb_slots count is wrong');
}
console.log(JSON.stringify({ conntrackEntries: CT, ...out }));
counter.close();
for (const m of maps) m.close();
