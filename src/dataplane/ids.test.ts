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

test('number keys (IPv4 backends) and text keys (IPv6) behave as one map under churn', () => {
  let t = 0;
  const a = new IdAllocator<number | string>({ now: () => t, graceMs: 5 });
  const ref = new Map<number | string, number>();
  let seed = 7;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  // Keys as backendKey() makes them: address × 2^18 + port × 4 + protocol, addresses above 2^31.
  const keyOf = (i: number): number | string => (i % 7 === 0 ? `2001:db8::${i.toString(16)}|80|6` : (0xc6120000 + i) * 262144 + 8080 * 4);
  for (let step = 0; step < 20_000; step++) {
    t++;
    const k = keyOf(rnd(3000));
    if (rnd(3) === 0) {
      a.release(k);
      ref.delete(k);
    } else {
      const id = a.acquire(k);
      if (ref.has(k)) assert.equal(id, ref.get(k));
      ref.set(k, id);
    }
    if (step % 997 === 0) {
      assert.equal(a.size, ref.size);
      for (const [key, id] of ref) {
        assert.equal(a.lookup(key), id);
        assert.equal(a.keyOf(id), key);
      }
      assert.deepEqual(new Set(a.keys()), new Set(ref.keys()));
      assert.equal(new Set(ref.values()).size, ref.size, 'ids are unique');
      // Adopted by a new allocator (a restart), twice over: the same map.
      const b = new IdAllocator<number | string>({ now: () => t });
      assert.deepEqual(b.seed([...ref]), []);
      assert.deepEqual(b.seed([...ref]), []);
      assert.equal(b.size, ref.size);
      for (const [key, id] of ref) assert.equal(b.lookup(key), id);
    }
  }
});
