import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bumpGeneration } from './generations.ts';

test('bumpGeneration adds one at key 0 and wraps at 2^32', () => {
  const cells = new Map<number, number>([[0, 0]]);
  const map = { lookup: (k: number) => cells.get(k), update: (k: number, v: number) => { cells.set(k, v); } };
  assert.equal(bumpGeneration(map), 1);
  assert.equal(bumpGeneration(map), 2);
  cells.set(0, 0xffffffff);
  assert.equal(bumpGeneration(map), 0);
  assert.deepEqual([...cells.keys()], [0], 'only key 0 is written');
});
