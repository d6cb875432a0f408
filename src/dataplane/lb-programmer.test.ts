/*
 * Address plan (architecture §5): node-a 192.0.2.11 (this node), node-b 192.0.2.12; pods
 * 198.18.1.0/24 on node-a and 198.18.2.0/24 on node-b; ClusterIPs 198.19.0.0/16; ExternalIPs and
 * LB IPs 203.0.113.0/24; IPv6 services 2001:db8:20::/112, pods 2001:db8:10::/56.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { formatIp } from '../model/ip.ts';
import type { Problem } from '../model/problem.ts';
import { slice, svc, type EpSpec } from '../model/testing/fixtures.ts';
import type { CompileNode, CompileOptions } from '../translate/compile-port.ts';
import { buildModel, dumpMaps, memoryProgrammer, renderServices } from './testing/lb-harness.ts';

const node: CompileNode = {
  name: 'node-a',
  labels: { 'topology.kubernetes.io/zone': 'z1' },
  nodeIPs: ['192.0.2.11'],
  nodePortAddresses: ['192.0.2.11'],
  localhostNodePorts: true,
};

const twoEps: EpSpec[] = [{ ip: '198.18.2.1', node: 'node-b' }, { ip: '198.18.1.1', node: 'node-a' }];
const web = (eps: EpSpec[] = twoEps, opts?: Parameters<typeof slice>[3]) => slice('web', 'web-1', eps, opts);

type Row = { name: string; services: V1Service[]; slices: V1EndpointSlice[]; want: string[]; options?: CompileOptions & { maglevTableSize?: number }; node?: Partial<CompileNode>; problems?: string[] };

const M = '198.19.0.10:0/ANY ext CLUSTER_IP|VIP_MARKER []';
const rows: Row[] = [
  {
    name: '§5.2 ClusterIP: internal entry, local backends first, VIP marker',
    services: [svc('web')],
    slices: [web()],
    want: ['198.19.0.10:80/TCP int CLUSTER_IP local=1 [198.18.1.1:8080L 198.18.2.1:8080]', M],
  },
  {
    name: '§5.11 no endpoints: count 0 (reject)',
    services: [svc('web')],
    slices: [],
    want: ['198.19.0.10:80/TCP int CLUSTER_IP []', M],
  },
  {
    name: '§5.8 iTP Local: only local backends',
    services: [svc('web', { internalTrafficPolicy: 'Local' })],
    slices: [web()],
    want: ['198.19.0.10:80/TCP int CLUSTER_IP|ITP_LOCAL local=1 [198.18.1.1:8080L]', M],
  },
  {
    name: '§5.8/5.11 iTP Local, endpoints only elsewhere: count 0 with ITP_LOCAL (drop, not reject)',
    services: [svc('web', { internalTrafficPolicy: 'Local' })],
    slices: [web([{ ip: '198.18.2.1', node: 'node-b' }])],
    want: ['198.19.0.10:80/TCP int CLUSTER_IP|ITP_LOCAL []', M],
  },
  {
    name: '§5.11 iTP Local and no endpoints anywhere: ITP_LOCAL cleared (reject)',
    services: [svc('web', { internalTrafficPolicy: 'Local' })],
    slices: [],
    want: ['198.19.0.10:80/TCP int CLUSTER_IP []', M],
  },
  {
    name: '§5.2/5.10 NodePort: wildcard external entry, localhost flag on IPv4',
    services: [svc('web', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }] })],
    slices: [web()],
    want: [
      '0.0.0.0:30080/TCP ext NODEPORT|LOCALHOST_NODEPORT local=1 [198.18.1.1:8080L 198.18.2.1:8080]',
      '198.19.0.10:80/TCP int CLUSTER_IP local=1 [198.18.1.1:8080L 198.18.2.1:8080]',
      M,
    ],
  },
  {
    name: '§5.10 IPv6 NodePort: localhost flag (::1, beyond upstream) only with localhostNodePortsV6',
    services: [svc('web', { type: 'NodePort', clusterIPs: ['2001:db8:20::10'], ports: [{ name: 'http', port: 80, nodePort: 30080 }] })],
    slices: [],
    options: { families: ['IPv6'] },
    node: { localhostNodePortsV6: true },
    want: ['2001:db8:20::10:0/ANY ext CLUSTER_IP|VIP_MARKER []', '2001:db8:20::10:80/TCP int CLUSTER_IP []', ':::30080/TCP ext NODEPORT|LOCALHOST_NODEPORT []'],
  },
  {
    name: '§5.10 IPv6 NodePort without localhostNodePortsV6: no localhost flag',
    services: [svc('web', { type: 'NodePort', clusterIPs: ['2001:db8:20::10'], ports: [{ name: 'http', port: 80, nodePort: 30080 }] })],
    slices: [],
    options: { families: ['IPv6'] },
    want: ['2001:db8:20::10:0/ANY ext CLUSTER_IP|VIP_MARKER []', '2001:db8:20::10:80/TCP int CLUSTER_IP []', ':::30080/TCP ext NODEPORT []'],
  },
  {
    name: '§5.10 localhost NodePorts off',
    services: [svc('web', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }] })],
    slices: [],
    node: { localhostNodePorts: false },
    want: ['0.0.0.0:30080/TCP ext NODEPORT []', '198.19.0.10:80/TCP int CLUSTER_IP []', M],
  },
  {
    name: '§5.7 eTP Local NodePort: external local set + internal twin with cluster set',
    services: [svc('web', { type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, nodePort: 30080 }] })],
    slices: [web()],
    node: { localhostNodePorts: false },
    want: [
      '0.0.0.0:30080/TCP ext NODEPORT|ETP_LOCAL|TWO_SCOPES local=1 [198.18.1.1:8080L]',
      '0.0.0.0:30080/TCP int NODEPORT local=1 [198.18.1.1:8080L 198.18.2.1:8080]',
      '198.19.0.10:80/TCP int CLUSTER_IP local=1 [198.18.1.1:8080L 198.18.2.1:8080]',
      M,
    ],
  },
  {
    name: '§5.3 externalIPs: external entry and a marker each',
    services: [svc('web', { externalIPs: ['203.0.113.5'] })],
    slices: [web()],
    want: [
      '198.19.0.10:80/TCP int CLUSTER_IP local=1 [198.18.1.1:8080L 198.18.2.1:8080]',
      M,
      '203.0.113.5:0/ANY ext EXTERNAL_IP|VIP_MARKER []',
      '203.0.113.5:80/TCP ext EXTERNAL_IP local=1 [198.18.1.1:8080L 198.18.2.1:8080]',
    ],
  },
  {
    name: '§5.4/5.5 LB VIP with source ranges; Proxy-mode IP not captured',
    services: [
      svc('web', { type: 'LoadBalancer', loadBalancerSourceRanges: ['198.51.100.0/24'], ports: [{ name: 'http', port: 80 }] }, {
        status: { loadBalancer: { ingress: [{ ip: '203.0.113.7' }, { ip: '203.0.113.8', ipMode: 'Proxy' }] } },
      }),
    ],
    slices: [web([{ ip: '198.18.2.1', node: 'node-b' }])],
    want: [
      '198.19.0.10:80/TCP int CLUSTER_IP [198.18.2.1:8080]',
      M,
      '203.0.113.7:0/ANY ext LOADBALANCER|VIP_MARKER []',
      '203.0.113.7:80/TCP ext LOADBALANCER|SOURCE_RANGES [198.18.2.1:8080]',
    ],
  },
  {
    name: '§5.6 ClientIP affinity on every entry with its timeout',
    services: [svc('web', { type: 'NodePort', sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 30 } }, ports: [{ name: 'http', port: 80, nodePort: 30080 }] })],
    slices: [web([{ ip: '198.18.2.1', node: 'node-b' }])],
    node: { localhostNodePorts: false },
    want: ['0.0.0.0:30080/TCP ext NODEPORT|AFFINITY t=30 [198.18.2.1:8080]', '198.19.0.10:80/TCP int CLUSTER_IP|AFFINITY t=30 [198.18.2.1:8080]', M],
  },
  {
    name: '§5.9 terminating fallback marks backends terminating',
    services: [svc('web')],
    slices: [web([{ ip: '198.18.2.1', node: 'node-b', ready: false, serving: true, terminating: true }])],
    want: ['198.19.0.10:80/TCP int CLUSTER_IP [198.18.2.1:8080T]', M],
  },
  {
    name: '§5.9 PreferSameZone hints applied to the cluster set',
    services: [svc('web')],
    slices: [web([{ ip: '198.18.2.1', node: 'node-b', zones: ['z2'] }, { ip: '198.18.2.2', node: 'node-b', zones: ['z1'] }])],
    want: ['198.19.0.10:80/TCP int CLUSTER_IP [198.18.2.2:8080]', M],
  },
  {
    name: '§5.12 UDP and SCTP keep their protocol; endpoint port matched by name and protocol',
    services: [svc('dns', { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'sctp', port: 9, protocol: 'SCTP' }] })],
    slices: [slice('dns', 'dns-1', [{ ip: '198.18.2.1' }], { ports: [{ name: 'dns', port: 5353, protocol: 'UDP' }, { name: 'sctp', port: 9999, protocol: 'SCTP' }, { name: 'dns', port: 1, protocol: 'TCP' }] })],
    want: ['198.19.0.10:53/UDP int CLUSTER_IP [198.18.2.1:5353]', '198.19.0.10:9/SCTP int CLUSTER_IP [198.18.2.1:9999]', M],
  },
  {
    name: '§5.12 dual-stack: each family from its own slices',
    services: [svc('web', { clusterIPs: ['198.19.0.10', '2001:db8:20::10'] })],
    slices: [web([{ ip: '198.18.2.1' }]), slice('web', 'web-6', [{ ip: '2001:db8:10::5' }], { addressType: 'IPv6' })],
    want: ['198.19.0.10:80/TCP int CLUSTER_IP [198.18.2.1:8080]', '2001:db8:20::10:0/ANY ext CLUSTER_IP|VIP_MARKER []', '2001:db8:20::10:80/TCP int CLUSTER_IP [2001:db8:10::5:8080]', M],
  },
  {
    name: '§5.12 single-family agent skips the other family',
    services: [svc('web', { clusterIPs: ['198.19.0.10', '2001:db8:20::10'] })],
    slices: [],
    options: { families: ['IPv6'] },
    want: ['2001:db8:20::10:0/ANY ext CLUSTER_IP|VIP_MARKER []', '2001:db8:20::10:80/TCP int CLUSTER_IP []'],
  },
  {
    name: '§5.16 slices of an unknown service are kept but produce nothing',
    services: [svc('web')],
    slices: [web([{ ip: '198.18.2.1' }]), slice('ghost', 'ghost-1', [{ ip: '198.18.2.9' }])],
    want: ['198.19.0.10:80/TCP int CLUSTER_IP [198.18.2.1:8080]', M],
  },
  {
    name: '§5.1 service-proxy-name label: nothing programmed',
    services: [svc('web', {}, { metadata: { labels: { 'service.kubernetes.io/service-proxy-name': 'other' } } })],
    slices: [web()],
    want: [],
  },
  {
    name: 'more backends than allowed: truncated with a problem',
    services: [svc('web')],
    slices: [web([{ ip: '198.18.2.3' }, { ip: '198.18.2.1' }, { ip: '198.18.2.2' }])],
    options: { maxBackendsPerService: 2 },
    want: ['198.19.0.10:80/TCP int CLUSTER_IP [198.18.2.1:8080 198.18.2.2:8080]', M],
    problems: ['Service default/web endpoints'],
  },
  {
    name: 'two services on one externalIP:port: first wins, second warned',
    services: [svc('a', { externalIPs: ['203.0.113.5'] }), svc('b', { clusterIP: '198.19.0.11', clusterIPs: ['198.19.0.11'], externalIPs: ['203.0.113.5'] })],
    slices: [],
    want: [
      '198.19.0.10:80/TCP int CLUSTER_IP []',
      '198.19.0.11:0/ANY ext CLUSTER_IP|VIP_MARKER []',
      '198.19.0.11:80/TCP int CLUSTER_IP []',
      M,
      '203.0.113.5:0/ANY ext EXTERNAL_IP|VIP_MARKER []',
      '203.0.113.5:80/TCP ext EXTERNAL_IP []',
    ],
    problems: ['Service default/b spec'],
  },
  {
    name: 'Maglev and DSR on external entries only',
    services: [svc('web', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }] })],
    slices: [web([{ ip: '198.18.2.1' }])],
    options: { maglev: true, maglevTableSize: 251, dsr: true },
    node: { localhostNodePorts: false },
    want: ['0.0.0.0:30080/TCP ext NODEPORT|DSR|MAGLEV [198.18.2.1:8080]', '198.19.0.10:80/TCP int CLUSTER_IP [198.18.2.1:8080]', M],
  },
];

test('LbProgrammer programs the entries of spec §5 per row', () => {
  for (const row of rows) {
    const problems: Problem[] = [];
    const { programmer, io, codec } = memoryProgrammer({ maglevTableSize: row.options?.maglevTableSize ?? 251, onProblem: (p) => problems.push(p) });
    const model = buildModel(row.services, row.slices);
    programmer.configure({ ...node, ...(row.node ?? {}) }, row.options ?? {});
    const r = programmer.program(model.services, model.endpoints, [], 'full');
    assert.ok(r.ok, row.name);
    assert.deepEqual(renderServices(io, codec), [...row.want].sort(), row.name);
    assert.deepEqual(problems.map((p) => `${p.object} ${p.field}`), row.problems ?? [], row.name);
    assert.deepEqual(io.violations, [], row.name);
  }
});

/** Reads one lb_services entry back: its service id and the rev NAT, ranges and table of that id. */
function frontend(io: ReturnType<typeof memoryProgrammer>['io'], codec: ReturnType<typeof memoryProgrammer>['codec'], addr: string, port: number) {
  const d = io.dump('lb_services');
  for (let i = 0; i < d.count; i++) {
    const k = codec.serviceKeyFields(d.keys, i * codec.serviceKeySize);
    if (formatIp(k.addr) !== addr || k.port !== port) continue;
    const sid = codec.serviceValueId(d.values, i * codec.serviceValueSize);
    return { sid, key: Buffer.from(d.keys.subarray(i * codec.serviceKeySize, (i + 1) * codec.serviceKeySize)) };
  }
  return undefined;
}

test('LbProgrammer writes rev NAT, node addresses, source ranges and Maglev tables', () => {
  const { programmer, io, codec } = memoryProgrammer();
  const s = svc('web', { type: 'LoadBalancer', loadBalancerSourceRanges: ['192.0.2.0/24'], ports: [{ name: 'http', port: 80, nodePort: 30080 }] }, {
    status: { loadBalancer: { ingress: [{ ip: '203.0.113.7' }] } },
  });
  const model = buildModel([s], [web()]);
  programmer.configure(node, { maglev: true });
  assert.ok(programmer.program(model.services, model.endpoints, [], 'full').ok);
  const f = frontend(io, codec, '203.0.113.7', 80)!;
  const rn = io.maps.get('lb_rev_nat')!.get(Buffer.from(new Uint32Array([f.sid]).buffer).toString('hex'))!;
  const want = Buffer.alloc(codec.revNatSize);
  codec.writeRevNatFromKey(want, 0, f.key, 0);
  assert.deepEqual(rn, want, 'rev NAT holds the frontend address and port');
  // The node (192.0.2.11) lies inside 192.0.2.0/24, so the VIP itself is allowed as a source.
  const ranges = [...io.maps.get('lb_src_ranges')!.keys()].map((k) => Buffer.from(k, 'hex'))
    .filter((k) => codec.srcRangeKeyId(k, 0) === f.sid).map((k) => `${formatIp(k.subarray(8, 24))}/${k.readUInt32LE(0)}`).sort();
  assert.deepEqual(ranges, ['192.0.2.0/152', '203.0.113.7/160']);
  assert.deepEqual([...io.maps.get('lb_node_addrs')!.keys()].map((k) => formatIp(Buffer.from(k, 'hex'))), ['192.0.2.11']);
  const table = io.maglev.get(f.sid)!;
  assert.equal(table.length, 251);
  assert.deepEqual(new Set(table), new Set([...io.maps.get('lb_backends')!.keys()].map((k) => Buffer.from(k, 'hex').readUInt32LE(0))));
  const sids = [...io.maps.get('lb_services')!.values()].map((v) => codec.serviceValueId(v, 0));
  assert.equal(new Set(sids).size, sids.length, 'every entry has its own service id');
  assert.equal(programmer.healthChecks.size, 0);
});

test('LbProgrammer shares a backend between Services and keeps it while one still uses it', () => {
  const { programmer, io, codec } = memoryProgrammer();
  const a = svc('a');
  const b = svc('b', { clusterIP: '198.19.0.11', clusterIPs: ['198.19.0.11'] });
  let model = buildModel([a, b], [slice('a', 'a-1', [{ ip: '198.18.2.1', terminating: true, ready: false, serving: true }]), slice('b', 'b-1', [{ ip: '198.18.2.1', node: 'node-a' }])]);
  programmer.configure(node, {});
  programmer.program(model.services, model.endpoints, [], 'full');
  assert.equal(io.size('lb_backends'), 1);
  assert.deepEqual(renderServices(io, codec).filter((l) => l.includes('int')), [
    '198.19.0.10:80/TCP int CLUSTER_IP [198.18.2.1:8080LT]',
    '198.19.0.11:80/TCP int CLUSTER_IP local=1 [198.18.2.1:8080LT]',
  ], 'flags are the OR of every reference');
  model = buildModel([a, b], [slice('a', 'a-1', []), slice('b', 'b-1', [{ ip: '198.18.2.1', node: 'node-a' }])]);
  assert.ok(programmer.program(model.services, model.endpoints, ['default/a'], 'partial').ok);
  assert.deepEqual(renderServices(io, codec).filter((l) => l.includes('int')), [
    '198.19.0.10:80/TCP int CLUSTER_IP []',
    '198.19.0.11:80/TCP int CLUSTER_IP local=1 [198.18.2.1:8080L]',
  ], 'a leaving sharer takes its TERMINATING contribution along');
  model = buildModel([a, b], [slice('a', 'a-1', []), slice('b', 'b-1', [])]);
  programmer.program(model.services, model.endpoints, ['default/b'], 'partial');
  assert.equal(io.size('lb_backends'), 0, 'the last reference gone, the backend goes');
  assert.deepEqual(io.violations, []);
});

test('LbProgrammer resolves a frontend conflict per key: the older Service wins, the next claimant follows', () => {
  const problems: Problem[] = [];
  const { programmer, io, codec } = memoryProgrammer({ onProblem: (p) => problems.push(p) });
  const older = svc('z-old', { externalIPs: ['203.0.113.5'] }, { metadata: { namespace: 'default', name: 'z-old', creationTimestamp: new Date(1000) } });
  const newer = svc('a-new', { clusterIP: '198.19.0.11', clusterIPs: ['198.19.0.11'], externalIPs: ['203.0.113.5'] }, { metadata: { namespace: 'default', name: 'a-new', creationTimestamp: new Date(2000) } });
  const slices = [slice('z-old', 'z-1', [{ ip: '198.18.2.1' }]), slice('a-new', 'a-1', [{ ip: '198.18.2.2' }])];
  let model = buildModel([older, newer], slices);
  programmer.configure(node, {});
  programmer.program(model.services, model.endpoints, [], 'full');
  const ext = () => renderServices(io, codec).filter((l) => l.startsWith('203.0.113.5:80'));
  assert.deepEqual(ext(), ['203.0.113.5:80/TCP ext EXTERNAL_IP [198.18.2.1:8080]']);
  assert.deepEqual(problems.map((p) => `${p.object} ${p.reason}`), ['Service default/a-new frontend_conflict']);
  // The loser is reported once, not at every sync.
  programmer.program(model.services, model.endpoints, ['default/a-new'], 'partial');
  assert.equal(problems.length, 1);
  // The winner leaves: the next claimant is programmed in the same sync.
  model = buildModel([newer], slices);
  assert.ok(programmer.program(model.services, model.endpoints, ['default/z-old'], 'partial').ok);
  assert.deepEqual(ext(), ['203.0.113.5:80/TCP ext EXTERNAL_IP [198.18.2.2:8080]']);
  assert.deepEqual(renderServices(io, codec).filter((l) => l.startsWith('203.0.113.5:0')), ['203.0.113.5:0/ANY ext EXTERNAL_IP|VIP_MARKER []'], 'the shared marker stayed');
  assert.deepEqual(io.violations, []);
});

test('LbProgrammer: a partial sync writes only what changed, and ends where a full one would', () => {
  const { programmer, io, codec } = memoryProgrammer();
  const services = [svc('a', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }] }), svc('b', { clusterIP: '198.19.0.11', clusterIPs: ['198.19.0.11'] })];
  let model = buildModel(services, [web(), slice('b', 'b-1', [{ ip: '198.18.2.9' }])]);
  programmer.configure(node, {});
  programmer.program(model.services, model.endpoints, [], 'full');
  io.calls.length = 0;
  model = buildModel(services, [web([{ ip: '198.18.2.1', node: 'node-b' }, { ip: '198.18.2.5', node: 'node-b' }]), slice('b', 'b-1', [{ ip: '198.18.2.9' }])]);
  const r = programmer.program(model.services, model.endpoints, ['default/web'], 'partial');
  assert.ok(r.ok);
  // web had no Service in this test: nothing to write for it.
  assert.deepEqual(io.calls, []);
  model = buildModel(services, [slice('a', 'a-1', [{ ip: '198.18.2.1' }, { ip: '198.18.2.7' }]), slice('b', 'b-1', [{ ip: '198.18.2.9' }])]);
  programmer.program(model.services, model.endpoints, ['default/a'], 'partial');
  assert.deepEqual(io.calls, ['update lb_backends n=2', 'update lb_slots n=4', 'update lb_services n=1', 'update lb_services n=1']);
  const fresh = memoryProgrammer({ ids: programmer.state!.ids });
  fresh.programmer.configure(node, {});
  fresh.programmer.program(model.services, model.endpoints, [], 'full');
  assert.deepEqual(dumpMaps(io, codec), dumpMaps(fresh.io, fresh.codec));
});

test('LbProgrammer admits whole Services, oldest first, and programs waiting ones when room frees up', () => {
  const waiting: string[] = [];
  // Room for 3 lb_services entries: one ClusterIP Service takes 2 (entry and VIP marker).
  const { programmer, io, codec } = memoryProgrammer({ capacity: { ...capacityOf(3) }, maps: { lb_services: 3 }, onNotProgrammed: (s) => waiting.push(s) });
  const at = (name: string, ip: string, t: number, extra = {}) => svc(name, { clusterIP: ip, clusterIPs: [ip], ...extra }, { metadata: { namespace: 'default', name, creationTimestamp: new Date(t) } });
  const old = at('old', '198.19.0.10', 1000);
  const young = at('young', '198.19.0.11', 2000);
  let model = buildModel([young, old], []);
  programmer.configure(node, {});
  const r = programmer.program(model.services, model.endpoints, [], 'full');
  assert.ok(r.ok, 'a Service that does not fit is not a failed sync');
  assert.equal(r.notProgrammed, 1);
  assert.deepEqual(waiting, ['default/young']);
  assert.deepEqual(renderServices(io, codec), ['198.19.0.10:0/ANY ext CLUSTER_IP|VIP_MARKER []', '198.19.0.10:80/TCP int CLUSTER_IP []'], 'never half-programmed');
  // Growing the admitted Service beyond the room: it waits too, the young one still does not fit.
  model = buildModel([young, at('old', '198.19.0.10', 1000, { externalIPs: ['203.0.113.5'] })], []);
  programmer.program(model.services, model.endpoints, ['default/old'], 'partial');
  assert.equal(programmer.waiting.size, 1);
  assert.deepEqual(renderServices(io, codec).length, 2);
  // The old one goes: the young one is programmed within the same sync.
  model = buildModel([young], []);
  const r2 = programmer.program(model.services, model.endpoints, ['default/old'], 'partial');
  assert.equal(r2.notProgrammed, 0);
  assert.deepEqual(renderServices(io, codec), ['198.19.0.11:0/ANY ext CLUSTER_IP|VIP_MARKER []', '198.19.0.11:80/TCP int CLUSTER_IP []']);
  assert.deepEqual(io.violations, []);
});

function capacityOf(services: number) {
  return { lb_services: services, lb_slots: 1 << 20, lb_backends: 1 << 20, lb_rev_nat: 1 << 20, lb_maglev: 1 << 20, lb_src_ranges: 1 << 20 };
}

test('LbProgrammer: verifying in steps repairs drift in every map; a run dropped part-way records and writes nothing', () => {
  const { programmer, io, codec } = memoryProgrammer();
  const services = [svc('a', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }] }), svc('b', { clusterIP: '198.19.0.11', clusterIPs: ['198.19.0.11'] })];
  const model = buildModel(services, [slice('a', 'a-1', twoEps), slice('b', 'b-1', [{ ip: '198.18.2.9' }])]);
  programmer.configure(node, {});
  programmer.program(model.services, model.endpoints, [], 'full');
  const want = dumpMaps(io, codec);
  // Drift behind the agent's back: one entry of each map deleted, one backend rewritten.
  for (const map of ['lb_services', 'lb_slots', 'lb_rev_nat', 'lb_backends'] as const) {
    const d = io.dump(map);
    io.delete(map, Buffer.from(d.keys.subarray(0, d.keys.length / d.count)));
  }
  const be = io.dump('lb_backends');
  const value = Buffer.from(be.values.subarray(0, be.values.length / be.count));
  value[0]! ^= 0xff;
  io.update('lb_backends', Buffer.from(be.keys.subarray(0, be.keys.length / be.count)), value);
  const drifted = dumpMaps(io, codec);
  assert.notDeepEqual(drifted, want);
  io.calls.length = 0;

  // Dropped after a few steps (changes arrived): nothing written, nothing recorded.
  const dropped = programmer.verifySteps(1);
  for (let i = 0; i < 3; i++) assert.equal(dropped.next().done, false, `step ${i} of a one-entry-per-step run`);
  dropped.return({ ok: true, ops: 0, failures: [], repaired: 0, notProgrammed: 0 });
  assert.deepEqual(io.calls, []);
  assert.deepEqual(dumpMaps(io, codec), drifted);
  // A partial sync in between writes only its own changes: the drift stays for the comparison.
  programmer.program(model.services, model.endpoints, [], 'partial');
  assert.deepEqual(io.calls, []);

  // A run to the end, one entry per step, compares every entry and repairs all of it.
  const run = programmer.verifySteps(1);
  let steps = 0;
  let r = run.next();
  for (; !r.done; r = run.next()) steps++;
  const entries = (['lb_services', 'lb_slots', 'lb_rev_nat', 'lb_backends'] as const).reduce((n, m) => n + io.dump(m).count, 0);
  assert.ok(steps >= entries - 4, `${steps} steps for ${entries} entries`);
  assert.ok(r.value.ok);
  assert.ok(r.value.repaired > 0, `repaired ${r.value.repaired}`);
  assert.deepEqual(dumpMaps(io, codec), want);
  // Nothing left to repair.
  const again = programmer.verifySteps(1);
  let a = again.next();
  while (!a.done) a = again.next();
  assert.equal(a.value.repaired, 0);
  assert.equal(a.value.ops, 0);
});

test('LbProgrammer: a comparison paused for a change resumes where it was, skips what the change touched, and repairs the rest', () => {
  const { programmer, io, codec } = memoryProgrammer();
  const services = [svc('a', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }] }), svc('b', { clusterIP: '198.19.0.11', clusterIPs: ['198.19.0.11'] })];
  const before = buildModel(services, [slice('a', 'a-1', twoEps), slice('b', 'b-1', [{ ip: '198.18.2.9' }])]);
  programmer.configure(node, {});
  programmer.program(before.services, before.endpoints, [], 'full');
  const steps = (g: Generator<void, unknown, void>) => {
    let n = 0;
    let r = g.next();
    for (; !r.done; r = g.next()) n++;
    return { n, value: r.value as { repaired: number; ok: boolean } };
  };
  // The length of a whole comparison, for reference.
  const whole = steps(programmer.verifySteps(1)).n;

  // Drift of Service a (not touched by the change below): its backend 198.18.2.1 rewritten.
  const be = io.dump('lb_backends');
  let drifted = -1;
  for (let i = 0; i < be.count; i++) {
    if (formatIp(codec.backendFields(be.values, i * codec.backendSize).addr) === '198.18.2.1') drifted = i;
  }
  const value = Buffer.from(be.values.subarray(drifted * codec.backendSize, (drifted + 1) * codec.backendSize));
  value[value.length - 1]! ^= 0x40;
  io.update('lb_backends', Buffer.from(be.keys.subarray(drifted * 4, drifted * 4 + 4)), value);

  // The comparison reads a few entries, then gives way (the caller return()s it, as runSteps does).
  const first = programmer.verifySteps(1);
  for (let i = 0; i < 5; i++) assert.equal(first.next().done, false);
  first.return({ ok: true, ops: 0, failures: [], repaired: 0, notProgrammed: 0 });
  // The change: Service b is deleted (its entries, some of them already read, all go).
  const after = buildModel([services[0]!], [slice('a', 'a-1', twoEps)]);
  const partial = programmer.program(after.services, after.endpoints, [...before.services.keys()].filter((s) => s.endsWith('/b')), 'partial');
  assert.ok(partial.ok && partial.ops > 0);

  // Resumed: it goes on from where it was, and repairs exactly the drift, nothing the change wrote.
  const resumed = steps(programmer.verifySteps(1));
  assert.ok(5 + resumed.n <= whole + 2, `resumed: ${resumed.n} more steps after 5, a whole comparison is ${whole}`);
  assert.ok(resumed.value.ok);
  assert.equal(resumed.value.repaired, 1, 'the rewritten backend of Service a, and nothing else');
  assert.deepEqual(io.violations, []);
  // The maps now hold exactly the state: a new comparison from the start finds nothing.
  const fresh = steps(programmer.verifySteps(1));
  assert.equal(fresh.value.repaired, 0);
  assert.ok(!renderServices(io, codec).some((r) => r.includes('198.19.0.11')), renderServices(io, codec).join('\n'));
});
