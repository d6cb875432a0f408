import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { createProxyHealthHandler } from './proxy-health-handler.ts';
import { ProxyHealth } from './proxy-health.ts';
import { createProxyMetrics } from '../metrics/proxy-metrics.ts';

async function serve(handler: RequestListener): Promise<{ server: Server; base: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

test('createProxyHealthHandler serves kube-proxy JSON with 200/503 by health and eligibility', async (t) => {
  const clock = { t: Date.UTC(2026, 0, 1), now: () => clock.t };
  const health = new ProxyHealth({ clock, healthTimeoutMs: 60_000, families: ['IPv4'] });
  const metrics = createProxyMetrics({ defaultMetrics: false });
  const { server, base } = await serve(createProxyHealthHandler({ health, metrics }));
  t.after(() => server.close());

  // Not eligible yet: /healthz 503, /livez 200.
  let r = await request(`${base}/healthz`);
  assert.equal(r.statusCode, 503);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(r.headers['x-content-type-options'], 'nosniff');
  let body = (await r.body.json()) as Record<string, unknown>;
  assert.equal(body.nodeEligible, false);
  assert.equal(body.healthy, true);
  assert.equal(body.lastUpdated, '2026-01-01T00:00:00.000Z');
  assert.equal(body.currentTime, '2026-01-01T00:00:00.000Z');
  assert.deepEqual(body.status, { IPv4: { lastUpdated: '0001-01-01T00:00:00Z', healthy: true } });

  r = await request(`${base}/livez`);
  assert.equal(r.statusCode, 200);
  body = (await r.body.json()) as Record<string, unknown>;
  assert.equal('nodeEligible' in body, false, '/livez omits nodeEligible');

  health.syncNode({ metadata: { name: 'node-a' } });
  health.updated('IPv4');
  r = await request(`${base}/healthz?verbose=1`);
  assert.equal(r.statusCode, 200);
  await r.body.dump();

  // A change that waits past the timeout makes both endpoints fail.
  health.queuedUpdate('IPv4');
  clock.t += 60_000;
  r = await request(`${base}/healthz`);
  assert.equal(r.statusCode, 503);
  body = (await r.body.json()) as Record<string, unknown>;
  assert.equal(body.healthy, false);
  assert.equal(body.lastUpdated, '2026-01-01T00:00:00.000Z');
  assert.equal(body.currentTime, '2026-01-01T00:01:00.000Z');
  r = await request(`${base}/livez`);
  assert.equal(r.statusCode, 503);
  await r.body.dump();

  r = await request(`${base}/metrics`);
  assert.equal(r.statusCode, 404);
  assert.equal(await r.body.text(), '404 page not found\n');

  const text = await metrics.registry.metrics();
  assert.match(text, /^kubeproxy_proxy_healthz_total\{code="503"\} 2$/m);
  assert.match(text, /^kubeproxy_proxy_healthz_total\{code="200"\} 1$/m);
  assert.match(text, /^kubeproxy_proxy_livez_total\{code="200"\} 1$/m);
  assert.match(text, /^kubeproxy_proxy_livez_total\{code="503"\} 1$/m);
});
