// Namespaces of the north-south traffic test. Address plan (architecture §5):
//   fabric ns: bridge br0 joining client, node-a and node-b
//   client  c0  192.0.2.100/24  2001:db8:1::100/64
//   node-a  a0  192.0.2.11/24   2001:db8:1::11/64   (our XDP + tc on a0)
//           pa  198.18.1.1/24   2001:db8:10:1::1/64 -> pod-a 198.18.1.5 / 2001:db8:10:1::5 (local backend)
//           routes 198.18.2.0/24, 2001:db8:10:2::/64 via node-b
//   node-b  b0  192.0.2.12/24   2001:db8:1::12/64
//           pb  198.18.2.1/24   2001:db8:10:2::1/64 -> pod-b 198.18.2.5 / 2001:db8:10:2::5 (remote backend)
// Checksum offload is off on every veth: a veth hands locally built packets on with
// CHECKSUM_PARTIAL, whose checksum field holds only the pseudo-header sum; native XDP sees raw
// bytes without that state (a real NIC delivers complete checksums). The bridge side of a0 (fa)
// must run an XDP program for a0's XDP_TX frames to be delivered: enabling GRO on fa gets them
// into fa's queue on 6.18 (its xdp_packets counter moves) but they never reach the bridge, while
// any native XDP program on fa makes them flow; nodeport-traffic.test.ts runs np-xdp-peer.ts
// there.
import { Netns, sh } from './netns.ts';

export interface TrafficTopo {
  fabric: Netns; client: Netns; nodeA: Netns; nodeB: Netns; podA: Netns; podB: Netns;
  remove(): void;
}

function veth(a: Netns, aName: string, b: Netns, bName: string): void {
  a.ip('link', 'add', aName, 'type', 'veth', 'peer', 'name', bName, 'netns', b.name);
  for (const [ns, dev] of [[a, aName], [b, bName]] as const) {
    ns.exec(['ethtool', '-K', dev, 'tx', 'off']);
    ns.ip('link', 'set', dev, 'up');
  }
}

export function createTrafficTopology(): TrafficTopo {
  const made: Netns[] = [];
  const mk = (s: string) => { const n = Netns.create(s); made.push(n); return n; };
  const remove = () => { for (const n of made.reverse()) n.remove(); };
  try {
    const fabric = mk('fab'), client = mk('cli'), nodeA = mk('na'), nodeB = mk('nb'), podA = mk('pa'), podB = mk('pb');
    fabric.ip('link', 'add', 'br0', 'type', 'bridge');
    fabric.ip('link', 'set', 'br0', 'up');
    for (const [ns, dev, port] of [[client, 'c0', 'fc'], [nodeA, 'a0', 'fa'], [nodeB, 'b0', 'fb']] as const) {
      veth(ns, dev, fabric, port);
      fabric.ip('link', 'set', port, 'master', 'br0');
    }
    const addr = (ns: Netns, dev: string, v4: string, v6: string) => {
      ns.ip('addr', 'add', v4, 'dev', dev);
      ns.ip('-6', 'addr', 'add', v6, 'dev', dev, 'nodad');
    };
    addr(client, 'c0', '192.0.2.100/24', '2001:db8:1::100/64');
    addr(nodeA, 'a0', '192.0.2.11/24', '2001:db8:1::11/64');
    addr(nodeB, 'b0', '192.0.2.12/24', '2001:db8:1::12/64');
    for (const [node, pod, nd, pdev, gw4, gw6, p4, p6] of [
      [nodeA, podA, 'pa', 'p0', '198.18.1.1', '2001:db8:10:1::1', '198.18.1.5', '2001:db8:10:1::5'],
      [nodeB, podB, 'pb', 'p0', '198.18.2.1', '2001:db8:10:2::1', '198.18.2.5', '2001:db8:10:2::5'],
    ] as const) {
      node.sysctl('net.ipv4.ip_forward', '1');
      node.sysctl('net.ipv6.conf.all.forwarding', '1');
      veth(node, nd, pod, pdev);
      addr(node, nd, `${gw4}/24`, `${gw6}/64`);
      addr(pod, pdev, `${p4}/24`, `${p6}/64`);
      pod.ip('route', 'add', 'default', 'via', gw4);
      pod.ip('-6', 'route', 'add', 'default', 'via', gw6);
    }
    nodeA.ip('route', 'add', '198.18.2.0/24', 'via', '192.0.2.12');
    nodeA.ip('-6', 'route', 'add', '2001:db8:10:2::/64', 'via', '2001:db8:1::12');
    return { fabric, client, nodeA, nodeB, podA, podB, remove };
  } catch (err) {
    remove();
    throw err;
  }
}

export { sh };
