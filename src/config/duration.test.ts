import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, formatDurationNs, parseDuration, parseDurationNs } from './duration.ts';

test('parseDurationNs() follows time.ParseDuration', () => {
  const table: [string, number][] = [
    ['0', 0], ['0s', 0], ['30s', 30e9], ['1h0m0s', 3600e9], ['15m', 900e9], ['1.5s', 1.5e9],
    ['250ms', 250e6], ['1us', 1e3], ['1µs', 1e3], ['10ns', 10], ['-2m', -120e9], ['1h30m', 5400e9], ['.5s', 5e8],
  ];
  for (const [input, ns] of table) assert.equal(parseDurationNs(input), ns, input);
});

test('parseDurationNs() rejects what Go rejects', () => {
  for (const bad of ['', '30', '1x', 's', '1.s.', 'abc', '1h 2m']) {
    assert.throws(() => parseDurationNs(bad), SyntaxError, bad);
  }
});

test('formatDurationNs() matches Duration.String()', () => {
  const table: [number, string][] = [
    [0, '0s'], [30e9, '30s'], [3600e9, '1h0m0s'], [900e9, '15m0s'], [86400e9, '24h0m0s'], [1.5e9, '1.5s'],
    [250e6, '250ms'], [1500, '1.5µs'], [10, '10ns'], [-120e9, '-2m0s'], [5400.5e9, '1h30m0.5s'],
  ];
  for (const [ns, s] of table) assert.equal(formatDurationNs(ns), s, s);
});

test('parseDuration() and formatDuration() use milliseconds', () => {
  assert.equal(parseDuration('1s'), 1000);
  assert.equal(formatDuration(5000), '5s');
  assert.equal(formatDuration(parseDuration('1m')), '1m0s');
});
