/**
 * @module
 * runProxy: the composition of the agent, in the shape of kube-proxy's cmd/kube-proxy/app/server.go.
 * In start-up order:
 *   1. metrics registry, proxy health, the :10256 health and :10249 metrics servers;
 *   2. informers for Services, EndpointSlices and the own Node -> change trackers;
 *   3. once both caches synced: the map sizes from node memory and the listed objects
 *      (map-sizes.ts; --bpf-map-* flags win), then the BPF datapath (bpffs, objects loaded into
 *      the pin folder, pinned maps of another size migrated, socket programs attached, ids seeded
 *      from what the pinned maps hold, so a restart keeps established flows), then the
 *      bounded-frequency runner (minSyncPeriod/syncPeriod of the mode's section) -> the sync
 *      coordinator (full, partial or verifying, decided once per sync);
 *   4. each sync: the changed Services compiled into the LB state and flushed (LbProgrammer),
 *      then metrics, health, the healthCheckNodePort servers; the datapath lifecycle attaches
 *      tc/XDP to the node's devices and, after the first programmed sync, removes a previous
 *      kube-proxy's rules (so service traffic never falls between the two datapaths);
 *   5. SIGTERM/SIGINT stop everything but keep pins and attachments: the datapath goes on
 *      forwarding with the last programmed state until the next agent adopts it.
 * runProxy resolves on a signal and rejects when it cannot run (datapath load failure, a bind
 * failure with bindAddressHardFail, the --config file changing).
 */
import { writeFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { mallocStats, mallocTrim, openPinnedMap, releaseFilePages } from 'bpf-loader-napi';
import { startMallocTrimmer } from './malloc-trimmer.ts';
import { compactHeap } from './compact-heap.ts';
import { handleStaleKubeProxyRules } from '../cleanup/handle-stale-kube-proxy-rules.ts';
import { commandExec } from '../cleanup/exec.ts';
import { defaultBpfOptions, type BpfMapSizes } from '../config/bpf-options.ts';
import { parseDuration } from '../config/duration.ts';
import { syncSettings } from '../config/sync-settings.ts';
import { bpfConntrackTimeouts, setConntrackSysctls } from '../sysctl/conntrack-sysctls.ts';
import { procSysctlIo } from '../sysctl/proc-sysctl-io.ts';
import { effectiveFeatureGates } from '../config/feature-gates.ts';
import { KUBE_PROXY_BPF_VERSION, KUBERNETES_VERSION } from '../config/version.ts';
import { watchConfigFile } from '../config/watch-config-file.ts';
import { bpfObjectPath } from '../dataplane/asset-paths.ts';
import { ServiceCidrState } from '../dataplane/service-cidr-state.ts';
import { SocketTerminator } from '../dataplane/socket-terminator.ts';
import { reapStaleConnections, type StaleConnectionHook } from '../dataplane/stale-connection-reaper.ts';
import { Datapath } from '../dataplane/datapath.ts';
import { DatapathLifecycle } from '../dataplane/datapath-lifecycle.ts';
import { LbIds } from '../dataplane/ids.ts';
import { LbProgrammer, type ProgramResult } from '../dataplane/lb-programmer.ts';
import { runSteps } from '../runner/run-steps.ts';
import { demandOf, sizeMaps } from '../dataplane/map-sizes.ts';
import { systemClock, systemTimers } from '../health/clock.ts';
import { startProxyServers } from '../health/proxy-servers.ts';
import { ProxyHealth } from '../health/proxy-health.ts';
import { ServiceHealthServers } from '../health/service-health-servers.ts';
import { createApiListWatches } from '../kube/api-list-watch.ts';
import { kubeProxyUserAgent, loadKubeConfig } from '../kube/kube-config.ts';
import type { NodeProjection, ServiceCIDRProjection } from '../kube/projections.ts';
import { eventRecorder, type EventTarget } from '../kube/record-event.ts';
import { startProxyInformers, type ProxyInformers } from '../kube/proxy-informers.ts';
import { Reflector } from '../kube/reflector.ts';
import { createDatapathMetrics } from '../metrics/datapath-metrics.ts';
import { createProxyMetrics } from '../metrics/proxy-metrics.ts';
import { RateLimitedLog } from '../log/rate-limited-log.ts';
import { restClientObserver } from '../metrics/rest-client-observer.ts';
import { EndpointsChangeTracker, type EndpointsMap } from '../model/endpoints-change-tracker.ts';
import type { IpFamily } from '../model/ip.ts';
import { primaryNodeIPs, resolveNodePortAddresses } from '../model/node-port-addresses.ts';
import { objectRef, type Problem } from '../model/problem.ts';
import { ServiceChangeTracker, type ServicePortMap } from '../model/service-change-tracker.ts';
import { BoundedFrequencyRunner } from '../runner/bounded-frequency-runner.ts';
import { SyncCoordinator, type SyncMode, type SyncOutcome } from '../runner/sync-coordinator.ts';
import { ProblemLog } from './problem-log.ts';
import type { ProxyOptions } from './proxy-options.ts';

const FAMILIES: IpFamily[] = ['IPv4', 'IPv6'];
/** The most a change waits for a verifying sync's comparison: a tenth of the change p99 target. */
const VERIFY_SLICE_MS = 4;
/** Modes of a stock configuration; all of them run the BPF datapath. */
const KNOWN_MODES = new Set(['', 'iptables', 'nftables', 'ipvs']);

/** The own Node's addresses (InternalIP first, then ExternalIP), for device detection. */
function nodeAddresses(node: NodeProjection | null): string[] {
  const addrs = node?.status?.addresses ?? [];
  return [...addrs.filter((a) => a.type === 'InternalIP'), ...addrs.filter((a) => a.type === 'ExternalIP')].map((a) => a.address);
}

/** The heap is compacted after the first sync once no sync ran for this long (compact-heap.ts)... */
const COMPACT_QUIET_MS = 500;
/** ...or this long after the first sync, quiet or not. */
const COMPACT_LATEST_MS = 30_000;

export async function runProxy(options: ProxyOptions): Promise<void> {
  const { config, bpf, nodeName, logger } = options;
  const settings = syncSettings(config);
  if (!KNOWN_MODES.has(config.mode)) logger.warning('Unknown proxy mode; running the BPF datapath', { mode: config.mode });
  logger.info('Running the BPF datapath in place of the configured proxy mode', { mode: config.mode === '' ? 'iptables (default)' : config.mode });

  // Like kube-proxy: keep the node's proxy alive under memory pressure; failure is not fatal.
  try {
    writeFileSync('/proc/self/oom_score_adj', String(config.oomScoreAdj));
  } catch (err) {
    logger.v(2).info('Failed to apply OOMScore', { err, value: config.oomScoreAdj });
  }


  const kc = loadKubeConfig({ kubeconfig: config.clientConnection.kubeconfig, master: options.master });
  // After the client, as upstream's platform setup: the node's netfilter conntrack settings
  // (failure is fatal). --init-only stops right after them.
  setConntrackSysctls(config.conntrack, procSysctlIo, (entry, value) => logger.info('Set sysctl', { entry, value }));
  if (options.initOnly) {
    logger.info('--init-only: the conntrack settings are applied; exiting');
    return;
  }
  const recordEvent = eventRecorder({
    kc, nodeName, userAgent: kubeProxyUserAgent(options.version ?? KUBERNETES_VERSION),
    onError: (err, reason, object) => logger.v(2).info('Cannot record an event', { err, reason, object }),
  });
  const nodeRef: EventTarget = { kind: 'Node', name: nodeName };

  // 1. Metrics, health and the two fixed servers.
  const version = options.version ?? KUBERNETES_VERSION;
  const gates = effectiveFeatureGates(config.featureGates);
  const m = createProxyMetrics({
    buildInfo: { gitVersion: version, gitTreeState: 'clean', goVersion: `node ${process.version}`, compiler: `kube-proxy-bpf v${KUBE_PROXY_BPF_VERSION}` },
    features: gates,
  });
  const gateOn = (name: string) => gates.some((g) => g.name === name && g.enabled);
  const dpm = createDatapathMetrics({ registry: m.registry, clock: systemClock, onError: (err) => logger.v(2).info('Cannot read the BPF counters', { err }) });
  const health = new ProxyHealth({ clock: systemClock, healthTimeoutMs: 2 * settings.syncPeriodMs, families: FAMILIES });
  const servers = startProxyServers({
    healthzBindAddress: config.healthzBindAddress,
    metricsBindAddress: config.metricsBindAddress,
    health,
    registry: m.registry,
    metrics: m,
    // Tools and e2e read the mode back; report the one configured (its settings are honoured).
    proxyMode: () => (config.mode === '' ? 'iptables' : config.mode),
    configz: () => config,
    ...(gateOn('ComponentFlagz') && options.flags ? { flagz: () => options.flags! } : {}),
    ...(gateOn('ComponentStatusz') ? { statusz: { startTime: new Date(), version, runtime: `node ${process.version}` } } : {}),
    hardFail: config.bindAddressHardFail,
    timers: systemTimers,
    onBindError: (server, err) => {
      logger.error('Cannot start server; retrying', { err, server });
      recordEvent(nodeRef, 'Warning', server === 'healthz' ? 'FailedToStartProxierHealthcheck' : 'FailedToStartMetricServer', err.message);
    },
    onError: (err) => logger.error('Server error', { err }),
  });

  const cleanups: (() => Promise<void> | void)[] = [() => servers.close()];
  let stopping = false;
  const stopAll = async () => {
    stopping = true;
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (err) {
        logger.error('Error while stopping', { err });
      }
    }
  };

  // Service CIDRs (the servicecidrs informer fills this before the datapath exists).
  const serviceCidrs = new ServiceCidrState();
  const maglev = bpf.algorithm === 'maglev';
  // DSR encapsulates to the backend's node, so it needs every node's address (a watch of all Nodes,
  // which system:node-proxier allows). Hybrid: DSR for TCP, SNAT for UDP (whose replies have no
  // connection state for the backend's node to rely on).
  const dsr = bpf.lbMode === 'dsr' || bpf.lbMode === 'hybrid';
  /** Other nodes' addresses by name and family (DSR only). */
  const nodeIPs = new Map<string, Partial<Record<IpFamily, string>>>();

  // 3. Model, trackers, the LB state, runner.
  // The first list and full sync free most of what they allocated in C; malloc keeps it resident
  // unless trimmed (malloc-trimmer.ts).
  const trimmer = startMallocTrimmer({ freeBytes: () => mallocStats().freeBytes, trim: mallocTrim });
  cleanups.push(() => trimmer.stop());
  const problems = new ProblemLog({ logger, now: () => Date.now(), count: (kind, reason) => dpm.badObjectsTotal.inc({ kind, reason }) });
  const svcTracker = new ServiceChangeTracker();
  const epTracker = new EndpointsChangeTracker(nodeName);
  const serviceMap: ServicePortMap = new Map();
  const endpointsMap: EndpointsMap = new Map();
  // The datapath and what works on it exist once the caches synced (step 3 below).
  let dp!: Datapath;
  let programmer!: LbProgrammer;
  let lifecycle!: DatapathLifecycle;
  let reapStale!: StaleConnectionHook;
  let datapathReady = false;
  // Map write failures: at most one line per map, operation and error a minute.
  const failureLog = new RateLimitedLog({ now: () => Date.now() });
  let npaProblems = '';
  /** Last-change-trigger-times of changes not yet programmed by a successful sync, by Service. */
  const triggerTimes = new Map<string, Date[]>();
  let node: NodeProjection | null = null;
  let nodeSynced = false;
  /** The first sync succeeded (the start-up's file pages were released). */
  let startedUp = false;
  /** When the last sync ended (performance.now()). */
  let lastSyncEndedAt = 0;
  // healthCheckNodePort servers listen where NodePorts answer: every address when
  // nodePortAddresses is unset, else the node IPs it selects (known at the first sync, and kept:
  // a node's addresses rarely change, and kube-proxy also binds them once).
  let healthServers: ServiceHealthServers | null = null;
  let lastSnatSweepAt = performance.now();
  const makeHealthServers = (addresses: string[]) => new ServiceHealthServers({
    addresses,
    proxyHealthy: () => health.health().healthy,
    onBindError: (svc, port, err) => {
      logger.error('Cannot open the healthCheckNodePort server', { err, service: `${svc.namespace}/${svc.name}`, port });
      dpm.healthCheckBindErrorsTotal.inc();
      recordEvent({ kind: 'Service', name: svc.name, namespace: svc.namespace }, 'Warning', 'FailedToStartServiceHealthcheck', `node ${nodeName} failed to start healthcheck on port ${port}: ${err.message}`);
    },
  });
  cleanups.push(() => healthServers?.close());

  const sync = async (mode: SyncMode): Promise<SyncOutcome> => {
    const start = performance.now();
    // Per-step durations, logged at -v=4 ('Sync steps'): which step a change waited behind.
    const steps: Record<string, number> = {};
    let lapAt = start;
    const lap = (step: string) => {
      const t = performance.now();
      steps[step] = Math.round((t - lapAt) * 10) / 10;
      lapAt = t;
    };
    const { updatedServices } = svcTracker.apply(serviceMap);
    const ep = epTracker.apply(endpointsMap);
    // A failed sync keeps what it could not write and the next one writes it: the latency of those
    // changes is measured to that sync, so their trigger times wait too (a few per Service).
    for (const [service, times] of ep.lastChangeTriggerTimes) triggerTimes.set(service, [...(triggerTimes.get(service) ?? []), ...times].slice(-8));
    m.serviceChangesPending.set(svcTracker.pendingCount);
    m.endpointChangesPending.set(epTracker.pendingCount);

    lap('trackers');
    const host = lifecycle.beforeSync(node !== null || nodeSynced ? nodeAddresses(node) : null);
    lap('beforeSync');
    let ok = host.ok;
    const devices = host.devices;
    // --bpf-socket-lb=host-namespace-only: the pod-side programs on every pod interface (pod-attachments.ts).
    ok = dp.syncPods(devices, node !== null || nodeSynced ? nodeAddresses(node) : null, node?.spec?.podCIDRs ?? null) && ok;

    const local = devices.flatMap((d) => d.addresses);
    const npa = resolveNodePortAddresses({
      nodePortAddresses: config.nodePortAddresses ?? [],
      localAddresses: local,
      primaryIPs: primaryNodeIPs(node),
      localhostNodePorts: config.iptables.localhostNodePorts,
      families: FAMILIES,
    });
    // Config problems, reported when they change (they are the same at every sync).
    const npaText = npa.problems.map((p) => p.message).join('|');
    if (npaText !== npaProblems) for (const p of npa.problems) problems.report(p);
    npaProblems = npaText;
    // A change of the node, its addresses or the options recompiles everything (and only that).
    const nodeChanged = programmer.configure(
      { name: nodeName, labels: node?.metadata?.labels ?? {}, nodeIPs: nodeAddresses(node), nodePortAddresses: npa.addresses, localhostNodePorts: npa.localhostNodePorts, localhostNodePortsV6: npa.localhostNodePortsV6 },
      { families: FAMILIES, maglev, dsr, dsrTcpOnly: bpf.lbMode === 'hybrid' },
    );
    lap('nodePortAddresses');
    const changed = new Set([...updatedServices, ...ep.updatedServices]);
    const r = programmer.program(serviceMap, endpointsMap, changed, mode === 'full' || nodeChanged ? 'full' : 'partial');
    lap('program');
    // Service CIDRs: an address inside one that no Service owns is refused (nftables mode's drop).
    try {
      const c = serviceCidrs.apply(dp.sockMap('lb_service_cidrs'), mode !== 'partial');
      if (c) {
        if (c.added.length + c.removed.length > 0) logger.v(2).info('Programmed the service CIDRs', { cidrs: c.cidrs, added: c.added.join(','), removed: c.removed.join(',') });
      }
    } catch (err) {
      ok = false;
      logger.error('Cannot program the service CIDRs', { err, map: 'lb_service_cidrs' });
      dpm.syncErrorsTotal.inc({ ip_family: '', op: 'update lb_service_cidrs' });
    }
    lap('serviceCidrs');
    const report = (pr: ProgramResult) => {
      for (const f of pr.failures) {
        dpm.syncErrorsTotal.inc({ ip_family: '', op: `${f.kind} ${f.map}` }, f.count);
        failureLog.log(`${f.kind} ${f.map} ${f.code ?? f.errno ?? ''}`, (held) => logger.error('Cannot program map entries; retrying at the next sync', {
          map: f.map, op: f.kind, entries: f.count, services: f.services.slice(0, 5).join(','),
          ...(f.services.length > 5 ? { moreServices: f.services.length - 5 } : {}), reason: f.message, ...(held > 0 ? { suppressedLines: held } : {}),
        }));
      }
      if (pr.repaired > 0 && mode === 'verify') {
        failureLog.log('repaired', (held) => logger.warning('The LB maps differed from the programmed state; repaired', { entries: pr.repaired, ...(held > 0 ? { suppressedLines: held } : {}) }));
      }
    };
    report(r);
    if (r.ops > 0) logger.v(2).info('Synced the service maps', { mode, ops: r.ops, failed: r.failures.length, notProgrammed: r.notProgrammed });
    ok &&= r.ok;
    dpm.servicesNotProgrammed.set(r.notProgrammed);
    // The datapath caches the existence of backends per flow, valid while this generation stays
    // (datapath/include/conntrack.h): every sync bumps it, so each flow re-checks its backend once,
    // on its next packet. Next hops are invalidated on route and neighbour events instead
    // (datapath-lifecycle.ts).
    try {
      dp.bumpBackendGeneration();
      // SNAT reservations of ended flows (nothing evicts them): one part of the table a sync period.
      if (performance.now() - lastSnatSweepAt >= settings.syncPeriodMs) {
        lastSnatSweepAt = performance.now();
        const swept = dp.sweepSnat();
        if (swept > 0) logger.v(2).info('Swept SNAT reservations of ended flows', { deleted: swept });
      }
    } catch (err) {
      logger.error('Cannot update the datapath\'s generations or sweep SNAT reservations', { err });
      dpm.syncErrorsTotal.inc({ ip_family: '', op: 'datapath generations' });
    }

    lap('generations');
    // Service ports whose Local policy finds no local endpoint (so this node drops their traffic).
    for (const f of FAMILIES) {
      for (const policy of ['internal', 'external']) {
        m.syncProxyRulesNoLocalEndpointsTotal.set({ ip_family: f, traffic_policy: policy }, programmer.noLocalEndpoints.get(`${f}/${policy}`) ?? 0);
      }
    }

    // Health-check servers: one per eTP=Local LoadBalancer service, with its local ready endpoints.
    const hcPorts = new Map<string, number>();
    const hcCounts = new Map<string, number>();
    for (const [service, h] of programmer.healthChecks) {
      hcPorts.set(service, h.healthCheckNodePort);
      hcCounts.set(service, h.localReadyEndpoints);
    }
    healthServers ??= makeHealthServers((config.nodePortAddresses ?? []).length > 0 ? npa.addresses : []);
    await healthServers.syncServices(hcPorts);
    healthServers.syncEndpoints(hcCounts);

    lap('healthChecks');
    lastSyncEndedAt = performance.now();
    const seconds = (lastSyncEndedAt - start) / 1000;
    const now = Date.now();
    for (const f of FAMILIES) {
      m.syncProxyRulesDuration.observe({ ip_family: f }, seconds);
      (mode === 'full' ? m.syncFullProxyRulesDuration : m.syncPartialProxyRulesDuration).observe({ ip_family: f }, seconds);
    }
    if (ok) {
      for (const f of FAMILIES) {
        m.syncProxyRulesLastTimestamp.set({ ip_family: f }, now / 1000);
        health.updated(f);
      }
      for (const [service, times] of triggerTimes) {
        const fams = new Set((serviceMap.get(service) ?? []).map((sp) => sp.family));
        for (const t of times) for (const f of fams) m.networkProgrammingDuration.observe({ ip_family: f }, Math.max(0, (now - t.getTime()) / 1000));
      }
      triggerTimes.clear();
      if (!startedUp) {
        startedUp = true;
        // The list and the full sync were a burst: compact what the heap grew for it (V8 would
        // wait for a quiet period the agent seldom has), then unmap start-up's file pages. In the
        // first quiet moment (no sync for COMPACT_QUIET_MS, no change pending; at the latest after
        // COMPACT_LATEST_MS), so that what the first sync unblocks (health, /metrics, queued
        // changes) goes first: the collection holds the event loop for 0.1-0.5 s at 10k Services.
        const firstSyncAt = lastSyncEndedAt;
        const compactWhenQuiet = () => {
          if (stopping) return;
          const now = performance.now();
          const busy = now - lastSyncEndedAt < COMPACT_QUIET_MS || svcTracker.pendingCount + epTracker.pendingCount > 0;
          if (busy && now - firstSyncAt < COMPACT_LATEST_MS) {
            setTimeout(compactWhenQuiet, COMPACT_QUIET_MS / 5).unref();
            return;
          }
          const c = compactHeap();
          if (c) logger.info('Compacted the heap after the first sync', { heapTotalMiB: `${c.heapTotalBefore >> 20} -> ${c.heapTotalAfter >> 20}`, heapUsedMiB: c.heapUsedAfter >> 20, ms: Math.round(c.ms) });
          releaseStartupPages('first sync');
        };
        setTimeout(compactWhenQuiet, COMPACT_QUIET_MS).unref();
      }
    }
    // Verifying (every sync period): the maps are compared with the state once the changes are
    // programmed and recorded, so their latency leaves it out (O(cluster): about a second at 10k
    // Services x 10 endpoints on a busy node). It runs in slices that give way to watch events;
    // changes arriving meanwhile pause it, and the next sync programs them and resumes it where it
    // was (lb-programmer.ts verifySteps()), unless verifying is overdue (run-steps.ts,
    // sync-coordinator.ts). A full sync compared all.
    lap('record');
    let verified = true;
    if (mode === 'verify' && !nodeChanged && r.ok) {
      const overdue = coordinator.verifyOverdue;
      const v = await runSteps(programmer.verifySteps(), {
        sliceMs: VERIFY_SLICE_MS, now: () => performance.now(),
        stop: () => !overdue && svcTracker.pendingCount + epTracker.pendingCount > 0,
      });
      if (v.done) {
        report(v.value);
        ok &&= v.value.ok;
      } else {
        verified = false;
        logger.v(2).info('The comparison of the maps gave way to changes; the next sync resumes it', { turns: v.turns });
      }
    }
    // Connections to backends that stopped serving are ended once the maps are written and the
    // sync is recorded: a reconnect is already balanced over the remaining backends, and the
    // recorded programming latency is the maps'. Here the pairs are only found: ending them walks
    // socket tables and conntrack (tens of ms to seconds) in the background, in steps of a few ms
    // (stale-connection-reaper.ts), so the next sync never waits for more than a step.
    lap('verify');
    reapStale.afterSync(changed, serviceMap, endpointsMap);
    lap('reapStale');
    logger.v(updatedServices.size + ep.updatedServices.size > 0 ? 2 : 4).info('Sync done', { mode, ok, ms: Math.round(seconds * 1000) });

    await lifecycle.afterSync(ok);
    lap('afterSync');
    logger.v(4).info('Sync steps', { mode, ...steps });
    return { ok, verified };
  };

  const coordinator = new SyncCoordinator({ sync, now: () => Date.now(), verifyPeriodMs: settings.syncPeriodMs });
  const runner = new BoundedFrequencyRunner({
    name: 'sync-runner',
    fn: async () => {
      await coordinator.syncOnce();
    },
    minIntervalMs: settings.minSyncPeriodMs,
    maxIntervalMs: settings.syncPeriodMs,
    onError: (err) => logger.error('Sync failed; retrying', { err }),
  });
  const queued = () => {
    for (const f of FAMILIES) {
      health.queuedUpdate(f);
      m.syncProxyRulesLastQueuedTimestamp.set({ ip_family: f }, Date.now() / 1000);
    }
    // Before both caches synced (and the datapath is loaded) a run would only be skipped, yet
    // spend one of the runner's burst tokens, delaying the first real sync by minSyncPeriod.
    if (datapathReady && coordinator.initialized) runner.run();
  };
  let cachesSynced: () => void = () => {};
  const synced = new Promise<void>((resolve) => (cachesSynced = resolve));

  const transport = createApiListWatches(kc, {
    userAgent: kubeProxyUserAgent(KUBERNETES_VERSION),
    qps: config.clientConnection.qps,
    burst: config.clientConnection.burst,
    contentType: config.clientConnection.contentType,
    acceptContentTypes: config.clientConnection.acceptContentTypes,
    onRequest: restClientObserver(m),
    // Protobuf unless the server (or a proxy in between) answers JSON, which is then decoded.
    onEncoding: (path, encoding) => logger.v(2).info('API responses decoded', { resource: path, encoding, requested: config.clientConnection.contentType }),
  });
  const informers: ProxyInformers = startProxyInformers({
    nodeName,
    transport,
    resyncPeriodMs: parseDuration(config.configSyncPeriod),
    clock: systemClock,
    timers: systemTimers,
    onError: (err) => logger.v(err.phase === 'handler' ? 0 : 2).info('Informer error; retrying', { err, resource: err.resource, phase: err.phase }),
    handler: {
      onService(prev, cur) {
        const r = svcTracker.update(prev, cur);
        problems.object(r.problems, cur?.metadata?.resourceVersion);
        if (!cur && prev) problems.deleted(`Service ${prev.metadata?.namespace ?? ''}/${prev.metadata?.name ?? ''}`);
        m.serviceChangesTotal.inc();
        m.serviceChangesPending.set(svcTracker.pendingCount);
        if (r.pending) queued();
      },
      onEndpointSlice(prev, cur) {
        const r = epTracker.update(prev, cur);
        problems.object(r.problems, cur?.metadata?.resourceVersion);
        if (!cur && prev) problems.deleted(`EndpointSlice ${prev.metadata?.namespace ?? ''}/${prev.metadata?.name ?? ''}`);
        m.endpointChangesTotal.inc();
        m.endpointChangesPending.set(epTracker.pendingCount);
        if (r.pending) queued();
      },
      onNode(prev, cur) {
        node = cur;
        health.syncNode(cur);
        // A change of labels (topology) or addresses makes the next sync full: programmer.configure sees it.
        queued();
      },
      onSynced(kind) {
        logger.info('Caches synced', { kind });
        if (kind === 'services') coordinator.setServicesSynced();
        else if (kind === 'endpointslices') coordinator.setEndpointSlicesSynced();
        else nodeSynced = true;
        if (coordinator.initialized) cachesSynced();
        queued();
      },
    },
  });
  cleanups.push(() => informers.stop());
  // ServiceCIDRs, watched as upstream does while MultiCIDRServiceAllocator (GA, on by default) is on.
  if (config.featureGates.MultiCIDRServiceAllocator !== false) {
    const cidrInformer = new Reflector<ServiceCIDRProjection>({
      resource: 'servicecidrs', listWatch: transport.serviceCIDRs, resyncPeriodMs: 0, clock: systemClock, timers: systemTimers,
      onError: (err) => logger.v(2).info('Informer error; retrying', { err, resource: err.resource, phase: err.phase }),
      handler: {
        onUpdate: (prev, cur) => {
          problems.object(serviceCidrs.update(prev, cur), cur?.metadata?.resourceVersion);
          if (cur === null && prev) problems.deleted(objectRef('ServiceCIDR', prev.metadata));
          queued();
        },
        onSynced: () => queued(),
      },
    });
    cidrInformer.start();
    cleanups.push(() => cidrInformer.stop());
  }
  if (dsr) {
    const allNodes = new Reflector<NodeProjection>({
      resource: 'nodes (all, for DSR)', listWatch: transport.nodes, resyncPeriodMs: 0, clock: systemClock, timers: systemTimers,
      onError: (err) => logger.v(2).info('Informer error; retrying', { err, resource: err.resource, phase: err.phase }),
      handler: {
        onUpdate: (prev, cur) => {
          const name = (cur ?? prev)?.metadata?.name ?? '';
          const before = JSON.stringify(nodeIPs.get(name));
          if (cur === null) nodeIPs.delete(name);
          else nodeIPs.set(name, primaryNodeIPs(cur));
          // lb_backend.node_addr of the backends running on that node (status updates that keep
          // the addresses cost nothing).
          if (JSON.stringify(nodeIPs.get(name)) !== before && datapathReady) programmer.refreshNode(name);
          queued();
        },
        onSynced: () => queued(),
      },
    });
    allNodes.start();
    cleanups.push(() => allNodes.stop());
  }
  // Upstream marks every family updated when its sync loop starts, in case no sync ever succeeds.
  for (const f of FAMILIES) health.updated(f);
  // Once the servers listen and the informers list, and again after the first sync: the
  // executable's pages that only start-up touched (the V8 snapshot, the single binary's code cache
  // and bundle, code run once) are unmapped; what is still used is mapped again from the page cache
  // on its next touch (bpf-loader-napi releaseFilePages).
  const releaseStartupPages = (after: string) => {
    const released = releaseFilePages();
    logger.info('Released the file pages start-up used', { after, mappings: released.mappings, mib: Math.round(released.bytes / 2 ** 20) });
  };
  releaseStartupPages('start');

  // 3. The datapath, sized from node memory and the listed objects, then the sync loop.
  const start = async (): Promise<void> => {
    await synced;
    if (stopping) return;
    const pinned: Partial<BpfMapSizes> = {};
    for (const [map, field] of [['lb_services', 'services'], ['lb_backends', 'backends'], ['lb_slots', 'slots'], ['kpb_ct4', 'conntrack'], ['kpb_snat4', 'snat'], ['lb_affinity', 'affinity'], ['lb_sock_rev_nat', 'sockRevNat']] as const) {
      try {
        const pin = openPinnedMap(`${bpf.pinPath}/${map}`);
        pinned[field] = pin.maxEntries;
        pin.close();
      } catch {
        // Not pinned (first start) or unreadable: sized afresh.
      }
    }
    const demand = demandOf(informers.services.items(), epTracker.endpointCounts());
    const sizing = sizeMaps({ flags: bpf.mapSizes, explicit: new Set(bpf.mapSizesSet ?? []), defaults: defaultBpfOptions().mapSizes, totalMemory: totalmem(), demand, pinned });
    logger.info('Sized the BPF maps', { ...sizing.sizes, listedEntries: JSON.stringify(demand), why: JSON.stringify(sizing.why) });
    dp = await Datapath.open({
      bpf: { ...bpf, mapSizes: sizing.sizes }, logger, objects: { sock: bpfObjectPath('sock'), tc: bpfObjectPath('tc'), xdp: bpfObjectPath('xdp'), sockTerm: bpfObjectPath('sock_term'), pod: bpfObjectPath('pod'), mapCount: bpfObjectPath('map_count') },
      detectLocal: { detectLocalMode: config.detectLocalMode, detectLocal: config.detectLocal, clusterCIDR: config.clusterCIDR },
      // One setting governs both: the BPF conntrack lifetimes follow --conntrack-*.
      rodata: bpfConntrackTimeouts(config.conntrack),
    });
    if (stopping) {
      dp.close();
      return;
    }
    cleanups.push(() => dp.close());
    recordEvent(nodeRef, 'Normal', 'Starting', 'Starting kube-proxy.');
    dpm.setCollector(() => dp.readCounters());
    // Sockets and UDP conntrack entries of backends that stop serving are ended after each sync,
    // in the background; a run under way is dropped before the datapath closes.
    reapStale = reapStaleConnections({
      datapath: dp, logger, ended: dpm.staleConnectionsEndedTotal,
      makeTerminator: (collection) => new SocketTerminator({ collection }),
    });
    cleanups.push(() => reapStale.stop());
    const ids = new LbIds({ now: () => Date.now() });
    const rejected = dp.seedIds(ids);
    logger.info('Adopted ids from the pinned maps', {
      services: ids.services.size, backends: ids.backends.size, rejected: rejected.services.length + rejected.backends.length,
    });
    programmer = new LbProgrammer({
      io: dp.maps, codec: dp.codec, ids, capacity: dp.capacity(), maglevTableSize: bpf.maglevTableSize,
      ...(dsr ? { nodeAddress: (name: string, family: IpFamily) => nodeIPs.get(name)?.[family] } : {}),
      onProblem: (p) => problems.report(p),
      onNotProgrammed: (service, why) => problems.report({
        object: `Service ${service}`, field: 'spec', reason: 'not_programmed',
        message: `does not fit in ${why.map} (it needs ${why.need} more entries, ${why.free} are free); not programmed until entries free up`,
      }),
    });
    // Devices, attach, self-repair and the stale-rule step around each sync (datapath-lifecycle.ts).
    lifecycle = new DatapathLifecycle({
      dp, logger, syncPeriodMs: settings.syncPeriodMs, now: () => performance.now(),
      metrics: { repairs: dpm.datapathRepairsTotal, syncErrors: dpm.syncErrorsTotal },
      onDevicesChanged: () => {
        if (coordinator.initialized) runner.run();
      },
      onRoutesChanged: () => void dp.bumpNextHopGeneration(),
      handleStaleRules: async () => void await handleStaleKubeProxyRules({ exec: commandExec(), logger, remove: bpf.removeStaleKubeProxyRules }),
    });
    cleanups.push(() => lifecycle.stop());
    datapathReady = true;
    runner.start();
    cleanups.push(() => runner.stop());
    lifecycle.start();
    runner.run();
  };

  // 5. Run until a signal, a config file change or a fatal server error.
  await new Promise<void>((resolve, reject) => {
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      stopWatch();
      stopAll().then(() => (err ? reject(err) : resolve()), reject);
    };
    const onSignal = (sig: NodeJS.Signals) => {
      logger.info('Received a signal; stopping and keeping the datapath programmed', { signal: sig });
      finish();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    const stopWatch = options.configFile
      ? watchConfigFile(options.configFile, (event) => finish(new Error(`the configuration file ${options.configFile} changed (${event}); exiting so the new one is used`)), (err) => logger.error('Cannot watch the configuration file', { err }))
      : () => {};
    servers.listening.catch((err: unknown) => finish(err instanceof Error ? err : new Error(String(err))));
    start().catch((err: unknown) => finish(err instanceof Error ? err : new Error(String(err))));
  });
}
