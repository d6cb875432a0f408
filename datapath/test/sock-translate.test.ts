// Socket LB fed by the control plane's own translation (translated.ts): Services and
// EndpointSlices -> translate() -> diff/apply through the BTF codecs -> real connect()/sendto()
// in a throwaway cgroup and netns (sock-harness.ts). Pins the encoding contract of
// src/translate/README.md on the socket side: Local policies with endpoints only elsewhere are
// dropped (EHOSTUNREACH at a socket, counted apart) while "no endpoints at all" is refused,
// pods and the node reach an eTP=Local frontend through its cluster-set twin, and an external
// entry whose twin is missing fails closed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SockEnv } from './sock-harness.ts';
import { addr16, wildcard, SCOPE_EXTERNAL, SCOPE_INTERNAL, SVC, TCP } from './lb-maps.ts';
import { slice, svc, writeTranslated, type Translated } from './translated.ts';
import type { Outcome } from './sock-client.ts';

const NODE = '192.0.2.11';
const LOCAL4 = '198.18.1.1'; // a pod of this node (node-a)
const REMOTE4 = '198.18.2.1'; // a pod of node-b
const REMOTE6 = '2001:db8:10:2::1';
const BE_PORT = 8080;

let env: SockEnv;
let t: Translated;

function errors(outs: Outcome[]): string[] {
  return outs.map((o) => o.error ?? `answered by ${o.answer}`);
}

function answers(outs: Outcome[]): string[] {
  return outs.map((o) => {
    assert.equal(o.error, undefined, `unexpected error ${o.error}`);
    return o.answer!;
  });
}

function delta(before: Record<string, number>, field: string): number {
  return env.maps.stats()[field] - (before[field] ?? 0);
}

const v6 = { ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack' };
const udp = { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] };

describe('socket LB with maps written by translate()', { timeout: 120_000 }, () => {
  before(async () => {
    env = await SockEnv.create({
      tag: 'xlt',
      addresses: [NODE, LOCAL4, REMOTE4, REMOTE6],
      listeners: [LOCAL4, REMOTE4, REMOTE6].map((ip) => ({ ip, port: BE_PORT })),
    });
    const services = [
      // iTP=Local, endpoints only on node-b: drop.
      svc('itp', { clusterIP: '198.19.0.10', internalTrafficPolicy: 'Local' }),
      svc('itp-udp', { clusterIP: '198.19.0.10', internalTrafficPolicy: 'Local', ...udp }),
      svc('itp6', { clusterIP: '2001:db8:20::10', clusterIPs: ['2001:db8:20::10'], internalTrafficPolicy: 'Local', ...v6 }),
      // iTP=Local and no endpoint anywhere: reject.
      svc('none', { clusterIP: '198.19.0.11', internalTrafficPolicy: 'Local' }),
      // iTP=Local with a local endpoint: only that one.
      svc('itpl', { clusterIP: '198.19.0.12', internalTrafficPolicy: 'Local' }),
      // eTP=Local NodePort and ExternalIP, endpoints only on node-b: external entries empty.
      svc('etp', { type: 'NodePort', clusterIP: '198.19.0.13', externalIPs: ['203.0.113.5'], externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, nodePort: 30080 }] }),
    ];
    const eps = (name: string, list: { ip: string; node: string }[], opts?: Parameters<typeof slice>[3]) => slice(name, `${name}-1`, list, opts);
    const slices = [
      eps('itp', [{ ip: REMOTE4, node: 'node-b' }]),
      eps('itp-udp', [{ ip: REMOTE4, node: 'node-b' }], { ports: [{ name: 'dns', port: BE_PORT, protocol: 'UDP' }] }),
      eps('itp6', [{ ip: REMOTE6, node: 'node-b' }], { addressType: 'IPv6' }),
      eps('itpl', [{ ip: LOCAL4, node: 'node-a' }, { ip: REMOTE4, node: 'node-b' }]),
      eps('etp', [{ ip: REMOTE4, node: 'node-b' }]),
    ];
    t = writeTranslated((n) => env.maps.map(n), { services, slices }, {
      name: 'node-a', labels: {}, nodeIPs: [NODE], nodePortAddresses: [NODE], localhostNodePorts: false,
    }, { families: ['IPv4', 'IPv6'] });
  });

  after(async () => {
    await env?.close();
  });

  it('the translation holds what these cases rely on', () => {
    const itp = t.entry(addr16('198.19.0.10'), 80, TCP, SCOPE_INTERNAL)?.value;
    assert.ok(itp, t.lines.join('\n'));
    assert.equal(itp.backend_count, 0);
    assert.ok(itp.flags & SVC.ITP_LOCAL, 'empty iTP=Local entry keeps ITP_LOCAL (drop)');
    const none = t.entry(addr16('198.19.0.11'), 80, TCP, SCOPE_INTERNAL)?.value;
    assert.equal(none?.backend_count, 0);
    assert.equal(none!.flags & SVC.ITP_LOCAL, 0, 'no endpoints anywhere: ITP_LOCAL cleared (reject)');
    const np = t.entry(wildcard(4), 30080, TCP, SCOPE_EXTERNAL)?.value;
    assert.equal(np?.backend_count, 0);
    assert.equal(np!.flags & (SVC.ETP_LOCAL | SVC.TWO_SCOPES), SVC.ETP_LOCAL | SVC.TWO_SCOPES);
    assert.equal(t.entry(wildcard(4), 30080, TCP, SCOPE_INTERNAL)?.value.backend_count, 1, 'the twin holds the cluster set');
  });

  it('iTP=Local with endpoints only on other nodes: EHOSTUNREACH (a drop), counted apart from refusals', async () => {
    const before = env.maps.stats();
    const [t4, u4, t6] = await env.run([
      { op: 'tcp', host: '198.19.0.10', port: 80, n: 3 },
      { op: 'udp', type: 'udp4', host: '198.19.0.10', port: 53, sockets: 2 },
      { op: 'tcp', host: '2001:db8:20::10', port: 80, n: 2 },
    ]);
    const [pod] = await env.run([{ op: 'tcp', host: '198.19.0.10', port: 80, n: 2 }], env.podNs);
    assert.deepEqual(errors([...t4, ...u4, ...t6, ...pod]), new Array(9).fill('EHOSTUNREACH'));
    assert.equal(delta(before, 'dropped_no_local_backends'), 9);
    assert.equal(delta(before, 'refused_no_backends'), 0);
    assert.equal(delta(before, 'translated'), 0);
  });

  it('iTP=Local and no endpoint anywhere: ECONNREFUSED (a reject)', async () => {
    const before = env.maps.stats();
    const [outs] = await env.run([{ op: 'tcp', host: '198.19.0.11', port: 80, n: 3 }]);
    assert.deepEqual(errors(outs), ['ECONNREFUSED', 'ECONNREFUSED', 'ECONNREFUSED']);
    assert.equal(delta(before, 'refused_no_backends'), 3);
    assert.equal(delta(before, 'dropped_no_local_backends'), 0);
  });

  it('iTP=Local with a local endpoint: only the local one (slots hold local backends first)', async () => {
    const [outs] = await env.run([{ op: 'tcp', host: '198.19.0.12', port: 80, n: 20 }]);
    assert.deepEqual(new Set(answers(outs)), new Set([`${LOCAL4} ${BE_PORT}`]));
  });

  it('eTP=Local frontends from the node and from a pod use the cluster-set twin (short-circuit to Cluster)', async () => {
    const [np, ext] = await env.run([
      { op: 'tcp', host: NODE, port: 30080, n: 4 },
      { op: 'tcp', host: '203.0.113.5', port: 80, n: 4 },
    ]);
    const [podNp] = await env.run([{ op: 'tcp', host: NODE, port: 30080, n: 4 }], env.podNs);
    assert.deepEqual(new Set(answers([...np, ...ext, ...podNp])), new Set([`${REMOTE4} ${BE_PORT}`]));
    assert.deepEqual(new Set(np.map((o) => o.peer)), new Set([`${NODE} 30080`]));
    assert.deepEqual(new Set(ext.map((o) => o.peer)), new Set(['203.0.113.5 80']));
  });

  it('an eTP=Local external entry whose internal twin is missing fails closed', async () => {
    const twin = t.entry(addr16('203.0.113.5'), 80, TCP, SCOPE_INTERNAL);
    assert.ok(twin, t.lines.join('\n'));
    env.maps.map('lb_services').delete(twin.key);
    try {
      const before = env.maps.stats();
      const [outs] = await env.run([{ op: 'tcp', host: '203.0.113.5', port: 80, n: 2 }]);
      assert.deepEqual(errors(outs), ['EHOSTUNREACH', 'EHOSTUNREACH']);
      assert.equal(delta(before, 'fail_closed_scope'), 2);
    } finally {
      env.maps.map('lb_services').update(twin.key, twin.value);
    }
  });

  it('a translated VIP marker refuses a port the Service does not define', async () => {
    assert.ok(t.entry(addr16('198.19.0.10'), 0, 0, SCOPE_EXTERNAL)!.value.flags & SVC.VIP_MARKER);
    const before = env.maps.stats();
    const [outs] = await env.run([{ op: 'tcp', host: '198.19.0.10', port: 81, n: 2 }]);
    assert.deepEqual(errors(outs), ['ECONNREFUSED', 'ECONNREFUSED']);
    assert.equal(delta(before, 'refused_unknown_port'), 2);
  });
});
