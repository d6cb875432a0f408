import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceChangeTracker, type ServicePortMap } from './service-change-tracker.ts';
import { svc } from './testing/fixtures.ts';

test('ServiceChangeTracker: add, update, delete and flap per kube-proxy semantics', () => {
  const a1 = svc('a');
  const a2 = svc('a', { ports: [{ name: 'http', port: 81 }] });
  const labelled = svc('a', {}, { metadata: { labels: { 'service.kubernetes.io/service-proxy-name': 'other' } } });
  const steps: { name: string; updates: [typeof a1 | null, typeof a1 | null][]; pending: number; updated: string[]; keys: string[] }[] = [
    { name: 'add is Update(null, obj)', updates: [[null, a1]], pending: 1, updated: ['default/a'], keys: ['default/a:http/TCP/IPv4'] },
    { name: 'no-op update leaves nothing pending', updates: [[a1, a1]], pending: 0, updated: [], keys: ['default/a:http/TCP/IPv4'] },
    { name: 'flap back to the synced state drops the pending change', updates: [[a1, a2], [a2, a1]], pending: 0, updated: [], keys: ['default/a:http/TCP/IPv4'] },
    { name: 'port change replaces the port', updates: [[a1, a2]], pending: 1, updated: ['default/a'], keys: ['default/a:http/TCP/IPv4'] },
    { name: '§5.1 adding service-proxy-name removes the service', updates: [[a2, labelled]], pending: 1, updated: ['default/a'], keys: [] },
    { name: '§5.1 removing the label re-adds it', updates: [[labelled, a1]], pending: 1, updated: ['default/a'], keys: ['default/a:http/TCP/IPv4'] },
    { name: 'add then delete before a sync cancels out', updates: [[null, svc('b')], [svc('b'), null]], pending: 0, updated: [], keys: ['default/a:http/TCP/IPv4'] },
    { name: 'delete is Update(obj, null)', updates: [[a1, null]], pending: 1, updated: ['default/a'], keys: [] },
  ];
  const t = new ServiceChangeTracker();
  const map: ServicePortMap = new Map();
  for (const step of steps) {
    for (const [prev, cur] of step.updates) t.update(prev, cur);
    assert.equal(t.pendingCount, step.pending, step.name);
    const { updatedServices } = t.apply(map);
    assert.deepEqual([...updatedServices], step.updated, step.name);
    assert.deepEqual([...map.values()].flat().map((sp) => sp.key), step.keys, step.name);
    assert.equal(t.pendingCount, 0, step.name);
  }
  assert.equal(map.size, 0);
});

test('ServiceChangeTracker.update reports problems of the new object only', () => {
  const t = new ServiceChangeTracker();
  const bad = svc('a', { externalIPs: ['nope'] });
  assert.deepEqual(t.update(null, bad).problems.map((p) => p.field), ['spec.externalIPs[0]']);
  assert.deepEqual(t.update(bad, null).problems, []);
});

test('ServiceChangeTracker: type change NodePort -> ClusterIP removes the NodePort', () => {
  const t = new ServiceChangeTracker();
  const map: ServicePortMap = new Map();
  const np = svc('a', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }] });
  t.update(null, np);
  t.apply(map);
  assert.equal(map.get('default/a')![0]!.nodePort, 30080);
  t.update(np, svc('a'));
  t.apply(map);
  assert.equal(map.get('default/a')![0]!.nodePort, 0);
});
