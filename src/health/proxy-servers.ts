/**
 * @module
 * Starts the two fixed servers of kube-proxy from the configuration strings: the health server
 * (`healthzBindAddress`, default `0.0.0.0:10256`) and the metrics server (`metricsBindAddress`,
 * default `127.0.0.1:10249`). An empty address disables that server.
 */
import type { Registry } from 'prom-client';
import { parseBindAddress } from './bind-address.ts';
import type { Timers } from './clock.ts';
import { startHttpListener, type HttpListener } from './http-listener.ts';
import { createMetricsHandler, type MetricsHandlerOptions } from './metrics-handler.ts';
import { createProxyHealthHandler, type ProxyHealthHandlerOptions } from './proxy-health-handler.ts';
import type { ProxyHealth } from './proxy-health.ts';

export interface ProxyServersOptions {
  /** `healthzBindAddress`; empty disables the health server. */
  healthzBindAddress: string;
  /** `metricsBindAddress`; empty disables the metrics server. */
  metricsBindAddress: string;
  health: ProxyHealth;
  registry: Registry;
  /** Counters for /healthz and /livez responses (createProxyMetrics gives them). */
  metrics?: ProxyHealthHandlerOptions['metrics'];
  proxyMode: () => string;
  configz: () => unknown;
  /** /flagz and /statusz of the metrics server (see createMetricsHandler). */
  flagz?: MetricsHandlerOptions['flagz'];
  statusz?: MetricsHandlerOptions['statusz'];
  /** `bindAddressHardFail`: a bind failure rejects `listening` instead of retrying every 5s. */
  hardFail: boolean;
  timers: Timers;
  /** Bind failures (for the log and the FailedToStartProxierHealthcheck / FailedToStartMetricServer events). */
  onBindError?: (server: 'healthz' | 'metrics', err: Error) => void;
  onError?: (err: unknown) => void;
}

export interface ProxyServers {
  health: HttpListener | null;
  metrics: HttpListener | null;
  /** Resolves when every enabled server is bound; rejects on the first failure with hardFail. */
  listening: Promise<void>;
  close(): Promise<void>;
}

/**
 * Start the health and metrics servers.
 *
 * @throws {SyntaxError | RangeError} when a bind address cannot be parsed (validation should have caught it)
 */
export function startProxyServers(o: ProxyServersOptions): ProxyServers {
  const healthAddr = parseBindAddress(o.healthzBindAddress, 10256, 'healthzBindAddress');
  const metricsAddr = parseBindAddress(o.metricsBindAddress, 10249, 'metricsBindAddress');
  const health = healthAddr === null ? null : startHttpListener({
    name: 'healthz server', address: healthAddr, timers: o.timers, hardFail: o.hardFail,
    handler: createProxyHealthHandler({ health: o.health, metrics: o.metrics }),
    onBindError: (e) => o.onBindError?.('healthz', e),
  });
  const metrics = metricsAddr === null ? null : startHttpListener({
    name: 'metrics server', address: metricsAddr, timers: o.timers, hardFail: o.hardFail,
    handler: createMetricsHandler({ registry: o.registry, proxyMode: o.proxyMode, configz: o.configz, onError: o.onError, ...(o.flagz ? { flagz: o.flagz } : {}), ...(o.statusz ? { statusz: o.statusz } : {}) }),
    onBindError: (e) => o.onBindError?.('metrics', e),
  });
  const listening = Promise.all([health?.listening, metrics?.listening]).then(() => undefined);
  listening.catch(() => {});
  return {
    health,
    metrics,
    listening,
    close: async () => {
      await Promise.all([health?.close(), metrics?.close()]);
    },
  };
}
