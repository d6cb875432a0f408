// A partial translate (cached per service port, only changed ports recomputed) must build exactly
// what a full translate of the same model builds: entries, values, owners, their order, problems
// and per-port summaries. Each row applies one change kind to a model that persists across rows,
// the way the agent's sync loop applies tracker changes, and syncs in between so ids are released
// as in production.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { syncMaps } from '../dataplane/apply-sync.ts';
import { LbIds } from '../dataplane/ids.ts';
import { EndpointsChangeTracker } from '../model/endpoints-change-tracker.ts';
import { ServiceChangeTracker } from '../model/service-change-tracker.ts';
import { slice, svc } from '../model/testing/fixtures.ts';
import { emptyLbState, LB_MAP_NAMES, type LbState } from './lb-types.ts';
import { translate, Translator, type TranslateModel, type TranslateNode } from './translate.ts';

const node: TranslateNode = { name: 'node-a', labels: {}, nodeIPs: ['192.0.2.11'], nodePortAddresses: ['192.0.2.11'], localhostNodePorts: true };
const ip = (n: number) => `198.19.0.${n}`;
const s = (name: string, n: number, spec: Parameters<typeof svc>[1] = {}) => svc(name, { clusterIP: ip(n), clusterIPs: [ip(n)], ...spec });

type Change = { services?: [V1Service | null, V1Service | null][]; slices?: [V1EndpointSlice | null, V1EndpointSlice | null][] };

const a0 = s('a', 10);
const aSlice0 = slice('a', 'a-1', [{ ip: '198.18.1.1', node: 'node-a' }, { ip: '198.18.2.1', node: 'node-b' }]);
const aSlice1 = slice('a', 'a-1', [{ ip: '198.18.1.1', node: 'node-a' }, { ip: '198.18.2.1', node: 'node-b' }, { ip: '198.18.2.2', node: 'node-b' }]);
const aSlice2 = slice('a', 'a-1', [{ ip: '198.18.2.2', node: 'node-b' }]);
const b0 = s('b', 11, { externalIPs: ['203.0.113.5'] });
const bSlice = slice('b', 'b-1', [{ ip: '198.18.2.2', node: 'node-b' }]);
const c0 = s('c', 12, { type: 'NodePort', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }] });
const cSlice = slice('c', 'c-1', [{ ip: '198.18.2.2', node: 'node-b' }, { ip: '198.18.1.3', node: 'node-a' }]);
const aLocal = s('a', 10, { type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30081 }] });
// Same ClusterIP as a: conflicts, then takes the frontend over once a is gone.
const d0 = s('d', 10);
const dSlice = slice('d', 'd-1', [{ ip: '198.18.1.9', node: 'node-a' }]);

// A port sharing nothing with other ports: its endpoint changes patch the last result in place.
const e0 = s('e', 20);
const eSlice0 = slice('e', 'e-1', [{ ip: '198.18.1.5', node: 'node-a' }]);
const eSlice1 = slice('e', 'e-1', [{ ip: '198.18.1.5', node: 'node-a' }, { ip: '198.18.2.5', node: 'node-b' }]);
const eSlice2 = slice('e', 'e-1', [{ ip: '198.18.2.5', node: 'node-b', ready: false, serving: true, terminating: true }]);

const rows: { name: string; change: Change; incremental?: boolean }[] = [
  { name: 'endpoint added (unshared: incremental)', change: { slices: [[eSlice0, eSlice1]] }, incremental: true },
  { name: 'endpoint removed, other terminating (unshared: incremental)', change: { slices: [[eSlice1, eSlice2]] }, incremental: true },
  { name: 'endpoint added', change: { slices: [[aSlice0, aSlice1]] } },
  { name: 'endpoint removed', change: { slices: [[aSlice1, aSlice2]] } },
  { name: 'service added (shares a backend, NodePort)', change: { services: [[null, c0]], slices: [[null, cSlice]] } },
  { name: 'service deleted', change: { services: [[b0, null]], slices: [[bSlice, null]] } },
  { name: 'type change ClusterIP -> LoadBalancer eTP=Local', change: { services: [[a0, aLocal]] } },
  { name: 'conflicting service added', change: { services: [[null, d0]], slices: [[null, dSlice]] } },
  { name: 'conflict winner deleted', change: { services: [[aLocal, null]], slices: [[aSlice2, null]] } },
  { name: 'no change', change: {}, incremental: true },
];

// Sorted by key: an incremental translate re-inserts the keys it patches, which changes only the
// maps' iteration order (diff orders its writes by map and scope, not by insertion).
const dump = (st: LbState) => Object.fromEntries(LB_MAP_NAMES.map((m) => [m, [...st[m]].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, e]) => [k, e.value, e.owners])]));

test('a partial translate equals a full translate after each kind of change', () => {
  const st = new ServiceChangeTracker();
  const et = new EndpointsChangeTracker('node-a');
  for (const x of [a0, b0, e0]) st.update(null, x);
  for (const x of [aSlice0, bSlice, eSlice0]) et.update(null, x);
  const model: TranslateModel = { services: new Map(), endpoints: new Map() };
  st.apply(model.services);
  et.apply(model.endpoints);
  const ids = new LbIds({ now: () => 0 });
  const applied = emptyLbState();
  const maps = { update() {}, delete() {} };
  const translator = new Translator();
  const first = translator.translate(model, node, {}, ids, 'full');
  syncMaps({ wanted: first.wanted, applied, maps, ids, mode: 'partial' });

  for (const row of rows) {
    for (const [prev, cur] of row.change.services ?? []) st.update(prev, cur);
    for (const [prev, cur] of row.change.slices ?? []) et.update(prev, cur);
    st.apply(model.services);
    et.apply(model.endpoints);
    const partial = translator.translate(model, node, {}, ids, 'partial');
    const full = translate(model, node, {}, ids);
    assert.deepEqual(dump(partial.wanted), dump(full.wanted), row.name);
    assert.deepEqual(partial.problems, full.problems, row.name);
    assert.deepEqual(partial.servicePorts, full.servicePorts, row.name);
    // Only the changed ports are recomputed (the conflict loser every time, see Translator).
    assert.equal(partial.touched !== undefined, row.incremental === true, row.name);
    if (row.name.startsWith('endpoint')) assert.equal(partial.recomputed, 1, row.name);
    if (row.name === 'no change') assert.equal(partial.recomputed, 0, row.name);
    const r = syncMaps({ wanted: partial.wanted, applied, maps, ids, mode: 'partial', touched: partial.touched });
    assert.ok(r.ok, row.name);
    // Comparing only the touched keys still leaves the maps holding the full wanted state, and
    // exactly its ids allocated. (Values only: diff writes no op for an owners-only change.)
    const values = (st: LbState) => Object.values(dump(st)).map((entries) => entries.map(([k, v]) => [k, v]));
    assert.deepEqual(values(applied), values(full.wanted), row.name);
    assert.equal(ids.services.size, full.wanted.lb_services.size, row.name);
    assert.equal(ids.backends.size, full.wanted.lb_backends.size, row.name);
  }
  // The rows really exercised the conflict: d took a's ClusterIP frontend over.
  const dump1 = dump(applied).lb_services.map(([, , owners]) => owners).flat();
  assert.ok(dump1.includes('default/d'));
});
