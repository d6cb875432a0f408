// Address plan (architecture §5): ClusterIPs 198.19.0.0/16, pods 198.18.0.0/16, node-a 192.0.2.11.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BpfMap, Collection } from 'bpf-loader-napi';
import { Counter, Registry } from 'prom-client';
import { createLogger } from '../log/logger.ts';
import { EndpointsChangeTracker, type EndpointsMap } from '../model/endpoints-change-tracker.ts';
import { parseIp } from '../model/ip.ts';
import { ServiceChangeTracker, type ServicePortMap } from '../model/service-change-tracker.ts';
import { slice, svc } from '../model/testing/fixtures.ts';
import type { SocketTerminator, TerminationResult } from './socket-terminator.ts';
import { reapStaleConnections } from './stale-connection-reaper.ts';
import type { StaleFlow } from './stale-backends.ts';

const udp = { ports: [{ name: 'dns', port: 53, protocol: 'UDP' as const }] };
const sliceOf = (ips: string[]) => slice('dns', 'dns-1', ips.map((ip) => ({ ip })), { ports: [{ name: 'dns', port: 5353, protocol: 'UDP' }] });

/** A conntrack map holding one flow client -> 198.19.0.10:53 translated to `backend`. */
function fakeConntrack(backend: string) {
  const b = (ip: string) => parseIp(ip)!.bytes;
  const entries: [unknown, unknown][] = [[
    { src: b('192.0.2.100'), dst: b('198.19.0.10'), sport: 4000, dport: 53, proto: 17 },
    { nat_src: b('192.0.2.100'), nat_dst: b(backend), nat_sport: 4000, nat_dport: 5353, flags: 1 },
  ]];
  const deleted: unknown[] = [];
  const map = { name: 'kpb_ct', entries: () => entries, deleteBatch: (keys: unknown[]) => (deleted.push(...keys), keys.length) };
  return { map: map as unknown as BpfMap, deleted };
}

function setup(socketTerminator: { collection: Collection } | { unavailable: string }, run: (flows: readonly StaleFlow[]) => TerminationResult) {
  const lines: string[] = [];
  const registry = new Registry();
  const ended = new Counter({ name: 'ended_total', help: 'x', labelNames: ['kind'] as const, registers: [registry] });
  const ct = fakeConntrack('198.18.2.5');
  const reap = reapStaleConnections({
    datapath: {
      socketTerminator,
      conntrackMaps: () => [ct.map],
      maps: { map: () => ({ keys: () => [] }) as unknown as BpfMap },
    },
    logger: createLogger({ err: { write: (l) => lines.push(l) }, verbosity: 2 }),
    ended,
    makeTerminator: () => ({ run, close() {} }) as unknown as SocketTerminator,
  });
  const st = new ServiceChangeTracker();
  const et = new EndpointsChangeTracker('node-a');
  const services: ServicePortMap = new Map();
  const endpoints: EndpointsMap = new Map();
  let prevSlice: ReturnType<typeof sliceOf> | null = null;
  const step = (ips: string[]) => {
    if (services.size === 0) st.update(null, svc('dns', udp));
    const s = sliceOf(ips);
    et.update(prevSlice, s);
    prevSlice = s;
    const changed = new Set([...st.apply(services).updatedServices, ...et.apply(endpoints).updatedServices]);
    reap(changed, services, endpoints);
  };
  return { lines, registry, ct, step };
}

test('reapStaleConnections ends sockets and UDP conntrack of the removed backend, and counts them', async () => {
  const runs: StaleFlow[][] = [];
  const s = setup({ collection: {} as Collection }, (flows) => {
    runs.push([...flows]);
    return { destroyed: { TCP: 0, UDP: 2 }, refused: [], namespaces: 3, errors: [], pairs: flows.length };
  });
  s.step(['198.18.1.5', '198.18.2.5']);
  assert.equal(runs.length, 0, 'nothing is stale at first sight');
  s.step(['198.18.1.5']);
  assert.deepEqual(runs, [[{ frontend: '198.19.0.10', frontendPort: 53, backend: '198.18.2.5', backendPort: 5353, protocol: 'UDP' }]]);
  assert.equal(s.ct.deleted.length, 1, 'the forward entry to the removed backend');
  const metrics = await s.registry.metrics();
  assert.match(metrics, /ended_total\{kind="udp_socket"\} 2/);
  assert.match(metrics, /ended_total\{kind="conntrack"\} 1/);
  assert.ok(s.lines.some((l) => l.includes('Ended connections to backends that stopped serving') && l.includes('udpSockets=2')), s.lines.join(''));
});

test('reapStaleConnections without the socket terminator says so once and still deletes conntrack entries', () => {
  const s = setup({ unavailable: 'extern (func ksym) bpf_sock_destroy: not found in kernel BTF' }, () => assert.fail('no terminator to run'));
  assert.equal(s.lines.filter((l) => l.includes('bpf_sock_destroy kfunc, Linux 6.5+')).length, 1, s.lines.join(''));
  s.step(['198.18.1.5', '198.18.2.5']);
  s.step(['198.18.1.5']);
  assert.equal(s.ct.deleted.length, 1);
});
