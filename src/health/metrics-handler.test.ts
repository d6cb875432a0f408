import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { createMetricsHandler } from './metrics-handler.ts';
import { createProxyMetrics } from '../metrics/proxy-metrics.ts';

async function serve(t: { after(fn: () => void): void }, handler: RequestListener): Promise<string> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('createMetricsHandler serves /metrics, /healthz, /proxyMode and /configz', async (t) => {
  const metrics = createProxyMetrics({ defaultMetrics: false });
  metrics.serviceChangesTotal.inc(3);
  const config = { mode: 'iptables', syncPeriod: '30s' };
  const base = await serve(t, createMetricsHandler({ registry: metrics.registry, proxyMode: () => 'iptables', configz: () => config }));

  let r = await request(`${base}/metrics`);
  assert.equal(r.statusCode, 200);
  assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  assert.match(await r.body.text(), /^kubeproxy_sync_proxy_rules_service_changes_total 3$/m);

  for (const p of ['/healthz', '/healthz/ping']) {
    r = await request(`${base}${p}`);
    assert.equal(r.statusCode, 200);
    assert.equal(await r.body.text(), 'ok');
  }

  r = await request(`${base}/proxyMode`);
  assert.equal(r.statusCode, 200);
  assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(r.headers['x-content-type-options'], 'nosniff');
  assert.equal(await r.body.text(), 'iptables');

  r = await request(`${base}/configz`);
  assert.equal(r.statusCode, 200);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.deepEqual(await r.body.json(), { 'kubeproxy.config.k8s.io': config });

  r = await request(`${base}/metrics/slis`);
  assert.equal(r.statusCode, 200);
  const slis = await r.body.text();
  assert.match(slis, /^kubernetes_healthcheck\{name="ping",type="healthz"\} 1$/m);
  assert.match(slis, /^kubernetes_healthchecks_total\{name="ping",status="success",type="healthz"\} 2$/m);

  r = await request(`${base}/livez`);
  assert.equal(r.statusCode, 404);
  await r.body.dump();
});

test('createMetricsHandler answers 500 and reports when /configz cannot be encoded', async (t) => {
  const metrics = createProxyMetrics({ defaultMetrics: false });
  const errors: unknown[] = [];
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const base = await serve(t, createMetricsHandler({ registry: metrics.registry, proxyMode: () => 'nftables', configz: () => cyclic, onError: (e) => errors.push(e) }));
  const r = await request(`${base}/configz`);
  assert.equal(r.statusCode, 500);
  assert.match(await r.body.text(), /^Cannot encode the configuration: /);
  assert.equal(errors.length, 1);
});

test('createMetricsHandler serves /healthz?verbose, /flagz and /statusz in upstream\'s text form', async (t) => {
  const metrics = createProxyMetrics({ defaultMetrics: false });
  const startTime = new Date(Date.UTC(2026, 11, 3, 11, 44, 55));
  const base = await serve(t, createMetricsHandler({
    registry: metrics.registry, proxyMode: () => 'iptables', configz: () => ({}),
    flagz: () => [['bind-address', '0.0.0.0'], ['v', '2']], statusz: { startTime, version: 'v1.37.2', runtime: 'node v24' },
  }));
  let r = await request(`${base}/healthz?verbose`);
  assert.equal(await r.body.text(), '[+]ping ok\nhealthz check passed\n');
  r = await request(`${base}/flagz`);
  assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(await r.body.text(), '\nkube-proxy flagz\nWarning: This endpoint is not meant to be machine parseable, has no formatting compatibility guarantees and is for debugging purposes only.\nbind-address:0.0.0.0\nv:2\n');
  r = await request(`${base}/statusz`);
  const text = await r.body.text();
  assert.match(text, /^\nkube-proxy statusz\nWarning: .*\n\nStarted: Thu Dec  3 11:44:55 UTC 2026\nUp: \d+ hr \d\d min \d\d sec\nGo version: node v24\nBinary version: 1\.37\.2\nEmulation version: 1\.37\nPaths: \/configz \/flagz \/healthz \/metrics \/proxyMode\n$/);
  r = await request(`${base}/statusz`, { headers: { accept: 'application/json;v=v1alpha1;g=config.k8s.io;as=Statusz' } });
  const o = (await r.body.json()) as Record<string, unknown>;
  assert.deepEqual([o.kind, o.binaryVersion, o.emulationVersion, o.startTime], ['Statusz', '1.37.2', '1.37', '2026-12-03T11:44:55Z']);
  const off = await serve(t, createMetricsHandler({ registry: metrics.registry, proxyMode: () => 'iptables', configz: () => ({}) }));
  assert.equal((await request(`${off}/flagz`)).statusCode, 404, 'no flagz reader (gate off): 404');
});
