// The protobuf decoder against bodies encoded with the complete upstream schema (build/proto/
// k8s-full.json, from the same generated.proto files), compared with what the JSON path makes of
// the same objects (projections.ts). Fixtures use the address plan of architecture §5.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { decodeProtobufList, decodeProtobufStatus, ProtobufWatchDecoder, RESOURCE_CODECS, unwrapEnvelope } from './protobuf-decoder.ts';
import { projectEndpointSlice, projectNode, projectService, projectServiceCIDR } from './projections.ts';
import { reviveTimestamps } from './watch-decoder.ts';
import type { WatchEvent } from './list-watch.ts';

const root = protobuf.Root.fromJSON(JSON.parse(readFileSync(new URL('../../build/proto/k8s-full.json', import.meta.url), 'utf8')));
const T = (name: string) => root.lookupType(name);
const CORE = 'k8s.io.api.core.v1';
const DISCOVERY = 'k8s.io.api.discovery.v1';

/** `k8s\0` + runtime.Unknown around `raw`, as the apiserver's protobuf serializer writes. */
function envelope(apiVersion: string, kind: string, raw: Uint8Array): Buffer {
  const unknown = T('k8s.io.apimachinery.pkg.runtime.Unknown');
  return Buffer.concat([Buffer.from('k8s\0', 'latin1'), Buffer.from(unknown.encode(unknown.fromObject({ typeMeta: { apiVersion, kind }, raw, contentEncoding: '', contentType: '' })).finish())]);
}
const encode = (type: string, obj: object) => { const t = T(type); return t.encode(t.fromObject(obj)).finish(); };
const time = (iso: string) => ({ seconds: Date.parse(iso) / 1000, nanos: 0 });

// One Service as JSON (what the JSON path parses) and as its protobuf form, with what Go's encoder
// adds: empty non-pointer strings and zero numbers, and fields the proxy does not read.
const serviceJson = {
  metadata: {
    name: 'web', namespace: 'default', uid: 'u-1', resourceVersion: '42', creationTimestamp: '2026-12-01T10:00:00Z',
    labels: { app: 'web', 'service.kubernetes.io/service-proxy-name': 'other' },
    annotations: { note: 'x' },
    managedFields: [{ manager: 'kubectl', operation: 'Apply' }],
  },
  spec: {
    type: 'LoadBalancer', clusterIP: '198.19.0.10', clusterIPs: ['198.19.0.10', '2001:db8:20::10'], externalIPs: ['203.0.113.7'],
    sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } }, externalTrafficPolicy: 'Local',
    internalTrafficPolicy: 'Cluster', healthCheckNodePort: 31000, selector: { app: 'web' },
    ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30080 }, { name: 'dns', protocol: 'UDP', port: 53, targetPort: 53 }],
  },
  status: { loadBalancer: { ingress: [{ ip: '203.0.113.9', ipMode: 'VIP' }] } },
};
const serviceProto = {
  metadata: { ...serviceJson.metadata, generateName: '', creationTimestamp: time('2026-12-01T10:00:00Z'), managedFields: [{ manager: 'kubectl', operation: 'Apply' }] },
  spec: {
    ...serviceJson.spec, loadBalancerIP: '', externalName: '', publishNotReadyAddresses: false,
    ports: [
      { name: 'http', protocol: 'TCP', port: 80, targetPort: { type: 0, intVal: 8080, strVal: '' }, nodePort: 30080 },
      { name: 'dns', protocol: 'UDP', port: 53, targetPort: { type: 0, intVal: 53, strVal: '' }, nodePort: 0 },
    ],
  },
  status: serviceJson.status,
};

const sliceJson = {
  metadata: {
    name: 'web-1', namespace: 'default', resourceVersion: '43', creationTimestamp: '2026-12-01T10:00:01Z',
    labels: { 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'x' },
    annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': '2026-12-01T10:00:01Z', other: 'y' },
  },
  addressType: 'IPv4',
  endpoints: [
    { addresses: ['198.18.1.5', '198.18.1.6'], conditions: { ready: true, serving: true, terminating: false }, nodeName: 'node-a', zone: 'z1', targetRef: { kind: 'Pod', name: 'p' }, hints: { forZones: [{ name: 'z1' }], forNodes: [{ name: 'node-a' }] } },
    { addresses: ['198.18.2.5'], conditions: { ready: false }, nodeName: 'node-b' },
    { addresses: ['198.18.2.6'], conditions: {} },
  ],
  ports: [{ name: 'http', protocol: 'TCP', port: 8080 }, { name: '', protocol: 'UDP', port: 53 }],
};
const sliceProto = { ...sliceJson, metadata: { ...sliceJson.metadata, creationTimestamp: time('2026-12-01T10:00:01Z') } };

const nodeJson = {
  metadata: { name: 'node-a', resourceVersion: '7', creationTimestamp: '2026-12-01T09:00:00Z', deletionTimestamp: '2026-12-01T11:00:00Z', labels: { 'topology.kubernetes.io/zone': 'z1', 'kubernetes.io/hostname': 'node-a' } },
  spec: { podCIDR: '198.18.1.0/24', podCIDRs: ['198.18.1.0/24', '2001:db8:10:1::/64'], taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] },
  status: { addresses: [{ type: 'InternalIP', address: '192.0.2.11' }, { type: 'InternalIP', address: '2001:db8:1::11' }], conditions: [{ type: 'Ready', status: 'True' }] },
};
const nodeProto = {
  ...nodeJson,
  metadata: { ...nodeJson.metadata, namespace: '', creationTimestamp: time('2026-12-01T09:00:00Z'), deletionTimestamp: time('2026-12-01T11:00:00Z') },
  spec: { ...nodeJson.spec, taints: [{ key: 'node.kubernetes.io/unschedulable', value: '', effect: 'NoSchedule' }] },
};
const cidrJson = { metadata: { name: 'kubernetes', resourceVersion: '3' }, spec: { cidrs: ['198.19.0.0/16', '2001:db8:20::/112'] } };

const fromJson = <T>(project: (raw: unknown) => T, obj: object) => project(JSON.parse(JSON.stringify(obj), reviveTimestamps));

test('decodeProtobufList gives the projections the JSON path gives, for each resource', () => {
  const rows = [
    { codec: RESOURCE_CODECS.services, list: `${CORE}.ServiceList`, av: 'v1', item: serviceProto, want: fromJson(projectService, serviceJson) },
    { codec: RESOURCE_CODECS.endpointslices, list: `${DISCOVERY}.EndpointSliceList`, av: 'discovery.k8s.io/v1', item: sliceProto, want: fromJson(projectEndpointSlice, sliceJson) },
    { codec: RESOURCE_CODECS.nodes, list: `${CORE}.NodeList`, av: 'v1', item: nodeProto, want: fromJson(projectNode, nodeJson) },
    { codec: RESOURCE_CODECS.servicecidrs, list: 'k8s.io.api.networking.v1.ServiceCIDRList', av: 'networking.k8s.io/v1', item: cidrJson, want: fromJson(projectServiceCIDR, cidrJson) },
  ];
  for (const row of rows) {
    const body = envelope(row.av, row.list.split('.').pop()!, encode(row.list, { metadata: { resourceVersion: '99', continue: 'tok', selfLink: '' }, items: [row.item, row.item] }));
    const page = decodeProtobufList(body, row.codec, `list ${row.list}`);
    assert.deepEqual(page.items, [row.want, row.want], row.list);
    assert.equal(page.resourceVersion, '99');
    assert.equal(page.continue, 'tok');
  }
});

test('decodeProtobufList keeps what JSON keeps: false conditions, empty label values, no extra fields', () => {
  const [s] = decodeProtobufList<ReturnType<typeof projectEndpointSlice>>(envelope('discovery.k8s.io/v1', 'EndpointSliceList', encode(`${DISCOVERY}.EndpointSliceList`, { items: [sliceProto] })), RESOURCE_CODECS.endpointslices, 'x').items;
  assert.deepEqual(s!.endpoints[1]!.conditions, { ready: false });
  assert.deepEqual(s!.endpoints[0]!.addresses, ['198.18.1.5'], 'first address only');
  assert.deepEqual(s!.metadata!.labels, { 'kubernetes.io/service-name': 'web' });
  assert.ok(!('targetRef' in s!.endpoints[0]!));
  const [svc] = decodeProtobufList<ReturnType<typeof projectService>>(envelope('v1', 'ServiceList', encode(`${CORE}.ServiceList`, { items: [{ metadata: { name: 'a', labels: { 'service.kubernetes.io/service-proxy-name': '' } } }] })), RESOURCE_CODECS.services, 'x').items;
  assert.deepEqual(svc!.metadata!.labels, { 'service.kubernetes.io/service-proxy-name': '' }, 'an empty label value is a label');
});

test('ProtobufWatchDecoder reassembles frames split anywhere (property test)', () => {
  const seed = Number(process.env.KPB_SEED ?? Date.now() % 100000);
  let x = seed;
  const rand = (n: number) => ((x = (x * 1103515245 + 12345) % 2147483648) % n);
  // As the apiserver writes it: the event raw (its stream serializer), the object enveloped;
  // `enveloped` events check that an enveloped event is read too.
  const event = (type: string, obj: Uint8Array, kind = 'Service', enveloped = false) => {
    const raw = encode('k8s.io.apimachinery.pkg.apis.meta.v1.WatchEvent', { type, object: { raw: envelope('v1', kind, obj) } });
    const we = enveloped ? envelope('v1', 'WatchEvent', raw) : Buffer.from(raw);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(we.length);
    return Buffer.concat([len, we]);
  };
  const svc = encode(`${CORE}.Service`, serviceProto);
  const bookmark = encode(`${CORE}.Service`, { metadata: { resourceVersion: '100' } });
  const status = encode('k8s.io.apimachinery.pkg.apis.meta.v1.Status', { status: 'Failure', message: 'too old resource version: 1 (50)', reason: 'Expired', code: 410 });
  const stream = Buffer.concat([event('ADDED', svc), event('MODIFIED', svc, 'Service', true), event('BOOKMARK', bookmark), event('DELETED', svc), event('ERROR', status, 'Status')]);
  const want = fromJson(projectService, serviceJson);
  for (let round = 0; round < 50; round++) {
    const d = new ProtobufWatchDecoder(`watch services (seed ${seed})`, RESOURCE_CODECS.services);
    const got: WatchEvent<unknown>[] = [];
    for (let i = 0; i < stream.length;) {
      const n = 1 + rand(Math.min(64, stream.length - i));
      got.push(...d.push(stream.subarray(i, i + n)));
      i += n;
    }
    got.push(...d.end());
    assert.deepEqual(got.map((e) => e.type), ['ADDED', 'MODIFIED', 'BOOKMARK', 'DELETED', 'ERROR'], `seed ${seed}`);
    assert.deepEqual(got[0]!.object, want, `seed ${seed}`);
    assert.deepEqual(got[2]!.object, { metadata: { resourceVersion: '100' } });
    assert.deepEqual(got[4]!.object, { kind: 'Status', status: 'Failure', message: 'too old resource version: 1 (50)', reason: 'Expired', code: 410 });
  }
  const cut = new ProtobufWatchDecoder('watch services', RESOURCE_CODECS.services);
  cut.push(stream.subarray(0, 10));
  assert.throws(() => cut.end(), /ended inside a frame/);
});

test('bodies that are not Kubernetes protobuf are refused with a message naming the request', () => {
  assert.throws(() => unwrapEnvelope(Buffer.from('{"kind":"ServiceList"}'), 'list /api/v1/services'), /list \/api\/v1\/services: not a Kubernetes protobuf body/);
  const unknown = T('k8s.io.apimachinery.pkg.runtime.Unknown');
  const gz = Buffer.concat([Buffer.from('k8s\0', 'latin1'), Buffer.from(unknown.encode(unknown.fromObject({ raw: new Uint8Array(1), contentEncoding: 'gzip' })).finish())]);
  assert.throws(() => unwrapEnvelope(gz, 'x'), /content encoding "gzip" is not supported/);
  const status = envelope('v1', 'Status', encode('k8s.io.apimachinery.pkg.apis.meta.v1.Status', { status: 'Failure', message: 'forbidden', reason: 'Forbidden', code: 403 }));
  assert.deepEqual(decodeProtobufStatus(status), { kind: 'Status', status: 'Failure', message: 'forbidden', reason: 'Forbidden', code: 403 });
  assert.equal(decodeProtobufStatus(Buffer.from('nope')), null);
  assert.throws(() => decodeProtobufList(status, RESOURCE_CODECS.services, 'list services'), /answered with a Status: forbidden/);
});
