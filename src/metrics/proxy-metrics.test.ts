import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProxyMetrics } from './proxy-metrics.ts';

/** The `# TYPE` line of each family in an exposition text. */
function types(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1], m[2]);
  return out;
}

test('createProxyMetrics exposes the §4.1 set with upstream names and types', async () => {
  const m = createProxyMetrics({ defaultMetrics: false });
  const t = types(await m.registry.metrics());
  const want: Record<string, string> = {
    kubeproxy_sync_proxy_rules_duration_seconds: 'histogram',
    kubeproxy_sync_full_proxy_rules_duration_seconds: 'histogram',
    kubeproxy_sync_partial_proxy_rules_duration_seconds: 'histogram',
    kubeproxy_sync_proxy_rules_last_timestamp_seconds: 'gauge',
    kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds: 'gauge',
    kubeproxy_network_programming_duration_seconds: 'histogram',
    kubeproxy_sync_proxy_rules_endpoint_changes_pending: 'gauge',
    kubeproxy_sync_proxy_rules_endpoint_changes_total: 'counter',
    kubeproxy_sync_proxy_rules_service_changes_pending: 'gauge',
    kubeproxy_sync_proxy_rules_service_changes_total: 'counter',
    kubeproxy_proxy_healthz_total: 'counter',
    kubeproxy_proxy_livez_total: 'counter',
    kubeproxy_sync_proxy_rules_no_local_endpoints_total: 'gauge',
    kubeproxy_conntrack_reconciler_sync_duration_seconds: 'histogram',
    kubeproxy_conntrack_reconciler_deleted_entries_total: 'counter',
    rest_client_requests_total: 'counter',
    rest_client_request_duration_seconds: 'histogram',
    rest_client_rate_limiter_duration_seconds: 'histogram',
    kubernetes_build_info: 'gauge',
    kubernetes_feature_enabled: 'gauge',
  };
  for (const [name, type] of Object.entries(want)) assert.equal(t.get(name), type, name);
});

test('createProxyMetrics uses upstream labels and buckets', async () => {
  const m = createProxyMetrics({ defaultMetrics: false });
  m.syncProxyRulesDuration.observe({ ip_family: 'IPv4' }, 0.003);
  m.networkProgrammingDuration.observe({ ip_family: 'IPv6' }, 61);
  m.syncProxyRulesNoLocalEndpointsTotal.set({ ip_family: 'IPv4', traffic_policy: 'external' }, 2);
  m.proxyHealthzTotal.inc({ code: '503' });
  m.restClientRequestsTotal.inc({ code: '200', method: 'GET', host: '192.0.2.10:6443' });
  const text = await m.registry.metrics();
  assert.match(text, /^kubeproxy_sync_proxy_rules_duration_seconds_bucket\{le="0\.001",ip_family="IPv4"\} 0$/m);
  assert.match(text, /^kubeproxy_sync_proxy_rules_duration_seconds_bucket\{le="0\.004",ip_family="IPv4"\} 1$/m);
  assert.match(text, /^kubeproxy_sync_proxy_rules_duration_seconds_bucket\{le="16\.384",ip_family="IPv4"\} 1$/m);
  assert.match(text, /^kubeproxy_network_programming_duration_seconds_bucket\{le="60",ip_family="IPv6"\} 0$/m);
  assert.match(text, /^kubeproxy_network_programming_duration_seconds_bucket\{le="65",ip_family="IPv6"\} 1$/m);
  assert.match(text, /^kubeproxy_network_programming_duration_seconds_bucket\{le="300",ip_family="IPv6"\} 1$/m);
  assert.match(text, /^kubeproxy_sync_proxy_rules_no_local_endpoints_total\{ip_family="IPv4",traffic_policy="external"\} 2$/m);
  assert.match(text, /^kubeproxy_proxy_healthz_total\{code="503"\} 1$/m);
  assert.match(text, /^rest_client_requests_total\{code="200",method="GET",host="192\.0\.2\.10:6443"\} 1$/m);
  assert.match(text, /^# HELP kubeproxy_sync_proxy_rules_duration_seconds \[ALPHA\] SyncProxyRules latency in seconds$/m);
});

test('createProxyMetrics reports build info and feature gates', async () => {
  const m = createProxyMetrics({
    defaultMetrics: false,
    buildInfo: { major: '1', minor: '37', gitVersion: 'v1.37.0-bpf.0', platform: 'linux/amd64' },
    features: [{ name: 'TopologyAwareHints', stage: '', enabled: true }, { name: 'SomeAlpha', stage: 'ALPHA', enabled: false }],
  });
  const text = await m.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith('kubernetes_build_info{'));
  assert.ok(line, 'kubernetes_build_info present');
  assert.match(line, /git_version="v1\.37\.0-bpf\.0"/);
  assert.match(line, /major="1",minor="37",platform="linux\/amd64"\} 1$/);
  assert.match(text, /^kubernetes_feature_enabled\{name="TopologyAwareHints",stage=""\} 1$/m);
  assert.match(text, /^kubernetes_feature_enabled\{name="SomeAlpha",stage="ALPHA"\} 0$/m);
});

test('createProxyMetrics adds process metrics by default', async () => {
  const m = createProxyMetrics();
  const t = types(await m.registry.metrics());
  assert.equal(t.get('process_cpu_seconds_total'), 'counter');
  assert.equal(t.get('process_start_time_seconds'), 'gauge');
});

test('kubernetes_build_info carries major/minor from the git version and platform in Go\'s spelling', async () => {
  const m = createProxyMetrics({ defaultMetrics: false, buildInfo: { gitVersion: 'v1.37.2' } });
  const text = await m.registry.metrics();
  assert.match(text, /^kubernetes_build_info\{.*git_version="v1\.37\.2".*major="1",minor="37",platform="linux\/(amd64|arm64)"\} 1$/m);
});
