import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bumpGeneration, type Generations } from './generations.ts';

test('bumpGeneration adds one to the named generation at key 0, keeps the other, and wraps at 2^32', () => {
  const cells = new Map<number, Generations>([[0, { nh: 0, be: 0 }]]);
  const map = { lookup: (k: number) => cells.get(k), update: (k: number, v: Generations) => { cells.set(k, v); } };
  assert.equal(bumpGeneration(map, 'nh'), 1);
  assert.equal(bumpGeneration(map, 'nh'), 2);
  assert.equal(bumpGeneration(map, 'be'), 1);
  assert.deepEqual(cells.get(0), { nh: 2, be: 1 });
  cells.set(0, { nh: 0xffffffff, be: 7 });
  assert.equal(bumpGeneration(map, 'nh'), 0);
  assert.deepEqual(cells.get(0), { nh: 0, be: 7 });
  assert.deepEqual([...cells.keys()], [0], 'only key 0 is written');
});
