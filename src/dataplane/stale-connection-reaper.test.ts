// Address plan (architecture §5): ClusterIPs 198.19.0.0/16, pods 198.18.0.0/16, node-a 192.0.2.11.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfObject, createMap, type BpfMap, type Collection } from 'bpf-loader-napi';
import { Counter, Registry } from 'prom-client';
import { createLogger } from '../log/logger.ts';
import { EndpointsChangeTracker, type EndpointsMap } from '../model/endpoints-change-tracker.ts';
import { parseIp } from '../model/ip.ts';
import { ServiceChangeTracker, type ServicePortMap } from '../model/service-change-tracker.ts';
import { slice, svc } from '../model/testing/fixtures.ts';
import type { TerminationResult } from './socket-terminator.ts';
import { bpfObjectPath } from './asset-paths.ts';
import { reapStaleConnections, StaleConnectionReaper } from './stale-connection-reaper.ts';
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
  // keySize 1: the packed keys are one byte each, the entry's index.
  const map = {
    name: 'kpb_ct',
    keySize: 1,
    *pickedChunks() {
      yield { keys: Buffer.from(entries.map((_, i) => i)), entries };
    },
    deletePacked: (keys: Buffer) => {
      for (const i of keys) deleted.push(entries[i]![0]);
      return keys.length;
    },
  };
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
    makeTerminator: () => ({
      *runSteps(flows: readonly StaleFlow[]) {
        yield;
        return run(flows);
      },
    }),
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
    reap.afterSync(changed, services, endpoints);
    return reap.idle();
  };
  return { lines, registry, ct, step };
}

test('reapStaleConnections ends sockets and UDP conntrack of the removed backend, and counts them', async () => {
  const runs: StaleFlow[][] = [];
  const s = setup({ collection: {} as Collection }, (flows) => {
    runs.push([...flows]);
    return { destroyed: { TCP: 0, UDP: 2 }, refused: [], namespaces: 3, errors: [], pairs: flows.length };
  });
  await s.step(['198.18.1.5', '198.18.2.5']);
  assert.equal(runs.length, 0, 'nothing is stale at first sight');
  await s.step(['198.18.1.5']);
  assert.deepEqual(runs, [[{ frontend: '198.19.0.10', frontendPort: 53, backend: '198.18.2.5', backendPort: 5353, protocol: 'UDP' }]]);
  assert.equal(s.ct.deleted.length, 1, 'the forward entry to the removed backend');
  const metrics = await s.registry.metrics();
  assert.match(metrics, /ended_total\{kind="udp_socket"\} 2/);
  assert.match(metrics, /ended_total\{kind="conntrack"\} 1/);
  assert.ok(s.lines.some((l) => l.includes('Ended connections to backends that stopped serving') && l.includes('udpSockets=2')), s.lines.join(''));
});

test('reapStaleConnections without the socket terminator says so once and still deletes conntrack entries', async () => {
  const s = setup({ unavailable: 'extern (func ksym) bpf_sock_destroy: not found in kernel BTF' }, () => assert.fail('no terminator to run'));
  assert.equal(s.lines.filter((l) => l.includes('bpf_sock_destroy kfunc, Linux 6.5+')).length, 1, s.lines.join(''));
  await s.step(['198.18.1.5', '198.18.2.5']);
  await s.step(['198.18.1.5']);
  assert.equal(s.ct.deleted.length, 1);
});

/** kpb_ct4 as the datapath declares it (tc.bpf.o's spec and BTF layouts), created for the test. */
function realConntrack4(maxEntries: number): BpfMap {
  const spec = BpfObject.open(bpfObjectPath('tc')).maps.find((m) => m.name === 'kpb_ct4')!;
  return createMap({ ...spec, maxEntries, name: 'kpb_ct4', keyLayout: spec.keyLayout, valueLayout: spec.valueLayout });
}

/** A raw kpb_ct4 forward entry: client 192.0.2.0 + n -> frontend, translated to backend. */
function forward4(map: BpfMap, client: number, frontend: string, fport: number, backend: string, bport: number): [Buffer, Buffer] {
  const k = Buffer.alloc(map.keySize);
  k.writeUInt32BE(0xc0000200 + client, 0);
  Buffer.from(parseIp(frontend)!.bytes.subarray(12)).copy(k, 4);
  k.writeUInt16BE(1024 + client, 8);
  k.writeUInt16BE(fport, 10);
  k[12] = 17;
  const v = Buffer.alloc(map.info().valueSize);
  v.set(parseIp('192.0.2.100')!.bytes, 0);
  v.set(parseIp(backend)!.bytes, 16);
  v.writeUInt16BE(1024 + client, 32);
  v.writeUInt16BE(bport, 34);
  v.writeUInt16LE(1, 36);
  return [k, v];
}

test('StaleConnectionReaper.reapSteps walks a real conntrack map in chunks, a step each, and deletes only the stale flows', () => {
  const map = realConntrack4(4096);
  try {
    // 2,000 UDP flows to 198.19.0.10:53, every 100th translated to the backend that leaves.
    const keys: Buffer[] = [];
    const values: Buffer[] = [];
    for (let i = 0; i < 2000; i++) {
      const [k, v] = forward4(map, i, '198.19.0.10', 53, i % 100 === 0 ? '198.18.2.5' : '198.18.1.5', 5353);
      keys.push(k);
      values.push(v);
    }
    map.updateBatch(keys, values);
    const reaper = new StaleConnectionReaper({ terminator: null, conntrack: () => [map], nodeAddresses: () => null, conntrackStepEntries: 128 });
    const steps = reaper.reapSteps([{ frontend: '198.19.0.10', frontendPort: 53, backend: '198.18.2.5', backendPort: 5353, protocol: 'UDP' }]);
    let yields = 0;
    let r = steps.next();
    while (!r.done) {
      yields++;
      r = steps.next();
    }
    assert.deepEqual(r.value.errors, []);
    assert.equal(r.value.conntrack, 20, 'the 20 flows to the stale backend');
    assert.ok(yields >= 2000 / 128 && yields <= 2 * 2000 / 128 + 2, `one step per chunk of about 128 entries (${yields} steps)`);
    assert.equal(map.lookupPacked().count, 1980, 'the other flows are kept');
  } finally {
    map.close();
  }
});

/** A TCP Service "web" whose slice each call sets to `ips`: returns afterSync's arguments for that sync. */
function tcpWebSyncs(): (ips: string[]) => [Set<string>, ServicePortMap, EndpointsMap] {
  const st = new ServiceChangeTracker();
  const et = new EndpointsChangeTracker('node-a');
  const services: ServicePortMap = new Map();
  const endpoints: EndpointsMap = new Map();
  st.update(null, svc('web', { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }));
  const web = (ips: string[]) => slice('web', 'web-1', ips.map((ip) => ({ ip })), { ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] });
  let prev: ReturnType<typeof web> | null = null;
  return (ips) => {
    const next = web(ips);
    et.update(prev, next);
    prev = next;
    return [new Set([...st.apply(services).updatedServices, ...et.apply(endpoints).updatedServices]), services, endpoints];
  };
}

test('reapStaleConnections returns at once and ends the connections in steps with turns of the event loop between them', async () => {
  const events: string[] = [];
  const registry = new Registry();
  const reap = reapStaleConnections({
    datapath: { socketTerminator: { collection: {} as Collection }, conntrackMaps: () => [], maps: { map: () => ({ keys: () => [] }) as unknown as BpfMap } },
    logger: createLogger({ err: { write: () => {} }, verbosity: 2 }),
    ended: new Counter({ name: 'ended_total', help: 'x', labelNames: ['kind'] as const, registers: [registry] }),
    makeTerminator: () => ({
      *runSteps(flows: readonly StaleFlow[]) {
        for (let ns = 0; ns < 3; ns++) {
          events.push(`step ${ns}`);
          yield;
        }
        return { destroyed: { TCP: 1, UDP: 0 }, refused: [], namespaces: 3, errors: [], pairs: flows.length };
      },
    }),
    sliceMs: 0,
    turn: () => new Promise<void>((resolve) => setImmediate(() => (events.push('turn'), resolve()))),
  });
  const syncWeb = tcpWebSyncs();
  reap.afterSync(...syncWeb(['198.18.1.5', '198.18.2.5']));
  reap.afterSync(...syncWeb(['198.18.1.5']));
  events.push('afterSync returned');
  await reap.idle();
  assert.deepEqual(events, ['afterSync returned', 'step 0', 'turn', 'step 1', 'turn', 'step 2', 'turn'], 'nothing runs inside the sync; one step per turn');
  assert.match(await registry.metrics(), /ended_total\{kind="tcp_socket"\} 1/);
});

test('reapStaleConnections.stop() drops the run under way at its next turn, and the runs waiting', async () => {
  let started = 0;
  let dropped = 0;
  let steps = 0;
  const reap = reapStaleConnections({
    datapath: { socketTerminator: { collection: {} as Collection }, conntrackMaps: () => [], maps: { map: () => ({ keys: () => [] }) as unknown as BpfMap } },
    logger: createLogger({ err: { write: () => {} }, verbosity: 2 }),
    ended: new Counter({ name: 'ended_total', help: 'x', labelNames: ['kind'] as const, registers: [new Registry()] }),
    makeTerminator: () => ({
      *runSteps() {
        started++;
        try {
          for (;;) {
            steps++;
            yield;
          }
        } finally {
          dropped++;
        }
      },
    }),
    sliceMs: 0,
  });
  const syncWeb = tcpWebSyncs();
  for (const ips of [['198.18.1.5', '198.18.2.5'], ['198.18.1.5'], ['198.18.1.5', '198.18.2.6'], ['198.18.1.5']]) reap.afterSync(...syncWeb(ips));
  await new Promise((resolve) => setTimeout(resolve, 20));
  await reap.stop();
  assert.equal(started, 1, 'the second stale run never started');
  assert.equal(dropped, 1, 'the run under way was ended through return() (its finally emptied lb_sock_term)');
  assert.ok(steps > 1);
});
