import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endpointsFromSlice, mergeSliceEndpoints, sliceServiceName } from './endpoints.ts';
import { slice } from './testing/fixtures.ts';

const KEY = 'default/web:http/TCP/IPv4';

test('sliceServiceName applies the §5.1/§5.16 filters', () => {
  const rows: [string, ReturnType<typeof slice>, string | null][] = [
    ['grouped by kubernetes.io/service-name', slice('web', 's1', []), 'default/web'],
    ['headless label ignored', slice('web', 's1', [], { labels: { 'service.kubernetes.io/headless': '' } }), null],
    ['FQDN ignored', slice('web', 's1', [], { addressType: 'FQDN' }), null],
    ['no service-name label ignored', { ...slice('web', 's1', []), metadata: { namespace: 'default', name: 's1', labels: {} } }, null],
  ];
  for (const [name, s, want] of rows) assert.equal(sliceServiceName(s), want, name);
});

test('endpointsFromSlice reads conditions, locality, hints and ports per §5.16', () => {
  const rows: { name: string; s: ReturnType<typeof slice>; check: (r: ReturnType<typeof endpointsFromSlice>) => void }[] = [
    {
      name: 'nil conditions: ready, serving, not terminating',
      s: slice('web', 's1', [{ ip: '198.18.1.5' }]),
      check: (r) => assert.deepEqual(pick(r.endpoints.get(KEY)![0]), { ready: true, serving: true, terminating: false, port: 8080 }),
    },
    {
      name: 'serving nil follows ready=false',
      s: slice('web', 's1', [{ ip: '198.18.1.5', ready: false }]),
      check: (r) => assert.deepEqual(pick(r.endpoints.get(KEY)![0]), { ready: false, serving: false, terminating: false, port: 8080 }),
    },
    {
      name: 'serving terminating endpoint',
      s: slice('web', 's1', [{ ip: '198.18.1.5', ready: false, serving: true, terminating: true }]),
      check: (r) => assert.deepEqual(pick(r.endpoints.get(KEY)![0]), { ready: false, serving: true, terminating: true, port: 8080 }),
    },
    {
      name: 'isLocal from nodeName',
      s: slice('web', 's1', [{ ip: '198.18.1.5', node: 'node-a' }, { ip: '198.18.2.5', node: 'node-b' }, { ip: '198.18.2.6' }]),
      check: (r) => assert.deepEqual(r.endpoints.get(KEY)!.map((e) => e.isLocal), [true, false, false]),
    },
    {
      name: 'hints and zone kept, sorted',
      s: slice('web', 's1', [{ ip: '198.18.1.5', zone: 'z1', zones: ['z2', 'z1'], nodes: ['node-a'] }]),
      check: (r) => {
        const e = r.endpoints.get(KEY)![0];
        assert.deepEqual([e.zone, e.zoneHints, e.nodeHints], ['z1', ['z1', 'z2'], ['node-a']]);
      },
    },
    {
      name: 'ports with nil or zero port skipped; protocol defaults to TCP; unnamed port is ""',
      s: slice('web', 's1', [{ ip: '198.18.1.5' }], { ports: [{ name: 'a' }, { name: 'b', port: 0 }, { port: 53 }] }),
      check: (r) => assert.deepEqual([...r.endpoints.keys()], ['default/web:/TCP/IPv4']),
    },
    {
      name: 'invalid address, wrong family and duplicate warned',
      s: slice('web', 's1', [{ ip: 'x' }, { ip: '2001:db8::1' }, { ip: '198.18.1.5' }, { ip: '198.18.1.5' }]),
      check: (r) => {
        assert.equal(r.endpoints.get(KEY)!.length, 1);
        assert.deepEqual(r.problems.map((p) => p.field), ['endpoints[0].addresses[0]', 'endpoints[1].addresses[0]', 'endpoints[3].addresses[0]']);
        assert.equal(r.problems[0].object, 'EndpointSlice default/s1');
      },
    },
    {
      name: 'port out of range warned',
      s: slice('web', 's1', [{ ip: '198.18.1.5' }], { ports: [{ name: 'http', port: 70000 }] }),
      check: (r) => assert.deepEqual(r.problems.map((p) => p.field), ['ports[0].port']),
    },
    {
      name: 'IPv6 slice keys the IPv6 service port',
      s: slice('web', 's1', [{ ip: '2001:db8:10::5' }], { addressType: 'IPv6' }),
      check: (r) => assert.deepEqual([...r.endpoints.keys()], ['default/web:http/TCP/IPv6']),
    },
  ];
  for (const row of rows) row.check(endpointsFromSlice(row.s, 'node-a'));
});

function pick(e: { ready: boolean; serving: boolean; terminating: boolean; port: number }) {
  return { ready: e.ready, serving: e.serving, terminating: e.terminating, port: e.port };
}

test('mergeSliceEndpoints deduplicates across slices preferring the non-terminating copy', () => {
  const a = endpointsFromSlice(slice('web', 's1', [{ ip: '198.18.1.5', ready: false, serving: true, terminating: true }, { ip: '198.18.1.9' }]), 'node-a').endpoints;
  const b = endpointsFromSlice(slice('web', 's2', [{ ip: '198.18.1.5' }, { ip: '198.18.1.7' }]), 'node-a').endpoints;
  for (const order of [[['s1', a], ['s2', b]], [['s2', b], ['s1', a]]] as const) {
    const merged = mergeSliceEndpoints(order as never);
    assert.deepEqual(merged.get(KEY)!.map((e) => `${e.ip}:${e.terminating}`), ['198.18.1.5:false', '198.18.1.7:false', '198.18.1.9:false']);
  }
});

test('mergeSliceEndpoints returns a lone slice as is when it is canonical, and a sorted copy otherwise', () => {
  // endpointsFromSlice sorts each port's endpoints (string order of the address, then port).
  const lone = endpointsFromSlice(slice('web', 's1', [{ ip: '198.18.1.9' }, { ip: '198.18.1.10' }, { ip: '198.18.1.5' }]), 'node-a').endpoints;
  assert.deepEqual(lone.get(KEY)!.map((e) => e.ip), ['198.18.1.10', '198.18.1.5', '198.18.1.9']);
  const merged = mergeSliceEndpoints([['s1', lone]]);
  assert.equal(merged, lone, 'the slice Map itself: no second Map and list per Service');
  // A slice Map not in that order (keys unsorted, a list unsorted, an empty list) is copied, canonical.
  const [a, b, c] = lone.get(KEY)!;
  const odd = new Map([['web:z/TCP/IPv4', [c!, a!]], ['web:a/TCP/IPv4', [b!]], ['web:m/TCP/IPv4', []]]);
  const copy = mergeSliceEndpoints([['s1', odd]]);
  assert.notEqual(copy, odd);
  assert.deepEqual([...copy].map(([k, eps]) => `${k}=${eps.map((e) => e.ip).join(',')}`), ['web:a/TCP/IPv4=198.18.1.5', 'web:z/TCP/IPv4=198.18.1.10,198.18.1.9']);
  assert.deepEqual(odd.get('web:z/TCP/IPv4')!.map((e) => e.ip), ['198.18.1.9', '198.18.1.10'], 'the input is not reordered');
});
