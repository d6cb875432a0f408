// BpfProgram.testRun: XDP and tc programs run in the kernel on crafted packets, verdict and output
// bytes checked; counters in a per-CPU map show each run. Addresses: 192.0.2.0/24 only.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BpfError, BpfObject, type Collection } from '../lib/index.ts';
import { objectPath, pinDir, requireRoot } from './helpers/env.ts';

const XDP_DROP = 1;
const XDP_PASS = 2;
const TC_ACT_OK = 0;

function packet(src = [192, 0, 2, 1]): Buffer {
  const p = Buffer.alloc(64);
  p.fill(0x11, 0, 6);
  p.fill(0x22, 6, 12);
  p.writeUInt16BE(0x0800, 12);
  p[14] = 0x45;
  p.set(src, 26);
  p.set([192, 0, 2, 2], 30);
  return p;
}

const sum = (v: unknown) => (v as bigint[]).reduce((a, b) => a + b, 0n);

let coll: Collection;
before(async () => {
  requireRoot();
  coll = await BpfObject.open(objectPath('fixture')).load();
});
after(() => coll?.close());

test('BpfProgram.testRun runs XDP: MACs swapped, verdict from rodata default', () => {
  const before = sum(coll.map('fx_percpu').lookup(0));
  const r = coll.program('xdp_swap').testRun({ data: packet(), repeat: 3 });
  assert.equal(r.retval, XDP_PASS);
  assert.equal(r.data.length, 64);
  assert.deepEqual([...r.data.subarray(0, 12)], [...Buffer.alloc(6, 0x22), ...Buffer.alloc(6, 0x11)]);
  assert.deepEqual(r.data.subarray(12), packet().subarray(12));
  assert.equal(typeof r.durationNs, 'number');
  assert.equal(sum(coll.map('fx_percpu').lookup(0)) - before, 3n);
});

test('BpfProgram.testRun sees map state: an LPM hit on the source drops', () => {
  const lpm = coll.map('fx_lpm');
  lpm.update({ prefixlen: 32, addr: new Uint8Array([192, 0, 2, 99]) }, 1);
  try {
    assert.equal(coll.program('xdp_swap').testRun({ data: packet([192, 0, 2, 99]) }).retval, XDP_DROP);
    assert.equal(coll.program('xdp_swap').testRun({ data: packet([192, 0, 2, 98]) }).retval, XDP_PASS);
  } finally {
    lpm.delete({ prefixlen: 32, addr: new Uint8Array([192, 0, 2, 99]) });
  }
});

test('BpfProgram.testRunLive runs XDP on live frames (BPF_F_TEST_XDP_LIVE_FRAMES): once per frame, in batches', () => {
  // Dropped frames only (an LPM hit on the source): nothing is sent or passed up a stack.
  const lpm = coll.map('fx_lpm');
  lpm.update({ prefixlen: 32, addr: new Uint8Array([192, 0, 2, 99]) }, 1);
  try {
    const before = sum(coll.map('fx_percpu').lookup(0));
    const r = coll.program('xdp_swap').testRunLive({ data: packet([192, 0, 2, 99]), repeat: 1000, batchSize: 64 });
    assert.equal(typeof r.durationNs, 'number');
    assert.equal(sum(coll.map('fx_percpu').lookup(0)) - before, 1000n, 'the program ran once per frame');
    assert.throws(() => coll.program('xdp_swap').testRunLive({ data: packet(), repeat: 1, batchSize: 1000 }), /batchSize/);
    assert.throws(() => coll.program('tc_mark').testRunLive({ data: packet(), repeat: 1 }), /Live-frames test run of program "tc_mark" failed/);
  } finally {
    lpm.delete({ prefixlen: 32, addr: new Uint8Array([192, 0, 2, 99]) });
  }
});

test('BpfProgram.testRun runs tc: the byte after Ethernet is rewritten, verdict OK', () => {
  const r = coll.program('tc_mark').testRun({ data: packet() });
  assert.equal(r.retval, TC_ACT_OK);
  assert.equal(r.data[14], 0xaa);
  assert.deepEqual(r.data.subarray(15), packet().subarray(15));
});

test('BpfProgram.testRun checksumComplete: a tc program that changes bytes without skb->csum fails with EBADMSG', () => {
  // tc_mark writes 0xaa after the Ethernet header and leaves skb->csum alone.
  assert.throws(() => coll.program('tc_mark').testRun({ data: packet(), checksumComplete: true }),
    (e: unknown) => e instanceof BpfError && e.code === 'EBADMSG' && e.objectName === 'tc_mark');
  const same = packet();
  same[14] = 0xaa; // nothing changes, so skb->csum stays right
  assert.equal(coll.program('tc_mark').testRun({ data: same, checksumComplete: true }).retval, TC_ACT_OK);
  assert.throws(() => coll.program('tc_mark').testRun({ data: packet(), checksumComplete: 1 as unknown as boolean }), TypeError);
});

test('BpfProgram.testRun with a too-short packet returns the program verdict, no crash', () => {
  assert.equal(coll.program('xdp_swap').testRun({ data: Buffer.alloc(14) }).retval, XDP_PASS);
  assert.throws(() => coll.program('tc_mark').testRun({ data: Buffer.alloc(2) }), (e: unknown) => e instanceof BpfError && e.code === 'EINVAL' && e.objectName === 'tc_mark');
  assert.throws(() => coll.program('xdp_swap').testRun({ data: 'nope' as unknown as Buffer }), TypeError);
  assert.throws(() => coll.program('xdp_swap').testRun({ data: packet(), repeat: 0 }), RangeError);
});

test('BpfProgram.testRun passes a context in and returns it', () => {
  const ctx = Buffer.alloc(24); // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex
  ctx.writeUInt32LE(64, 4);
  const r = coll.program('xdp_swap').testRun({ data: packet(), ctx });
  assert.equal(r.retval, XDP_PASS);
  assert.ok(r.ctx);
  assert.equal(r.ctx.readUInt32LE(4), 64);
  const bad = Buffer.alloc(24);
  bad.writeUInt32LE(64, 4);
  bad.writeUInt32LE(1, 20); // egress_ifindex must be 0
  assert.throws(() => coll.program('xdp_swap').testRun({ data: packet(), ctx: bad }), (e: unknown) => e instanceof BpfError && e.code === 'EINVAL');
});

test('BpfProgram.pin and info', (t) => {
  const dir = pinDir('prog');
  t.after(dir.cleanup);
  const p = coll.program('xdp_swap');
  p.pin(`${dir.path}/xdp_swap`);
  const info = p.info();
  assert.equal(info.type, 'xdp');
  assert.equal(info.name, 'xdp_swap');
  assert.match(info.tag, /^[0-9a-f]{16}$/);
  assert.throws(() => p.pin(`${dir.path}/xdp_swap`), (e: unknown) => e instanceof BpfError && e.code === 'EEXIST');
});
