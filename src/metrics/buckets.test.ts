import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NETWORK_PROGRAMMING_BUCKETS, SYNC_DURATION_BUCKETS, exponentialBuckets, linearBuckets } from './buckets.ts';

test('SYNC_DURATION_BUCKETS is 1ms doubling 15 times', () => {
  assert.equal(SYNC_DURATION_BUCKETS.length, 15);
  assert.equal(SYNC_DURATION_BUCKETS[0], 0.001);
  assert.equal(SYNC_DURATION_BUCKETS[14], 16.384);
});

test('NETWORK_PROGRAMMING_BUCKETS follows 0.25,0.5,1..59,60..115/5,120..300/30', () => {
  const b = NETWORK_PROGRAMMING_BUCKETS;
  assert.equal(b.length, 2 + 59 + 12 + 7);
  assert.deepEqual(b.slice(0, 4), [0.25, 0.5, 1, 2]);
  assert.equal(b[60], 59);
  assert.deepEqual(b.slice(61, 63), [60, 65]);
  assert.equal(b[72], 115);
  assert.deepEqual(b.slice(73), [120, 150, 180, 210, 240, 270, 300]);
  for (let i = 1; i < b.length; i++) assert.ok(b[i] > b[i - 1], `bucket ${i} increases`);
});

test('bucket builders reject layouts that cannot be histograms', () => {
  assert.throws(() => exponentialBuckets(0, 2, 3), RangeError);
  assert.throws(() => exponentialBuckets(1, 1, 3), RangeError);
  assert.throws(() => linearBuckets(1, 0, 3), RangeError);
  assert.deepEqual(linearBuckets(1, 2, 3), [1, 3, 5]);
});
