// StructCodec without the kernel: byte order by typedef, 64-bit values, arrays, nested structs,
// bitfields, and the errors for values that do not fit.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StructCodec, scalarLayout, type Layout } from '../lib/index.ts';

const service: Layout = {
  name: 'svc', size: 32, kind: 'struct', fields: [
    { name: 'addr', offset: 0, size: 16, kind: 'bytes', elemCount: 16 },
    { name: 'port', offset: 16, size: 2, kind: 'be16' },
    { name: 'proto', offset: 18, size: 1, kind: 'u8' },
    { name: 'delta', offset: 19, size: 1, kind: 's8' },
    { name: 'ip', offset: 20, size: 4, kind: 'be32' },
    { name: 'cookie', offset: 24, size: 8, kind: 'u64' },
  ],
};

test('StructCodec encodes __be fields in network order and others in host order', () => {
  const c = new StructCodec(service);
  const buf = c.encode({ addr: new Uint8Array(16).fill(9), port: 0x1234, proto: 17, delta: -2, ip: 0xc0000201, cookie: 2n ** 63n });
  assert.equal(buf.length, 32);
  assert.deepEqual([...buf.subarray(16, 24)], [0x12, 0x34, 17, 0xfe, 0xc0, 0x00, 0x02, 0x01]);
  assert.equal(buf.readBigUInt64LE(24), 2n ** 63n);
  assert.deepEqual(c.decode(buf), { addr: new Uint8Array(16).fill(9), port: 0x1234, proto: 17, delta: -2, ip: 0xc0000201, cookie: 2n ** 63n });
});

test('StructCodec zero-fills absent fields and refuses unknown ones', () => {
  const c = new StructCodec(service);
  assert.deepEqual(c.encode({ proto: 6 }), (() => { const b = Buffer.alloc(32); b[18] = 6; return b; })());
  assert.throws(() => c.encode({ prot: 6 }), /Unknown field "prot" in svc: expected one of addr, port/);
});

test('StructCodec range and type errors name the field', () => {
  const c = new StructCodec(service);
  assert.throws(() => c.encode({ port: 65536 }), (e: unknown) => e instanceof RangeError && /svc\.port/.test(e.message));
  assert.throws(() => c.encode({ delta: 128 }), RangeError);
  assert.throws(() => c.encode({ proto: 1.5 }), TypeError);
  assert.throws(() => c.encode({ addr: new Uint8Array(4) }), (e: unknown) => e instanceof RangeError && /svc\.addr/.test(e.message));
  assert.throws(() => c.encode(7), TypeError);
  assert.throws(() => c.decode(Buffer.alloc(8)), RangeError);
});

test('StructCodec handles scalars, arrays of integers, nested structs and bitfields', () => {
  const u32 = new StructCodec(scalarLayout(4)!);
  assert.deepEqual([...u32.encode(0x01020304)], [4, 3, 2, 1]);
  assert.equal(u32.decode(Buffer.from([4, 3, 2, 1])), 0x01020304);
  const inner: Layout = { name: 'inner', size: 4, kind: 'struct', fields: [{ name: 'a', offset: 0, size: 2, kind: 'u16' }, { name: 'b', offset: 2, size: 2, kind: 'be16' }] };
  const outer = new StructCodec({
    name: 'outer', size: 16, kind: 'struct', fields: [
      { name: 'ids', offset: 0, size: 8, kind: 'array', elemCount: 2, elemKind: 'u32', elem: { name: '__u32', size: 4, kind: 'u32' } },
      { ...inner, name: 'in', offset: 8 },
      { name: 'lo', offset: 12, size: 0, kind: 'bits', bitOffset: 96, bitSize: 3 },
      { name: 'hi', offset: 12, size: 0, kind: 'bits', bitOffset: 99, bitSize: 5 },
    ],
  });
  const v = { ids: [7, 8], in: { a: 1, b: 2 }, lo: 5, hi: 17 };
  const buf = outer.encode(v);
  assert.equal(buf[12], 5 | (17 << 3));
  assert.deepEqual(outer.decode(buf), v);
  assert.throws(() => outer.encode({ lo: 8 }), RangeError);
});
