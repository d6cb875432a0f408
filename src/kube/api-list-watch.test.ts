import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeClientConfig } from './kube-config.ts';
import { isGone } from './list-watch.ts';
import { ApiClient, buildRequestUrl, createApiListWatches, listQuery, responseError, watchQuery } from './api-list-watch.ts';

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
