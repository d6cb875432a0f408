import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reviveTimestamps } from './watch-decoder.ts';
import { projectEndpointSlice, projectNode, projectService } from './projections.ts';
import { decodeListPage, listItemBounds } from './api-list-watch.ts';

// Address plan (architecture §5): ClusterIPs 198.19.0.0/16, pods 198.18.0.0/16, nodes 192.0.2.0/24,
// ExternalIPs and LB IPs 203.0.113.0/24.

test('projectService keeps the fields the proxy reads and drops the rest', () => {
  const raw = JSON.parse(JSON.stringify({
    apiVersion: 'v1', kind: 'Service',
    metadata: {
      namespace: 'default', name: 'web', resourceVersion: '7', uid: 'u1', creationTimestamp: '2026-01-01T00:00:00Z',
      labels: { app: 'web', 'service.kubernetes.io/service-proxy-name': 'other' }, annotations: { big: 'x'.repeat(1000) },
      managedFields: [{ manager: 'kubectl' }],
    },
    spec: {
      type: 'LoadBalancer', clusterIP: '198.19.0.10', clusterIPs: ['198.19.0.10'], externalIPs: ['203.0.113.5'],
      selector: { app: 'web' }, ipFamilies: ['IPv4'], sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
      externalTrafficPolicy: 'Local', healthCheckNodePort: 31000, loadBalancerSourceRanges: ['192.0.2.0/24'],
      ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30080, appProtocol: 'http' }],
    },
    status: { loadBalancer: { ingress: [{ ip: '203.0.113.10', ipMode: 'VIP', ports: [] }] }, conditions: [] },
  }), reviveTimestamps);
  assert.deepEqual(projectService(raw), {
    metadata: {
      namespace: 'default', name: 'web', resourceVersion: '7', uid: 'u1', creationTimestamp: new Date(Date.UTC(2026, 0, 1)),
      labels: { 'service.kubernetes.io/service-proxy-name': 'other' },
    },
    spec: {
      type: 'LoadBalancer', clusterIP: '198.19.0.10', clusterIPs: ['198.19.0.10'], externalIPs: ['203.0.113.5'], loadBalancerSourceRanges: ['192.0.2.0/24'],
      sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } }, externalTrafficPolicy: 'Local', healthCheckNodePort: 31000,
      ports: [{ port: 80, name: 'http', protocol: 'TCP', nodePort: 30080 }],
    },
    status: { loadBalancer: { ingress: [{ ip: '203.0.113.10', ipMode: 'VIP' }] } },
  });
});

test('projectService leaves out fields of the wrong type and survives non-objects', () => {
  assert.deepEqual(projectService({ metadata: { name: 5 }, spec: { clusterIP: ['x'], ports: [{ port: '80' }, 'junk'] } }), {
    metadata: {}, spec: { ports: [{ port: 0 }] },
  });
  assert.deepEqual(projectService(null), { metadata: {} });
});

test('projectEndpointSlice keeps the first address and the read labels and annotation', () => {
  const raw = {
    metadata: {
      namespace: 'default', name: 'web-abc', resourceVersion: '8',
      labels: { 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'x' },
      annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': '2026-01-01T00:00:00Z', other: 'y' },
    },
    addressType: 'IPv4',
    ports: [{ name: 'http', protocol: 'TCP', port: 8080, appProtocol: 'http' }],
    endpoints: [
      { addresses: ['198.18.1.10', '198.18.1.11'], conditions: { ready: true, serving: true, terminating: false }, nodeName: 'node-a', zone: 'z1',
        targetRef: { kind: 'Pod', name: 'p' }, hints: { forZones: [{ name: 'z1' }] } },
      { addresses: [], conditions: { ready: false } },
    ],
  };
  assert.deepEqual(projectEndpointSlice(raw), {
    metadata: {
      namespace: 'default', name: 'web-abc', resourceVersion: '8',
      labels: { 'kubernetes.io/service-name': 'web' },
      annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': '2026-01-01T00:00:00Z' },
    },
    addressType: 'IPv4',
    ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
    endpoints: [
      { addresses: ['198.18.1.10'], conditions: { ready: true, serving: true, terminating: false }, nodeName: 'node-a', zone: 'z1', hints: { forZones: [{ name: 'z1' }] } },
      { addresses: [], conditions: { ready: false } },
    ],
  });
});

test('projectNode keeps labels, taints and addresses', () => {
  const raw = {
    metadata: { name: 'node-a', resourceVersion: '9', labels: { 'topology.kubernetes.io/zone': 'z1' }, deletionTimestamp: new Date(0) },
    spec: { podCIDR: '198.18.1.0/24', taints: [{ key: 'ToBeDeletedByClusterAutoscaler', effect: 'NoSchedule' }] },
    status: { addresses: [{ type: 'InternalIP', address: '192.0.2.11' }], capacity: { cpu: '2' }, images: [{ names: ['x'] }] },
  };
  assert.deepEqual(projectNode(raw), {
    metadata: { name: 'node-a', resourceVersion: '9', deletionTimestamp: new Date(0), labels: { 'topology.kubernetes.io/zone': 'z1' } },
    spec: { taints: [{ key: 'ToBeDeletedByClusterAutoscaler', effect: 'NoSchedule' }] },
    status: { addresses: [{ type: 'InternalIP', address: '192.0.2.11' }] },
  });
});

test('decodeListPage projects every item of a page', () => {
  const page = decodeListPage('{"metadata":{"resourceVersion":"5","continue":"c"},"items":[{"metadata":{"name":"a","managedFields":[1]},"spec":{"selector":{"x":"y"}}}]}', projectService);
  assert.deepEqual(page, { items: [{ metadata: { name: 'a' }, spec: {} }], resourceVersion: '5', continue: 'c' });
});

test('decodeListPage parses item by item where it can, and agrees with a whole parse on odd pages', () => {
  const id = (raw: unknown) => raw;
  const pages = [
    '{"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"7","continue":"x"},"items":[{"a":"]}\\"[{","b":[1,{"c":2}]},{"d":"items"}]}',
    '{"items":[],"metadata":{"resourceVersion":"1"}}',
    '{ "metadata" : {"resourceVersion":"2"} , "items" : [ {"x":1} ,\n {"y":[]} ] }',
    '{"metadata":{"resourceVersion":"3","items":[{"not":"these"}]},"items":[{"z":"\\\\"}]}',
    '{"metadata":{"resourceVersion":"4"},"items":[null,{"a":1}]}',
    '{"metadata":{"resourceVersion":"5"},"items":null}',
    '{"metadata":{"resourceVersion":"6"}}',
  ];
  for (const text of pages) {
    const whole = JSON.parse(text) as { items?: unknown[] | null; metadata: { resourceVersion: string; continue?: string } };
    const page = decodeListPage(text, id);
    assert.deepEqual(page.items, whole.items ?? [], text);
    assert.equal(page.resourceVersion, whole.metadata.resourceVersion);
    assert.equal(page.continue, whole.metadata.continue || undefined);
  }
  assert.ok(listItemBounds(pages[0]!), 'a normal page is split');
  assert.equal(listItemBounds(pages[4]!), null, 'a page with a null item is parsed whole');
});
