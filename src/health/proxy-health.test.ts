import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Node } from '@kubernetes/client-node';
import { ProxyHealth } from './proxy-health.ts';

function fakeClock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

test('ProxyHealth is healthy at start until the timeout elapses without a sync', () => {
  const clock = fakeClock();
  const h = new ProxyHealth({ clock, healthTimeoutMs: 60_000, families: ['IPv4', 'IPv6'] });
  assert.equal(h.health().healthy, true);
  clock.t += 59_999;
  assert.equal(h.health().healthy, true);
  clock.t += 1;
  const s = h.health();
  assert.equal(s.healthy, false);
  assert.equal(s.lastUpdated, null, 'nothing was ever synced');
  assert.deepEqual(s.status.IPv4, { lastUpdated: null, healthy: false });
});

test('ProxyHealth turns unhealthy only when a queued update waits past the timeout', () => {
  const clock = fakeClock();
  const h = new ProxyHealth({ clock, healthTimeoutMs: 60_000, families: ['IPv4', 'IPv6'] });
  h.updated('IPv4');
  h.updated('IPv6');
  clock.t += 3_600_000;
  assert.equal(h.health().healthy, true, 'no pending change: healthy however old the last sync');
  h.queuedUpdate('IPv6');
  clock.t += 30_000;
  h.queuedUpdate('IPv6'); // a newer request must not reset the wait
  clock.t += 30_000;
  const s = h.health();
  assert.equal(s.healthy, false);
  assert.equal(s.status.IPv4?.healthy, true);
  assert.equal(s.status.IPv6?.healthy, false);
  assert.equal(s.lastUpdated, 1_000_000, 'unhealthy: lastUpdated is the newest real update');
  h.updated('IPv6');
  const after = h.health();
  assert.equal(after.healthy, true);
  assert.equal(after.lastUpdated, clock.t, 'healthy: lastUpdated is now');
  assert.equal(after.status.IPv6?.lastUpdated, clock.t);
});

test('ProxyHealth node eligibility follows deletion and the autoscaler taint', () => {
  const h = new ProxyHealth({ clock: fakeClock(), healthTimeoutMs: 1, families: ['IPv4'] });
  assert.equal(h.nodeEligible(), false, 'not eligible before the Node is seen');
  const node: V1Node = { metadata: { name: 'node-a' }, spec: {} };
  h.syncNode(node);
  assert.equal(h.nodeEligible(), true);
  h.syncNode({ ...node, spec: { taints: [{ key: 'ToBeDeletedByClusterAutoscaler', effect: 'NoSchedule' }] } });
  assert.equal(h.nodeEligible(), false);
  h.syncNode({ ...node, spec: { taints: [{ key: 'other', effect: 'NoSchedule' }] } });
  assert.equal(h.nodeEligible(), true);
  h.syncNode({ metadata: { name: 'node-a', deletionTimestamp: new Date(0) } });
  assert.equal(h.nodeEligible(), false);
  h.syncNode(node);
  h.syncNode(null);
  assert.equal(h.nodeEligible(), false);
});

test('ProxyHealth rejects families it does not proxy and bad timeouts', () => {
  const h = new ProxyHealth({ clock: fakeClock(), healthTimeoutMs: 1, families: ['IPv4'] });
  assert.throws(() => h.updated('IPv6'), { name: 'RangeError', message: /"IPv6"/ });
  assert.throws(() => new ProxyHealth({ clock: fakeClock(), healthTimeoutMs: 0, families: ['IPv4'] }), RangeError);
  assert.throws(() => new ProxyHealth({ clock: fakeClock(), healthTimeoutMs: 1, families: [] }), RangeError);
});
