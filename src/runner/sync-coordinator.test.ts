import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SyncCoordinator, SyncError, type SyncMode } from './sync-coordinator.ts';
import { errorChain } from '../log/logger.ts';

test('SyncCoordinator follows the partial/verify/full rules of spec §5.20', async () => {
  let now = 0;
  const modes: SyncMode[] = [];
  let outcome: 'ok' | 'fail' | 'throw' | 'gave-way' = 'ok';
  const c = new SyncCoordinator({
    now: () => now,
    verifyPeriodMs: 30_000,
    sync: (mode) => {
      modes.push(mode);
      if (outcome === 'throw') throw new Error('boom');
      if (outcome === 'gave-way') return { ok: true, verified: mode !== 'verify' ? undefined : false };
      return { ok: outcome === 'ok' };
    },
  });
  type Step = { name: string; before?: () => void; want: SyncMode | 'skipped' | 'error' };
  const steps: Step[] = [
    { name: 'no sync before any cache is synced', want: 'skipped' },
    { name: 'services synced alone is not enough', before: () => c.setServicesSynced(), want: 'skipped' },
    { name: 'first sync after both caches is full', before: () => c.setEndpointSlicesSynced(), want: 'full' },
    { name: 'then partial', want: 'partial' },
    { name: 'a failed sync (ok: false) is reported', before: () => (outcome = 'fail'), want: 'error' },
    { name: 'the sync after a failure verifies the maps (no full recompute)', before: () => (outcome = 'ok'), want: 'verify' },
    { name: 'then partial', want: 'partial' },
    { name: 'a throwing sync is reported', before: () => (outcome = 'throw'), want: 'error' },
    { name: 'and makes the next one full (its changes may be lost)', before: () => (outcome = 'ok'), want: 'full' },
    { name: 'explicit request (node labels changed)', before: () => c.requestFullSync('node labels changed'), want: 'full' },
    { name: 'partial within the verify period', before: () => (now += 29_999), want: 'partial' },
    { name: 'verify once the period has passed', before: () => (now += 1), want: 'verify' },
    { name: 'partial again', want: 'partial' },
    { name: 'a verifying sync that gives way to changes', before: () => { now += 30_000; outcome = 'gave-way'; }, want: 'verify' },
    { name: 'is followed by another verifying sync', want: 'verify' },
    { name: 'not overdue within two periods', before: () => assert.equal(c.verifyOverdue, false), want: 'verify' },
    { name: 'overdue two periods after the last finished one', before: () => { now += 30_000; assert.equal(c.verifyOverdue, true); }, want: 'verify' },
    { name: 'a finished one ends the verifying syncs', before: () => (outcome = 'ok'), want: 'verify' },
    { name: 'partial after it', before: () => assert.equal(c.verifyOverdue, false), want: 'partial' },
  ];
  for (const step of steps) {
    step.before?.();
    let got: SyncMode | 'skipped' | 'error';
    try {
      got = await c.syncOnce();
    } catch (err) {
      assert.ok(err instanceof SyncError, step.name);
      got = 'error';
    }
    assert.equal(got, step.want, step.name);
  }
  assert.equal(modes.length, steps.filter((s) => s.want !== 'skipped').length);
});

test('SyncCoordinator decides the mode once, at the start of a sync', async () => {
  let release: () => void = () => {};
  const modes: SyncMode[] = [];
  const c = new SyncCoordinator({
    now: () => 0,
    sync: async (mode) => {
      modes.push(mode);
      await new Promise<void>((r) => (release = r));
    },
  });
  c.setServicesSynced();
  c.setEndpointSlicesSynced();
  const first = c.syncOnce();
  await Promise.resolve();
  // A full-sync request arriving mid-sync applies to the next sync, not this one.
  c.requestFullSync('node labels changed');
  await assert.rejects(c.syncOnce(), SyncError);
  release();
  assert.equal(await first, 'full');
  assert.equal(c.pendingFullReason, 'node labels changed');
  const second = c.syncOnce();
  release();
  assert.equal(await second, 'full');
  assert.equal(c.pendingFullReason, null);
  assert.deepEqual(modes, ['full', 'full']);
});

test('SyncCoordinator.syncOnce() keeps a thrown error as the cause, so the log says why the sync failed', async () => {
  const why = new Error('cannot read the devices: netlink dump failed (EPERM)');
  const c = new SyncCoordinator({ sync: () => { throw why; }, now: () => 0 });
  c.setServicesSynced();
  c.setEndpointSlicesSynced();
  const err = await c.syncOnce().then(() => null, (e: unknown) => e);
  assert.ok(err instanceof SyncError);
  assert.equal(err.cause, why);
  assert.match(errorChain(err), /^The full sync failed; the next sync is full: cannot read the devices: netlink dump failed \(EPERM\)$/);
});
