import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPrime, maglevTable } from './maglev.ts';

const backends = (n: number, from = 1) => Array.from({ length: n }, (_, i) => ({ id: from + i, identity: `198.18.1.${from + i}|8080|6` }));

function counts(t: Uint32Array): Map<number, number> {
  const c = new Map<number, number>();
  for (const id of t) c.set(id, (c.get(id) ?? 0) + 1);
  return c;
}

test('maglevTable spreads slots evenly (max/min within one slot)', () => {
  for (const [n, m] of [[1, 251], [3, 251], [10, 16381], [100, 16381], [997, 16381]]) {
    const c = counts(maglevTable(backends(n), m));
    assert.equal(c.size, n, `${n} backends all present`);
    const v = [...c.values()];
    assert.ok(Math.max(...v) - Math.min(...v) <= 1, `${n}/${m}: ${Math.min(...v)}..${Math.max(...v)}`);
  }
});

test('maglevTable is deterministic and independent of input order', () => {
  const a = maglevTable(backends(20), 16381);
  const b = maglevTable(backends(20).reverse(), 16381);
  assert.deepEqual(a, b);
});

test('maglevTable moves about 1/N of the slots when one backend goes', () => {
  for (const n of [5, 10, 50]) {
    const before = maglevTable(backends(n), 16381);
    const after = maglevTable(backends(n).filter((b) => b.id !== 3), 16381);
    let moved = 0;
    let movedFromSurvivor = 0;
    for (let i = 0; i < before.length; i++) {
      if (before[i] !== after[i]) {
        moved++;
        if (before[i] !== 3) movedFromSurvivor++;
      }
      assert.notEqual(after[i], 3);
    }
    const fraction = moved / before.length;
    // The removed backend's share must move; survivors lose only a little (paper: a few percent).
    assert.ok(fraction >= 1 / n - 0.01 && fraction <= (1 / n) * 1.6, `n=${n}: ${fraction}`);
    assert.ok(movedFromSurvivor / before.length < 0.6 / n, `n=${n}: survivors moved ${movedFromSurvivor}`);
  }
});

test('maglevTable validates its size', () => {
  assert.throws(() => maglevTable(backends(2), 100), RangeError);
  assert.throws(() => maglevTable(backends(8), 7), RangeError);
  assert.deepEqual(maglevTable([], 7), new Uint32Array(7));
  assert.deepEqual([2, 3, 4, 16381, 65537, 1].map(isPrime), [true, true, false, true, true, false]);
});
