import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProxyMetrics } from './proxy-metrics.ts';
import { restClientObserver } from './rest-client-observer.ts';

test('restClientObserver counts requests and observes latency by host', async () => {
  const m = createProxyMetrics({ defaultMetrics: false });
  const observe = restClientObserver(m);
  observe({ method: 'GET', host: '192.0.2.10:6443', code: '200', durationSeconds: 0.02, rateLimiterSeconds: 0 });
  observe({ method: 'GET', host: '192.0.2.10:6443', code: '<error>', durationSeconds: 3, rateLimiterSeconds: 0.2 });
  const text = await m.registry.metrics();
  assert.match(text, /^rest_client_requests_total\{code="200",method="GET",host="192\.0\.2\.10:6443"\} 1$/m);
  assert.match(text, /^rest_client_requests_total\{code="<error>",method="GET",host="192\.0\.2\.10:6443"\} 1$/m);
  assert.match(text, /^rest_client_request_duration_seconds_bucket\{le="0\.025",verb="GET",host="192\.0\.2\.10:6443"\} 1$/m);
  assert.match(text, /^rest_client_request_duration_seconds_count\{verb="GET",host="192\.0\.2\.10:6443"\} 2$/m);
  assert.match(text, /^rest_client_rate_limiter_duration_seconds_bucket\{le="0\.25",verb="GET",host="192\.0\.2\.10:6443"\} 2$/m);
});
