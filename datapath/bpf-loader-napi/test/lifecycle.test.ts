// Lifetime of kernel objects: the environment cleanup hook closes what JS left open (shown with a
// worker thread, whose environment ends while the process lives on), and the addon works per
// environment (each worker gets its own BpfError class and handles).
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { test } from 'node:test';
import { BpfError, BpfObject } from '../lib/index.ts';
import { makeCgroup, objectPath, requireRoot, run } from './helpers/env.ts';

test('the environment cleanup hook detaches an unclosed link when a worker ends', async (t) => {
  requireRoot();
  const cg = makeCgroup('worker');
  t.after(cg.cleanup);
  const worker = new Worker(new URL('./helpers/worker-attach.ts', import.meta.url), {
    workerData: { objectPath: objectPath('fixture'), cgroupPath: cg.path },
  });
  const msg = await new Promise<{ linkId: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  assert.ok(msg.linkId > 0);
  assert.match(run('bpftool', ['cgroup', 'show', cg.path]), /connect4/, 'attached while the worker lives');
  await worker.terminate();
  // Termination runs the cleanup hook synchronously; the kernel drops the link with its last fd.
  let shown = '';
  for (let i = 0; i < 50; i++) {
    shown = run('bpftool', ['cgroup', 'show', cg.path]);
    if (!/connect4/.test(shown)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.doesNotMatch(shown, /connect4/, 'the link was released with the worker environment');
});

test('errors from the main thread are still BpfError after a worker used the addon', async () => {
  requireRoot();
  const coll = await BpfObject.open(objectPath('fixture')).load();
  try {
    assert.throws(() => coll.map('fx_lru').update(1, 1n, 'exist'), BpfError);
  } finally {
    coll.close();
  }
});
