import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EndpointsChangeTracker, type EndpointsMap } from './endpoints-change-tracker.ts';
import { slice } from './testing/fixtures.ts';

const KEY = 'default/web:http/TCP/IPv4';

test('EndpointsChangeTracker merges slices and tracks pending changes per service', () => {
  const s1 = slice('web', 's1', [{ ip: '198.18.1.1' }]);
  const s1b = slice('web', 's1', [{ ip: '198.18.1.1' }, { ip: '198.18.1.2' }]);
  const s2 = slice('web', 's2', [{ ip: '198.18.2.1' }]);
  const headless = slice('web', 's1', [{ ip: '198.18.1.1' }], { labels: { 'service.kubernetes.io/headless': '' } });
  const moved = slice('other', 's1', [{ ip: '198.18.1.1' }]);
  type S = typeof s1 | null;
  const steps: { name: string; updates: [S, S][]; pending: number; updated: string[]; ips: Record<string, string[]> }[] = [
    { name: 'slice before its service is kept', updates: [[null, s1]], pending: 1, updated: ['default/web'], ips: { [KEY]: ['198.18.1.1'] } },
    { name: 'second slice merged', updates: [[null, s2]], pending: 1, updated: ['default/web'], ips: { [KEY]: ['198.18.1.1', '198.18.2.1'] } },
    { name: 'update and revert before sync: nothing pending', updates: [[s1, s1b], [s1b, s1]], pending: 0, updated: [], ips: { [KEY]: ['198.18.1.1', '198.18.2.1'] } },
    { name: 'slice update', updates: [[s1, s1b]], pending: 1, updated: ['default/web'], ips: { [KEY]: ['198.18.1.1', '198.18.1.2', '198.18.2.1'] } },
    { name: 'slice delete', updates: [[s2, null]], pending: 1, updated: ['default/web'], ips: { [KEY]: ['198.18.1.1', '198.18.1.2'] } },
    { name: '§5.1 headless label drops the slice', updates: [[s1b, headless]], pending: 1, updated: ['default/web'], ips: {} },
    { name: 'label removed again', updates: [[headless, s1]], pending: 1, updated: ['default/web'], ips: { [KEY]: ['198.18.1.1'] } },
    {
      name: 'slice moved to another service updates both',
      updates: [[s1, moved]], pending: 2, updated: ['default/web', 'default/other'],
      ips: { 'default/other:http/TCP/IPv4': ['198.18.1.1'] },
    },
  ];
  const t = new EndpointsChangeTracker('node-a');
  const map: EndpointsMap = new Map();
  for (const step of steps) {
    for (const [prev, cur] of step.updates) t.update(prev, cur);
    assert.equal(t.pendingCount, step.pending, step.name);
    const { updatedServices } = t.apply(map);
    assert.deepEqual([...updatedServices].sort(), [...step.updated].sort(), step.name);
    const got = Object.fromEntries([...map].map(([k, v]) => [k, v.map((e) => e.ip)]));
    assert.deepEqual(got, step.ips, step.name);
  }
});

test('EndpointsChangeTracker reports last-change-trigger-time and problems', () => {
  const t = new EndpointsChangeTracker('node-a', Date.parse('2026-11-25T18:00:00Z'));
  const when = '2026-11-25T19:00:00Z';
  const r = t.update(null, slice('web', 's1', [{ ip: 'bad' }, { ip: '198.18.1.1' }], { annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': when } }));
  assert.equal(r.pending, true);
  assert.deepEqual(r.problems.map((p) => `${p.object} ${p.field}`), ['EndpointSlice default/s1 endpoints[0].addresses[0]']);
  const { lastChangeTriggerTimes } = t.apply(new Map());
  assert.deepEqual(lastChangeTriggerTimes.get('default/web'), [new Date(when)]);
});

test('EndpointsChangeTracker records only trigger times after it started, as upstream', () => {
  const t = new EndpointsChangeTracker('node-a', Date.parse('2026-11-25T19:00:00Z'));
  const at = (when: string, ip: string) => slice('web', 's1', [{ ip }], { annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': when } });
  t.update(null, at('2026-11-25T18:59:59Z', '198.18.1.1'));
  assert.equal(t.apply(new Map()).lastChangeTriggerTimes.size, 0);
  t.update(at('2026-11-25T18:59:59Z', '198.18.1.1'), at('2026-11-25T19:00:01Z', '198.18.1.2'));
  assert.deepEqual(t.apply(new Map()).lastChangeTriggerTimes.get('default/web'), [new Date('2026-11-25T19:00:01Z')]);
});
