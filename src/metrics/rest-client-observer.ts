/**
 * @module
 * Feeds the API transport's request records into client-go's rest_client_* metrics.
 */
import type { RequestRecord } from '../kube/api-list-watch.ts';
import type { ProxyMetrics } from './proxy-metrics.ts';

/**
 * Returns the `onRequest` callback for createApiListWatches.
 *
 * @example
 * createApiListWatches(kc, { userAgent, onRequest: restClientObserver(metrics) });
 */
export function restClientObserver(metrics: Pick<ProxyMetrics, 'restClientRequestsTotal' | 'restClientRequestDuration' | 'restClientRateLimiterDuration'>): (r: RequestRecord) => void {
  return (r) => {
    metrics.restClientRequestsTotal.inc({ code: r.code, method: r.method, host: r.host });
    metrics.restClientRequestDuration.observe({ verb: r.method, host: r.host }, r.durationSeconds);
    metrics.restClientRateLimiterDuration.observe({ verb: r.method, host: r.host }, r.rateLimiterSeconds);
  };
}
