import { test } from 'node:test';
import assert from 'node:assert/strict';
import { primaryNodeIPs, resolveNodePortAddresses } from './node-port-addresses.ts';

const local = ['127.0.0.1', '::1', '192.0.2.11', '10.9.0.1', '2001:db8:1::11', 'fe80::1'];
const primaryIPs = { IPv4: '192.0.2.11', IPv6: '2001:db8:1::11' };

test('resolveNodePortAddresses follows spec §5.10', () => {
  // lh: 127.0.0.1 NodePorts (upstream); lh6: ::1 NodePorts (ours, same rule for IPv6).
  const rows: { name: string; npa: string[]; families?: ('IPv4' | 'IPv6')[]; localhost?: boolean; addrs: string[]; lh: boolean; lh6: boolean; problems?: number }[] = [
    { name: 'empty: every local address, localhost NodePorts on', npa: [], addrs: ['10.9.0.1', '192.0.2.11', '2001:db8:1::11', 'fe80::1'], lh: true, lh6: true },
    { name: 'localhostNodePorts=false', npa: [], localhost: false, addrs: ['10.9.0.1', '192.0.2.11', '2001:db8:1::11', 'fe80::1'], lh: false, lh6: false },
    { name: 'IPv4 CIDR restricts IPv4; IPv6 stays all', npa: ['192.0.2.0/24'], addrs: ['192.0.2.11', '2001:db8:1::11', 'fe80::1'], lh: false, lh6: true },
    { name: 'CIDR including loopback keeps localhost NodePorts', npa: ['127.0.0.0/8', '192.0.2.0/24'], addrs: ['192.0.2.11', '2001:db8:1::11', 'fe80::1'], lh: true, lh6: true },
    { name: 'IPv6 CIDR without ::1 turns ::1 off', npa: ['2001:db8:1::/64'], addrs: ['10.9.0.1', '192.0.2.11', '2001:db8:1::11'], lh: true, lh6: false },
    { name: 'IPv6 CIDR with ::1 keeps it', npa: ['::1/128', '2001:db8:1::/64'], addrs: ['10.9.0.1', '192.0.2.11', '2001:db8:1::11'], lh: true, lh6: true },
    { name: 'primary: the node primary IPs', npa: ['primary'], addrs: ['192.0.2.11', '2001:db8:1::11'], lh: false, lh6: false },
    { name: 'only programmed families', npa: [], families: ['IPv4'], addrs: ['10.9.0.1', '192.0.2.11'], lh: true, lh6: false },
    { name: 'invalid CIDR warned and ignored', npa: ['nope', '10.0.0.0/8'], addrs: ['10.9.0.1', '2001:db8:1::11', 'fe80::1'], lh: false, lh6: true, problems: 1 },
  ];
  for (const row of rows) {
    const r = resolveNodePortAddresses({
      nodePortAddresses: row.npa,
      localAddresses: local,
      primaryIPs,
      localhostNodePorts: row.localhost ?? true,
      families: row.families ?? ['IPv4', 'IPv6'],
    });
    assert.deepEqual(r.addresses, row.addrs, row.name);
    assert.equal(r.localhostNodePorts, row.lh, row.name);
    assert.equal(r.localhostNodePortsV6, row.lh6, row.name);
    assert.equal(r.problems.length, row.problems ?? 0, row.name);
  }
});

test('primaryNodeIPs prefers InternalIP then ExternalIP per family', () => {
  const node = {
    status: {
      addresses: [
        { type: 'Hostname', address: 'node-a' },
        { type: 'ExternalIP', address: '203.0.113.11' },
        { type: 'InternalIP', address: '192.0.2.11' },
        { type: 'ExternalIP', address: '2001:db8:1::11' },
      ],
    },
  };
  assert.deepEqual(primaryNodeIPs(node), { IPv4: '192.0.2.11', IPv6: '2001:db8:1::11' });
  assert.deepEqual(primaryNodeIPs(null), {});
});
