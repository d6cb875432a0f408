import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultBpfOptions } from '../config/bpf-options.ts';
import { EndpointsChangeTracker } from '../model/endpoints-change-tracker.ts';
import { slice, svc } from '../model/testing/fixtures.ts';
import { demandOf, sizeMaps } from './map-sizes.ts';

const defaults = defaultBpfOptions().mapSizes;
const GiB = 2 ** 30;

test('demandOf counts frontends, markers, slots and backends of the listed objects', () => {
  const services = [
    svc('a'),
    svc('np', { type: 'NodePort', externalTrafficPolicy: 'Local', externalIPs: ['203.0.113.5'], ports: [{ name: 'http', port: 80, nodePort: 30080 }] }),
  ];
  const eps = Array.from({ length: 10 }, (_, i) => ({ ip: `198.18.2.${i + 1}` }));
  const t = new EndpointsChangeTracker('node-a');
  for (const s of [slice('a', 'a-1', eps), slice('np', 'np-1', eps.slice(0, 4)), slice('gone', 'g-1', eps)]) t.update(null, s);
  const d = demandOf(services, t.endpointCounts());
  // a: ClusterIP + marker; np: ClusterIP + (NodePort + ExternalIP) x 2 scopes, + 2 markers.
  assert.deepEqual(d, { services: 2 + 7, slots: 10 + 5 * 4, backends: 14 });
});

test('sizeMaps: LB maps from the listed objects with headroom, never below the defaults', () => {
  const s = sizeMaps({ flags: defaults, explicit: new Set(), defaults, totalMemory: 8 * GiB, demand: { services: 22_000, backends: 100_000, slots: 120_000 }, pinned: {} });
  assert.equal(s.sizes.services, defaults.services, '22k entries fit the default');
  assert.equal(s.sizes.backends, 262_144, '100k backends need more than the 65,536 default');
  assert.equal(s.sizes.slots, defaults.slots);
  assert.match(s.why.backends!, /100000 entries listed/);
});

test('sizeMaps: LRU maps scale with node memory (0.25%), never below the defaults', () => {
  const small = sizeMaps({ flags: defaults, explicit: new Set(), defaults, totalMemory: 4 * GiB, demand: { services: 0, backends: 0, slots: 0 }, pinned: {} });
  assert.equal(small.sizes.conntrack, defaults.conntrack);
  const big = sizeMaps({ flags: defaults, explicit: new Set(), defaults, totalMemory: 256 * GiB, demand: { services: 0, backends: 0, slots: 0 }, pinned: {} });
  assert.equal(big.sizes.conntrack, 1_048_576);
  assert.equal(big.sizes.affinity, 262_144);
  assert.ok(big.sizes.sockRevNat >= defaults.sockRevNat);
});

test('sizeMaps: the --bpf-map-* flags win; a pinned map big enough keeps its size', () => {
  const flags = { ...defaults, backends: 1024 };
  const s = sizeMaps({ flags, explicit: new Set(['backends']), defaults, totalMemory: 8 * GiB, demand: { services: 100, backends: 100_000, slots: 100 }, pinned: { services: 131_072 } });
  assert.equal(s.sizes.backends, 1024, 'explicit, even when the cluster needs more (admission control covers the rest)');
  assert.equal(s.why.backends, '--bpf-map-backends');
  assert.equal(s.sizes.services, 131_072, 'no migration for nothing');
  const grow = sizeMaps({ flags: defaults, explicit: new Set(), defaults, totalMemory: 8 * GiB, demand: { services: 200_000, backends: 0, slots: 0 }, pinned: { services: 131_072 } });
  assert.equal(grow.sizes.services, 524_288, 'a pinned map too small is grown (migrated)');
});
