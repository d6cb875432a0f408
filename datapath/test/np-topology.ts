// The one-namespace topology the BPF_PROG_TEST_RUN fixtures run in, so bpf_fib_lookup sees our
// routes and neighbours and never the machine's. Node-a owns ext0 (fabric) and ext1 (a second
// uplink, to tell XDP_TX from XDP_REDIRECT); all neighbours are static.
//   ext0: 192.0.2.11/24, 2001:db8:1::11/64     client 192.0.2.100 / 2001:db8:1::100 (MAC ...:01:00)
//                                               node-b 192.0.2.12 / 2001:db8:1::12 (MAC ...:00:12)
//   pods of node-b 198.18.2.0/24, 2001:db8:10:2::/64 via node-b (out of ext0: XDP_TX)
//   ext1: 198.18.250.1/24, 2001:db8:250::1/64  router .2 / ::2 (MAC ...:02:50) for pods 198.18.3.0/24,
//                                               2001:db8:10:3::/64 (out of ext1: XDP_REDIRECT)
//   nox0: a bridge, which has no native XDP (attach fallback to tc)
import { Netns } from './netns.ts';

export const MAC = {
  ext0: '02:00:00:00:00:11', ext1: '02:00:00:00:02:01', client: '02:00:00:00:01:00', nodeB: '02:00:00:00:00:12', router1: '02:00:00:00:02:50',
} as const;

export interface FixtureTopo { ns: Netns; ext0: number; ext1: number; nox0: number }

export function createFixtureTopology(suffix: string): FixtureTopo {
  const ns = Netns.create(suffix);
  try {
    ns.sysctl('net.ipv4.ip_forward', '1');
    ns.sysctl('net.ipv6.conf.all.forwarding', '1');
    for (const [dev, peer, mac] of [['ext0', 'ext0p', MAC.ext0], ['ext1', 'ext1p', MAC.ext1]] as const) {
      ns.ip('link', 'add', dev, 'address', mac, 'type', 'veth', 'peer', 'name', peer);
      ns.ip('link', 'set', dev, 'up');
      ns.ip('link', 'set', peer, 'up');
    }
    ns.ip('addr', 'add', '192.0.2.11/24', 'dev', 'ext0');
    ns.ip('-6', 'addr', 'add', '2001:db8:1::11/64', 'dev', 'ext0', 'nodad');
    ns.ip('addr', 'add', '198.18.250.1/24', 'dev', 'ext1');
    ns.ip('-6', 'addr', 'add', '2001:db8:250::1/64', 'dev', 'ext1', 'nodad');
    const neigh = (addr: string, mac: string, dev: string) =>
      ns.ip('neigh', 'replace', addr, 'lladdr', mac, 'dev', dev, 'nud', 'permanent');
    neigh('192.0.2.100', MAC.client, 'ext0');
    neigh('192.0.2.200', MAC.client, 'ext0');
    neigh('2001:db8:1::100', MAC.client, 'ext0');
    neigh('2001:db8:1::200', MAC.client, 'ext0');
    neigh('192.0.2.12', MAC.nodeB, 'ext0');
    neigh('2001:db8:1::12', MAC.nodeB, 'ext0');
    neigh('198.18.250.2', MAC.router1, 'ext1');
    neigh('2001:db8:250::2', MAC.router1, 'ext1');
    ns.ip('route', 'add', '198.18.2.0/24', 'via', '192.0.2.12', 'dev', 'ext0');
    ns.ip('-6', 'route', 'add', '2001:db8:10:2::/64', 'via', '2001:db8:1::12', 'dev', 'ext0');
    ns.ip('route', 'add', '198.18.3.0/24', 'via', '198.18.250.2', 'dev', 'ext1');
    ns.ip('-6', 'route', 'add', '2001:db8:10:3::/64', 'via', '2001:db8:250::2', 'dev', 'ext1');
    // A device without native XDP (a bridge has no XDP driver hook) for the attach fallback.
    ns.ip('link', 'add', 'nox0', 'type', 'bridge');
    ns.ip('link', 'set', 'nox0', 'up');
    return { ns, ext0: ns.ifindex('ext0'), ext1: ns.ifindex('ext1'), nox0: ns.ifindex('nox0') };
  } catch (err) {
    ns.remove();
    throw err;
  }
}
