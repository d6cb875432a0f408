import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeClientConfig } from './kube-config.ts';
import { isGone } from './list-watch.ts';
import { acceptHeader, ApiClient, buildRequestUrl, createApiListWatches, listQuery, responseEncoding, responseError, watchQuery } from './api-list-watch.ts';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs';

test('buildRequestUrl keeps the server path prefix and drops unset parameters', () => {
  const u = buildRequestUrl('https://192.0.2.10:6443/prefix/', '/api/v1/services', { labelSelector: '!a,!b', limit: 500, continue: undefined, resourceVersion: '' });
  assert.equal(u.href, 'https://192.0.2.10:6443/prefix/api/v1/services?labelSelector=%21a%2C%21b&limit=500');
  assert.equal(buildRequestUrl('https://[2001:db8:1::10]:6443', '/api/v1/nodes', {}).href, 'https://[2001:db8:1::10]:6443/api/v1/nodes');
});

test('listQuery sends resourceVersion only on the first page', () => {
  assert.deepEqual(listQuery({ labelSelector: 'x', limit: 500, resourceVersion: '0' }), { labelSelector: 'x', fieldSelector: undefined, limit: 500, continue: undefined, resourceVersion: '0' });
  assert.equal(listQuery({ limit: 500, resourceVersion: '0', continue: 'tok' }).resourceVersion, undefined);
});

test('watchQuery asks for a watch with bookmarks and a server-side timeout', () => {
  const u = buildRequestUrl('https://192.0.2.10:6443', '/api/v1/nodes', watchQuery({ fieldSelector: 'metadata.name=node-a', resourceVersion: '42', allowWatchBookmarks: true, timeoutSeconds: 377 }));
  assert.equal(u.search, '?watch=true&fieldSelector=metadata.name%3Dnode-a&resourceVersion=42&allowWatchBookmarks=true&timeoutSeconds=377');
});

test('responseError reads the Status body, so 410 Expired is recognised', () => {
  const e = responseError('list /api/v1/services', 410, JSON.stringify({ kind: 'Status', status: 'Failure', message: 'The provided continue parameter is too old', reason: 'Expired', code: 410 }));
  assert.equal(e.code, 410);
  assert.equal(isGone(e), true);
  assert.equal(e.message, 'list /api/v1/services: The provided continue parameter is too old (410 Expired)');
  const raw = responseError('watch /api/v1/nodes', 502, '<html>Bad Gateway</html>');
  assert.equal(raw.code, 502);
  assert.equal(isGone(raw), false);
  assert.match(raw.message, /^watch \/api\/v1\/nodes: HTTP 502: <html>/);
});

test('createApiListWatches needs a current cluster', () => {
  assert.throws(() => createApiListWatches(new KubeClientConfig(null, null), { userAgent: 'kube-proxy/v0' }), /no current cluster/);
  const kc = new KubeClientConfig({ name: 'c', server: 'https://192.0.2.10:6443', skipTLSVerify: false }, { name: 'u' });
  const t = createApiListWatches(kc, { userAgent: 'kube-proxy/v0' });
  assert.ok(t.client instanceof ApiClient);
});

test('acceptHeader builds client-go\'s Accept header; responseEncoding reads the answer\'s type', () => {
  assert.equal(acceptHeader('application/vnd.kubernetes.protobuf', ''), 'application/vnd.kubernetes.protobuf, */*');
  assert.equal(acceptHeader('application/json', ''), 'application/json, */*');
  assert.equal(acceptHeader('application/vnd.kubernetes.protobuf', 'application/json'), 'application/json');
  assert.equal(acceptHeader('', ''), 'application/json');
  for (const [ct, want] of [
    ['application/vnd.kubernetes.protobuf', 'protobuf'], ['application/vnd.kubernetes.protobuf;stream=watch', 'protobuf'],
    ['application/json', 'json'], ['application/json;charset=utf-8', 'json'], [undefined, 'json'],
  ] as const) assert.equal(responseEncoding(ct, 'x'), want, String(ct));
  assert.throws(() => responseEncoding('text/html', 'list /api/v1/services'), /list \/api\/v1\/services: the server answered text\/html/);
});

test('responseError reads a protobuf Status too', () => {
  const root = protobuf.Root.fromJSON(JSON.parse(readFileSync(new URL('../../build/proto/k8s-full.json', import.meta.url), 'utf8')));
  const enc = (name: string, o: object) => { const t = root.lookupType(name); return t.encode(t.fromObject(o)).finish(); };
  const raw = enc('k8s.io.apimachinery.pkg.apis.meta.v1.Status', { status: 'Failure', message: 'too old resource version', reason: 'Expired', code: 410 });
  const body = Buffer.concat([Buffer.from('k8s\0', 'latin1'), Buffer.from(enc('k8s.io.apimachinery.pkg.runtime.Unknown', { typeMeta: { apiVersion: 'v1', kind: 'Status' }, raw }))]);
  const e = responseError('watch /api/v1/services', 410, body);
  assert.equal(isGone(e), true);
  assert.equal(e.message, 'watch /api/v1/services: too old resource version (410 Expired)');
});

test('a server that answers JSON to a protobuf request is decoded as JSON (the fallback)', async (t) => {
  const seen: string[] = [];
  const srv = createServer((req, res) => {
    seen.push(String(req.headers.accept));
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ kind: 'ServiceList', metadata: { resourceVersion: '7' }, items: [{ metadata: { name: 'web', namespace: 'default' }, spec: { clusterIP: '198.19.0.10', ports: [{ port: 80 }] } }] }));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => srv.close());
  const kc = new KubeClientConfig({ name: 'c', server: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, skipTLSVerify: false }, { name: 'u' });
  const encodings: string[] = [];
  const lw = createApiListWatches(kc, { userAgent: 'kube-proxy/v0', onEncoding: (_p, e) => encodings.push(e) });
  t.after(() => lw.client.close());
  const page = await lw.services.list({ limit: 500 }, new AbortController().signal);
  assert.deepEqual(seen, ['application/vnd.kubernetes.protobuf, */*']);
  assert.deepEqual(encodings, ['json']);
  assert.equal(page.resourceVersion, '7');
  assert.deepEqual(page.items.map((s) => s.spec?.clusterIP), ['198.19.0.10']);
});
