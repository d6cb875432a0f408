import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { compactHeap } from './compact-heap.ts';

// A child process with the gc extension: the heap grows for a burst (half of it kept, scattered
// over the pages), then one compaction gives the emptied pages back.
const CHILD = `
import { compactHeap } from ${JSON.stringify(new URL('./compact-heap.ts', import.meta.url).href)};
const burst = Array.from({ length: 600000 }, (_, i) => ({ i, s: 'x' + i, a: [i, i + 1] }));
const kept = burst.filter((_, i) => i % 8 === 0);
burst.length = 0;
const c = compactHeap();
console.log(JSON.stringify({ ...c, kept: kept.length }));
`;

test('compactHeap returns the pages a burst left behind (with the gc extension)', () => {
  const r = spawnSync(process.execPath, ['--expose-gc', '--max-semi-space-size=1', '--input-type=module', '-e', CHILD], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const c = JSON.parse(r.stdout) as { heapTotalBefore: number; heapTotalAfter: number; heapUsedAfter: number; ms: number; kept: number };
  assert.equal(c.kept, 75000);
  assert.ok(c.heapTotalAfter < c.heapTotalBefore / 2, `heapTotal ${c.heapTotalBefore >> 20} -> ${c.heapTotalAfter >> 20} MiB`);
  assert.ok(c.heapUsedAfter <= c.heapTotalAfter && c.ms >= 0);
});

test('compactHeap does nothing without the gc extension', () => {
  assert.equal(compactHeap(undefined), null);
  let called = 0;
  const c = compactHeap((o: unknown) => { called++; assert.deepEqual(o, { type: 'major', execution: 'sync', flavor: 'last-resort' }); });
  assert.equal(called, 1);
  assert.ok(c !== null && c.heapTotalAfter > 0);
});
