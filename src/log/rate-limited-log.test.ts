import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimitedLog } from './rate-limited-log.ts';

test('RateLimitedLog writes one line per key per interval and reports what it held back', () => {
  let now = 0;
  const lines: string[] = [];
  const log = new RateLimitedLog({ now: () => now, intervalMs: 60_000 });
  const say = (key: string) => log.log(key, (held) => lines.push(`${key} held=${held}`));
  assert.equal(say('Service a/x'), true);
  for (let i = 0; i < 1000; i++) say('Service a/x');
  say('Service a/y');
  now += 59_999;
  say('Service a/x');
  now += 1;
  say('Service a/x');
  assert.deepEqual(lines, ['Service a/x held=0', 'Service a/y held=0', 'Service a/x held=1001']);
});

test('RateLimitedLog keeps its memory bounded', () => {
  let now = 0;
  const log = new RateLimitedLog({ now: () => now, intervalMs: 1000, maxKeys: 100 });
  for (let i = 0; i < 10_000; i++) log.log(`k${i}`, () => {});
  assert.ok(log.size <= 100);
  now += 1000;
  log.log('late', () => {});
  assert.equal(log.size, 1, 'expired keys are forgotten');
  log.forget('late');
  assert.equal(log.size, 0);
});
