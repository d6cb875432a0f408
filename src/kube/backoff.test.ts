import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from './backoff.ts';

test('Backoff doubles from 800ms to the 30s cap', () => {
  const clock = { t: 0, now: () => clock.t };
  const b = new Backoff({ clock, random: () => 0 });
  const seen: number[] = [];
  for (let i = 0; i < 8; i++) { seen.push(b.next()); clock.t += 1000; }
  assert.deepEqual(seen, [800, 1600, 3200, 6400, 12800, 25600, 30000, 30000]);
});

test('Backoff adds jitter but never exceeds the cap', () => {
  const clock = { t: 0, now: () => clock.t };
  const b = new Backoff({ clock, random: () => 0.5, maxMs: 2000 });
  assert.equal(b.next(), 1200);
  assert.equal(b.next(), 2000);
  assert.equal(b.next(), 2000);
});

test('Backoff starts over after a quiet period or a reset', () => {
  const clock = { t: 0, now: () => clock.t };
  const b = new Backoff({ clock, random: () => 0 });
  b.next(); b.next();
  clock.t += 120_000;
  assert.equal(b.next(), 800, 'two minutes without failure');
  b.next();
  b.reset();
  assert.equal(b.next(), 800, 'explicit reset');
  assert.throws(() => new Backoff({ clock, initialMs: 10, maxMs: 5 }), RangeError);
});
