/**
 * @module
 * The request handler of the :10256 health server (spec §3.1): `/healthz` and `/livez` only.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Counter } from 'prom-client';
import type { ProxyHealth } from './proxy-health.ts';
import { sendNotFound } from './responses.ts';

export interface ProxyHealthHandlerOptions {
  health: ProxyHealth;
  /** kubeproxy_proxy_healthz_total / kubeproxy_proxy_livez_total; omitted in tests that do not count. */
  metrics?: { proxyHealthzTotal: Counter<'code'>; proxyLivezTotal: Counter<'code'> };
}

/**
 * Build the handler. `/healthz` is 200 only when healthy and the node is eligible; `/livez`
 * ignores eligibility, so a draining node is not restarted by its liveness probe.
 */
export function createProxyHealthHandler(options: ProxyHealthHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { health, metrics } = options;
  return (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path !== '/healthz' && path !== '/livez') {
      sendNotFound(res);
      return;
    }
    const h = health.health();
    const body: Record<string, unknown> = {
      lastUpdated: formatTime(h.lastUpdated),
      currentTime: formatTime(h.currentTime),
    };
    let ok = h.healthy;
    if (path === '/healthz') {
      const eligible = health.nodeEligible();
      body.nodeEligible = eligible;
      ok &&= eligible;
    }
    body.healthy = h.healthy;
    const status: Record<string, { lastUpdated: string; healthy: boolean }> = {};
    for (const [family, f] of Object.entries(h.status)) status[family] = { lastUpdated: formatTime(f.lastUpdated), healthy: f.healthy };
    body.status = status;
    const code = ok ? 200 : 503;
    (path === '/healthz' ? metrics?.proxyHealthzTotal : metrics?.proxyLivezTotal)?.inc({ code: String(code) });
    res.writeHead(code, { 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff' });
    res.end(JSON.stringify(body));
  };
}

/** RFC 3339 like Go's JSON time; a missing time is Go's zero time, as upstream prints it. */
function formatTime(ms: number | null): string {
  return ms === null ? '0001-01-01T00:00:00Z' : new Date(ms).toISOString();
}
