// The kernel's map entry counts (map_count.bpf.c) against full walks, on every map type the
// datapath's sized maps use: hash (preallocated or not), LRU hash (with evictions), per-CPU hash,
// hash of maps; and the LPM trie, which has no count and is walked. Needs root and Linux 6.6+.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMap, type BpfMap } from 'bpf-loader-napi';
import { bpfObjectPath } from './asset-paths.ts';
import { COUNTED_MAP_TYPES, MapEntryCounter } from './map-entry-counter.ts';
import { readCounters } from './read-counters.ts';

const BPF_F_NO_PREALLOC = 1;
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const walk = (m: BpfMap) => m.lookupPacked().count;

/** Writes keys 0..n-1 into `m` one by one (an LRU map evicts as it goes), then deletes every third. */
function fill(m: BpfMap, n: number, value: (i: number) => Buffer): void {
  for (let i = 0; i < n; i++) m.update(u32(i), value(i));
  for (let i = 0; i < n; i += 3) m.delete(u32(i));
}

test('MapEntryCounter.counts() equals a full walk for every hash-family map type, and readCounters uses it', async () => {
  const counter = await MapEntryCounter.load(bpfObjectPath('map_count'));
  const made: BpfMap[] = [];
  const make = (o: Parameters<typeof createMap>[0]) => {
    const m = createMap(o);
    made.push(m);
    return m;
  };
  try {
    const inner = make({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 4, name: 'kpb_t_inner' });
    const maps = [
      { m: make({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 4096, flags: BPF_F_NO_PREALLOC, name: 'kpb_t_hash' }), n: 3000 },
      { m: make({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 4096, name: 'kpb_t_prealloc' }), n: 3000 },
      // 3,000 writes into 1,024 entries: the LRU evicts, and the count follows.
      { m: make({ type: 'lru_hash', keySize: 4, valueSize: 8, maxEntries: 1024, name: 'kpb_t_lru' }), n: 3000 },
      { m: make({ type: 'percpu_hash', keySize: 4, valueSize: 8, maxEntries: 4096, name: 'kpb_t_pcpu' }), n: 500 },
      { m: make({ type: 'hash_of_maps', keySize: 4, valueSize: 4, maxEntries: 256, name: 'kpb_t_hom', innerTemplate: inner }), n: 200 },
    ];
    for (const { m, n } of maps) {
      const perCpu = m.info().type === 'percpu_hash';
      fill(m, n, () => (m.info().type === 'hash_of_maps' ? u32(inner.fd) : perCpu ? Buffer.alloc(8 * m.cpus) : Buffer.alloc(8)));
    }
    const trie = make({ type: 'lpm_trie', keySize: 8, valueSize: 4, maxEntries: 64, flags: BPF_F_NO_PREALLOC, name: 'kpb_t_trie' });
    for (let i = 0; i < 10; i++) {
      const k = Buffer.alloc(8);
      k.writeUInt32LE(32, 0);
      k.writeUInt32BE(0xc6120000 + i, 4);
      trie.update(k, u32(i));
    }

    const counts = counter.counts();
    for (const { m } of maps) {
      assert.ok(COUNTED_MAP_TYPES.has(m.info().type), m.info().type);
      assert.equal(MapEntryCounter.countOf(counts, m), walk(m), `${m.name} (${m.info().type}): the kernel's count is a walk's`);
      assert.ok(walk(m) > 0, `${m.name} holds entries`);
    }
    assert.equal(walk(maps[2]!.m) <= 1024, true);
    assert.equal(MapEntryCounter.countOf(counts, trie), undefined, 'an LPM trie keeps no count');

    // The metrics' snapshot: the same figures with the kernel's counts as with walks.
    const sized = [...maps.map((x) => x.m), trie];
    const noTurn = () => Promise.resolve();
    const walked = await readCounters({ sized }, [], noTurn);
    let turns = 0;
    const counted = await readCounters({ sized, kernelCounts: () => counter.counts() }, [], () => (turns++, Promise.resolve()));
    assert.deepEqual(counted.maps, walked.maps);
    assert.equal(turns, 1, 'only the trie is walked (one chunk)');
  } finally {
    for (const m of made.reverse()) m.close();
    counter.close();
  }
});

test('readCounters takes the entries of a map counted another way (the SNAT slot tables\' census) instead of walking it', async () => {
  // An array holds every slot: a walk would count all of them, claimed or not.
  const m = createMap({ name: 'kpb_snat4', type: 'array', keySize: 4, valueSize: 8, maxEntries: 64 });
  try {
    let asked = 0;
    const counted = new Map([['kpb_snat4', () => (asked++, Promise.resolve(5))]]);
    const snap = await readCounters({ sized: [m], conntrack: { IPv4: [m], IPv6: [] }, counted }, [], () => Promise.resolve());
    assert.deepEqual(snap.maps, [{ map: 'kpb_snat4', entries: 5, maxEntries: 64 }]);
    assert.deepEqual(snap.conntrack, [{ ipFamily: 'IPv4', entries: 5 }, { ipFamily: 'IPv6', entries: 0 }]);
    assert.equal(asked, 2);
    const walked = await readCounters({ sized: [m] }, [], () => Promise.resolve());
    assert.equal(walked.maps[0]!.entries, 64, 'without it every slot would count');
  } finally {
    m.close();
  }
});
