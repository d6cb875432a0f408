/**
 * @module
 * The request handler of the :10249 metrics/debug server (spec §3.2): `/metrics`,
 * `/metrics/slis`, `/healthz` (+`/healthz/ping`, `?verbose`), `/proxyMode`, `/configz`, and the
 * z-pages `/flagz` and `/statusz` (on by default in v1.37: ComponentFlagz and ComponentStatusz
 * are beta), in upstream's text form.
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
  /** Every flag and its value for /flagz; absent (or the ComponentFlagz gate off): 404. */
  flagz?: () => readonly (readonly [string, string])[];
  /** What /statusz shows; absent (or the ComponentStatusz gate off): 404. */
  statusz?: { startTime: Date; version: string; runtime: string };
}

const ZPAGE_WARNING = 'Warning: This endpoint is not meant to be machine parseable, has no formatting compatibility guarantees and is for debugging purposes only.';
/** The paths /statusz lists, as upstream's mux lists them. */
const LISTED_PATHS = ['/configz', '/flagz', '/healthz', '/metrics', '/proxyMode'];

/** Go's time.UnixDate layout (`Thu Dec  3 11:44:55 UTC 2026`), in UTC. */
function unixDate(d: Date): string {
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getUTCDay()];
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()];
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${day} ${mon} ${String(d.getUTCDate()).padStart(2, ' ')} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} UTC ${d.getUTCFullYear()}`;
}

/** The /statusz body: text, or the `Statusz` object when asked for JSON. */
export function statuszBody(s: NonNullable<MetricsHandlerOptions['statusz']>, now: Date, accept: string): { type: string; body: string } {
  const up = Math.max(0, Math.floor((now.getTime() - s.startTime.getTime()) / 1000));
  const binary = s.version.replace(/^v/, '');
  const emulation = binary.split('.').slice(0, 2).join('.');
  if (/application\/json/.test(accept) && /as=Statusz/.test(accept)) {
    const o = {
      kind: 'Statusz', apiVersion: 'config.k8s.io/v1alpha1', metadata: { name: 'kube-proxy' },
      startTime: s.startTime.toISOString().replace(/\.\d+Z$/, 'Z'), uptimeSeconds: up,
      goVersion: s.runtime, binaryVersion: binary, emulationVersion: emulation, paths: LISTED_PATHS,
    };
    return { type: 'application/json', body: JSON.stringify(o, null, 2) };
  }
  const p2 = (n: number) => String(n).padStart(2, '0');
  const uptime = `${Math.floor(up / 3600)} hr ${p2(Math.floor(up / 60) % 60)} min ${p2(up % 60)} sec`;
  const lines = [
    '', 'kube-proxy statusz', ZPAGE_WARNING, '',
    `Started: ${unixDate(s.startTime)}`, `Up: ${uptime}`, `Go version: ${s.runtime}`,
    `Binary version: ${binary}`, `Emulation version: ${emulation}`, `Paths: ${LISTED_PATHS.join(' ')}`,
  ];
  return { type: 'text/plain; charset=utf-8', body: lines.join('\n') + '\n' };
}

/** The /flagz body: `name:value` per flag after upstream's header. */
export function flagzBody(flags: readonly (readonly [string, string])[]): string {
  return ['', 'kube-proxy flagz', ZPAGE_WARNING, ...flags.map(([k, v]) => `${k}:${v}`)].join('\n') + '\n';
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
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    switch (path) {
      case '/metrics':
        exposition(registry, res);
        return;
      case '/metrics/slis':
        exposition(slis, res);
        return;
      case '/healthz':
        checks.inc({ name: 'ping', status: 'success', type: 'healthz' });
        // apiserver's healthz handler: `?verbose` lists each check, here the only one (ping).
        if (url.searchParams.has('verbose')) {
          res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
          res.end('[+]ping ok\nhealthz check passed\n');
        } else {
          sendText(res, 200, 'ok');
        }
        return;
      case '/healthz/ping':
        checks.inc({ name: 'ping', status: 'success', type: 'healthz' });
        sendText(res, 200, 'ok');
        return;
      case '/flagz':
        if (!options.flagz) break;
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(flagzBody(options.flagz()));
        return;
      case '/statusz': {
        if (!options.statusz) break;
        const { type, body } = statuszBody(options.statusz, new Date(), String(req.headers.accept ?? ''));
        res.writeHead(200, { 'Content-Type': type });
        res.end(body);
        return;
      }
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
        break;
    }
    sendNotFound(res);
  };
}
