import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSteps } from './run-steps.ts';

/** A generator of `n` steps of `costMs` each on a fake clock; records the steps it ran. */
function work(n: number, costMs: number, clock: { t: number }, ran: number[]) {
  return (function* () {
    for (let i = 0; i < n; i++) {
      clock.t += costMs;
      ran.push(i);
      yield;
    }
    return 'finished';
  })();
}

test('runSteps: turns of the event loop every sliceMs, dropping the run when stop() says so', async () => {
  const rows: { name: string; n: number; cost: number; slice: number; stopAfterTurns: number; done: boolean; turns: number; ran: number }[] = [
    { name: 'no stop: every step runs, a turn per slice', n: 10, cost: 1, slice: 3, stopAfterTurns: Infinity, done: true, turns: 3, ran: 10 },
    { name: 'stopped at the first turn', n: 10, cost: 1, slice: 3, stopAfterTurns: 1, done: false, turns: 1, ran: 3 },
    { name: 'stopped at the second turn', n: 10, cost: 1, slice: 3, stopAfterTurns: 2, done: false, turns: 2, ran: 6 },
    { name: 'slice 0: a turn after every step', n: 4, cost: 1, slice: 0, stopAfterTurns: Infinity, done: true, turns: 4, ran: 4 },
    { name: 'work shorter than a slice: no turn', n: 4, cost: 1, slice: 100, stopAfterTurns: 0, done: true, turns: 0, ran: 4 },
  ];
  for (const row of rows) {
    const clock = { t: 0 };
    const ran: number[] = [];
    let turns = 0;
    let finalized = false;
    const gen = work(row.n, row.cost, clock, ran);
    const wrapped = (function* () {
      try {
        return yield* gen;
      } finally {
        finalized = true;
      }
    })();
    const out = await runSteps(wrapped, { sliceMs: row.slice, now: () => clock.t, stop: () => turns >= row.stopAfterTurns, turn: async () => void turns++ });
    assert.equal(out.done, row.done, row.name);
    assert.equal(out.turns, row.turns, row.name);
    assert.equal(ran.length, row.ran, row.name);
    if (out.done) assert.equal(out.value, 'finished', row.name);
    assert.ok(finalized, `${row.name}: the generator is closed`);
  }
});

test('runSteps: the event loop runs between slices (a timer set before fires before the end)', async () => {
  let fired = false;
  setImmediate(() => { fired = true; });
  let sawFired = false;
  const gen = (function* () {
    for (let i = 0; i < 3; i++) {
      if (fired) sawFired = true;
      yield;
    }
  })();
  await runSteps(gen, { sliceMs: 0, now: () => performance.now(), stop: () => false });
  assert.ok(sawFired);
});

test('runSteps: an invalid slice is refused', async () => {
  await assert.rejects(runSteps((function* () {})(), { sliceMs: NaN, now: () => 0, stop: () => false }), /Invalid sliceMs "NaN"/);
});
