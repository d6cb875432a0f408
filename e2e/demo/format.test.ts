// The demo's text layout, without a cluster: durations, addresses, request lines and the table.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  attachSummary, attemptLine, clock, datapathReasons, dsrFallback, hostPort, klogFields, samplesOf, makeStyle, renderTable, seconds, SUMMARY_HEADERS, summaryRows, tally, visibleLength, wantColour,
  type Attempt,
} from './format.ts';

const base = { client: 'a-pod2 198.18.1.12', serviceType: 'ClusterIP', host: '198.19.0.10', port: 80, proto: 'tcp' as const, ms: 41.6 };

test('durations read as seconds with one decimal below ten', () => {
  assert.equal(seconds(3140), '3.1 s');
  assert.equal(seconds(40), '0.0 s');
  assert.equal(seconds(72_400), '72 s');
  assert.equal(clock(3140), '[  3.1s]');
  assert.equal(clock(123_456), '[123.5s]');
});

test('IPv6 hosts are bracketed', () => {
  assert.equal(hostPort('192.0.2.11', 30080), '192.0.2.11:30080');
  assert.equal(hostPort('2001:db8:20::a', 53), '[2001:db8:20::a]:53');
});

test('colour only on a terminal without NO_COLOR', () => {
  assert.equal(wantColour(true, {}), true);
  assert.equal(wantColour(false, {}), false);
  assert.equal(wantColour(undefined, {}), false);
  assert.equal(wantColour(true, { NO_COLOR: '1' }), false);
  assert.equal(wantColour(true, { TERM: 'dumb' }), false);
  assert.equal(makeStyle(false).ok('ok'), 'ok');
  assert.equal(makeStyle(true).ok('ok'), '\x1b[32mok\x1b[0m');
  assert.equal(visibleLength(makeStyle(true).fail('FAIL')), 4);
});

test('a request line names the route, the backend and the source it saw', () => {
  const ok: Attempt = { ...base, caseId: 'c', backend: 'b-pod1', backendNode: 'node-b', seen: '198.18.1.12' };
  assert.equal(attemptLine(ok), 'a-pod2 198.18.1.12 -> 198.19.0.10:80/tcp -> b-pod1 on node-b, saw source 198.18.1.12  ok (42 ms)');
  const failed: Attempt = { ...base, caseId: 'c', host: '2001:db8:20::a', proto: 'udp', error: 'no reply within 3000 ms' };
  assert.equal(attemptLine(failed), 'a-pod2 198.18.1.12 -> [2001:db8:20::a]:80/udp -> FAILED: no reply within 3000 ms');
  const wrong: Attempt = { ...ok, error: 'expected source 192.0.2.100' };
  assert.match(attemptLine(wrong), /WRONG: expected source 192\.0\.2\.100/);
});

test('the summary groups each case by backend and source, with counts', () => {
  const attempts: Attempt[] = [
    { ...base, caseId: 'one', backend: 'a-pod1', backendNode: 'node-a', seen: '198.18.1.12' },
    { ...base, caseId: 'one', backend: 'b-pod1', backendNode: 'node-b', seen: '198.18.1.12' },
    { ...base, caseId: 'one', backend: 'a-pod1', backendNode: 'node-a', seen: '198.18.1.12' },
    { ...base, caseId: 'two', client: 'client 192.0.2.100', serviceType: 'NodePort (SNAT)', host: '192.0.2.11', port: 30080, error: 'ECONNREFUSED' },
  ];
  const rows = summaryRows(attempts);
  assert.deepEqual(rows, [
    ['a-pod2 198.18.1.12', 'ClusterIP', '198.19.0.10:80/tcp', 'a-pod1 (node-a)', '198.18.1.12', 'ok x2'],
    ['', '', '', 'b-pod1 (node-b)', '198.18.1.12', 'ok x1'],
    ['client 192.0.2.100', 'NodePort (SNAT)', '192.0.2.11:30080/tcp', '-', '-', 'FAIL: ECONNREFUSED x1'],
  ]);
  assert.deepEqual(tally(attempts), { ok: 3, failed: 1 });
});

test('the table pads columns to the widest cell and ignores colour codes', () => {
  const red = makeStyle(true).fail('FAIL');
  const out = renderTable(['a', 'bb', 'c'], [['xxx', 'y', red], ['', 'yyyy', 'ok']]);
  assert.equal(out, [
    'a    bb    c',
    '---  ----  ----',
    `xxx  y     ${red}`,
    '     yyyy  ok',
  ].join('\n'));
  assert.equal(SUMMARY_HEADERS.length, 6);
});

test('the agent\'s DSR fallback warning is found in its klog output', () => {
  const log = [
    'I1125 19:08:02.018104   32413 kube-proxy.ts:78] "Version info" version="v1.37.2"',
    'W1125 19:08:05.722418   32413 proxy-server.ts:152] "DSR needs the addresses of the other nodes; remote backends are reached with \\"SNAT\\"" lbMode="dsr"',
  ].join('\n');
  assert.equal(dsrFallback(log), 'DSR needs the addresses of the other nodes; remote backends are reached with \\"SNAT\\"');
  assert.equal(dsrFallback(log.split('\n')[0]!), undefined);
  assert.equal(dsrFallback('I1125 19:08:05.7 1 x.ts:1] "DSR encapsulation ready"'), undefined);
});

test('the agent\'s attach line says which hooks carry the north-south path', () => {
  const line = 'I1125 19:08:06.771509   32413 datapath.ts:191] "Attached the north-south datapath" device="eth0" tc="attached" xdp="native"';
  assert.deepEqual(klogFields(line), { device: 'eth0', tc: 'attached', xdp: 'native' });
  assert.equal(attachSummary(`x\n${line}\n`), 'eth0: tc + XDP native');
  assert.equal(attachSummary(line.replace('native', 'off')), 'eth0: tc (XDP off)');
  assert.equal(attachSummary('I1125 nothing'), undefined);
  assert.deepEqual(klogFields('I1 1 f.ts:1] "a \\"q\\" b" k=v n="x y"'), { k: 'v', n: 'x y' });
});

test('datapath reasons come from the agent\'s metrics, grouped by hook, without noise', () => {
  const metrics = [
    '# HELP kubeproxy_bpf_packet_reasons_total Packets ...',
    '# TYPE kubeproxy_bpf_packet_reasons_total counter',
    'kubeproxy_bpf_packet_reasons_total{hook="xdp",reason="not_service"} 40',
    'kubeproxy_bpf_packet_reasons_total{hook="xdp",reason="remote_fwd"} 9',
    'kubeproxy_bpf_packet_reasons_total{hook="xdp",reason="local_dnat"} 3',
    'kubeproxy_bpf_packet_reasons_total{hook="tc_ingress",reason="reply_fwd"} 9',
    'kubeproxy_bpf_packet_reasons_total{hook="tc_egress",reason="ttl"} 0',
    'kubeproxy_bpf_packets_total{hook="xdp",verdict="tx"} 13',
  ].join('\n');
  assert.deepEqual(samplesOf(metrics, 'kubeproxy_bpf_packets_total'), [{ labels: { hook: 'xdp', verdict: 'tx' }, value: 13 }]);
  assert.equal(datapathReasons(metrics), 'xdp: remote_fwd 9, local_dnat 3; tc_ingress: reply_fwd 9');
  assert.equal(datapathReasons(''), 'no service packets counted');
  const later = metrics.replace('remote_fwd"} 9', 'remote_fwd"} 12').replace('ttl"} 0', 'ttl"} 1');
  assert.equal(datapathReasons(later, metrics), 'xdp: remote_fwd 3; tc_egress: ttl 1');
});
