import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createDatapathMetrics, type DatapathSnapshot } from './datapath-metrics.ts';

function snap(packets: number): DatapathSnapshot {
  return {
    verdicts: [{ hook: 'xdp', verdict: 'pass', packets }, { hook: 'tc_ingress', verdict: 'drop', packets: 3 }],
    reasons: [{ hook: 'tc_ingress', reason: 'no_backend', packets: 3 }],
    maps: [{ map: 'kpb_services', entries: 250, maxEntries: 1000 }],
    conntrack: [{ ipFamily: 'IPv4', entries: 42 }],
    xdpFallback: [{ device: 'eth0', reason: 'native XDP unsupported', fallback: true }],
  };
}

test('createDatapathMetrics publishes the collector snapshot at scrape time', async () => {
  const registry = new Registry();
  const now = { t: 0 };
  let calls = 0;
  const dp = createDatapathMetrics({ registry, clock: { now: () => now.t } });
  dp.setCollector(async () => { calls++; return snap(10); });
  dp.badObjectsTotal.inc({ kind: 'Service', reason: 'invalid clusterIP' });
  dp.datapathRepairsTotal.inc({ hook: 'tc' }, 2);
  const text = await registry.metrics();
  assert.equal(calls, 1, 'one read serves every metric of a scrape');
  assert.match(text, /^# TYPE kubeproxy_bpf_packets_total counter$/m);
  assert.match(text, /^kubeproxy_bpf_packets_total\{hook="xdp",verdict="pass"\} 10$/m);
  assert.match(text, /^kubeproxy_bpf_packets_total\{hook="tc_ingress",verdict="drop"\} 3$/m);
  assert.match(text, /^kubeproxy_bpf_packet_reasons_total\{hook="tc_ingress",reason="no_backend"\} 3$/m);
  assert.match(text, /^kubeproxy_bpf_map_entries\{map="kpb_services"\} 250$/m);
  assert.match(text, /^kubeproxy_bpf_map_capacity\{map="kpb_services"\} 1000$/m);
  assert.match(text, /^kubeproxy_bpf_map_pressure\{map="kpb_services"\} 0\.25$/m);
  assert.match(text, /^kubeproxy_bpf_conntrack_entries\{ip_family="IPv4"\} 42$/m);
  assert.match(text, /^kubeproxy_bpf_xdp_fallback\{device="eth0",reason="native XDP unsupported"\} 1$/m);
  assert.match(text, /^kubeproxy_bpf_bad_objects_total\{kind="Service",reason="invalid clusterIP"\} 1$/m);
  assert.match(text, /^kubeproxy_bpf_datapath_repairs_total\{hook="tc"\} 2$/m);

  now.t = 5000;
  dp.setCollector(() => snap(17));
  const again = await registry.metrics();
  assert.match(again, /^kubeproxy_bpf_packets_total\{hook="xdp",verdict="pass"\} 17$/m, 'absolute values replace the old ones');
});

test('createDatapathMetrics keeps the previous values when the collector fails', async () => {
  const registry = new Registry();
  const now = { t: 0 };
  const errors: unknown[] = [];
  const dp = createDatapathMetrics({ registry, clock: { now: () => now.t }, onError: (e) => errors.push(e) });
  dp.setCollector(() => snap(5));
  await registry.metrics();
  now.t = 2000;
  dp.setCollector(() => { throw new Error('read kpb_np_counters: EPERM'); });
  const text = await registry.metrics();
  assert.match(text, /^kubeproxy_bpf_packets_total\{hook="xdp",verdict="pass"\} 5$/m);
  assert.match(text, /^kubeproxy_bpf_stats_read_errors_total 1$/m);
  assert.equal(errors.length, 1);
});

test('createDatapathMetrics exposes no datapath series before a collector is plugged', async () => {
  const registry = new Registry();
  createDatapathMetrics({ registry, clock: { now: () => 0 } });
  const text = await registry.metrics();
  assert.doesNotMatch(text, /^kubeproxy_bpf_packets_total\{/m);
  assert.match(text, /^# TYPE kubeproxy_bpf_map_entries gauge$/m);
  assert.match(text, /^kubeproxy_bpf_healthcheck_bind_errors_total 0$/m);
});
