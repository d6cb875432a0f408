/**
 * @module
 * Metrics of our own BPF datapath (prefix `kubeproxy_bpf_`), read from the kernel at scrape time
 * through a collector the integrator plugs in. Packet counts are per-CPU counters summed by the
 * reader; we publish their absolute values, so a restart that adopts pinned maps keeps the series
 * monotonic.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Clock } from '../health/clock.ts';

/** What the datapath counters hold at one instant. Every list may be empty. */
export interface DatapathSnapshot {
  /** Packets by hook (`xdp`, `tc_ingress`, `tc_egress`, `sock`...) and verdict (`pass`, `drop`, `tx`, `redirect`). */
  verdicts: ReadonlyArray<{ hook: string; verdict: string; packets: number }>;
  /** Packets by hook and reason (`not_service`, `no_backend`, `local_dnat`...). */
  reasons: ReadonlyArray<{ hook: string; reason: string; packets: number }>;
  /** Fill level of each BPF map. */
  maps: ReadonlyArray<{ map: string; entries: number; maxEntries: number }>;
  /** Conntrack entries per family. */
  conntrack: ReadonlyArray<{ ipFamily: 'IPv4' | 'IPv6'; entries: number }>;
  /** Per device: 1 when XDP could not attach natively and tc alone serves it. */
  xdpFallback: ReadonlyArray<{ device: string; reason: string; fallback: boolean }>;
}

/** Reads the datapath counters; may be async. Throwing makes the scrape keep the previous values. */
export type DatapathCollector = () => DatapathSnapshot | Promise<DatapathSnapshot>;

export interface DatapathMetricsOptions {
  registry: Registry;
  clock: Clock;
  /** Consecutive metrics of one scrape share a snapshot no older than this. @default 1000 */
  maxAgeMs?: number;
  /** Told about collector failures, for the log. */
  onError?: (err: unknown) => void;
}

export interface DatapathMetrics {
  /** Plug (or replace, or remove with `null`) the function that reads the BPF counters. */
  setCollector(collector: DatapathCollector | null): void;
  /** Parts of API objects left out of the datapath, by `kind` (Service, EndpointSlice, ...) and enumerated `reason` (ProblemReason); incremented by the caller. */
  badObjectsTotal: Counter<'kind' | 'reason'>;
  /** Datapath sync failures by `ip_family` and `op` (map update, attach...); incremented by the caller. */
  syncErrorsTotal: Counter<'ip_family' | 'op'>;
  /** healthCheckNodePort listeners that could not be opened (port in use...); incremented by the caller. */
  healthCheckBindErrorsTotal: Counter<string>;
  /**
   * Attachments and pins the agent found missing and put back, by `hook` (cgroup, tc, xdp,
   * link_pin, map_pin); incremented by the caller after each self-repair pass.
   */
  datapathRepairsTotal: Counter<'hook'>;
  /** Services waiting for room in the LB maps (not programmed at all); set by the caller after each sync. */
  servicesNotProgrammed: Gauge<string>;
  /**
   * Connections ended because their backend stopped serving, by `kind`: `tcp_socket` and
   * `udp_socket` (destroyed by the socket terminator), `conntrack` (north-south UDP entries
   * deleted); incremented by the caller.
   */
  staleConnectionsEndedTotal: Counter<'kind'>;
}

/**
 * Register the datapath metrics on `registry`.
 *
 * @example
 * const dp = createDatapathMetrics({ registry: m.registry, clock: systemClock });
 * dp.setCollector(() => loader.readCounters());
 */
export function createDatapathMetrics(options: DatapathMetricsOptions): DatapathMetrics {
  const { registry, clock } = options;
  const maxAgeMs = options.maxAgeMs ?? 1000;
  const registers = [registry];
  let collector: DatapathCollector | null = null;
  let cached: { at: number; snapshot: Promise<DatapathSnapshot | null> } | null = null;

  // Each metric's collect() asks for the snapshot; one read serves the whole scrape.
  const snapshot = (): Promise<DatapathSnapshot | null> => {
    const now = clock.now();
    if (cached && now - cached.at < maxAgeMs) return cached.snapshot;
    const read = collector;
    const p = read === null
      ? Promise.resolve(null)
      : Promise.resolve().then(read).catch((err: unknown) => {
        readErrors.inc();
        options.onError?.(err);
        return null;
      });
    cached = { at: now, snapshot: p };
    return p;
  };

  const readErrors = new Counter({
    name: 'kubeproxy_bpf_stats_read_errors_total', help: 'Scrapes where reading the BPF counters failed; the previous values were kept', registers,
    // Registered first, so reading here makes the count include a failure of this very scrape.
    async collect() {
      await snapshot();
    },
  });
  new Counter({
    name: 'kubeproxy_bpf_packets_total', help: 'Packets seen by the BPF programs, by hook and verdict',
    labelNames: ['hook', 'verdict'] as const, registers,
    async collect() {
      const s = await snapshot();
      if (!s) return;
      this.reset();
      for (const v of s.verdicts) this.inc({ hook: v.hook, verdict: v.verdict }, v.packets);
    },
  });
  new Counter({
    name: 'kubeproxy_bpf_packet_reasons_total', help: 'Packets seen by the BPF programs, by hook and the reason for their verdict',
    labelNames: ['hook', 'reason'] as const, registers,
    async collect() {
      const s = await snapshot();
      if (!s) return;
      this.reset();
      for (const r of s.reasons) this.inc({ hook: r.hook, reason: r.reason }, r.packets);
    },
  });
  new Gauge({
    name: 'kubeproxy_bpf_map_entries', help: 'Entries in each BPF map',
    labelNames: ['map'] as const, registers,
    async collect() {
      const s = await snapshot();
      if (!s) return;
      this.reset();
      for (const m of s.maps) this.set({ map: m.map }, m.entries);
    },
  });
  new Gauge({
    name: 'kubeproxy_bpf_map_capacity', help: 'Capacity (max entries) of each BPF map',
    labelNames: ['map'] as const, registers,
    async collect() {
      const s = await snapshot();
      if (!s) return;
      this.reset();
      for (const m of s.maps) this.set({ map: m.map }, m.maxEntries);
    },
  });
  new Gauge({
    name: 'kubeproxy_bpf_map_pressure', help: 'Fill ratio (entries / max entries) of each BPF map',
    labelNames: ['map'] as const, registers,
    async collect() {
      const s = await snapshot();
      if (!s) return;
      this.reset();
      for (const m of s.maps) this.set({ map: m.map }, m.maxEntries > 0 ? m.entries / m.maxEntries : 0);
    },
  });
  new Gauge({
    name: 'kubeproxy_bpf_conntrack_entries', help: 'Entries in the BPF conntrack table',
    labelNames: ['ip_family'] as const, registers,
    async collect() {
      const s = await snapshot();
      if (!s) return;
      this.reset();
      for (const c of s.conntrack) this.set({ ip_family: c.ipFamily }, c.entries);
    },
  });
  new Gauge({
    name: 'kubeproxy_bpf_xdp_fallback', help: '1 when XDP is not attached on a device and tc alone handles its traffic',
    labelNames: ['device', 'reason'] as const, registers,
    async collect() {
      const s = await snapshot();
      if (!s) return;
      this.reset();
      for (const x of s.xdpFallback) this.set({ device: x.device, reason: x.reason }, x.fallback ? 1 : 0);
    },
  });

  return {
    setCollector(c) {
      collector = c;
      cached = null;
    },
    badObjectsTotal: new Counter({
      name: 'kubeproxy_bpf_bad_objects_total', help: 'API objects that could not be translated and were left out of the datapath, by kind and reason',
      labelNames: ['kind', 'reason'] as const, registers,
    }),
    syncErrorsTotal: new Counter({
      name: 'kubeproxy_bpf_sync_errors_total', help: 'Failed datapath operations during a sync, by IP family and operation',
      labelNames: ['ip_family', 'op'] as const, registers,
    }),
    healthCheckBindErrorsTotal: new Counter({
      name: 'kubeproxy_bpf_healthcheck_bind_errors_total', help: 'Service health check node ports that could not be opened', registers,
    }),
    datapathRepairsTotal: new Counter({
      name: 'kubeproxy_bpf_datapath_repairs_total', help: 'Datapath attachments and pins found missing (detached, deleted or replaced behind the agent) and put back, by hook',
      labelNames: ['hook'] as const, registers,
    }),
    servicesNotProgrammed: new Gauge({
      name: 'kubeproxy_bpf_services_not_programmed', help: 'Services not programmed at all because they do not fit in the BPF maps; they are programmed, oldest first, when entries free up', registers,
    }),
    staleConnectionsEndedTotal: new Counter({
      name: 'kubeproxy_bpf_stale_connections_ended_total', help: 'Connections to backends that stopped serving which were ended: sockets destroyed at the client, north-south UDP conntrack entries deleted',
      labelNames: ['kind'] as const, registers,
    }),
  };
}
