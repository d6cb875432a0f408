import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdAllocator, LbIds } from './ids.ts';
import { entryKey } from '../translate/keys.ts';
import { parseIp } from '../model/ip.ts';

function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

test('IdAllocator gives stable, nonzero, unique ids', () => {
  const c = clock();
  const a = new IdAllocator({ now: c.now });
  const x = a.acquire('x');
  const y = a.acquire('y');
  assert.ok(x > 0 && y > 0 && x !== y);
  assert.equal(a.acquire('x'), x);
  assert.equal(a.lookup('y'), y);
});

test('IdAllocator quarantines released ids for the grace period', () => {
  const c = clock();
  const a = new IdAllocator({ now: c.now, graceMs: 1000, maxId: 3 });
  const ids = ['a', 'b', 'c'].map((k) => a.acquire(k));
  assert.deepEqual(ids, [1, 2, 3]);
  a.release('b');
  assert.throws(() => a.acquire('d'), RangeError, 'the only free id is still quarantined');
  c.advance(999);
  assert.throws(() => a.acquire('d'), RangeError);
  c.advance(1);
  assert.equal(a.acquire('d'), 2, 'reusable after the grace period');
});

test('IdAllocator prefers never-used ids over expired ones and wraps without using 0', () => {
  const c = clock();
  const a = new IdAllocator({ now: c.now, graceMs: 10, maxId: 4 });
  assert.equal(a.acquire('a'), 1);
  a.release('a');
  c.advance(100);
  assert.deepEqual(['b', 'c', 'd', 'e'].map((k) => a.acquire(k)), [2, 3, 4, 1]);
});

test('IdAllocator.seed adopts pinned ids and rejects bad ones', () => {
  const c = clock();
  const a = new IdAllocator({ now: c.now, maxId: 100 });
  const rejected = a.seed([
    ['a', 7],
    ['b', 0],
    ['c', 7],
    ['d', 101],
    ['a', 7],
  ]);
  assert.deepEqual(rejected, ['b', 'c', 'd']);
  assert.equal(a.acquire('a'), 7);
  assert.equal(a.acquire('e'), 8, 'new ids continue after the highest seeded one');
});

test('IdAllocator.releaseAllExcept releases what is no longer wanted', () => {
  const c = clock();
  const a = new IdAllocator({ now: c.now });
  for (const k of ['a', 'b', 'c']) a.acquire(k);
  assert.deepEqual(a.releaseAllExcept(new Set(['b'])), ['a', 'c']);
  assert.deepEqual([...a.keys()], ['b']);
  assert.equal(a.size, 1);
});

test('LbIds.seedFromMaps reads service and backend ids from dumped maps', () => {
  const c = clock();
  const ids = new LbIds({ now: c.now });
  const key = { addr: parseIp('198.19.0.10')!.bytes, port: 80, proto: 6, scope: 1 };
  const backend = { addr: parseIp('198.18.1.5')!.bytes, port: 8080, proto: 6, flags: 0, node_addr: new Uint8Array(16) };
  ids.seedFromMaps({
    lb_services: [[key, { service_id: 42, backend_count: 1, local_backend_count: 0, flags: 1, affinity_timeout: 0 }]],
    lb_backends: [[9, backend]],
  });
  // Key field order from a codec may differ; entryKey is order-independent.
  assert.equal(ids.serviceId(entryKey({ scope: 1, proto: 6, port: 80, addr: Buffer.from(key.addr) })), 42);
  assert.equal(ids.backendId('198.18.1.5|8080|6'), 9);
});

test('IdAllocator rejects bad configuration', () => {
  assert.throws(() => new IdAllocator({ now: () => 0, maxId: 0 }), RangeError);
  assert.throws(() => new IdAllocator({ now: () => 0, graceMs: -1 }), RangeError);
});

test('releaseIdsExcept releases exactly the keys whose id is not kept', () => {
  const a = new IdAllocator({ now: () => 0 });
  const x = a.acquire('x');
  a.acquire('y');
  assert.deepEqual(a.releaseIdsExcept((id) => id === x), ['y']);
  assert.deepEqual([...a.keys()], ['x']);
});
