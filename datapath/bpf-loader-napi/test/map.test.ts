// BpfMap on every map type the datapath uses: hash, LRU hash, per-CPU array, LPM trie and
// hash-of-maps; codecs, update flags, batch operations, iteration, pin and openPinnedMap.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BpfError, BpfObject, createMap, openMapById, openPinnedMap, type Collection } from '../lib/index.ts';
import { native } from '../lib/binding.ts';
import { objectPath, pinDir, requireRoot } from './helpers/env.ts';

let coll: Collection;
before(async () => {
  requireRoot();
  coll = await BpfObject.open(objectPath('fixture')).load();
});
after(() => coll?.close());

const addr = (last: number) => {
  const a = new Uint8Array(16);
  a.set([0xff, 0xff], 10); // v4-mapped 198.18.0.<last>
  a.set([198, 18, 0, last], 12);
  return a;
};

test('BpfMap hash: object keys and values round-trip through the codecs', () => {
  const m = coll.map('fx_hash');
  const key = { addr: addr(1), port: 8080, proto: 6, scope: 1 };
  m.update(key, { id: 7, count: 3, bytes: 1n << 40n });
  assert.deepEqual(m.lookup(key), { id: 7, count: 3, pad: 0, bytes: 1n << 40n });
  // The port is network order in the raw key, the id host order in the raw value.
  const rawKey = m.keyCodec!.encode(key);
  assert.deepEqual([...rawKey.subarray(16, 18)], [0x1f, 0x90]);
  const raw = m.lookup(rawKey)!;
  assert.equal(raw.readUInt32LE(0), 7);
  assert.equal(m.delete(key), true);
  assert.equal(m.delete(key), false);
  assert.equal(m.lookup(key), undefined);
});

test('BpfMap.update honours noexist and exist', () => {
  const m = coll.map('fx_lru');
  m.update(1, 10n, 'noexist');
  assert.throws(() => m.update(1, 11n, 'noexist'), (e: unknown) => e instanceof BpfError && e.code === 'EEXIST' && e.objectName === 'fx_lru');
  m.update(1, 12n, 'exist');
  assert.equal(m.lookup(1), 12n);
  assert.throws(() => m.update(2, 1n, 'exist'), (e: unknown) => e instanceof BpfError && e.code === 'ENOENT');
  assert.throws(() => m.update(1, 1n, 'sometimes' as 'any'), TypeError);
  m.delete(1);
});

test('BpfMap batch update, lookup and delete work on a hash map', () => {
  const m = coll.map('fx_hash');
  const keys = Array.from({ length: 40 }, (_, i) => ({ addr: addr(i), port: 80 + i, proto: 17, scope: 0 }));
  const values = keys.map((_, i) => ({ id: i + 1, count: i, bytes: BigInt(i) * 1000n }));
  assert.equal(m.updateBatch(keys, values), 40);
  const all = m.lookupBatch() as Array<[{ port: number }, { id: number }]>;
  assert.equal(all.length, 40);
  assert.deepEqual(all.map(([k, v]) => v.id - (k.port - 80)).filter((d) => d !== 1), []);
  assert.equal([...m.keys()].length, 40);
  assert.equal(m.deleteBatch([...keys.slice(0, 10), { addr: addr(200), port: 1, proto: 1, scope: 0 }]), 10);
  assert.equal(m.lookupBatch().length, 30);
  assert.equal(m.deleteBatch(keys), 30);
  assert.equal(m.lookupBatch().length, 0);
});

test('BpfMap.pickedChunks decodes only the named members, with the raw keys for deletePacked', () => {
  const m = coll.map('fx_hash');
  const keys = Array.from({ length: 40 }, (_, i) => ({ addr: addr(i + 1), port: 8000 + i, proto: 17, scope: 0 }));
  m.updateBatch(keys, keys.map((_, i) => ({ id: i, count: 2 * i, bytes: BigInt(i) })));
  try {
    const got = new Map<number, number>();
    let raw = 0;
    for (const c of m.pickedChunks(8, { key: ['port'], value: ['count'] })) {
      assert.equal(c.keys.length, c.entries.length * m.keySize);
      c.entries.forEach(([k, v], i) => {
        assert.deepEqual(Object.keys(k), ['port']);
        assert.deepEqual(Object.keys(v), ['count']);
        got.set(k.port as number, v.count as number);
        // The packed key is the whole key, as lookup() takes it.
        assert.deepEqual((m.lookup(c.keys.subarray(i * m.keySize, (i + 1) * m.keySize)) as Buffer).length, m.info().valueSize);
        raw++;
      });
    }
    assert.equal(raw, 40);
    for (let i = 0; i < 40; i++) assert.equal(got.get(8000 + i), 2 * i);
    assert.throws(() => m.pickedChunks(8, { key: ['nope'], value: [] }).next(), /member of .* "nope"/);
  } finally {
    m.deleteBatch(keys);
  }
});

test('BpfMap.lookupPackedChunks reads a hash map in parts that together hold each entry once', () => {
  const m = createMap({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 4096, name: 'kpb_chunks' });
  try {
    assert.deepEqual([...m.lookupPackedChunks(16)].map((c) => c.count), [0], 'an empty map: one empty chunk');
    const n = 3000;
    const keys = Buffer.alloc(n * 4);
    const values = Buffer.alloc(n * 8);
    for (let i = 0; i < n; i++) {
      keys.writeUInt32LE(i * 7 + 1, i * 4);
      values.writeUInt32LE(i, i * 8);
    }
    m.updatePacked(keys, values);
    for (const max of [1, 100, 256, 5000]) {
      const seen = new Map<number, number>();
      let chunks = 0;
      for (const c of m.lookupPackedChunks(max)) {
        chunks++;
        // A chunk ends at a bucket boundary: with max 1 a bucket of two makes a chunk of two.
        assert.ok(c.count <= Math.max(max, 16), `a chunk of ${c.count} entries for max ${max}`);
        assert.equal(c.keys.length, c.count * 4);
        assert.equal(c.values.length, c.count * 8);
        for (let i = 0; i < c.count; i++) {
          const k = c.keys.readUInt32LE(i * 4);
          assert.equal(seen.has(k), false, `key ${k} in two chunks (max ${max})`);
          seen.set(k, c.values.readUInt32LE(i * 8));
        }
      }
      assert.equal(seen.size, n, `max ${max}: every entry once`);
      for (const [k, v] of seen) assert.equal(k, v * 7 + 1);
      assert.ok(chunks >= Math.ceil(n / Math.max(max, 16)), `max ${max}: ${chunks} chunks`);
    }
    assert.throws(() => m.lookupPackedChunks(0).next(), /max/);
  } finally {
    m.close();
  }
});

test('BpfMap per-CPU array: one value per possible CPU', () => {
  const m = coll.map('fx_percpu');
  assert.equal(m.perCpu, true);
  const cpus = m.cpus;
  assert.ok(cpus >= 1);
  m.update(3, Array.from({ length: cpus }, (_, i) => BigInt(i + 100)));
  assert.deepEqual(m.lookup(3), Array.from({ length: cpus }, (_, i) => BigInt(i + 100)));
  m.update(3, 5n); // one value for every CPU
  assert.deepEqual(m.lookup(3), Array.from({ length: cpus }, () => 5n));
  assert.equal(m.lookup(Buffer.from([3, 0, 0, 0]))!.length, 8 * cpus);
  const entries = m.lookupBatch() as Array<[number, bigint[]]>;
  assert.equal(entries.length, 4); // arrays always hold max_entries entries
  assert.deepEqual(entries[3], [3, Array.from({ length: cpus }, () => 5n)]);
  m.update(3, 0n);
});

test('BpfMap LPM trie: longest prefix wins; no batch support falls back to iteration', () => {
  const m = coll.map('fx_lpm');
  m.update({ prefixlen: 24, addr: new Uint8Array([192, 0, 2, 0]) }, 24);
  m.update({ prefixlen: 32, addr: new Uint8Array([192, 0, 2, 9]) }, 32);
  assert.equal(m.lookup({ prefixlen: 32, addr: new Uint8Array([192, 0, 2, 9]) }), 32);
  assert.equal(m.lookup({ prefixlen: 32, addr: new Uint8Array([192, 0, 2, 77]) }), 24);
  assert.equal(m.lookup({ prefixlen: 32, addr: new Uint8Array([198, 51, 100, 1]) }), undefined);
  assert.equal(m.lookupBatch().length, 2);
  assert.equal(m.updateBatch([{ prefixlen: 16, addr: new Uint8Array([198, 18, 0, 0]) }], [16]), 1);
  assert.equal(m.deleteBatch([{ prefixlen: 24, addr: new Uint8Array([192, 0, 2, 0]) }, { prefixlen: 32, addr: new Uint8Array([192, 0, 2, 9]) }, { prefixlen: 16, addr: new Uint8Array([198, 18, 0, 0]) }]), 3);
  assert.equal(m.lookupBatch().length, 0);
});

test('BpfMap hash-of-maps: store an inner array by fd, read back its id', () => {
  const outer = coll.map('fx_outer');
  const inner = coll.map('fx_inner_a');
  inner.update(2, 42);
  outer.update(9, inner.fd);
  assert.equal(outer.lookup(9), inner.info().id);
  // The id read back opens the same inner map.
  const again = openMapById(outer.lookup(9) as number);
  try {
    assert.equal(again.info().id, inner.info().id);
    assert.equal(again.lookup(Buffer.from([2, 0, 0, 0]))!.readUInt32LE(0), 42);
  } finally {
    again.close();
  }
  assert.equal(outer.delete(9), true);
});

test('openMapById refuses ids that are not numbers or name no map', () => {
  assert.throws(() => openMapById(0), RangeError);
  assert.throws(() => openMapById(1.5), RangeError);
  assert.throws(() => openMapById(0xfffffff0), (e: unknown) => e instanceof BpfError && e.code === 'ENOENT' && /map id 4294967280/.test(e.message));
  const n = native as unknown as Record<string, (...a: unknown[]) => unknown>;
  assert.throws(() => n.mapOpenById('7'), TypeError);
  assert.throws(() => n.mapBtfLayouts({}), TypeError);
});

test('BpfMap.btfLayouts reads the layouts the kernel keeps: the object\'s for its maps, none for a map made without BTF', async (t) => {
  const pins = pinDir('btf');
  t.after(pins.cleanup);
  coll.map('fx_hash').pin(`${pins.path}/fx_hash`);
  const pinned = openPinnedMap(`${pins.path}/fx_hash`);
  t.after(() => pinned.close());
  const fromKernel = pinned.btfLayouts();
  const obj = BpfObject.open(objectPath('fixture'));
  const spec = obj.maps.find((m) => m.name === 'fx_hash')!;
  obj.close();
  assert.deepEqual(fromKernel.key, spec.keyLayout);
  assert.deepEqual(fromKernel.value, spec.valueLayout);
  assert.ok(fromKernel.value!.fields!.some((f) => f.name === 'bytes'));
  const bare = createMap({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 1 });
  t.after(() => bare.close());
  assert.deepEqual(bare.btfLayouts(), {});
});

test('createMap makes a fresh inner map from the spec and swaps it into a hash-of-maps', () => {
  const spec = coll.maps.get('fx_outer')!;
  assert.equal(spec.type, 'hash_of_maps');
  const obj = BpfObject.open(objectPath('fixture'));
  const innerSpec = obj.maps.find((m) => m.name === 'fx_outer')!.innerMap!;
  obj.close();
  const inner = createMap({ ...innerSpec, name: 'kpb_inner' });
  try {
    assert.deepEqual([inner.type, inner.keySize, inner.valueSize, inner.maxEntries], ['array', 4, 4, 8]);
    inner.update(3, 33);
    coll.map('fx_outer').update(1, inner.fd);
    assert.equal(coll.map('fx_outer').lookup(1), inner.info().id);
    const wrong = createMap({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 16 });
    try {
      assert.throws(() => coll.map('fx_outer').update(1, wrong.fd), (e: unknown) => e instanceof BpfError && e.code === 'EINVAL' && e.objectName === 'fx_outer');
    } finally {
      wrong.close();
    }
    assert.equal(coll.map('fx_outer').delete(1), true);
  } finally {
    inner.close();
  }
  assert.throws(() => createMap({ type: 'hashy', keySize: 4, valueSize: 4, maxEntries: 1 }), (e: unknown) => e instanceof BpfError && /hashy/.test(e.message));
  assert.throws(() => createMap({ type: 'hash', keySize: 0, valueSize: 4, maxEntries: 1 }), (e: unknown) => e instanceof BpfError && e.code === 'EINVAL');
  assert.throws(() => createMap({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 1, name: 'a_name_longer_than_15' }), RangeError);
});

test('BpfMap.pin and openPinnedMap share one kernel map', (t) => {
  const dir = pinDir('map');
  t.after(dir.cleanup);
  const m = coll.map('fx_lru');
  m.pin(`${dir.path}/lru`);
  const again = openPinnedMap(`${dir.path}/lru`);
  try {
    m.update(77, 7n);
    assert.equal(again.lookup(77), 7n);
    assert.equal(again.info().id, m.info().id);
    assert.deepEqual(
      { ...again.info(), id: 0 },
      { id: 0, type: 'lru_hash', keySize: 4, valueSize: 8, maxEntries: 32, flags: 0, name: 'fx_lru' },
    );
  } finally {
    again.close();
    m.delete(77);
  }
  const withLayout = openPinnedMap(`${dir.path}/lru`, { keyLayout: { name: 'k', size: 4, kind: 'be32' } });
  try {
    withLayout.update(1, 9n);
    assert.equal(m.lookup(0x01000000), 9n); // be32 1 read back as a host-order u32
  } finally {
    withLayout.close();
    m.delete(0x01000000);
  }
});

test('BpfMap refuses keys and values of the wrong size or shape', () => {
  const m = coll.map('fx_hash');
  assert.throws(() => m.lookup(Buffer.alloc(3)), RangeError);
  assert.throws(() => m.update(Buffer.alloc(20), Buffer.alloc(3)), RangeError);
  assert.throws(() => m.lookup({ addr: addr(1), prot: 80 }), /Unknown field "prot"/);
  assert.throws(() => m.lookup({ addr: new Uint8Array(4) }), RangeError);
  assert.throws(() => m.lookup(5), TypeError);
  assert.throws(() => m.update({ port: 70000 }, { id: 1 }), RangeError);
  assert.throws(() => coll.map('no_such_map'), (e: unknown) => e instanceof BpfError && e.code === 'ENOENT' && /no_such_map/.test(e.message));
});
