// Unit tests for the benchmark's pure helpers (statistics, metrics parsing, verdicts, parsers).
// The report and the charts have their own tests (output, charts, chart-render, figures).
// The benchmarks themselves are not tests: they run from run.ts and print numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cdf, histogramDelta, histogramQuantile, mean, quantile, stddev, summarize } from './stats.ts';
import { histogram, metricMax, metricValue, parseMetrics } from './prom.ts';
import { judge, markdownTable } from './report.ts';

test('quantile interpolates like numpy (type 7)', () => {
  const xs = [15, 20, 35, 40, 50];
  assert.equal(quantile(xs, 0), 15);
  assert.equal(quantile(xs, 1), 50);
  assert.equal(quantile(xs, 0.5), 35);
  assert.equal(quantile(xs, 0.4), 29);
  assert.equal(quantile([3, 1, 2], 0.25), 1.5);
  assert.ok(Number.isNaN(quantile([], 0.5)));
  assert.throws(() => quantile(xs, 2), RangeError);
});

test('mean, stddev and summarize', () => {
  assert.equal(mean([1, 2, 3, 4]), 2.5);
  assert.equal(stddev([2, 4, 4, 4, 5, 5, 7, 9]).toFixed(4), '2.1381');
  assert.equal(stddev([7]), 0);
  const s = summarize([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual([s.n, s.min, s.max, s.p50], [10, 1, 10, 5.5]);
  assert.equal(s.p99.toFixed(2), '9.91');
});

test('cdf ends at 1 and is monotonic', () => {
  const c = cdf([5, 1, 4, 2, 3]);
  assert.deepEqual(c, [[1, 0.2], [2, 0.4], [3, 0.6], [4, 0.8], [5, 1]]);
  const big = cdf(Array.from({ length: 1000 }, (_, i) => 1000 - i), 50);
  assert.ok(big.length <= 51);
  assert.deepEqual(big[big.length - 1], [1000, 1]);
  for (let i = 1; i < big.length; i++) assert.ok(big[i][0] >= big[i - 1][0] && big[i][1] > big[i - 1][1]);
});

test('histogramQuantile matches PromQL histogram_quantile', () => {
  const b = [{ le: 0.1, count: 10 }, { le: 0.5, count: 60 }, { le: 1, count: 100 }, { le: Infinity, count: 100 }];
  assert.equal(histogramQuantile(b, 0.1), 0.1);
  assert.equal(histogramQuantile(b, 0.5), 0.1 + 0.4 * (40 / 50));
  assert.equal(histogramQuantile(b, 0.05), 0.05);
  // rank in +Inf returns the highest finite bound
  assert.equal(histogramQuantile([{ le: 1, count: 1 }, { le: Infinity, count: 10 }], 0.99), 1);
  assert.ok(Number.isNaN(histogramQuantile([{ le: 1, count: 0 }], 0.5)));
  assert.deepEqual(histogramDelta([{ le: 1, count: 3 }], [{ le: 1, count: 5 }, { le: 2, count: 9 }]), [{ le: 1, count: 2 }, { le: 2, count: 9 }]);
});

test('parseMetrics reads samples, labels and histograms', () => {
  const text = [
    '# HELP kubeproxy_network_programming_duration_seconds In Cluster Network Programming Latency in seconds',
    '# TYPE kubeproxy_network_programming_duration_seconds histogram',
    'kubeproxy_network_programming_duration_seconds_bucket{le="0.25"} 3',
    'kubeproxy_network_programming_duration_seconds_bucket{le="0.5"} 7',
    'kubeproxy_network_programming_duration_seconds_bucket{le="+Inf"} 8',
    'kubeproxy_network_programming_duration_seconds_sum 3.2',
    'kubeproxy_network_programming_duration_seconds_count 8',
    'kubeproxy_sync_proxy_rules_last_timestamp_seconds 1.7e+09',
    'x{a="q\\"uote",b="2"} 4 1700000000000',
  ].join('\n');
  const s = parseMetrics(text);
  assert.equal(metricValue(s, 'kubeproxy_sync_proxy_rules_last_timestamp_seconds'), 1.7e9);
  assert.equal(metricValue(s, 'x', { a: 'q"uote' }), 4);
  assert.equal(metricValue(s, 'missing'), undefined);
  assert.equal(metricMax(parseMetrics('t{f="4"} 5\nt{f="6"} 7\n'), 't'), 7);
  assert.deepEqual(histogram(s, 'kubeproxy_network_programming_duration_seconds'),
    [{ le: 0.25, count: 3 }, { le: 0.5, count: 7 }, { le: Infinity, count: 8 }]);
});

test('judge: ratio goals, absolute bounds and missing figures', () => {
  const met = judge({ name: 'pps', goal: { kind: 'ratio-at-least', x: 4 }, ours: 10, reference: 2, unit: 'pps' });
  assert.equal(met.status, 'met');
  assert.equal(met.ratio, 5);
  const missed = judge({ name: 'pps', goal: { kind: 'ratio-at-least', x: 4 }, ours: 6, reference: 2, unit: 'pps' });
  assert.equal(missed.status, 'missed');
  assert.match(missed.detail, /short of 4 by 25%/);
  const crr = judge({ name: 'crr', goal: { kind: 'ratio-at-least', x: 0.95 }, ours: 97, reference: 100, unit: '/s' });
  assert.equal(crr.status, 'met');
  const rss = judge({ name: 'rss', goal: { kind: 'ratio-at-most', x: 1 }, ours: 120, reference: 100, unit: 'MiB' });
  assert.equal(rss.status, 'missed');
  assert.match(rss.detail, /by 20%/);
  const below = judge({ name: 'p99', goal: { kind: 'below', x: 100, unit: 'ms' }, ours: 150, unit: 'ms' });
  assert.equal(below.status, 'missed');
  assert.match(below.detail, /over by 50%/);
  const none = judge({ name: 'x', goal: { kind: 'ratio-at-least', x: 1 }, ours: 'not run: agent missing', reference: 3, unit: '' });
  assert.equal(none.status, 'not measured');
  assert.match(none.detail, /agent missing/);
  const noRef = judge({ name: 'x', goal: { kind: 'ratio-at-least', x: 1 }, ours: 3, reference: 'not run: no binary', unit: '' });
  assert.equal(noRef.status, 'not measured');
});

test('markdownTable escapes pipes', () => {
  assert.equal(markdownTable(['a', 'b'], [['1|2', 'x']]), '| a | b |\n| --- | --- |\n| 1\\|2 | x |');
});

test('proc parsers: /proc/stat deltas, pid stat with spaces in comm, VmRSS', async () => {
  const { parseProcStat, cpuDelta, parsePidStat, parseRss } = await import('./cpu.ts');
  const a = parseProcStat('cpu  100 0 50 1000 0 0 10 0 0 0\ncpu0 60 0 30 500 0 0 5 0 0 0\nintr 1 2\n');
  const b = parseProcStat('cpu  150 0 70 1100 0 0 40 0 0 0\ncpu0 60 0 30 500 0 0 5 0 0 0\n');
  const d = cpuDelta(a.get('cpu')!, b.get('cpu')!);
  assert.deepEqual([d.user, d.system, d.idle, d.softirq], [0.5, 0.2, 1, 0.3]);
  assert.equal(a.size, 2);
  const stat = '4242 (kube proxy) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 1000 1000000 5000';
  assert.equal(parsePidStat(stat), 3.25);
  assert.equal(parseRss('Name:\tnode\nVmRSS:\t  123456 kB\n'), 123456 * 1024);
});

test('bench objects: selector-less service, slice with trigger time, synthetic endpoints', async () => {
  const { service, endpointSlice, syntheticEndpoint } = await import('./objects.ts');
  const svc = service({ name: 's', type: 'NodePort', protocol: 'UDP', port: 80, targetPort: 9, nodePort: 30080 });
  assert.equal(svc.spec?.selector, undefined);
  assert.equal(svc.spec?.ports?.[0].nodePort, 30080);
  const t = new Date('2026-01-01T00:00:00.000Z');
  const sl = endpointSlice('s', 'UDP', 9, [{ ip: '198.18.2.11', node: 'node-b' }], t);
  assert.equal(sl.metadata?.labels?.['kubernetes.io/service-name'], 's');
  assert.equal(sl.metadata?.annotations?.['endpoints.kubernetes.io/last-change-trigger-time'], '2026-01-01T00:00:00.000Z');
  assert.equal(syntheticEndpoint(0), '198.18.3.0');
  assert.equal(syntheticEndpoint(257), '198.18.4.1');
  assert.equal(syntheticEndpoint(130_303), '198.19.255.255');
  assert.throws(() => syntheticEndpoint(130_304), RangeError);
});

test('parseSockperf reads the valid window, average and percentiles', async () => {
  const { parseSockperf } = await import('./sockperf.ts');
  const out = [
    'sockperf: [Total Run] RunTime=2.000 sec; Warm up time=400 msec; SentMessages=165639; ReceivedMessages=165638',
    'sockperf: [Valid Duration] RunTime=1.550 sec; SentMessages=129620; ReceivedMessages=129620',
    'sockperf: \x1b[2;35m====> avg-rtt=11.943 (std-dev=2.581)\x1b[0m',
    'sockperf: ---> <MAX> observation =  602.469',
    'sockperf: ---> percentile 99.000 =   13.740',
    'sockperf: ---> percentile 50.000 =   11.797',
  ].join('\n');
  const r = parseSockperf(out);
  assert.equal(r.received, 129620);
  assert.equal(r.runTimeS, 1.55);
  assert.equal(Math.round(r.ratePerS), 83626);
  assert.equal(r.avgUs, 11.943);
  assert.deepEqual(r.percentilesUs, { '99.000': 13.74, '50.000': 11.797, max: 602.469 });
  assert.throws(() => parseSockperf('nothing'), /Valid Duration/);
});
