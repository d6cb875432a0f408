/*
 * Address plan (architecture §5): node-a 192.0.2.11 (this node); pods 198.18.1.0/24 (node-a) and
 * 198.18.2.0/24 (node-b); ClusterIPs 198.19.0.0/16; ExternalIPs and LB IPs 203.0.113.0/24.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { slice, svc, type EpSpec } from '../model/testing/fixtures.ts';
import { buildModel } from '../translate/testing.ts';
import { translate, type TranslateNode } from '../translate/translate.ts';
import { emptyLbState, type LbState } from '../translate/lb-types.ts';
import { LbIds } from './ids.ts';
import { diff, sameValue, type LbOp } from './diff.ts';

const node: TranslateNode = { name: 'node-a', labels: {}, nodeIPs: ['192.0.2.11'], nodePortAddresses: ['192.0.2.11'], localhostNodePorts: false };
const eps = (n: number): EpSpec[] => Array.from({ length: n }, (_, i) => ({ ip: `198.18.2.${i + 1}`, node: 'node-b' }));

function wantedOf(ids: LbIds, services: V1Service[], slices: V1EndpointSlice[]): LbState {
  return translate(buildModel(services, slices), node, {}, ids).wanted;
}

/** Copies a state the way the maps would hold it after a perfect apply. */
function clone(s: LbState): LbState {
  const out = emptyLbState();
  for (const [m, entries] of Object.entries(s)) for (const [k, e] of entries) (out as Record<string, Map<string, unknown>>)[m].set(k, { ...e });
  return out;
}

const shape = (ops: LbOp[]) => ops.map((o) => `${o.kind} ${o.map}`).filter((x, i, a) => a[i - 1] !== x);

test('diff orders ops per architecture §4 for each kind of change', () => {
  const ids = new LbIds({ now: () => 0 });
  const one = [svc('web')];
  const etp = [svc('web', { type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, nodePort: 30080 }] })];
  const rows: { name: string; before: [V1Service[], V1EndpointSlice[]] | null; after: [V1Service[], V1EndpointSlice[]] | null; shape: string[] }[] = [
    {
      name: 'add: backends, slots, rev NAT, node addresses, then the service entry',
      before: null,
      after: [one, [slice('web', 's', eps(2))]],
      shape: ['update lb_backends', 'update lb_slots', 'update lb_rev_nat', 'update lb_node_addrs', 'update lb_services'],
    },
    {
      name: 'grow: new backend and slot before the count goes up',
      before: [one, [slice('web', 's', eps(2))]],
      after: [one, [slice('web', 's', eps(3))]],
      shape: ['update lb_backends', 'update lb_slots', 'update lb_services'],
    },
    {
      name: 'shrink: count lowered first, then the trailing slot and the unused backend go',
      before: [one, [slice('web', 's', eps(3))]],
      after: [one, [slice('web', 's', eps(2))]],
      shape: ['update lb_services', 'delete lb_slots', 'delete lb_backends'],
    },
    {
      name: 'delete: service entry first, then slots, rev NAT, backends, node addresses',
      before: [one, [slice('web', 's', eps(2))]],
      after: null,
      shape: ['delete lb_services', 'delete lb_slots', 'delete lb_rev_nat', 'delete lb_backends', 'delete lb_node_addrs'],
    },
    {
      name: 'no change: no ops',
      before: [one, [slice('web', 's', eps(2))]],
      after: [one, [slice('web', 's', eps(2))]],
      shape: [],
    },
  ];
  for (const row of rows) {
    const before = row.before ? clone(wantedOf(ids, ...row.before)) : emptyLbState();
    const after = row.after ? wantedOf(ids, ...row.after) : emptyLbState();
    assert.deepEqual(shape(diff(after, before)), row.shape, row.name);
  }

  // TWO_SCOPES: the internal twin is written before, and deleted after, the external entry.
  const scopes = (ops: LbOp[]) => ops.filter((o) => o.map === 'lb_services' && (o.key as { port: number }).port === 30080).map((o) => `${o.kind}:${(o.key as { scope: number }).scope}`);
  const w = wantedOf(ids, etp, []);
  assert.deepEqual(scopes(diff(w, emptyLbState())), ['update:1', 'update:0']);
  assert.deepEqual(scopes(diff(emptyLbState(), clone(w))), ['delete:0', 'delete:1']);
});

test('sameValue compares map values by content', () => {
  const rows: [unknown, unknown, boolean][] = [
    [1, 1, true],
    [1, 2, false],
    [new Uint8Array([1, 2]), Buffer.from([1, 2]), true],
    [new Uint8Array([1, 2]), new Uint8Array([1, 3]), false],
    [new Uint32Array([5, 6]), new Uint32Array([5, 6]), true],
    [{ a: 1, b: new Uint8Array([1]) }, { b: Buffer.from([1]), a: 1 }, true],
    [{ a: 1 }, { a: 1, b: 2 }, false],
    [{ a: 1n }, { a: 1 }, true],
  ];
  for (const [a, b, want] of rows) assert.equal(sameValue(a, b), want, `${String(a)} vs ${String(b)}`);
});
