import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdAllocator } from './ids.ts';

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
  assert.equal(a.keyOf(y), 'y');
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

test('IdAllocator stays dense: an id whose grace passed is reused, oldest release first', () => {
  const c = clock();
  const a = new IdAllocator({ now: c.now, graceMs: 10 });
  for (const k of ['a', 'b', 'c', 'd']) a.acquire(k);
  a.release('c');
  c.advance(5);
  a.release('a');
  assert.equal(a.acquire('e'), 5, 'both still quarantined: a new id');
  c.advance(5);
  assert.equal(a.acquire('f'), 3, 'c was released first');
  assert.equal(a.acquire('g'), 6, 'a is still quarantined');
  c.advance(5);
  assert.equal(a.acquire('h'), 1);
  assert.equal(a.highWater, 6);
});

test('IdAllocator.seed adopts pinned ids and rejects bad ones; ids above the bound are not adopted', () => {
  const c = clock();
  const a = new IdAllocator({ now: c.now, maxId: 1000 });
  const rejected = a.seed([
    ['a', 7],
    ['b', 0],
    ['c', 7],
    ['d', 1001],
    ['a', 7],
    ['e', 500],
  ], 100);
  assert.deepEqual(rejected, ['b', 'c', 'd', 'e']);
  assert.equal(a.acquire('a'), 7);
  assert.equal(a.acquire('f'), 8, 'new ids continue after the highest seeded one');
  assert.equal(a.highWater, 8);
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
  assert.equal(a.size, 1);
});
