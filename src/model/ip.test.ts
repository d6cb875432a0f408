import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalIpv4, cidrContains, formatIp, isLoopback, parseCidr, parseIp, wildcardBytes } from './ip.ts';

test('parseIp accepts addresses and canonicalises them', () => {
  const rows: [string, string | null, string | null][] = [
    ['10.0.0.1', 'IPv4', '10.0.0.1'],
    [' 10.0.0.1 ', 'IPv4', '10.0.0.1'],
    ['010.000.0.01', 'IPv4', '10.0.0.1'], // sloppy: leading zeros are decimal
    ['2001:DB8::1', 'IPv6', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', 'IPv6', '2001:db8::1:0:0:1'],
    ['::', 'IPv6', '::'],
    ['::1', 'IPv6', '::1'],
    ['::ffff:192.0.2.1', 'IPv4', '192.0.2.1'], // v4-mapped counts as IPv4, as in Go
    ['64:ff9b::192.0.2.1', 'IPv6', '64:ff9b::c000:201'],
    ['256.0.0.1', null, null],
    ['1.2.3', null, null],
    ['10.0.0.0/8', null, null],
    ['fe80::1%eth0', null, null],
    ['1::2::3', null, null],
    ['1:2:3:4:5:6:7:8:9', null, null],
    ['', null, null],
    ['example.com', null, null],
  ];
  for (const [input, family, text] of rows) {
    const ip = parseIp(input);
    assert.equal(ip?.family ?? null, family, input);
    assert.equal(ip?.text ?? null, text, input);
  }
});

test('parseIp stores IPv4 v4-mapped in 16 bytes', () => {
  assert.deepEqual([...parseIp('192.0.2.7')!.bytes], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 192, 0, 2, 7]);
  assert.deepEqual([...parseIp('2001:db8::1')!.bytes], [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  assert.equal(formatIp(parseIp('2001:db8::1')!.bytes), '2001:db8::1');
});

test('parseCidr clears host bits and validates the prefix', () => {
  const rows: [string, string | null][] = [
    ['192.0.2.77/24', '192.0.2.0/24'],
    [' 10.0.0.0/8 ', '10.0.0.0/8'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['2001:db8::5/64', '2001:db8::/64'],
    ['192.0.2.1/33', null],
    ['2001:db8::/129', null],
    ['192.0.2.1', null],
    ['bad/8', null],
    ['10.0.0.0/x', null],
  ];
  for (const [input, want] of rows) assert.equal(parseCidr(input)?.text ?? null, want, input);
});

test('cidrContains matches within one family only', () => {
  const rows: [string, string, boolean][] = [
    ['192.0.2.0/24', '192.0.2.200', true],
    ['192.0.2.0/24', '192.0.3.1', false],
    ['0.0.0.0/0', '203.0.113.9', true],
    ['0.0.0.0/0', '2001:db8::1', false],
    ['::/0', '192.0.2.1', false],
    ['2001:db8::/32', '2001:db8:ffff::1', true],
    ['10.1.2.3/32', '10.1.2.3', true],
  ];
  for (const [cidr, ip, want] of rows) assert.equal(cidrContains(parseCidr(cidr)!, parseIp(ip)!), want, `${cidr} ${ip}`);
});

test('wildcardBytes and isLoopback follow lb_structs.h conventions', () => {
  assert.equal(formatIp(wildcardBytes('IPv4')), '0.0.0.0');
  assert.equal(formatIp(wildcardBytes('IPv6')), '::');
  assert.equal(isLoopback(parseIp('127.3.0.1')!), true);
  assert.equal(isLoopback(parseIp('::1')!), true);
  assert.equal(isLoopback(parseIp('192.0.2.1')!), false);
});

test('canonicalIpv4 takes exactly the canonical dotted quads, and agrees with parseIp', () => {
  for (const s of ['0.0.0.0', '10.0.0.1', '198.18.255.254', '255.255.255.255', '1.2.3.4']) {
    const v = canonicalIpv4(s);
    assert.ok(v >= 0, s);
    const p = parseIp(s)!;
    assert.equal(p.text, s);
    assert.deepEqual([...p.bytes.subarray(12)], [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255]);
  }
  for (const s of ['010.0.0.1', '1.2.3', '1.2.3.4.5', '256.1.1.1', ' 1.2.3.4', '1.2.3.4 ', '1..2.3', '', '::1', '::ffff:1.2.3.4', '1.2.3.04', '1.2.3.4/32']) {
    assert.equal(canonicalIpv4(s), -1, s);
  }
});
