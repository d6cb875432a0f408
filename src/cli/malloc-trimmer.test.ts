import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { mallocStats, mallocTrim } from 'bpf-loader-napi';
import { startMallocTrimmer } from './malloc-trimmer.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const settle = () => new Promise((r) => setTimeout(r, 50));

test('trims after a major GC only when enough more is free than after the last trim', async () => {
  const cases = [
    // [free bytes seen at each major GC (after a trim: the next value), trims expected]
    { name: 'little free: no trim', free: [1 << 20], trims: 0 },
    { name: 'much free: one trim', free: [8 << 20, 8 << 20], trims: 1 },
  ];
  for (const c of cases) {
    const seen = [...c.free];
    let trims = 0;
    const t = startMallocTrimmer({ freeBytes: () => seen.length > 1 ? seen.shift()! : seen[0]!, trim: () => trims++ });
    gc();
    await settle();
    t.stop();
    assert.equal(trims, c.trims, c.name);
    assert.equal(t.trims, c.trims, c.name);
  }
});

test('does not trim again until more is freed, and not after stop()', async () => {
  let free = 10 << 20;
  let trims = 0;
  const t = startMallocTrimmer({ freeBytes: () => free, trim: () => trims++ });
  gc();
  await settle();
  assert.equal(trims, 1);
  gc();
  await settle();
  assert.equal(trims, 1, 'the same free bytes are not trimmed twice');
  free = 15 << 20;
  gc();
  await settle();
  assert.equal(trims, 2, '5 MiB more free after a GC is trimmed');
  t.stop();
  free = 40 << 20;
  gc();
  await settle();
  assert.equal(trims, 2, 'stopped');
});

test('with the real allocator, freed malloc memory in the middle of the heap is returned', async () => {
  // 32 KiB ArrayBuffers come from malloc's heap (below the mmap threshold): keep every other one
  // so the freed ones cannot be given back by a trim of the heap's top alone.
  let bufs: Uint8Array[] | null = Array.from({ length: 2000 }, () => new Uint8Array(32 << 10).fill(1));
  const keep = bufs.filter((_, i) => i % 2 === 0);
  const before = mallocStats();
  const rssBefore = process.memoryUsage.rss();
  bufs = null;
  const t = startMallocTrimmer({ freeBytes: () => mallocStats().freeBytes, trim: mallocTrim });
  gc();
  gc();
  await settle();
  t.stop();
  const after = mallocStats();
  assert.ok(after.freeBytes - before.freeBytes >= 16 << 20, `~31 MiB freed in malloc's arenas (free ${before.freeBytes} -> ${after.freeBytes})`);
  assert.ok(t.trims >= 1, 'trimmed');
  const returned = rssBefore - process.memoryUsage.rss();
  assert.ok(returned >= 16 << 20, `RSS fell by ${(returned / 2 ** 20).toFixed(1)} MiB, expected most of the ~31 MiB freed`);
  assert.equal(keep.length, 1000);
});
