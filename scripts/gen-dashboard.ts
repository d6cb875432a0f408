/**
 * Writes manifests/grafana-dashboard.json from the panel list below (Grafana's JSON model, schema
 * 39): kube-proxy's usual panels (those of the kube-prometheus mixin: sync rate and latency,
 * network programming rate and latency, API requests, memory and CPU) and ours (datapath verdicts
 * and counters by reason, map fill, conntrack entries, sync errors, repairs, Services not
 * programmed). Every expression is evaluated by e2e/scenarios/prometheus.test.ts against a real
 * Prometheus scraping both agents of the test cluster.
 *   node scripts/gen-dashboard.ts
 * @module
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

type Panel = { title: string; unit: string; exprs: [expr: string, legend: string][]; description: string };

const SEL = '{instance=~"$instance"}';
const R = '$__rate_interval';

/** Panels, two per row. */
const PANELS: Panel[] = [
  { title: 'Rules sync rate', unit: 'ops', description: 'Syncs per second (full and partial).',
    exprs: [[`sum by (instance) (rate(kubeproxy_sync_proxy_rules_duration_seconds_count${SEL}[${R}]))`, '{{instance}}']] },
  { title: 'Rules sync latency 99th quantile', unit: 's', description: 'Time one sync takes, from informer state to the BPF maps.',
    exprs: [[`histogram_quantile(0.99, sum by (instance, le) (rate(kubeproxy_sync_proxy_rules_duration_seconds_bucket${SEL}[${R}])))`, '{{instance}}']] },
  { title: 'Network programming rate', unit: 'ops', description: 'EndpointSlice changes programmed per second.',
    exprs: [[`sum by (instance) (rate(kubeproxy_network_programming_duration_seconds_count${SEL}[${R}]))`, '{{instance}}']] },
  { title: 'Network programming latency 99th quantile', unit: 's', description: 'From endpoints.kubernetes.io/last-change-trigger-time to programmed.',
    exprs: [[`histogram_quantile(0.99, sum by (instance, le) (rate(kubeproxy_network_programming_duration_seconds_bucket${SEL}[${R}])))`, '{{instance}}']] },
  { title: 'Seconds since the last successful sync', unit: 's', description: 'Grows past twice the sync period when syncs fail.',
    exprs: [[`time() - max by (instance) (kubeproxy_sync_proxy_rules_last_timestamp_seconds${SEL})`, '{{instance}}']] },
  { title: 'Pending changes', unit: 'short', description: 'Service and EndpointSlice changes not yet synced.',
    exprs: [[`sum by (instance) (kubeproxy_sync_proxy_rules_service_changes_pending${SEL})`, 'services {{instance}}'], [`sum by (instance) (kubeproxy_sync_proxy_rules_endpoint_changes_pending${SEL})`, 'endpoints {{instance}}']] },
  { title: 'Kube API request rate', unit: 'reqps', description: 'Requests to the apiserver by status code.',
    exprs: [[`sum by (instance, code) (rate(rest_client_requests_total${SEL}[${R}]))`, '{{code}} {{instance}}']] },
  { title: 'Get request latency 99th quantile', unit: 's', description: 'Lists and watches to the apiserver.',
    exprs: [[`histogram_quantile(0.99, sum by (instance, le) (rate(rest_client_request_duration_seconds_bucket{verb="GET",instance=~"$instance"}[${R}])))`, '{{instance}}']] },
  { title: 'Memory', unit: 'bytes', description: 'Resident set size of the agent.',
    exprs: [[`process_resident_memory_bytes${SEL}`, '{{instance}}']] },
  { title: 'CPU usage', unit: 'short', description: 'CPU seconds per second.',
    exprs: [[`rate(process_cpu_seconds_total${SEL}[${R}])`, '{{instance}}']] },
  { title: 'Datapath verdicts', unit: 'pps', description: 'Packets per second by hook and verdict (XDP, tc ingress and egress).',
    exprs: [[`sum by (instance, hook, verdict) (rate(kubeproxy_bpf_packets_total${SEL}[${R}]))`, '{{hook}} {{verdict}} {{instance}}']] },
  { title: 'Datapath counters by reason', unit: 'pps', description: 'Packets and socket events per second by hook and reason (no_backend, src_range, snat_exhausted...).',
    exprs: [[`sum by (instance, hook, reason) (rate(kubeproxy_bpf_packet_reasons_total${SEL}[${R}]))`, '{{hook}} {{reason}} {{instance}}']] },
  { title: 'BPF map fill', unit: 'percentunit', description: 'Entries over capacity of each map; alerts above 90 %.',
    exprs: [[`max by (instance, map) (kubeproxy_bpf_map_entries${SEL} / kubeproxy_bpf_map_capacity${SEL})`, '{{map}} {{instance}}']] },
  { title: 'Service map entries', unit: 'short', description: 'Frontends (lb_services) and backends programmed: what kube-proxy counts as rules.',
    exprs: [[`max by (instance, map) (kubeproxy_bpf_map_entries{map=~"lb_services|lb_backends",instance=~"$instance"})`, '{{map}} {{instance}}']] },
  { title: 'Conntrack entries', unit: 'short', description: 'North-south BPF conntrack entries by family.',
    exprs: [[`sum by (instance, ip_family) (kubeproxy_bpf_conntrack_entries${SEL})`, '{{ip_family}} {{instance}}']] },
  { title: 'Sync errors', unit: 'short', description: 'Failed datapath operations in the last interval, and Services left unprogrammed.',
    exprs: [
      [`sum by (instance) (increase(kubeproxy_bpf_sync_errors_total${SEL}[${R}])) or sum by (instance) (0 * kubeproxy_sync_proxy_rules_last_timestamp_seconds${SEL})`, 'errors {{instance}}'],
      [`max by (instance) (kubeproxy_bpf_services_not_programmed${SEL})`, 'not programmed {{instance}}'],
    ] },
  { title: 'Datapath repairs', unit: 'short', description: 'Programs re-attached or state restored by the agent\'s periodic checks, by hook.',
    exprs: [[`sum by (instance, hook) (increase(kubeproxy_bpf_datapath_repairs_total${SEL}[${R}])) or sum by (instance) (0 * kubeproxy_sync_proxy_rules_last_timestamp_seconds${SEL})`, '{{hook}} {{instance}}']] },
  { title: 'Health checks', unit: 'reqps', description: ':10256/healthz answers by code.',
    exprs: [[`sum by (instance, code) (rate(kubeproxy_proxy_healthz_total${SEL}[${R}]))`, '{{code}} {{instance}}']] },
];

/** The dashboard's JSON text, as the file holds it. */
export function dashboardJson(): string {
  const panels = PANELS.map((p, i) => ({
    id: i + 1,
    type: 'timeseries',
    title: p.title,
    description: p.description,
    datasource: { type: 'prometheus', uid: '${datasource}' },
    gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
    fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
    options: { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } },
    targets: p.exprs.map(([expr, legendFormat], j) => ({ refId: String.fromCharCode(65 + j), expr, legendFormat, datasource: { type: 'prometheus', uid: '${datasource}' } })),
  }));

  const dashboard = {
    title: 'kube-proxy (kube-proxy-bpf)',
    uid: 'kube-proxy-bpf',
    description: 'kube-proxy\'s usual panels plus the BPF datapath of kube-proxy-bpf. Generated by scripts/gen-dashboard.ts.',
    tags: ['kubernetes', 'kube-proxy', 'bpf'],
    schemaVersion: 39,
    version: 1,
    editable: true,
    time: { from: 'now-1h', to: 'now' },
    refresh: '30s',
    templating: {
      list: [
        { name: 'datasource', type: 'datasource', query: 'prometheus', label: 'Data source', current: {} },
        {
          name: 'instance', type: 'query', label: 'Instance', datasource: { type: 'prometheus', uid: '${datasource}' },
          query: { query: 'label_values(kubeproxy_sync_proxy_rules_last_timestamp_seconds, instance)', refId: 'instance' },
          definition: 'label_values(kubeproxy_sync_proxy_rules_last_timestamp_seconds, instance)',
          includeAll: true, multi: true, allValue: '.+', refresh: 2, current: {},
        },
      ],
    },
    panels,
  };
  return JSON.stringify(dashboard, null, 2) + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(new URL('../manifests/grafana-dashboard.json', import.meta.url), dashboardJson());
  console.log(`wrote ${PANELS.length} panels`);
}
