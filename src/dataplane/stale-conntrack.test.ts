// Address plan (architecture §5): node-a 192.0.2.11 / 2001:db8:1::11, client 192.0.2.100, pods
// 198.18.0.0/16 and 2001:db8:10::/56, LB IPs 203.0.113.0/24.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseIp } from '../model/ip.ts';
import type { StaleFlow } from './stale-backends.ts';
import { KPB_CT_DSR, KPB_CT_DSR_BACKEND, KPB_CT_REPLY, staleConntrackKeys } from './stale-conntrack.ts';

const header = readFileSync(new URL('../../datapath/include/conntrack.h', import.meta.url), 'utf8');

test('stale-conntrack flag constants match conntrack.h', () => {
  for (const [name, value] of [['KPB_CT_REPLY', KPB_CT_REPLY], ['KPB_CT_DSR', KPB_CT_DSR], ['KPB_CT_DSR_BACKEND', KPB_CT_DSR_BACKEND]] as const) {
    const m = new RegExp(`\\b${name}\\s*=\\s*1\\s*<<\\s*(\\d+)`).exec(header);
    assert.ok(m, `${name} in conntrack.h`);
    assert.equal(value, 1 << Number(m[1]), name);
  }
});

const b = (ip: string) => parseIp(ip)!.bytes;
/** A decoded forward entry client -> frontend, translated to backend; and its reply entry. */
function flow(client: string, cport: number, fe: string, fport: number, be: string, bport: number, proto = 17, extra = 0): [unknown, unknown][] {
  return [
    [{ src: b(client), dst: b(fe), sport: cport, dport: fport, proto }, { nat_src: b(client), nat_dst: b(be), nat_sport: cport, nat_dport: bport, flags: 1 | extra }],
    [{ src: b(be), dst: b(client), sport: bport, dport: cport, proto }, { nat_src: b(fe), nat_dst: b(client), nat_sport: fport, nat_dport: cport, flags: KPB_CT_REPLY | extra }],
  ];
}
const stale = (frontend: string, frontendPort: number, backend: string, backendPort: number, protocol: StaleFlow['protocol'] = 'UDP'): StaleFlow =>
  ({ frontend, frontendPort, backend, backendPort, protocol });
const keyText = (k: unknown) => {
  const x = k as { src: Uint8Array; dst: Uint8Array; sport: number; dport: number };
  return `${parseIpText(x.src)}:${x.sport}>${parseIpText(x.dst)}:${x.dport}`;
};
function parseIpText(a: Uint8Array): string {
  return a[10] === 0xff ? `${a[12]}.${a[13]}.${a[14]}.${a[15]}` : Buffer.from(a).toString('hex');
}

test('staleConntrackKeys picks both directions of UDP flows to stale backends', () => {
  const nodes = new Set(['192.0.2.11', '2001:db8:1::11']);
  const entries = [
    ...flow('192.0.2.100', 40000, '203.0.113.9', 53, '198.18.1.5', 5353),            // LB IP -> stale A
    ...flow('192.0.2.100', 40001, '203.0.113.9', 53, '198.18.2.5', 5353),            // LB IP -> live B
    ...flow('192.0.2.100', 40002, '192.0.2.11', 30053, '198.18.1.5', 5353),          // NodePort -> stale A
    ...flow('192.0.2.100', 40003, '203.0.113.9', 80, '198.18.1.5', 8080, 6),         // TCP: kept
    ...flow('192.0.2.100', 40004, '203.0.113.10', 53, '198.18.1.5', 5353),           // another service's A: kept
    ...flow('192.0.2.100', 40005, '203.0.113.9', 53, '198.18.1.5', 5353, 17, KPB_CT_DSR_BACKEND), // DSR backend side
  ];
  const flows = [stale('203.0.113.9', 53, '198.18.1.5', 5353), stale('0.0.0.0', 30053, '198.18.1.5', 5353), stale('203.0.113.9', 80, '198.18.1.5', 8080, 'TCP')];
  const got = staleConntrackKeys(entries, flows, nodes).map(keyText).sort();
  assert.deepEqual(got, [
    '192.0.2.100:40000>203.0.113.9:53', '192.0.2.100:40002>192.0.2.11:30053',
    '198.18.1.5:5353>192.0.2.100:40000', '198.18.1.5:5353>192.0.2.100:40002',
  ]);
});

test('staleConntrackKeys: the NodePort wildcard matches node addresses only, per family', () => {
  const entries = [
    ...flow('192.0.2.100', 40000, '203.0.113.9', 30053, '198.18.1.5', 5353), // an LB IP on the NodePort's number
    ...flow('2001:db8:1::100', 40001, '2001:db8:1::11', 30053, '2001:db8:10::5', 5353),
  ];
  const flows = [stale('0.0.0.0', 30053, '198.18.1.5', 5353), stale('::', 30053, '2001:db8:10::5', 5353)];
  const got = staleConntrackKeys(entries, flows, new Set(['2001:db8:1::11']));
  assert.equal(got.length, 2, 'only the IPv6 NodePort flow, both directions');
});

test('staleConntrackKeys reads __be32 addresses decoded as numbers (per-family maps)', () => {
  const n = (ip: string) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const entries: [unknown, unknown][] = [
    [{ src: n('192.0.2.100'), dst: n('203.0.113.9'), sport: 1, dport: 53, proto: 17 }, { nat_src: n('192.0.2.100'), nat_dst: n('198.18.1.5'), nat_sport: 1, nat_dport: 5353, flags: 1 }],
  ];
  assert.equal(staleConntrackKeys(entries, [stale('203.0.113.9', 53, '198.18.1.5', 5353)], new Set()).length, 1);
  assert.equal(staleConntrackKeys(entries, [], new Set()).length, 0);
});

test('staleConntrackKeys finds a DSR forward entry\'s backend by its id (nat_dst is the tunnel\'s)', () => {
  const entries: [unknown, unknown][] = [
    [{ src: b('192.0.2.100'), dst: b('203.0.113.9'), sport: 1, dport: 53, proto: 17 }, { nat_src: b('192.0.2.100'), nat_dst: b('192.0.2.12'), nat_sport: 1, nat_dport: 53, flags: 2 | KPB_CT_DSR, backend_id: 7 }],
    [{ src: b('192.0.2.100'), dst: b('203.0.113.9'), sport: 2, dport: 53, proto: 17 }, { nat_src: b('192.0.2.100'), nat_dst: b('192.0.2.12'), nat_sport: 2, nat_dport: 53, flags: 2 | KPB_CT_DSR, backend_id: 8 }],
  ];
  const backends = new Map([[7, { addr: '198.18.2.5', port: 5353 }], [8, { addr: '198.18.2.6', port: 5353 }]]);
  const got = staleConntrackKeys(entries, [stale('203.0.113.9', 53, '198.18.2.5', 5353)], new Set(), (id) => backends.get(id));
  assert.deepEqual(got.map(keyText), ['192.0.2.100:1>203.0.113.9:53']);
});
