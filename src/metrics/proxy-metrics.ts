/**
 * @module
 * Every kube-proxy metric we export, declared once (spec §4.1 and §4.5), on one prom-client
 * Registry. Names, types, label names and buckets match upstream's `pkg/proxy/metrics` so that
 * dashboards and alerts written for kube-proxy keep working. Help texts carry component-base's
 * stability prefix (`[ALPHA] `) because that is how upstream's exposition reads.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { NETWORK_PROGRAMMING_BUCKETS, REST_CLIENT_BUCKETS, SYNC_DURATION_BUCKETS } from './buckets.ts';

const SUBSYSTEM = 'kubeproxy';
const ALPHA = '[ALPHA] ';

/** Labels of `kubernetes_build_info`; empty strings are fine for fields we do not know. */
export interface BuildInfo {
  major: string;
  minor: string;
  gitVersion: string;
  gitCommit: string;
  gitTreeState: string;
  buildDate: string;
  /** Upstream reports the Go version; we report the runtime that actually runs, e.g. `node v24.1.0`. */
  goVersion: string;
  compiler: string;
  platform: string;
}

/** One feature gate as `kubernetes_feature_enabled{name,stage}` reports it. */
export interface FeatureState {
  name: string;
  /** `ALPHA`, `BETA`, `` (GA) or `DEPRECATED`, as component-base prints it. */
  stage: string;
  enabled: boolean;
}

export interface ProxyMetricsOptions {
  /** The registry to register on. @default a new Registry */
  registry?: Registry;
  buildInfo?: Partial<BuildInfo>;
  features?: readonly FeatureState[];
  /** Register prom-client's process_* and nodejs_* collectors (the counterpart of go_* and process_*). @default true */
  defaultMetrics?: boolean;
}

type IpFamily = 'ip_family';

/** The kube-proxy metric set; each field is the prom-client metric to update where the event happens. */
export interface ProxyMetrics {
  registry: Registry;
  /** Duration of each sync, full or partial. */
  syncProxyRulesDuration: Histogram<IpFamily>;
  /** Duration of full syncs (upstream: iptables and nftables modes; ours: every full sync). */
  syncFullProxyRulesDuration: Histogram<IpFamily>;
  /** Duration of partial syncs. */
  syncPartialProxyRulesDuration: Histogram<IpFamily>;
  /** Unix time (seconds) of the last successful sync. */
  syncProxyRulesLastTimestamp: Gauge<IpFamily>;
  /** Unix time (seconds) of the last queued sync. */
  syncProxyRulesLastQueuedTimestamp: Gauge<IpFamily>;
  /** Seconds from `endpoints.kubernetes.io/last-change-trigger-time` to the change being programmed. */
  networkProgrammingDuration: Histogram<IpFamily>;
  endpointChangesPending: Gauge<string>;
  endpointChangesTotal: Counter<string>;
  serviceChangesPending: Gauge<string>;
  serviceChangesTotal: Counter<string>;
  /** Responses of the health server's /healthz, by `code`. */
  proxyHealthzTotal: Counter<'code'>;
  /** Responses of the health server's /livez, by `code`. */
  proxyLivezTotal: Counter<'code'>;
  /** A gauge despite its name: services with a Local policy and no local endpoints as of the last sync. */
  syncProxyRulesNoLocalEndpointsTotal: Gauge<'ip_family' | 'traffic_policy'>;
  conntrackReconcilerSyncDuration: Histogram<IpFamily>;
  conntrackReconcilerDeletedEntriesTotal: Counter<IpFamily>;
  /** API server requests by `code`, `method`, `host` (client-go's rest_client_requests_total). */
  restClientRequestsTotal: Counter<'code' | 'method' | 'host'>;
  /** API server request latency by `verb`, `host`. */
  restClientRequestDuration: Histogram<'verb' | 'host'>;
  /** Time spent waiting in the client-side rate limiter, by `verb`, `host`. */
  restClientRateLimiterDuration: Histogram<'verb' | 'host'>;
  buildInfo: Gauge<string>;
  featureEnabled: Gauge<'name' | 'stage'>;
}

/**
 * Create and register the kube-proxy metric set.
 *
 * @example
 * const m = createProxyMetrics({ buildInfo: { gitVersion: 'v0.1.0' } });
 * m.syncProxyRulesDuration.observe({ ip_family: 'IPv4' }, 0.012);
 * const text = await m.registry.metrics();
 */
export function createProxyMetrics(options: ProxyMetricsOptions = {}): ProxyMetrics {
  const registry = options.registry ?? new Registry();
  const registers = [registry];
  const name = (n: string) => `${SUBSYSTEM}_${n}`;
  const syncHistogram = (n: string, help: string) =>
    new Histogram({ name: name(n), help: ALPHA + help, labelNames: ['ip_family'] as const, buckets: [...SYNC_DURATION_BUCKETS], registers });

  const metrics: ProxyMetrics = {
    registry,
    syncProxyRulesDuration: syncHistogram('sync_proxy_rules_duration_seconds', 'SyncProxyRules latency in seconds'),
    syncFullProxyRulesDuration: syncHistogram('sync_full_proxy_rules_duration_seconds', 'SyncProxyRules latency in seconds for full resyncs'),
    syncPartialProxyRulesDuration: syncHistogram('sync_partial_proxy_rules_duration_seconds', 'SyncProxyRules latency in seconds for partial resyncs'),
    syncProxyRulesLastTimestamp: new Gauge({
      name: name('sync_proxy_rules_last_timestamp_seconds'), help: ALPHA + 'The last time proxy rules were successfully synced',
      labelNames: ['ip_family'] as const, registers,
    }),
    syncProxyRulesLastQueuedTimestamp: new Gauge({
      name: name('sync_proxy_rules_last_queued_timestamp_seconds'), help: ALPHA + 'The last time a sync of proxy rules was queued',
      labelNames: ['ip_family'] as const, registers,
    }),
    networkProgrammingDuration: new Histogram({
      name: name('network_programming_duration_seconds'), help: ALPHA + 'In Cluster Network Programming Latency in seconds',
      labelNames: ['ip_family'] as const, buckets: [...NETWORK_PROGRAMMING_BUCKETS], registers,
    }),
    endpointChangesPending: new Gauge({ name: name('sync_proxy_rules_endpoint_changes_pending'), help: ALPHA + 'Pending proxy rules Endpoint changes', registers }),
    endpointChangesTotal: new Counter({ name: name('sync_proxy_rules_endpoint_changes_total'), help: ALPHA + 'Cumulative proxy rules Endpoint changes', registers }),
    serviceChangesPending: new Gauge({ name: name('sync_proxy_rules_service_changes_pending'), help: ALPHA + 'Pending proxy rules Service changes', registers }),
    serviceChangesTotal: new Counter({ name: name('sync_proxy_rules_service_changes_total'), help: ALPHA + 'Cumulative proxy rules Service changes', registers }),
    proxyHealthzTotal: new Counter({ name: name('proxy_healthz_total'), help: ALPHA + 'Cumulative proxy healthz HTTP status', labelNames: ['code'] as const, registers }),
    proxyLivezTotal: new Counter({ name: name('proxy_livez_total'), help: ALPHA + 'Cumulative proxy livez HTTP status', labelNames: ['code'] as const, registers }),
    syncProxyRulesNoLocalEndpointsTotal: new Gauge({
      name: name('sync_proxy_rules_no_local_endpoints_total'), help: ALPHA + 'Number of services with a Local traffic policy and no endpoints',
      labelNames: ['ip_family', 'traffic_policy'] as const, registers,
    }),
    conntrackReconcilerSyncDuration: syncHistogram('conntrack_reconciler_sync_duration_seconds', 'ReconcileConntrackFlowsLatency latency in seconds'),
    conntrackReconcilerDeletedEntriesTotal: new Counter({
      name: name('conntrack_reconciler_deleted_entries_total'), help: ALPHA + 'Cumulative conntrack flows deleted by conntrack reconciler',
      labelNames: ['ip_family'] as const, registers,
    }),
    restClientRequestsTotal: new Counter({
      name: 'rest_client_requests_total', help: ALPHA + 'Number of HTTP requests, partitioned by status code, method, and host.',
      labelNames: ['code', 'method', 'host'] as const, registers,
    }),
    restClientRequestDuration: new Histogram({
      name: 'rest_client_request_duration_seconds', help: ALPHA + 'Request latency in seconds. Broken down by verb, and host.',
      labelNames: ['verb', 'host'] as const, buckets: [...REST_CLIENT_BUCKETS], registers,
    }),
    restClientRateLimiterDuration: new Histogram({
      name: 'rest_client_rate_limiter_duration_seconds', help: ALPHA + 'Client side rate limiter latency in seconds. Broken down by verb, and host.',
      labelNames: ['verb', 'host'] as const, buckets: [...REST_CLIENT_BUCKETS], registers,
    }),
    buildInfo: new Gauge({
      name: 'kubernetes_build_info',
      help: ALPHA + 'A metric with a constant \'1\' value labeled by major, minor, git version, git commit, git tree state, build date, Go version, and compiler from which Kubernetes was built, and platform on which it is running.',
      labelNames: ['build_date', 'compiler', 'git_commit', 'git_tree_state', 'git_version', 'go_version', 'major', 'minor', 'platform'],
      registers,
    }),
    featureEnabled: new Gauge({
      name: 'kubernetes_feature_enabled', help: '[BETA] This metric records the data about the stage and enablement of a k8s feature.',
      labelNames: ['name', 'stage'] as const, registers,
    }),
  };

  const b = options.buildInfo ?? {};
  metrics.buildInfo.set({
    build_date: b.buildDate ?? '', compiler: b.compiler ?? 'node', git_commit: b.gitCommit ?? '',
    git_tree_state: b.gitTreeState ?? '', git_version: b.gitVersion ?? '', go_version: b.goVersion ?? `node ${process.version}`,
    major: b.major ?? versionPart(b.gitVersion, 0), minor: b.minor ?? versionPart(b.gitVersion, 1), platform: b.platform ?? `${process.platform}/${goArch(process.arch)}`,
  }, 1);
  for (const f of options.features ?? []) metrics.featureEnabled.set({ name: f.name, stage: f.stage }, f.enabled ? 1 : 0);
  if (options.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
    // prom-client names these gauges *_total, which `promtool check metrics` flags; they add
    // nothing the process_* and nodejs_eventloop_* series do not say.
    for (const n of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(n);
  }
  return metrics;
}

/** `1` and `37` of `v1.37.2`, as upstream's major/minor labels; '' when unknown. */
function versionPart(gitVersion: string | undefined, i: number): string {
  return /^v\d+\.\d+/.test(gitVersion ?? '') ? gitVersion!.slice(1).split('.')[i]! : '';
}

/** Node's architecture names in Go's spelling, so `platform` reads like upstream's `linux/amd64`. */
function goArch(arch: string): string {
  return arch === 'x64' ? 'amd64' : arch === 'ia32' ? '386' : arch;
}
