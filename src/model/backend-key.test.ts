import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backendKey, backendKeyAddr, backendKeyText } from './backend-key.ts';
import { parseIp } from './ip.ts';

test('backendKey is a number for IPv4 and text for IPv6, with one text form for both', () => {
  const rows: [string, number, number, string][] = [
    ['198.18.1.10', 8080, 6, '198.18.1.10|8080|6'],
    ['255.255.255.255', 65535, 132, '255.255.255.255|65535|132'],
    ['0.0.0.1', 1, 17, '0.0.0.1|1|17'],
    ['2001:db8:10::5', 8080, 6, '2001:db8:10::5|8080|6'],
  ];
  for (const [ip, port, proto, text] of rows) {
    const bytes = parseIp(ip)!.bytes;
    const k = backendKey(bytes, port, proto);
    assert.equal(typeof k, ip.includes(':') ? 'string' : 'number', ip);
    if (typeof k === 'number') {
      assert.ok(Number.isSafeInteger(k));
      assert.deepEqual(backendKeyAddr(k), bytes);
    }
    assert.equal(backendKeyText(k), text);
  }
  assert.notEqual(backendKey(parseIp('198.18.1.10')!.bytes, 80, 6), backendKey(parseIp('198.18.1.10')!.bytes, 80, 17));
});
