import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Service } from '@kubernetes/client-node';
import { ignoredServiceReason, servicePortsFromService, usesClusterEndpoints, usesLocalEndpoints, type ServicePortInfo } from './service-port.ts';
import { svc } from './testing/fixtures.ts';

type Row = {
  name: string;
  service: V1Service;
  /** Fields expected on every returned port (or the count of ports / problems). */
  want?: Partial<ServicePortInfo>;
  ports?: number;
  keys?: string[];
  problems?: string[]; // fields of expected problems
};

const rows: Row[] = [
  { name: '§5.2 ClusterIP: one port per family', service: svc('a'), ports: 1, want: { clusterIP: '198.19.0.10', port: 80, protocol: 'TCP', nodePort: 0, family: 'IPv4' }, keys: ['default/a:http/TCP/IPv4'] },
  { name: '§5.1 headless (clusterIP None) skipped', service: svc('a', { clusterIP: 'None', clusterIPs: ['None'] }), ports: 0 },
  { name: '§5.1 empty clusterIP skipped', service: svc('a', { clusterIP: '', clusterIPs: [] }), ports: 0 },
  { name: '§5.2 ExternalName skipped', service: svc('a', { type: 'ExternalName', externalName: 'x.example' }), ports: 0 },
  {
    name: '§5.1 service-proxy-name label (any value) skipped',
    service: svc('a', {}, { metadata: { labels: { 'service.kubernetes.io/service-proxy-name': '' } } }),
    ports: 0,
  },
  { name: '§5.1 unnamed port is ""', service: svc('a', { ports: [{ port: 53, protocol: 'UDP' }] }), keys: ['default/a:/UDP/IPv4'] },
  { name: '§5.12 protocol defaults to TCP', service: svc('a', { ports: [{ port: 80 }] }), want: { protocol: 'TCP' } },
  { name: '§5.12 SCTP handled', service: svc('a', { ports: [{ port: 9, protocol: 'SCTP' }] }), want: { protocol: 'SCTP' } },
  { name: '§5.12 unknown protocol warned and skipped', service: svc('a', { ports: [{ port: 9, protocol: 'ICMP' }] }), ports: 0, problems: ['spec.ports[0].protocol'] },
  { name: 'port out of range warned and skipped', service: svc('a', { ports: [{ port: 70000, protocol: 'TCP' }, { name: 'ok', port: 81 }] }), ports: 1, problems: ['spec.ports[0].port'] },
  { name: 'nodePort out of range warned, port kept without NodePort', service: svc('a', { type: 'NodePort', ports: [{ port: 80, nodePort: -1 }] }), want: { nodePort: 0 }, problems: ['spec.ports[0].nodePort'] },
  { name: '§5.12 same port number on two protocols', service: svc('a', { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns', port: 53, protocol: 'TCP' }] }), keys: ['default/a:dns/UDP/IPv4', 'default/a:dns/TCP/IPv4'] },
  {
    name: '§5.12 dual-stack: one entry per family',
    service: svc('a', { clusterIP: '198.19.0.10', clusterIPs: ['198.19.0.10', '2001:db8:20::10'] }),
    keys: ['default/a:http/TCP/IPv4', 'default/a:http/TCP/IPv6'],
  },
  { name: 'invalid clusterIP warned, that family skipped', service: svc('a', { clusterIP: '198.19.0.300', clusterIPs: ['198.19.0.300'] }), ports: 0, problems: ['spec.clusterIPs[0]'] },
  { name: '§5.2 NodePort port', service: svc('a', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }), want: { nodePort: 30080 } },
  {
    name: '§5.3 externalIPs filtered by family, invalid warned',
    service: svc('a', { externalIPs: ['203.0.113.5', '2001:db8::5', 'nope', '203.0.113.5'] }),
    want: { externalIPs: ['203.0.113.5'] },
    problems: ['spec.externalIPs[2]'],
  },
  {
    name: '§5.4 LB ingress: VIP and unset ipMode used, Proxy and hostname-only skipped',
    service: svc('a', { type: 'LoadBalancer' }, {
      status: { loadBalancer: { ingress: [{ ip: '203.0.113.1' }, { ip: '203.0.113.2', ipMode: 'VIP' }, { ip: '203.0.113.3', ipMode: 'Proxy' }, { hostname: 'lb.example' }, { ip: '2001:db8::9' }] } },
    }),
    want: { loadBalancerVIPs: ['203.0.113.1', '203.0.113.2'] },
  },
  {
    name: '§5.5 source ranges trimmed, family-filtered, invalid warned',
    service: svc('a', { type: 'LoadBalancer', loadBalancerSourceRanges: [' 192.0.2.0/24 ', '2001:db8::/64', '10.0.0.0/40', '198.51.100.7/32'] }),
    want: { loadBalancerSourceRanges: ['192.0.2.0/24', '198.51.100.7/32'] },
    problems: ['spec.loadBalancerSourceRanges[2]'],
  },
  { name: '§5.6 no affinity: timeout 0', service: svc('a'), want: { affinityTimeoutSeconds: 0 } },
  { name: '§5.6 ClientIP default timeout 10800', service: svc('a', { sessionAffinity: 'ClientIP' }), want: { affinityTimeoutSeconds: 10800 } },
  { name: '§5.6 ClientIP explicit timeout', service: svc('a', { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } }), want: { affinityTimeoutSeconds: 60 } },
  {
    name: '§5.6 timeout above 86400 warned, default used',
    service: svc('a', { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 90000 } } }),
    want: { affinityTimeoutSeconds: 10800 },
    problems: ['spec.sessionAffinityConfig.clientIP.timeoutSeconds'],
  },
  { name: '§5.7 eTP Local on NodePort', service: svc('a', { type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ port: 80, nodePort: 30080 }] }), want: { externalPolicyLocal: true, healthCheckNodePort: 0 } },
  { name: '§5.7 eTP Local ignored on plain ClusterIP', service: svc('a', { externalTrafficPolicy: 'Local' }), want: { externalPolicyLocal: false } },
  { name: '§5.7 eTP Local on ClusterIP with externalIPs', service: svc('a', { externalTrafficPolicy: 'Local', externalIPs: ['203.0.113.5'] }), want: { externalPolicyLocal: true } },
  {
    name: '§5.7 healthCheckNodePort for LoadBalancer eTP Local',
    service: svc('a', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 32000, ports: [{ port: 80, nodePort: 30080 }] }),
    want: { healthCheckNodePort: 32000 },
  },
  {
    name: '§5.7 LoadBalancer eTP Local without healthCheckNodePort warned',
    service: svc('a', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ port: 80, nodePort: 30080 }] }),
    want: { healthCheckNodePort: 0 },
    problems: ['spec.healthCheckNodePort'],
  },
  { name: '§5.8 iTP Local', service: svc('a', { internalTrafficPolicy: 'Local' }), want: { internalPolicyLocal: true } },
  { name: '§5.9 trafficDistribution recorded', service: svc('a', { trafficDistribution: 'PreferClose' }), want: { trafficDistribution: 'PreferClose' } },
  { name: 'duplicate port name/protocol warned', service: svc('a', { ports: [{ name: 'x', port: 80 }, { name: 'x', port: 81 }] }), ports: 1, problems: ['spec.ports[1].name'] },
];

test('servicePortsFromService follows spec §5.1-5.8', () => {
  for (const row of rows) {
    const { ports, problems } = servicePortsFromService(row.service);
    if (row.ports !== undefined) assert.equal(ports.length, row.ports, row.name);
    if (row.keys) assert.deepEqual(ports.map((p) => p.key), row.keys, row.name);
    if (row.want) {
      assert.ok(ports.length > 0, row.name);
      for (const p of ports) for (const [k, v] of Object.entries(row.want)) assert.deepEqual(p[k as keyof ServicePortInfo], v, `${row.name}: ${k}`);
    }
    assert.deepEqual(problems.map((p) => p.field), row.problems ?? [], row.name);
    for (const p of problems) assert.equal(p.object, 'Service default/a', row.name);
  }
});

test('ignoredServiceReason names the rule', () => {
  assert.equal(ignoredServiceReason(svc('a')), null);
  assert.equal(ignoredServiceReason(svc('a', { clusterIP: 'None' })), 'headless');
  assert.equal(ignoredServiceReason(svc('a', { type: 'ExternalName' })), 'ExternalName');
  // Upstream v1.37 serves a Service with a ClusterIP even when it carries the headless label
  // (the label filter applies to EndpointSlices only).
  const labelled = svc('a', {}, { metadata: { namespace: 'default', name: 'a', labels: { 'service.kubernetes.io/headless': '' } } });
  assert.equal(ignoredServiceReason(labelled), null);
  assert.equal(servicePortsFromService(labelled).ports.length, 1);
});

test('usesClusterEndpoints / usesLocalEndpoints follow the policies', () => {
  const base = servicePortsFromService(svc('a')).ports[0];
  const rows: [string, Partial<ServicePortInfo>, boolean, boolean][] = [
    ['plain ClusterIP', {}, true, false],
    ['iTP Local only', { internalPolicyLocal: true }, false, true],
    ['iTP Local with NodePort still needs cluster set (external)', { internalPolicyLocal: true, nodePort: 30080 }, true, true],
    ['eTP Local with NodePort: both (short-circuit uses cluster)', { externalPolicyLocal: true, nodePort: 30080 }, true, true],
    ['eTP Local without external addresses: cluster only', { externalPolicyLocal: true }, true, false],
  ];
  for (const [name, patch, cluster, local] of rows) {
    const sp = { ...base, ...patch };
    assert.equal(usesClusterEndpoints(sp), cluster, name);
    assert.equal(usesLocalEndpoints(sp), local, name);
  }
});
