// BpfObject: parse-only open (file and Buffer), specs and BTF layouts, setRodata, resizeMap.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { BpfError, BpfObject } from '../lib/index.ts';
import { objectPath, requireRoot } from './helpers/env.ts';

const ETH_IPV4 = () => {
  const p = Buffer.alloc(64);
  p.fill(0x11, 0, 6); // destination MAC
  p.fill(0x22, 6, 12); // source MAC
  p.writeUInt16BE(0x0800, 12);
  p[14] = 0x45;
  p.set([192, 0, 2, 1], 26); // source 192.0.2.1
  p.set([192, 0, 2, 2], 30);
  return p;
};

test('BpfObject.open lists maps and programs without touching the kernel', () => {
  const obj = BpfObject.open(objectPath('fixture'));
  try {
    const byName = new Map(obj.maps.map((m) => [m.name, m]));
    assert.deepEqual(
      ['fx_hash', 'fx_lru', 'fx_percpu', 'fx_lpm', 'fx_outer'].map((n) => byName.get(n)?.type),
      ['hash', 'lru_hash', 'percpu_array', 'lpm_trie', 'hash_of_maps'],
    );
    const h = byName.get('fx_hash')!;
    assert.equal(h.keySize, 20);
    assert.equal(h.valueSize, 16);
    assert.equal(h.maxEntries, 64);
    assert.equal(h.pinByName, true);
    assert.equal(byName.get('fx_lpm')!.flags, 1); // BPF_F_NO_PREALLOC
    assert.equal(byName.get('fx_outer')!.innerMap?.type, 'array');
    const progs = new Map(obj.programs.map((p) => [p.name, p]));
    assert.deepEqual(progs.get('xdp_swap'), { name: 'xdp_swap', section: 'xdp', type: 'xdp', expectedAttachType: 'xdp' });
    assert.equal(progs.get('tc_mark')!.type, 'sched_cls');
    assert.equal(progs.get('connect4_redirect')!.expectedAttachType, 'cgroup_inet4_connect');
    assert.equal(progs.get('allow_post_bind6')!.expectedAttachType, 'cgroup_inet6_post_bind');
  } finally {
    obj.close();
  }
});

test('BpfObject layouts come from BTF: field names, offsets, big-endian typedefs, byte arrays', () => {
  const obj = BpfObject.open(readFileSync(objectPath('fixture')), { name: 'fixture' });
  try {
    const key = obj.maps.find((m) => m.name === 'fx_hash')!.keyLayout!;
    assert.equal(key.name, 'fx_key');
    assert.equal(key.size, 20);
    assert.deepEqual(
      key.fields!.map((f) => [f.name, f.offset, f.size, f.kind]),
      [['addr', 0, 16, 'bytes'], ['port', 16, 2, 'be16'], ['proto', 18, 1, 'u8'], ['scope', 19, 1, 'u8']],
    );
    const lpm = obj.maps.find((m) => m.name === 'fx_lpm')!.keyLayout!;
    assert.deepEqual(lpm.fields!.map((f) => f.kind), ['u32', 'bytes']);
    const lru = obj.maps.find((m) => m.name === 'fx_lru')!;
    assert.deepEqual([lru.keyLayout!.kind, lru.valueLayout!.kind], ['u32', 'u64']);
    const verdict = obj.variables.find((v) => v.name === 'xdp_verdict')!;
    assert.equal(verdict.section, '.rodata');
    assert.equal(verdict.layout!.kind, 'u32');
  } finally {
    obj.close();
  }
});

test('BpfObject.setRodata changes what the loaded program does', async () => {
  requireRoot();
  const plain = await BpfObject.open(objectPath('fixture')).load();
  const dropping = await BpfObject.open(objectPath('fixture')).setRodata({ xdp_verdict: 1, mark_byte: 0x5c }).load();
  try {
    assert.equal(plain.program('xdp_swap').testRun({ data: ETH_IPV4() }).retval, 2); // XDP_PASS
    assert.equal(dropping.program('xdp_swap').testRun({ data: ETH_IPV4() }).retval, 1); // XDP_DROP
    assert.equal(plain.program('tc_mark').testRun({ data: ETH_IPV4() }).data[14], 0xaa);
    assert.equal(dropping.program('tc_mark').testRun({ data: ETH_IPV4() }).data[14], 0x5c);
  } finally {
    plain.close();
    dropping.close();
  }
});

test('BpfObject.setRodata refuses unknown names and out-of-range values', () => {
  const obj = BpfObject.open(objectPath('fixture'));
  try {
    assert.throws(() => obj.setRodata({ no_such_var: 1 }), (e: unknown) => e instanceof BpfError && e.code === 'ENOENT' && /no_such_var/.test(e.message));
    assert.throws(() => obj.setRodata({ mark_byte: 256 }), RangeError);
    assert.throws(() => obj.setRodata({ xdp_verdict: 'drop' as unknown as number }), TypeError);
  } finally {
    obj.close();
  }
});

test('BpfObject.resizeMap sets max_entries before load', async () => {
  requireRoot();
  const obj = BpfObject.open(objectPath('fixture')).resizeMap('fx_lru', 1000);
  assert.equal(obj.maps.find((m) => m.name === 'fx_lru')!.maxEntries, 1000);
  const coll = await obj.load();
  try {
    assert.equal(coll.map('fx_lru').info().maxEntries, 1000);
    assert.throws(() => obj.resizeMap('fx_lru', 5), (e: unknown) => e instanceof BpfError && e.code === 'EBUSY');
  } finally {
    coll.close();
  }
  const other = BpfObject.open(objectPath('fixture'));
  try {
    assert.throws(() => other.resizeMap('nope', 5), (e: unknown) => e instanceof BpfError && e.code === 'ENOENT' && e.objectName === 'nope');
    assert.throws(() => other.resizeMap('fx_lru', 0), RangeError);
  } finally {
    other.close();
  }
});

test('BpfObject.load with logLevel keeps the verifier log of a successful load', async () => {
  requireRoot();
  const coll = await BpfObject.open(objectPath('fixture')).load({ logLevel: 1 });
  try {
    assert.match(coll.loadLog ?? '', /prog 'xdp_swap'/);
    assert.match(coll.loadLog ?? '', /processed \d+ insns/);
  } finally {
    coll.close();
  }
  const quiet = await BpfObject.open(objectPath('fixture')).load();
  assert.equal(quiet.loadLog, undefined);
  quiet.close();
});
