/*
 * Address plan (architecture §5): node-a 192.0.2.11 (this node); pods 198.18.1.0/24 (node-a) and
 * 198.18.2.0/24 (node-b); ClusterIPs 198.19.0.0/16; ExternalIPs and LB IPs 203.0.113.0/24.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { slice, svc, type EpSpec } from '../model/testing/fixtures.ts';
import { buildModel, renderServices } from '../translate/testing.ts';
import { translate, type TranslateNode, type TranslateOptions } from '../translate/translate.ts';
import { emptyLbState, type LbState } from '../translate/lb-types.ts';
import { formatIp } from '../model/ip.ts';
import { LbIds } from './ids.ts';
import { diff, sameValue } from './diff.ts';
import { apply, invariantViolations } from './apply.ts';
import { MemoryLbMaps } from './apply-memory-maps.ts';

const node: TranslateNode = { name: 'node-a', labels: {}, nodeIPs: ['192.0.2.11'], nodePortAddresses: ['192.0.2.11'], localhostNodePorts: false };
const eps = (n: number, net = 2): EpSpec[] => Array.from({ length: n }, (_, i) => ({ ip: `198.18.${net}.${i + 1}`, node: net === 1 ? 'node-a' : 'node-b' }));
const b = svc('b', { clusterIP: '198.19.0.11', clusterIPs: ['198.19.0.11'] });

type World = [V1Service[], V1EndpointSlice[]];

function harness(opts: { batches?: boolean; translate?: TranslateOptions } = {}) {
  const maps = new MemoryLbMaps({ batches: opts.batches });
  const applied: LbState = emptyLbState();
  const ids = new LbIds({ now: () => 0 });
  const sync = ([services, slices]: World) => {
    const { wanted } = translate(buildModel(services, slices), node, opts.translate ?? {}, ids);
    const ops = diff(wanted, applied);
    return { wanted, ops, result: apply(ops, maps, applied) };
  };
  return { maps, applied, ids, sync };
}

function sameState(a: LbState, b: LbState): boolean {
  return Object.keys(a).every((m) => {
    const x = (a as Record<string, Map<string, { value: unknown }>>)[m];
    const y = (b as Record<string, Map<string, { value: unknown }>>)[m];
    return x.size === y.size && [...x].every(([k, e]) => y.has(k) && sameValue(e.value, y.get(k)!.value));
  });
}

test('apply walks a sequence of syncs keeping the invariant at every single write', () => {
  for (const batches of [false, true]) {
    for (const maglev of [false, true]) {
      const h = harness({ batches, translate: { maglev, maglevTableSize: 251 } });
      const worlds: World[] = [
        [[svc('a')], [slice('a', 's', eps(3))]],
        [[svc('a'), b], [slice('a', 's', eps(5)), slice('b', 'sb', eps(2, 1))]],
        [[svc('a', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 32000, ports: [{ name: 'http', port: 80, nodePort: 30080 }] }, { status: { loadBalancer: { ingress: [{ ip: '203.0.113.7' }] } } }), b], [slice('a', 's', [...eps(1), ...eps(2, 1)]), slice('b', 'sb', eps(2, 1))]],
        [[svc('a')], [slice('a', 's', eps(1))]],
        [[b], [slice('b', 'sb', eps(1, 1))]],
        [[], []],
      ];
      for (const [i, w] of worlds.entries()) {
        const { wanted, result } = h.sync(w);
        const label = `batches=${batches} maglev=${maglev} step ${i}`;
        assert.equal(result.ok, true, label);
        assert.deepEqual(h.maps.violations, [], label);
        assert.ok(sameState(h.maps.state, wanted), `${label}: maps hold the wanted state`);
        assert.ok(sameState(h.applied, wanted), `${label}: applied mirrors the maps`);
      }
      if (batches) assert.ok(h.maps.calls.some((c) => c.startsWith('updateBatch')), 'consecutive same-map ops were batched');
    }
  }
});

test('apply reports a failed write with service, map and errno, and the rest keeps working', () => {
  const h = harness();
  h.sync([[svc('a'), b], [slice('a', 's', eps(2)), slice('b', 'sb', eps(2, 1))]]);
  // Adding a backend to "a" fails (map full); "b" changes at the same time.
  h.maps.failRules.push({ map: 'lb_backends', kind: 'update', match: (k) => h.ids.backends.lookup('198.18.2.3|8080|6') === k, errno: 28, code: 'ENOSPC' });
  const { result } = h.sync([[svc('a'), b], [slice('a', 's', eps(3)), slice('b', 'sb', eps(3, 1))]]);
  assert.equal(result.ok, false);
  assert.deepEqual(result.failures.map((f) => [f.services, f.map, f.kind, f.errno, f.code]), [
    [['default/a'], 'lb_backends', 'update', 28, 'ENOSPC'],
    [['default/a'], 'lb_slots', 'update', undefined, undefined],
  ]);
  assert.match(result.failures[1].message, /refused: backend \d+ is missing/);
  assert.deepEqual([...result.failedServices], ['default/a']);
  assert.ok(result.skipped >= 1, 'the service entry of "a" was not switched');
  assert.deepEqual(h.maps.violations, []);
  assert.deepEqual(invariantViolations(h.maps.state), []);
  // "b" moved on; "a" still serves its previous two backends.
  assert.deepEqual(renderServices(h.maps.state).filter((l) => !l.includes('VIP_MARKER')), [
    '198.19.0.10:80/TCP int CLUSTER_IP [198.18.2.1:8080 198.18.2.2:8080]',
    '198.19.0.11:80/TCP int CLUSTER_IP local=3 [198.18.1.1:8080L 198.18.1.2:8080L 198.18.1.3:8080L]',
  ]);
  // The next sync, with the map no longer full, completes "a".
  h.maps.failRules.length = 0;
  const again = h.sync([[svc('a'), b], [slice('a', 's', eps(3)), slice('b', 'sb', eps(3, 1))]]);
  assert.equal(again.result.ok, true);
  assert.ok(sameState(h.maps.state, again.wanted));
});

test('apply with batches finds the failing op by retrying one at a time', () => {
  const h = harness({ batches: true });
  h.maps.failRules.push({ map: 'lb_rev_nat', kind: 'update', match: (k) => k === h.ids.services.lookup([...h.ids.services.keys()][0]) });
  const { result } = h.sync([[svc('a'), b], [slice('a', 's', eps(2)), slice('b', 'sb', eps(1, 1))]]);
  assert.equal(result.failures.length, 1);
  assert.equal(result.failures[0].map, 'lb_rev_nat');
  assert.deepEqual(h.maps.violations, []);
  assert.ok(h.maps.calls.includes('updateBatch lb_backends n=3'));
});

test('apply treats deleting an already missing entry as done, and refuses to strand a service', () => {
  const h = harness();
  h.sync([[svc('a')], [slice('a', 's', eps(2))]]);
  // Someone removed the rev NAT entry behind our back.
  const revKey = [...h.maps.state.lb_rev_nat.keys()][0];
  h.maps.state.lb_rev_nat.delete(revKey);
  const { result } = h.sync([[], []]);
  assert.equal(result.ok, true);
  assert.equal(h.maps.state.lb_services.size, 0);

  // A service entry whose slots cannot be written is never created (nor its VIP marker).
  const h2 = harness();
  h2.maps.failRules.push({ map: 'lb_slots', kind: 'update' });
  const r2 = h2.sync([[svc('a')], [slice('a', 's', eps(1))]]);
  assert.deepEqual([...r2.result.failedServices], ['default/a']);
  assert.deepEqual(renderServices(h2.maps.state), []);
  assert.deepEqual(h2.maps.violations, []);
});

test('a restarted agent seeded from the pinned maps rewrites nothing', () => {
  const h = harness({ translate: { maglev: true, maglevTableSize: 251 } });
  const world: World = [[svc('a', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }] })], [slice('a', 's', eps(3))]];
  h.sync(world);
  // New process: fresh ids seeded from a dump of the maps; applied state = the dump.
  const ids = new LbIds({ now: () => 0 });
  ids.seedFromMaps({
    lb_services: [...h.maps.state.lb_services.values()].map((e) => [e.key, e.value]),
    lb_backends: [...h.maps.state.lb_backends.values()].map((e) => [e.key, e.value]),
  });
  const applied = emptyLbState();
  for (const [m, entries] of Object.entries(h.maps.state)) for (const [k, e] of entries) (applied as Record<string, Map<string, unknown>>)[m].set(k, { ...e, owners: [] });
  const { wanted } = translate(buildModel(...world), node, { maglev: true, maglevTableSize: 251 }, ids);
  assert.deepEqual(diff(wanted, applied), []);
  assert.ok([...h.maps.state.lb_services.values()].some((e) => formatIp(e.key.addr) === '0.0.0.0'));
});
