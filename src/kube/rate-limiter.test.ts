import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Timers } from '../health/clock.ts';
import { RateLimiter } from './rate-limiter.ts';

function manualTimers() {
  const pending: Array<{ fn: () => void; ms: number }> = [];
  const timers: Timers = {
    setTimeout: (fn, ms) => { const h = { fn, ms }; pending.push(h); return h; },
    clearTimeout: (h) => { const i = pending.indexOf(h as never); if (i >= 0) pending.splice(i, 1); },
  };
  return { timers, pending };
}

test('RateLimiter lets a burst through, then spaces requests at 1/qps', async () => {
  const clock = { t: 0, now: () => clock.t };
  const { timers, pending } = manualTimers();
  const rl = new RateLimiter({ qps: 5, burst: 10, clock, timers });
  for (let i = 0; i < 10; i++) assert.equal(await rl.wait(), 0, `request ${i} of the burst`);
  const eleventh = rl.wait();
  const twelfth = rl.wait();
  assert.deepEqual(pending.map((p) => p.ms), [200, 400]);
  pending.splice(0).forEach((p) => p.fn());
  assert.equal(await eleventh, 200);
  assert.equal(await twelfth, 400);
  clock.t += 10_000; // the bucket refills, but never above burst
  for (let i = 0; i < 10; i++) assert.equal(await rl.wait(), 0);
  void rl.wait();
  assert.equal(pending.length, 1);
});

test('RateLimiter gives the token back when the wait is aborted', async () => {
  const clock = { t: 0, now: () => clock.t };
  const { timers, pending } = manualTimers();
  const rl = new RateLimiter({ qps: 1, burst: 1, clock, timers });
  await rl.wait();
  const ac = new AbortController();
  const waiting = rl.wait(ac.signal);
  ac.abort(new Error('informer stopped'));
  await assert.rejects(waiting, /informer stopped/);
  assert.equal(pending.length, 0);
  clock.t += 1000;
  assert.equal(await rl.wait(), 0, 'the aborted reservation was returned');
});

test('RateLimiter with qps <= 0 does not limit, and rejects a zero burst otherwise', async () => {
  const { timers } = manualTimers();
  const rl = new RateLimiter({ qps: 0, burst: 0, clock: { now: () => 0 }, timers });
  for (let i = 0; i < 100; i++) assert.equal(await rl.wait(), 0);
  assert.throws(() => new RateLimiter({ qps: 5, burst: 0, clock: { now: () => 0 }, timers }), RangeError);
});
