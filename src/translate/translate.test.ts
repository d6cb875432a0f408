/*
 * Address plan (architecture §5): node-a 192.0.2.11 (this node), node-b 192.0.2.12; pods
 * 198.18.1.0/24 on node-a and 198.18.2.0/24 on node-b; ClusterIPs 198.19.0.0/16; ExternalIPs and
 * LB IPs 203.0.113.0/24; IPv6 services 2001:db8:20::/112, pods 2001:db8:10::/56.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { LbIds } from '../dataplane/ids.ts';
import { slice, svc, type EpSpec } from '../model/testing/fixtures.ts';
import { buildModel, renderServices } from './testing.ts';
import { translate, type TranslateNode, type TranslateOptions } from './translate.ts';
import { formatIp } from '../model/ip.ts';

const node: TranslateNode = {
  name: 'node-a',
  labels: { 'topology.kubernetes.io/zone': 'z1' },
  nodeIPs: ['192.0.2.11'],
  nodePortAddresses: ['192.0.2.11'],
  localhostNodePorts: true,
};

const twoEps: EpSpec[] = [{ ip: '198.18.2.1', node: 'node-b' }, { ip: '198.18.1.1', node: 'node-a' }];
const web = (eps: EpSpec[] = twoEps, opts?: Parameters<typeof slice>[3]) => slice('web', 'web-1', eps, opts);

type Row = { name: string; services: V1Service[]; slices: V1EndpointSlice[]; want: string[]; options?: TranslateOptions; node?: Partial<TranslateNode>; problems?: string[] };

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

test('translate produces the entries of spec §5 per row', () => {
  for (const row of rows) {
    const ids = new LbIds({ now: () => 0 });
    const r = translate(buildModel(row.services, row.slices), { ...node, ...(row.node ?? {}) }, row.options ?? {}, ids);
    assert.deepEqual(renderServices(r.wanted), [...row.want].sort(), row.name);
    assert.deepEqual(r.problems.map((p) => `${p.object} ${p.field}`), row.problems ?? [], row.name);
  }
});

test('translate writes rev NAT, node addresses, source ranges and Maglev tables', () => {
  const ids = new LbIds({ now: () => 0 });
  const s = svc('web', { type: 'LoadBalancer', loadBalancerSourceRanges: ['192.0.2.0/24'], ports: [{ name: 'http', port: 80, nodePort: 30080 }] }, {
    status: { loadBalancer: { ingress: [{ ip: '203.0.113.7' }] } },
  });
  const r = translate(buildModel([s], [web()]), node, { maglev: true, maglevTableSize: 251 }, ids);
  const lbKey = [...r.wanted.lb_services.values()].find((e) => formatIp(e.key.addr) === '203.0.113.7' && e.key.port === 80)!;
  const id = lbKey.value.service_id;
  assert.deepEqual(r.wanted.lb_rev_nat.get(String(id))!.value, { addr: lbKey.key.addr, port: 80, pad: 0 });
  // The node (192.0.2.11) lies inside 192.0.2.0/24, so the VIP itself is allowed as a source.
  const ranges = [...r.wanted.lb_src_ranges.values()].filter((e) => e.key.service_id === id).map((e) => `${formatIp(e.key.addr)}/${e.key.prefixlen}`).sort();
  assert.deepEqual(ranges, ['192.0.2.0/152', '203.0.113.7/160']);
  assert.deepEqual([...r.wanted.lb_node_addrs.values()].map((e) => formatIp(e.key.addr)), ['192.0.2.11']);
  const table = r.wanted.lb_maglev.get(String(id))!.value;
  assert.equal(table.length, 251);
  assert.deepEqual(new Set(table), new Set([...r.wanted.lb_backends.keys()].map(Number)));
  // Every frontend entry has its own service id.
  const sids = [...r.wanted.lb_services.values()].map((e) => e.value.service_id);
  assert.equal(new Set(sids).size, sids.length);
  assert.equal(r.servicePorts.get('default/web:http/TCP/IPv4')!.localReadyEndpoints, 1);
});

test('translate keeps ids stable across syncs and shares backends between services', () => {
  const ids = new LbIds({ now: () => 0 });
  const model = buildModel([svc('a'), svc('b', { clusterIP: '198.19.0.11', clusterIPs: ['198.19.0.11'] })], [
    slice('a', 'a-1', [{ ip: '198.18.2.1' }]),
    slice('b', 'b-1', [{ ip: '198.18.2.1' }]),
  ]);
  const r1 = translate(model, node, {}, ids);
  const r2 = translate(model, node, {}, ids);
  assert.deepEqual([...r1.wanted.lb_services.entries()].map(([k, e]) => [k, e.value]), [...r2.wanted.lb_services.entries()].map(([k, e]) => [k, e.value]));
  assert.equal(r1.wanted.lb_backends.size, 1);
  assert.deepEqual([...r1.wanted.lb_backends.values()][0].owners, ['default/a', 'default/b']);
});
