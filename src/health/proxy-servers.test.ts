import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { systemTimers } from './clock.ts';
import { ProxyHealth } from './proxy-health.ts';
import { startProxyServers } from './proxy-servers.ts';
import { createProxyMetrics } from '../metrics/proxy-metrics.ts';

test('startProxyServers serves health and metrics on their bind addresses', async () => {
  const health = new ProxyHealth({ clock: { now: () => Date.now() }, healthTimeoutMs: 60_000, families: ['IPv4'] });
  health.syncNode({ metadata: { name: 'node-a' } });
  const m = createProxyMetrics({ defaultMetrics: false });
  const s = startProxyServers({
    healthzBindAddress: '127.0.0.1:0', metricsBindAddress: '[::1]:0', health, registry: m.registry, metrics: m,
    proxyMode: () => 'iptables', configz: () => ({}), hardFail: true, timers: systemTimers,
  });
  await s.listening;
  const hp = (await s.health!.listening).port;
  const mp = (await s.metrics!.listening).port;
  const h = await request(`http://127.0.0.1:${hp}/healthz`);
  assert.equal(h.statusCode, 200);
  assert.ok('lastUpdated' in ((await h.body.json()) as object));
  const pm = await request(`http://[::1]:${mp}/proxyMode`);
  assert.equal(await pm.body.text(), 'iptables');
  const metrics = await request(`http://[::1]:${mp}/metrics`);
  assert.match(await metrics.body.text(), /^kubeproxy_proxy_healthz_total\{code="200"\} 1$/m);
  await s.close();
});

test('startProxyServers leaves a server off when its address is empty, and rejects bad addresses', async () => {
  const health = new ProxyHealth({ clock: { now: () => 0 }, healthTimeoutMs: 1, families: ['IPv4'] });
  const m = createProxyMetrics({ defaultMetrics: false });
  const base = { health, registry: m.registry, proxyMode: () => 'iptables', configz: () => ({}), hardFail: false, timers: systemTimers };
  const s = startProxyServers({ ...base, healthzBindAddress: '', metricsBindAddress: '' });
  assert.equal(s.health, null);
  assert.equal(s.metrics, null);
  await s.listening;
  await s.close();
  assert.throws(() => startProxyServers({ ...base, healthzBindAddress: 'localhost:10256', metricsBindAddress: '' }), /healthzBindAddress "localhost:10256"/);
});
