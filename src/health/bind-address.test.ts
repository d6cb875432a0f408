import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBindAddress, parseBindAddress } from './bind-address.ts';

test('parseBindAddress accepts the forms kube-proxy accepts', () => {
  const cases: Array<[string, number, string, number]> = [
    ['0.0.0.0:10256', 1, '0.0.0.0', 10256],
    ['127.0.0.1:10249', 1, '127.0.0.1', 10249],
    ['[::]:10256', 1, '::', 10256],
    ['[::1]:10249', 1, '::1', 10249],
    ['[2001:db8::1]:0', 1, '2001:db8::1', 0],
    ['0.0.0.0', 10256, '0.0.0.0', 10256],
    ['::', 10256, '::', 10256],
    ['[::1]', 10249, '::1', 10249],
    ['  192.0.2.11:8080 ', 1, '192.0.2.11', 8080],
  ];
  for (const [input, def, host, port] of cases) {
    assert.deepEqual(parseBindAddress(input, def), { host, port }, input);
  }
});

test('parseBindAddress returns null for an empty value, which disables the server', () => {
  assert.equal(parseBindAddress('', 10256), null);
  assert.equal(parseBindAddress('  ', 10256), null);
});

test('parseBindAddress rejects malformed values naming the field', () => {
  assert.throws(() => parseBindAddress('localhost:10256', 1, 'healthzBindAddress'), { name: 'SyntaxError', message: /healthzBindAddress "localhost:10256"/ });
  assert.throws(() => parseBindAddress('[::1:10256', 1), SyntaxError);
  assert.throws(() => parseBindAddress('[::1]10256', 1), SyntaxError);
  assert.throws(() => parseBindAddress('[1.2.3.4]:1', 1), SyntaxError);
  assert.throws(() => parseBindAddress('0.0.0.0:http', 1), SyntaxError);
  assert.throws(() => parseBindAddress('0.0.0.0:-1', 1), SyntaxError);
  assert.throws(() => parseBindAddress('0.0.0.0:65536', 1), RangeError);
});

test('formatBindAddress brackets IPv6 hosts', () => {
  assert.equal(formatBindAddress({ host: '::', port: 10256 }), '[::]:10256');
  assert.equal(formatBindAddress({ host: '0.0.0.0', port: 10256 }), '0.0.0.0:10256');
});
