import { test } from 'node:test';
import assert from 'node:assert/strict';
import { conntrackMatches, conntrackRow, serviceFlagNames, serviceRows } from './lb-state-rows.ts';
import { LB_BE_LOCAL, LB_BE_TERMINATING, LB_SVC_CLUSTER_IP, LB_SVC_ETP_LOCAL } from '../translate/lb-types.ts';

const v4 = (ip: string) => Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...ip.split('.').map(Number)]);

test('serviceRows() joins frontends with their slots and backends, in slot order, with state', () => {
  const services: [Record<string, unknown>, Record<string, unknown>][] = [
    [{ addr: v4('198.19.0.10'), port: 80, proto: 6, scope: 1 }, { service_id: 7, backend_count: 3, local_backend_count: 1, flags: LB_SVC_CLUSTER_IP, affinity_timeout: 0 }],
    [{ addr: v4('0.0.0.0').fill(0, 12), port: 30080, proto: 17, scope: 0 }, { service_id: 8, backend_count: 0, local_backend_count: 0, flags: LB_SVC_ETP_LOCAL | (1 << 20), affinity_timeout: 0 }],
  ];
  const slots = new Map([['7/1', 1], ['7/2', 2], ['7/3', 9]]);
  const backends = new Map<number, Record<string, unknown>>([
    [1, { addr: v4('198.18.1.11'), port: 8080, proto: 6, flags: LB_BE_LOCAL, node_addr: new Uint8Array(16) }],
    [2, { addr: v4('198.18.2.11'), port: 8080, proto: 6, flags: LB_BE_TERMINATING, node_addr: v4('192.0.2.12') }],
  ]);
  const rows = serviceRows(services, slots, backends);
  assert.deepEqual(rows.map((r) => r.frontend), [
    { address: '*(v4)', port: 30080, protocol: 'UDP', scope: 'external' },
    { address: '198.19.0.10', port: 80, protocol: 'TCP', scope: 'internal' },
  ]);
  assert.deepEqual(rows[0]!.flags, ['eTP=Local', '0x100000']);
  assert.deepEqual(rows[1]!.backends, [
    { id: 1, address: '198.18.1.11', port: 8080, protocol: 'TCP', state: 'active', local: true, nodeAddress: '' },
    { id: 2, address: '198.18.2.11', port: 8080, protocol: 'TCP', state: 'terminating', local: false, nodeAddress: '192.0.2.12' },
    { id: 9, missing: true },
  ]);
  assert.deepEqual(serviceFlagNames(LB_SVC_CLUSTER_IP), ['ClusterIP']);
});

test('conntrackRow() prints both tuples and the time left; conntrackMatches() filters by any address and port', () => {
  const r = conntrackRow(
    { src: v4('192.0.2.100'), dst: v4('192.0.2.11'), sport: 40000, dport: 30080, proto: 6 },
    { nat_src: v4('192.0.2.11'), nat_dst: v4('198.18.2.11'), nat_sport: 61000, nat_dport: 8080, flags: 2 | 8, expires: 1250n, service_id: 3, backend_id: 4, tcp_state: 1 },
    1000n, 250,
  );
  assert.deepEqual(r, {
    protocol: 'TCP', source: '192.0.2.100:40000', destination: '192.0.2.11:30080', natSource: '192.0.2.11:61000', natDestination: '198.18.2.11:8080',
    flags: ['remote', 'snat'], tcpState: 'established', serviceId: 3, backendId: 4, expiresInSeconds: 1,
  });
  assert.equal(conntrackMatches(r, '198.18.2.11', undefined), true);
  assert.equal(conntrackMatches(r, '198.18.2.11', 8080), true);
  assert.equal(conntrackMatches(r, '198.18.2.12', undefined), false);
  assert.equal(conntrackMatches(r, undefined, 53), false);
});

test('conntrackRow() reads per-family keys (__be32 addresses) and a 32-bit expires across a jiffies wrap', () => {
  const r = conntrackRow(
    { src: 0xc0000264, dst: 0xc000020b, sport: 40000, dport: 30080, proto: 17 },
    { nat_src: v4('192.0.2.11'), nat_dst: v4('198.18.2.11'), nat_sport: 61000, nat_dport: 8080, flags: 2, expires: 0x10, service_id: 3, backend_id: 4, tcp_state: 0 },
    0x1_ffff_fff0n, 16,
  );
  assert.deepEqual([r.source, r.destination, r.tcpState, r.expiresInSeconds], ['192.0.2.100:40000', '192.0.2.11:30080', '', 2]);
});
