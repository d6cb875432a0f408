/**
 * @module
 * The request handler of the :10249 metrics/debug server (spec §3.2): `/metrics`,
 * `/metrics/slis`, `/healthz` (+`/healthz/ping`), `/proxyMode` and `/configz`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import { sendNotFound, sendText } from './responses.ts';

export interface MetricsHandlerOptions {
  /** The registry holding every metric (see createProxyMetrics). */
  registry: Registry;
  /** The mode string we report, e.g. `iptables` so tooling that checks the mode keeps working. */
  proxyMode: () => string;
  /** The effective configuration, served under the `kubeproxy.config.k8s.io` key. */
  configz: () => unknown;
  /** Told when producing the metrics text fails. */
  onError?: (err: unknown) => void;
}

/** Build the handler. `/healthz` here only says the process answers; proxier health is on :10256. */
export function createMetricsHandler(options: MetricsHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { registry } = options;
  // component-base's SLI metrics for the ping check, on their own registry as upstream keeps them.
  const slis = new Registry();
  const check = new Gauge({
    name: 'kubernetes_healthcheck', help: '[STABLE] This metric records the result of a single healthcheck.',
    labelNames: ['name', 'type'] as const, registers: [slis],
  });
  const checks = new Counter({
    name: 'kubernetes_healthchecks_total', help: '[STABLE] This metric records the results of all healthcheck.',
    labelNames: ['name', 'status', 'type'] as const, registers: [slis],
  });
  check.set({ name: 'ping', type: 'healthz' }, 1);

  const exposition = (reg: Registry, res: ServerResponse): void => {
    reg.metrics().then(
      (text) => {
        res.writeHead(200, { 'Content-Type': reg.contentType });
        res.end(text);
      },
      (err: unknown) => {
        options.onError?.(err);
        sendText(res, 500, `Cannot gather metrics: ${err instanceof Error ? err.message : String(err)}\n`);
      },
    );
  };

  return (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    switch (path) {
      case '/metrics':
        exposition(registry, res);
        return;
      case '/metrics/slis':
        exposition(slis, res);
        return;
      case '/healthz':
      case '/healthz/ping':
        checks.inc({ name: 'ping', status: 'success', type: 'healthz' });
        sendText(res, 200, 'ok');
        return;
      case '/proxyMode':
        sendText(res, 200, options.proxyMode());
        return;
      case '/configz': {
        let body: string;
        try {
          body = JSON.stringify({ 'kubeproxy.config.k8s.io': options.configz() });
        } catch (err) {
          options.onError?.(err);
          sendText(res, 500, `Cannot encode the configuration: ${err instanceof Error ? err.message : String(err)}\n`);
          return;
        }
        res.writeHead(200, { 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff' });
        res.end(body);
        return;
      }
      default:
        sendNotFound(res);
    }
  };
}
