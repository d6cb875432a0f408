// Bad input never crashes: each case below gives a BpfError (kernel/libbpf said no) or a
// TypeError/RangeError (caught before native code), with a message naming the object.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { after, before, test } from 'node:test';
import { BpfError, BpfObject, attachCgroup, attachTc, attachXdp, openPinnedLink, openPinnedMap, type Collection } from '../lib/index.ts';
import { native } from '../lib/binding.ts';
import { objectPath, prefix, requireRoot } from './helpers/env.ts';

const isBpfError = (code: string, re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof BpfError, `expected BpfError, got ${String(e)}`);
  assert.equal(e.code, code);
  assert.match(e.message, re);
  assert.equal(e.name, 'BpfError');
  return true;
};

let coll: Collection;
let tmp: string;
before(async () => {
  requireRoot();
  coll = await BpfObject.open(objectPath('fixture')).load();
  tmp = mkdtempSync(`${tmpdir()}/${prefix}-`);
});
after(() => {
  coll?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('BpfObject.open: a missing file is BpfError ENOENT naming the path', () => {
  assert.throws(() => BpfObject.open(`${tmp}/missing.bpf.o`), isBpfError('ENOENT', /missing\.bpf\.o/));
});

test('BpfObject.open: a corrupt or truncated object is BpfError, not a crash', () => {
  writeFileSync(`${tmp}/junk.o`, 'this is not an ELF file at all');
  assert.throws(() => BpfObject.open(`${tmp}/junk.o`), (e: unknown) => e instanceof BpfError && /junk\.o/.test(e.message) && e.operation === 'open');
  const elf = readFileSync(objectPath('fixture'));
  assert.throws(() => BpfObject.open(elf.subarray(0, 200)), (e: unknown) => e instanceof BpfError && e.operation === 'open');
  assert.throws(() => BpfObject.open(Buffer.alloc(0)), isBpfError('EINVAL', /empty/));
  assert.throws(() => BpfObject.open(42 as unknown as string), TypeError);
});

test('BpfObject.load: a verifier rejection carries the verifier log and names the program', async () => {
  await assert.rejects(BpfObject.open(objectPath('bad_verifier')).load(), (e: unknown) => {
    assert.ok(e instanceof BpfError);
    assert.equal(e.objectName, 'xdp_unchecked');
    assert.equal(e.code, 'EACCES');
    assert.match(e.message, /xdp_unchecked.*verifier: .*outside of the packet/);
    assert.match(e.verifierLog ?? '', /invalid access to packet/);
    assert.match(e.libbpfMessage ?? '', /xdp_unchecked/);
    assert.match(e.stack ?? '', /errors\.test\.ts/, 'the stack points at the caller, not at libuv');
    return true;
  });
});

test('BpfObject.load twice is refused', async () => {
  const obj = BpfObject.open(objectPath('fixture'));
  const c = await obj.load();
  c.close();
  await assert.rejects(obj.load(), isBpfError('EBUSY', /already loaded/));
});

test('Collection: unknown map or program names are BpfError ENOENT', () => {
  assert.throws(() => coll.map('lb_nothing'), isBpfError('ENOENT', /lb_nothing/));
  assert.throws(() => coll.program('prog_nothing'), isBpfError('ENOENT', /prog_nothing/));
});

test('attach: bad ifindex and missing cgroup path are BpfErrors', () => {
  assert.throws(() => attachXdp(coll.program('xdp_swap'), 0x7ffffff0, { mode: 'generic' }), isBpfError('ENODEV', /ifindex 2147483632/));
  assert.throws(() => attachTc(coll.program('tc_mark'), 0x7ffffff0, { direction: 'ingress' }), isBpfError('ENODEV', /tc_mark/));
  assert.throws(() => attachXdp(coll.program('xdp_swap'), 0), RangeError);
  assert.throws(() => attachCgroup(coll.program('connect4_redirect'), `${tmp}/no-such-cgroup`), isBpfError('ENOENT', /no-such-cgroup/));
  assert.throws(() => attachCgroup(coll.program('connect4_redirect'), tmp, 'connect5' as 'connect4'), TypeError);
  assert.throws(() => attachXdp(coll.program('tc_mark'), 1), isBpfError('EINVAL', /sched_cls/));
  assert.throws(() => openPinnedLink(`${tmp}/nothing`), isBpfError('ENOENT', /nothing/));
  assert.throws(() => openPinnedMap(`${tmp}/nothing`), isBpfError('ENOENT', /nothing/));
});

test('closed handles throw BpfError EBADF', async () => {
  const c = await BpfObject.open(objectPath('fixture')).load();
  const m = c.map('fx_lru');
  const p = c.program('xdp_swap');
  c.close();
  c.close(); // idempotent
  assert.throws(() => m.lookup(1), isBpfError('EBADF', /closed/));
  assert.throws(() => p.testRun({ data: Buffer.alloc(64) }), isBpfError('EBADF', /closed/));
});

test('native functions guard their own arguments when the facade is bypassed', () => {
  const n = native as unknown as Record<string, (...a: unknown[]) => unknown>;
  assert.throws(() => n.mapLookup({}, Buffer.alloc(4)), TypeError);
  assert.throws(() => n.mapLookup(undefined, Buffer.alloc(4)), TypeError);
  assert.throws(() => n.progTestRun(null, Buffer.alloc(4)), TypeError);
  assert.throws(() => n.objectOpen(null), TypeError);
  assert.throws(() => n.objectLoad({}), TypeError);
  assert.throws(() => n.attachXdp(undefined, 1, 'native'), TypeError);
  assert.throws(() => n.init(5), TypeError);
  assert.throws(() => n.tcQuery('1', 'ingress', 1, 1), TypeError);
  assert.throws(() => n.tcQuery(1, 'sideways', 1, 1), TypeError);
  assert.throws(() => n.tcDetach(1, 'ingress', 1, 0x10000), RangeError);
  assert.throws(() => n.tcDetach(1, 'ingress', 0, 1), RangeError);
  assert.throws(() => n.xdpQuery(-1), TypeError);
  assert.throws(() => n.xdpQuery(0), isBpfError('ENODEV', /no such interface/));
  assert.throws(() => n.netWatch('x', ['links']), TypeError);
  assert.throws(() => n.netWatch(() => {}, 'links'), TypeError);
  assert.throws(() => n.netWatch(() => {}, []), TypeError);
  assert.throws(() => n.netWatch(() => {}, ['links', 'bogus']), /bogus/);
  assert.throws(() => n.netWatch(() => {}, [1]), TypeError);
  assert.throws(() => n.mountBpffs('/nonexistent', 0o10000), RangeError);
  assert.throws(() => n.mountBpffs(7, 0o700), TypeError);
  assert.throws(() => n.close({}), TypeError);
  assert.throws(() => n.netLinkDelete(5), TypeError);
  assert.throws(() => n.netLinkDelete('x'.repeat(40)), RangeError);
  assert.equal(n.netLinkDelete('kpb-no-such0'), false);
  // A map handle where a program is expected is refused by its type tag.
  const mapHandle = n.mapOpenPinned;
  assert.equal(typeof mapHandle, 'function');
});
