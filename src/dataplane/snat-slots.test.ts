// The agent's copy of the SNAT slot hash and the table size rule (snat-slots.ts). That the copy
// equals the datapath's kpb_snat4_hash/kpb_snat6_hash is proven against the BPF programs by the
// nodeport fixtures (a slot chosen here blocks the datapath's port walk) and convert-snat.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { snatSlotCount, snatSlotHash } from './snat-slots.ts';

test('snatSlotCount rounds --bpf-map-snat up to a power of two within [1, 2^23]', () => {
  for (const [n, want] of [[1, 1], [2, 2], [3, 4], [5, 8], [262144, 262144], [262145, 524288], [2 ** 23, 2 ** 23]] as const) assert.equal(snatSlotCount(n), want, `n=${n}`);
  for (const bad of [0, -1, 1.5, 2 ** 23 + 1]) assert.throws(() => snatSlotCount(bad), /Invalid SNAT table size/);
});

test('snatSlotHash mixes little-endian 32-bit words and spreads neighbouring ports over the table', () => {
  const key = (dport: number) => {
    const b = Buffer.alloc(16);
    b.writeUInt32BE(0xc6120205, 0);
    b.writeUInt32BE(0xc000020b, 4);
    b.writeUInt16BE(8080, 8);
    b.writeUInt16BE(dport, 10);
    b[12] = 6;
    return b;
  };
  assert.equal(snatSlotHash(key(61000)), snatSlotHash(Uint8Array.from(key(61000))), 'a view of the same bytes');
  assert.notEqual(snatSlotHash(key(61000)), snatSlotHash(key(61001)));
  // 4,536 ports of one backend over 4,096 slots: about 1 - 1/e of the slots used, none crowded.
  const used = new Map<number, number>();
  for (let p = 61000; p <= 65535; p++) {
    const i = snatSlotHash(key(p)) & 4095;
    used.set(i, (used.get(i) ?? 0) + 1);
  }
  assert.ok(used.size > 2600, `only ${used.size} slots used`);
  assert.ok(Math.max(...used.values()) <= 8);
  assert.throws(() => snatSlotHash(Buffer.alloc(6)), /whole 32-bit words/);
});
