/*
 * Address plan (architecture §5): node-a 192.0.2.11 (this node); pods 198.18.2.0/24 (node-b);
 * ClusterIPs 198.19.0.0/16.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { slice, svc } from '../model/testing/fixtures.ts';
import { buildModel } from '../translate/testing.ts';
import { translate, type TranslateNode } from '../translate/translate.ts';
import { emptyLbState, type LbMapName } from '../translate/lb-types.ts';
import { LbIds } from './ids.ts';
import { MemoryLbMaps } from './apply-memory-maps.ts';
import { syncMaps } from './apply-sync.ts';

const node: TranslateNode = { name: 'node-a', labels: {}, nodeIPs: ['192.0.2.11'], nodePortAddresses: [], localhostNodePorts: false };

test('syncMaps: a full sync repairs what was changed behind our back, a partial one does not look', () => {
  const ids = new LbIds({ now: () => 0, graceMs: 1000 });
  const maps = new MemoryLbMaps();
  const applied = emptyLbState();
  const readMap = (m: LbMapName) => [...maps.state[m].values()].map((e) => [e.key, e.value] as [unknown, unknown]);
  const wantedFor = (n: number) =>
    translate(buildModel([svc('a')], [slice('a', 's', Array.from({ length: n }, (_, i) => ({ ip: `198.18.2.${i + 1}` })))]), node, {}, ids).wanted;

  let w = wantedFor(2);
  let r = syncMaps({ wanted: w, applied, maps, ids, mode: 'full', readMap });
  assert.equal(r.ok, true);
  assert.equal(r.strays, 0);

  // Someone deletes a slot and adds a stray backend.
  const slotKey = [...maps.state.lb_slots.keys()][0];
  const slot = maps.state.lb_slots.get(slotKey)!;
  maps.state.lb_slots.delete(slotKey);
  maps.state.lb_backends.set('999', { key: 999, value: { addr: new Uint8Array(16), port: 1, proto: 6, flags: 0, node_addr: new Uint8Array(16) }, owners: [] });

  r = syncMaps({ wanted: w, applied, maps, ids, mode: 'partial', readMap });
  assert.equal(r.ops, 0, 'a partial sync trusts its cache');
  r = syncMaps({ wanted: w, applied, maps, ids, mode: 'full', readMap });
  assert.equal(r.ok, true);
  assert.equal(r.strays, 1);
  assert.deepEqual(maps.state.lb_slots.get(slotKey)!.value, slot.value);
  assert.equal(maps.state.lb_backends.has('999'), false);
  // The repair is the first write, so the datapath never sees more than the outside damage.
  assert.deepEqual(maps.violations, []);

  // Shrinking releases the unused backend id into quarantine; it is not reused within the grace.
  const goneId = ids.backends.lookup('198.18.2.2|8080|6')!;
  w = wantedFor(1);
  assert.equal(syncMaps({ wanted: w, applied, maps, ids, mode: 'partial' }).ok, true);
  assert.equal(ids.backends.lookup('198.18.2.2|8080|6'), undefined);
  w = wantedFor(2);
  syncMaps({ wanted: w, applied, maps, ids, mode: 'partial' });
  assert.notEqual(ids.backends.lookup('198.18.2.2|8080|6'), goneId, 'a returning backend gets a fresh id during the grace period');
  assert.deepEqual(maps.violations, []);
});
