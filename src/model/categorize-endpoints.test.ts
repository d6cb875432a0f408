import { test } from 'node:test';
import assert from 'node:assert/strict';
import { categorizeEndpoints, topologyModeFromHints } from './categorize-endpoints.ts';
import { endpointsFromSlice } from './endpoints.ts';
import { servicePortsFromService, type ServicePortInfo } from './service-port.ts';
import { slice, svc, type EpSpec } from './testing/fixtures.ts';

const base = servicePortsFromService(svc('web')).ports[0];
const eps = (list: EpSpec[]) => endpointsFromSlice(slice('web', 's1', list), 'node-a').endpoints.get('default/web:http/TCP/IPv4') ?? [];
const ips = (l: { ip: string }[]) => l.map((e) => e.ip).sort();

type Row = {
  name: string;
  sp?: Partial<ServicePortInfo>;
  endpoints: EpSpec[];
  zone?: string;
  nodeHints?: boolean;
  cluster: string[];
  local: string[];
  reachable?: string[];
  hasAny: boolean;
  mode?: string;
};

const A = 'node-a';
const rows: Row[] = [
  { name: 'no endpoints', endpoints: [], cluster: [], local: [], hasAny: false },
  { name: '§5.9 ready endpoints form the cluster set', endpoints: [{ ip: '198.18.1.1', node: A }, { ip: '198.18.2.1', node: 'node-b' }], cluster: ['198.18.1.1', '198.18.2.1'], local: [], hasAny: true },
  {
    name: '§5.9 not-ready (non-serving) never used',
    endpoints: [{ ip: '198.18.1.1', ready: false }, { ip: '198.18.1.2', ready: false, serving: false, terminating: true }],
    cluster: [], local: [], hasAny: false,
  },
  {
    name: '§5.9 ready preferred over serving-terminating',
    endpoints: [{ ip: '198.18.1.1' }, { ip: '198.18.1.2', ready: false, serving: true, terminating: true }],
    cluster: ['198.18.1.1'], local: [], hasAny: true,
  },
  {
    name: '§5.9 fallback to serving-terminating when nothing is ready',
    endpoints: [{ ip: '198.18.1.2', ready: false, serving: true, terminating: true }, { ip: '198.18.1.3', ready: false }],
    cluster: ['198.18.1.2'], local: [], hasAny: true,
  },
  {
    name: '§5.8 iTP Local: only local ready endpoints, no cluster set',
    sp: { internalPolicyLocal: true },
    endpoints: [{ ip: '198.18.1.1', node: A }, { ip: '198.18.2.1', node: 'node-b' }],
    cluster: [], local: ['198.18.1.1'], hasAny: true,
  },
  {
    name: '§5.8 iTP Local with no local endpoints: empty local set but hasAny (drop, not reject)',
    sp: { internalPolicyLocal: true },
    endpoints: [{ ip: '198.18.2.1', node: 'node-b' }],
    cluster: [], local: [], hasAny: true,
  },
  {
    name: '§5.9 local set falls back to local serving-terminating',
    sp: { internalPolicyLocal: true },
    endpoints: [{ ip: '198.18.1.1', node: A, ready: false, serving: true, terminating: true }, { ip: '198.18.2.1', node: 'node-b' }],
    cluster: [], local: ['198.18.1.1'], hasAny: true,
  },
  {
    name: '§5.7 eTP Local with NodePort: both sets, reachable is the union',
    sp: { externalPolicyLocal: true, nodePort: 30080 },
    endpoints: [{ ip: '198.18.1.1', node: A }, { ip: '198.18.2.1', node: 'node-b' }],
    cluster: ['198.18.1.1', '198.18.2.1'], local: ['198.18.1.1'], reachable: ['198.18.1.1', '198.18.2.1'], hasAny: true,
  },
  {
    name: '§5.9 PreferSameZone: only endpoints hinted for our zone',
    zone: 'z1',
    endpoints: [{ ip: '198.18.1.1', zones: ['z1'] }, { ip: '198.18.2.1', zones: ['z2'] }],
    cluster: ['198.18.1.1'], local: [], hasAny: true, mode: 'PreferSameZone',
  },
  {
    name: '§5.9 zone hints ignored when one ready endpoint lacks them',
    zone: 'z1',
    endpoints: [{ ip: '198.18.1.1', zones: ['z1'] }, { ip: '198.18.2.1' }],
    cluster: ['198.18.1.1', '198.18.2.1'], local: [], hasAny: true, mode: '',
  },
  {
    name: '§5.9 zone hints ignored when none is for our zone',
    zone: 'z3',
    endpoints: [{ ip: '198.18.1.1', zones: ['z1'] }, { ip: '198.18.2.1', zones: ['z2'] }],
    cluster: ['198.18.1.1', '198.18.2.1'], local: [], hasAny: true, mode: '',
  },
  {
    name: '§5.9 zone hints ignored when the node has no zone label',
    endpoints: [{ ip: '198.18.1.1', zones: ['z1'] }],
    cluster: ['198.18.1.1'], local: [], hasAny: true, mode: '',
  },
  {
    name: '§5.9 hints of not-ready endpoints do not count',
    zone: 'z1',
    endpoints: [{ ip: '198.18.1.1', zones: ['z1'] }, { ip: '198.18.2.1', ready: false }],
    cluster: ['198.18.1.1'], local: [], hasAny: true, mode: 'PreferSameZone',
  },
  {
    name: '§5.9 PreferSameNode: endpoints hinted for this node',
    zone: 'z1',
    endpoints: [{ ip: '198.18.1.1', nodes: [A], zones: ['z1'] }, { ip: '198.18.1.2', nodes: ['node-c'], zones: ['z1'] }],
    cluster: ['198.18.1.1'], local: [], hasAny: true, mode: 'PreferSameNode',
  },
  {
    name: '§5.9 PreferSameNode falls back to zone when no endpoint is for this node',
    zone: 'z1',
    endpoints: [{ ip: '198.18.1.2', nodes: ['node-c'], zones: ['z1'] }, { ip: '198.18.2.1', nodes: ['node-b'], zones: ['z2'] }],
    cluster: ['198.18.1.2'], local: [], hasAny: true, mode: 'PreferSameZone',
  },
  {
    name: '§5.9 node hints ignored when the gate is off',
    zone: 'z1', nodeHints: false,
    endpoints: [{ ip: '198.18.1.1', nodes: [A], zones: ['z1'] }, { ip: '198.18.1.2', nodes: ['node-c'], zones: ['z1'] }],
    cluster: ['198.18.1.1', '198.18.1.2'], local: [], hasAny: true, mode: 'PreferSameZone',
  },
  {
    name: '§5.9 terminating fallback ignores topology',
    zone: 'z1',
    endpoints: [{ ip: '198.18.2.1', ready: false, serving: true, terminating: true, zones: ['z2'] }],
    cluster: ['198.18.2.1'], local: [], hasAny: true, mode: '',
  },
  {
    name: '§5.9 topology applies to the cluster set only; local set keeps local endpoints outside the zone',
    zone: 'z1', sp: { externalPolicyLocal: true, nodePort: 30080 },
    endpoints: [{ ip: '198.18.1.1', node: A, zones: ['z2'] }, { ip: '198.18.2.1', node: 'node-b', zones: ['z1'] }],
    cluster: ['198.18.2.1'], local: ['198.18.1.1'], reachable: ['198.18.1.1', '198.18.2.1'], hasAny: true, mode: 'PreferSameZone',
  },
];

test('categorizeEndpoints follows spec §5.7-5.9', () => {
  for (const row of rows) {
    const sp = { ...base, ...(row.sp ?? {}) };
    const r = categorizeEndpoints(eps(row.endpoints), sp, {
      nodeName: A,
      topologyLabels: row.zone ? { 'topology.kubernetes.io/zone': row.zone } : {},
      preferSameTrafficDistribution: row.nodeHints,
    });
    assert.deepEqual(ips(r.cluster), row.cluster, `${row.name}: cluster`);
    assert.deepEqual(ips(r.local), row.local, `${row.name}: local`);
    assert.deepEqual(ips(r.allReachable), row.reachable ?? [...new Set([...row.cluster, ...row.local])].sort(), `${row.name}: reachable`);
    assert.equal(r.hasAnyEndpoints, row.hasAny, `${row.name}: hasAny`);
    if (row.mode !== undefined) assert.equal(r.topologyMode, row.mode, `${row.name}: mode`);
  }
});

test('topologyModeFromHints is empty without ready endpoints', () => {
  assert.equal(topologyModeFromHints(eps([{ ip: '198.18.1.1', ready: false, zones: ['z1'] }]), A, 'z1', true), '');
});
