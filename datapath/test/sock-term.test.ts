// Socket termination (datapath/bpf/sock_term.bpf.c driven by src/dataplane/socket-terminator.ts)
// against real sockets: clients in the test cgroup hold TCP connections and connected UDP sockets
// made through the socket LB, a backend is then removed from the service, and the terminator runs
// its iterators in every network namespace of the machine. Only the sockets the socket LB
// connected to that backend must end (TCP reset, UDP disconnected, both with ECONNABORTED).
//
// Address plan: backends 198.18.0.11-12 and 2001:db8:18::11-12 (port 8080) and the node address
// 192.0.2.10 on the node namespace's loopback; ClusterIPs 198.19.0.60 and 2001:db8:19::60.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BpfObject, type Collection } from 'bpf-loader-napi';
import { fileURLToPath } from 'node:url';
import { SockEnv } from './sock-harness.ts';
import { SVC, SCOPE_EXTERNAL, SCOPE_INTERNAL, TCP, UDP } from './lb-maps.ts';
import type { ServiceSpec } from './lb-maps.ts';
import { SocketTerminator } from '../../src/dataplane/socket-terminator.ts';
import type { StaleFlow } from '../../src/dataplane/stale-backends.ts';

const TERM_OBJECT = fileURLToPath(new URL('../../build/bpf/sock_term.bpf.o', import.meta.url));
const A = '198.18.0.11';
const B = '198.18.0.12';
const A6 = '2001:db8:18::11';
const B6 = '2001:db8:18::12';
const NODE4 = '192.0.2.10';
const PORT = 8080;

let env: SockEnv;
let term: Collection;
let terminator: SocketTerminator;

const svc = (s: Partial<ServiceSpec> & Pick<ServiceSpec, 'ip' | 'port' | 'serviceId' | 'backendIds'>): ServiceSpec =>
  ({ proto: TCP, scope: SCOPE_INTERNAL, flags: SVC.CLUSTER_IP, ...s });
const tcpSvc = svc({ ip: '198.19.0.60', port: 80, serviceId: 60, backendIds: [1, 2] });
const udpSvc = svc({ ip: '198.19.0.60', port: 53, proto: UDP, serviceId: 61, backendIds: [11, 12] });
const udp6Svc = svc({ ip: '2001:db8:19::60', port: 53, proto: UDP, serviceId: 62, backendIds: [21, 22] });
const udpNodePort = svc({ ip: 4, port: 30090, proto: UDP, serviceId: 63, backendIds: [11, 12], scope: SCOPE_EXTERNAL, flags: SVC.NODEPORT | SVC.LOCALHOST_NODEPORT });

const flow = (frontend: string, frontendPort: number, backend: string, protocol: 'TCP' | 'UDP'): StaleFlow =>
  ({ frontend, frontendPort, backend, backendPort: PORT, protocol });

describe('socket termination (iter/tcp, iter/udp + bpf_sock_destroy)', { timeout: 120_000 }, () => {
  before(async () => {
    env = await SockEnv.create({
      tag: 'term',
      addresses: [A, B, A6, B6, NODE4],
      listeners: [A, B, A6, B6].map((ip) => ({ ip, port: PORT, hold: true })),
    });
    const m = env.maps;
    m.putBackend(1, { ip: A, port: PORT, proto: TCP });
    m.putBackend(2, { ip: B, port: PORT, proto: TCP });
    m.putBackend(11, { ip: A, port: PORT, proto: UDP });
    m.putBackend(12, { ip: B, port: PORT, proto: UDP });
    m.putBackend(21, { ip: A6, port: PORT, proto: UDP });
    m.putBackend(22, { ip: B6, port: PORT, proto: UDP });
    m.putNodeAddr(NODE4);
    for (const s of [tcpSvc, udpSvc, udp6Svc, udpNodePort]) m.putService(s);
    m.putVipMarker('198.19.0.60', 60);
    m.putVipMarker('2001:db8:19::60', 62);
    // The terminator's object adopts lb_sock_rev_nat and the rest from the socket LB's pins.
    term = await BpfObject.open(TERM_OBJECT).load({ pinPath: env.pinDir });
    terminator = new SocketTerminator({ collection: term });
  });

  after(async () => {
    terminator?.close();
    term?.close();
    await env?.close();
  });

  it('ends only the sockets the socket LB connected to the removed backend, in the node namespace', async () => {
    let result: ReturnType<SocketTerminator['run']> | undefined;
    const outs = await env.run([
      { op: 'udp-hold', type: 'udp4', host: '198.19.0.60', port: 53, sockets: 8 },
      { op: 'udp-hold', type: 'udp6', host: '2001:db8:19::60', port: 53, sockets: 6 },
      { op: 'udp-hold', type: 'udp4', host: NODE4, port: 30090, sockets: 6 },
      { op: 'udp-hold', type: 'udp4', host: '127.0.0.1', port: 30090, sockets: 4 },
      // Not load-balanced: a socket connected straight to the backend must live on.
      { op: 'udp-hold', type: 'udp4', host: A, port: PORT, sockets: 1 },
      { op: 'udp-held' },
      { op: 'tcp-hold', host: '198.19.0.60', port: 80, sockets: 16 },
      { op: 'pause' },
      { op: 'held-watch', ms: 2000 },
    ], env.ns, () => {
      // Backend A (and A6) leaves every service; the control plane then runs the terminator.
      env.maps.setBackends(tcpSvc, [2]);
      env.maps.setBackends(udpSvc, [12]);
      env.maps.setBackends(udp6Svc, [22]);
      env.maps.setBackends(udpNodePort, [12]);
      result = terminator.run([
        flow('198.19.0.60', 80, A, 'TCP'), flow('198.19.0.60', 53, A, 'UDP'),
        flow('2001:db8:19::60', 53, A6, 'UDP'), flow('0.0.0.0', 30090, A, 'UDP'),
      ]);
    });
    const [udpAnswers, tcp, watched] = [outs[5]!, outs[6]!, outs[8]!];
    assert.ok(result, 'the terminator ran');
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.refused, []);
    assert.ok(result.namespaces >= 2, `namespaces visited: ${result.namespaces}`);
    // held-watch lists the UDP sockets first (in udp-held's order), then the TCP ones.
    const held = [...udpAnswers, ...tcp];
    assert.equal(held.length, 25 + 16);
    assert.equal(watched.length, held.length);
    const ends = { TCP: 0, UDP: 0 };
    watched.forEach((o, i) => {
      const backend = held[i]!.answer;
      const proto = i < udpAnswers.length ? 'UDP' : 'TCP';
      const lb = i !== 24; // the direct socket is the last UDP one
      const doomed = lb && (backend === `${A} ${PORT}` || backend === `${A6} ${PORT}`);
      if (doomed) {
        ends[proto]++;
        assert.equal(o.error, 'ECONNABORTED', `${proto} socket ${i} to ${backend}: ${JSON.stringify(o)}`);
        assert.ok(o.ms !== undefined && o.ms < 2000, `error within 2 s: ${JSON.stringify(o)}`);
        // A destroyed UDP socket is disconnected: a send without a destination fails.
        if (proto === 'UDP') assert.notEqual(o.from, 'sent');
      } else {
        assert.equal(o.answer, 'alive', `${proto} socket ${i} to ${backend} (${lb ? 'load-balanced' : 'direct'}): ${JSON.stringify(o)}`);
        if (proto === 'UDP') assert.equal(o.from, 'sent');
      }
    });
    assert.deepEqual(result.destroyed, ends);
    // Random selection over two backends: both kinds of outcome occurred (each fails by chance
    // with probability 2^-23 and 2^-15).
    assert.ok(ends.UDP > 0 && ends.UDP < 24 && ends.TCP > 0 && ends.TCP < 16, JSON.stringify(ends));
  });

  it('ends a pod namespace\'s sockets too; a reconnected UDP client is served by the remaining backend', async () => {
    // Back to both backends, then the pod's sockets; this time B leaves.
    env.maps.setBackends(tcpSvc, [1, 2]);
    env.maps.setBackends(udpSvc, [11, 12]);
    let result: ReturnType<SocketTerminator['run']> | undefined;
    const outs = await env.run([
      { op: 'udp-hold', type: 'udp4', host: '198.19.0.60', port: 53, sockets: 16 },
      { op: 'udp-held' },
      { op: 'tcp-hold', host: '198.19.0.60', port: 80, sockets: 16 },
      { op: 'pause' },
      { op: 'held-watch', ms: 2000 },
      { op: 'udp', type: 'udp4', host: '198.19.0.60', port: 53, sockets: 6, connected: true },
    ], env.podNs, () => {
      env.maps.setBackends(tcpSvc, [1]);
      env.maps.setBackends(udpSvc, [11]);
      result = terminator.run([flow('198.19.0.60', 80, B, 'TCP'), flow('198.19.0.60', 53, B, 'UDP')]);
    });
    const [udpAnswers, tcp, watched, fresh] = [outs[1]!, outs[2]!, outs[4]!, outs[5]!];
    const held = [...udpAnswers, ...tcp];
    const doomed = held.map((o) => o.answer === `${B} ${PORT}`);
    watched.forEach((o, i) => assert.deepEqual([o.error ?? o.answer], [doomed[i] ? 'ECONNABORTED' : 'alive'], `socket ${i} to ${held[i]!.answer}`));
    assert.equal(result!.destroyed.UDP + result!.destroyed.TCP, doomed.filter(Boolean).length);
    assert.ok(doomed.some(Boolean) && !doomed.every(Boolean));
    // New connected sockets (what a client does after the error) reach A only.
    assert.deepEqual(new Set(fresh.map((o) => o.answer ?? o.error)), new Set([`${A} ${PORT}`]));
  });
});
