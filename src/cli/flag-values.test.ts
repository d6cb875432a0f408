import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flagValues, formatFlagValue } from './flag-values.ts';

test('formatFlagValue() prints values as pflag does', () => {
  const table: [Parameters<typeof formatFlagValue>[0], string][] = [
    ['x', 'x'], [true, 'true'], [2, '2'], [['a', 'b'], '[a,b]'], [[], '[]'],
    [{ B: false, A: true }, 'A=true,B=false'], [[{ filePattern: 'p*', verbosity: 3 }], 'p*=3'], [{ min: 1, max: 2 }, '1-2'],
  ];
  for (const [v, want] of table) assert.equal(formatFlagValue(v), want, JSON.stringify(v));
});

test('flagValues() lists every flag but klog\'s legacy ones, sorted, explicit values over defaults', () => {
  const all = flagValues(new Map<string, number | string[]>([['v', 2], ['nodeport-addresses', ['primary']]]));
  const names = all.map(([k]) => k);
  assert.deepEqual(names, [...names].sort());
  assert.ok(!names.includes('log_dir'));
  const get = (k: string) => all.find(([n]) => n === k)?.[1];
  assert.deepEqual([get('v'), get('nodeport-addresses'), get('iptables-sync-period'), get('bpf-lb-mode')], ['2', '[primary]', '30s', 'snat']);
});
