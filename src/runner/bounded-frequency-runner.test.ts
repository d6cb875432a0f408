import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedFrequencyRunner } from './bounded-frequency-runner.ts';
import { FakeClock } from './fake-clock.ts';

function setup(opts: { min?: number; max?: number; retry?: number; burst?: number; fail?: () => boolean } = {}) {
  const clock = new FakeClock();
  const runs: number[] = [];
  const errors: unknown[] = [];
  const r = new BoundedFrequencyRunner({
    name: 'test',
    fn: () => {
      runs.push(clock.now());
      if (opts.fail?.()) throw new Error('sync failed');
    },
    minIntervalMs: opts.min ?? 1000,
    maxIntervalMs: opts.max ?? 30000,
    retryIntervalMs: opts.retry,
    burstRuns: opts.burst ?? 2,
    clock,
    onError: (e) => errors.push(e),
  });
  r.start();
  return { clock, runs, errors, r };
}

test('BoundedFrequencyRunner: steps of run() calls and time give the expected run times', () => {
  // [action, expected run times so far]; action: number = advance ms, "run" = request a run.
  const rows: { name: string; steps: (number | 'run')[]; runs: number[]; opts?: Parameters<typeof setup>[0] }[] = [
    { name: 'run() runs immediately', steps: ['run'], runs: [0] },
    { name: 'burst of 2 back-to-back, then one per minInterval', steps: ['run', 'run', 'run', 'run', 'run', 5000], runs: [0, 0, 1000] },
    { name: 'many requests while limited coalesce into one run', steps: ['run', 'run', 100, 'run', 100, 'run', 'run', 2000], runs: [0, 0, 1000] },
    { name: 'a quiet runner still runs every maxInterval', steps: [95000], runs: [30000, 60000, 90000] },
    { name: 'a run resets the periodic timer', steps: [20000, 'run', 29999], runs: [20000] },
    { name: 'tokens refill over time', steps: ['run', 'run', 10000, 'run', 'run'], runs: [0, 0, 10000, 10000] },
    { name: 'minInterval 0 never limits', steps: ['run', 'run', 'run'], runs: [0, 0, 0], opts: { min: 0 } },
    { name: 'burst 1: strictly one per minInterval', steps: ['run', 'run', 999, 1], runs: [0, 1000], opts: { burst: 1 } },
  ];
  for (const row of rows) {
    const { clock, runs, r } = setup(row.opts);
    for (const s of row.steps) {
      if (s === 'run') r.run();
      else clock.advance(s);
    }
    assert.deepEqual(runs, row.runs, row.name);
    r.stop();
  }
});

test('BoundedFrequencyRunner retries after a failure and reports the error', () => {
  let fail = true;
  const { clock, runs, errors, r } = setup({ retry: 5000, fail: () => fail });
  r.run();
  assert.deepEqual(runs, [0]);
  assert.equal(errors.length, 1);
  clock.advance(4999);
  assert.deepEqual(runs, [0]);
  fail = false;
  clock.advance(1);
  assert.deepEqual(runs, [0, 5000]);
  clock.advance(29999);
  assert.deepEqual(runs, [0, 5000], 'after success the next run is the periodic one');
  clock.advance(1);
  assert.deepEqual(runs, [0, 5000, 35000]);
  r.stop();
});

test('BoundedFrequencyRunner coalesces requests during an async run', async () => {
  const clock = new FakeClock();
  const runs: number[] = [];
  let release: () => void = () => {};
  const r = new BoundedFrequencyRunner({
    name: 'async',
    fn: () => {
      runs.push(clock.now());
      return new Promise<void>((resolve) => (release = resolve));
    },
    minIntervalMs: 0,
    maxIntervalMs: 30000,
    clock,
  });
  r.start();
  r.run();
  r.run();
  r.run();
  assert.deepEqual(runs, [0], 'no overlapping runs');
  release();
  await new Promise((res) => setImmediate(res));
  assert.deepEqual(runs, [0, 0], 'the requests made during the run give exactly one more');
  release();
  await new Promise((res) => setImmediate(res));
  assert.deepEqual(runs, [0, 0]);
  r.stop();
  assert.deepEqual(clock.pending(), []);
});

test('BoundedFrequencyRunner: requests before start() run at start; stop() cancels timers', () => {
  const clock = new FakeClock();
  const runs: number[] = [];
  const r = new BoundedFrequencyRunner({ name: 'x', fn: () => void runs.push(clock.now()), minIntervalMs: 1000, maxIntervalMs: 30000, clock });
  r.run();
  clock.advance(500);
  assert.deepEqual(runs, []);
  r.start();
  clock.advance(0);
  assert.deepEqual(runs, [500]);
  r.stop();
  clock.advance(100000);
  assert.deepEqual(runs, [500]);
});

test('BoundedFrequencyRunner rejects bad configuration', () => {
  const base = { name: 'x', fn: () => {}, minIntervalMs: 1000, maxIntervalMs: 30000 };
  const rows: [string, object][] = [
    ['negative min', { minIntervalMs: -1 }],
    ['max below min', { maxIntervalMs: 500 }],
    ['zero max', { maxIntervalMs: 0 }],
    ['burst 0', { burstRuns: 0 }],
    ['retry 0', { retryIntervalMs: 0 }],
  ];
  for (const [name, patch] of rows) assert.throws(() => new BoundedFrequencyRunner({ ...base, ...patch }), RangeError, name);
});
