// Loading with a pin folder: maps declared LIBBPF_PIN_BY_NAME are pinned, a second load adopts them
// (state survives), and a pin of another layout is refused with a message naming map and difference.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { BpfError, BpfObject } from '../lib/index.ts';
import { objectPath, pinDir, requireRoot, run } from './helpers/env.ts';

const key = { addr: new Uint8Array(16).fill(1), port: 443, proto: 6, scope: 0 };

test('BpfObject.load pins maps by name and a second load adopts them with their state', async (t) => {
  requireRoot();
  const dir = pinDir('adopt');
  t.after(dir.cleanup);
  const first = await BpfObject.open(objectPath('fixture')).load({ pinPath: dir.path });
  const id = first.map('fx_hash').info().id;
  first.map('fx_hash').update(key, { id: 99, count: 1, bytes: 5n });
  assert.ok(existsSync(`${dir.path}/fx_hash`));
  assert.ok(existsSync(`${dir.path}/fx_percpu`));
  assert.ok(!existsSync(`${dir.path}/fx_lru`), 'maps without LIBBPF_PIN_BY_NAME are not pinned');
  first.close();

  const second = await BpfObject.open(objectPath('fixture')).load({ pinPath: dir.path });
  try {
    assert.equal(second.map('fx_hash').info().id, id);
    assert.deepEqual(second.map('fx_hash').lookup(key), { id: 99, count: 1, pad: 0, bytes: 5n });
  } finally {
    second.close();
  }
});

test('BpfObject.load without a pin folder pins nothing', async () => {
  requireRoot();
  const coll = await BpfObject.open(objectPath('fixture')).load();
  try {
    assert.ok(!existsSync('/sys/fs/bpf/fx_hash'));
  } finally {
    coll.close();
  }
});

test('BpfObject.load refuses a pinned map of another layout, naming map and difference', async (t) => {
  requireRoot();
  const dir = pinDir('refuse');
  t.after(dir.cleanup);
  // Same name, value 8 bytes instead of 16 and 128 entries instead of 64.
  run('bpftool', ['map', 'create', `${dir.path}/fx_hash`, 'type', 'hash', 'key', '20', 'value', '8', 'entries', '128', 'name', 'fx_hash']);
  await assert.rejects(
    BpfObject.open(objectPath('fixture')).load({ pinPath: dir.path }),
    (e: unknown) => {
      assert.ok(e instanceof BpfError);
      assert.equal(e.objectName, 'fx_hash');
      assert.equal(e.operation, 'load');
      assert.match(e.message, /fx_hash/);
      assert.match(e.message, /value size is 8, the object wants 16/);
      assert.match(e.message, /max entries is 128, the object wants 64/);
      assert.doesNotMatch(e.message, /key size/);
      return true;
    },
  );
  // A refused load leaves the foreign pin alone and creates no other pins.
  assert.ok(existsSync(`${dir.path}/fx_hash`));
  assert.ok(!existsSync(`${dir.path}/fx_percpu`));
});

test('BpfObject.load refuses a pin that is not a map', async (t) => {
  requireRoot();
  const dir = pinDir('notmap');
  t.after(dir.cleanup);
  const coll = await BpfObject.open(objectPath('fixture')).load();
  try {
    coll.program('xdp_swap').pin(`${dir.path}/fx_hash`);
  } finally {
    coll.close();
  }
  await assert.rejects(BpfObject.open(objectPath('fixture')).load({ pinPath: dir.path }), (e: unknown) => e instanceof BpfError && /not a BPF map/.test(e.message) && e.objectName === 'fx_hash');
});
