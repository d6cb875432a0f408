// The address plan of architecture §5, in one place. Only documentation and benchmarking ranges
// are used so nothing here can collide with a real network the machine is attached to.
//
//   fabric bridge   192.0.2.0/24        2001:db8:1::/64
//     control plane 192.0.2.10          2001:db8:1::10     (etcd, kube-apiserver)
//     node-a        192.0.2.11          2001:db8:1::11
//     node-b        192.0.2.12          2001:db8:1::12
//     client        192.0.2.100         2001:db8:1::100    (outside the cluster)
//   pods            198.18.0.0/16       2001:db8:10::/56
//     node-a        198.18.1.0/24       2001:db8:10:1::/64 (pod i: .10+i / ::10+i, gateway .1 / fe80::1)
//     node-b        198.18.2.0/24       2001:db8:10:2::/64
//   services        198.19.0.0/16       2001:db8:20::/112
//   external/LB     203.0.113.0/24

export interface NodePlan {
  name: 'node-a' | 'node-b';
  ipv4: string;
  ipv6: string;
  podCIDRv4: string;
  podCIDRv6: string;
  /** Pod i gets podPrefixV4 + (10 + i). */
  podPrefixV4: string;
  podPrefixV6: string;
}

export const PLAN = {
  fabricV4Prefix: 24,
  fabricV6Prefix: 64,
  controlPlane: { ipv4: '192.0.2.10', ipv6: '2001:db8:1::10' },
  client: { ipv4: '192.0.2.100', ipv6: '2001:db8:1::100' },
  nodes: [
    {
      name: 'node-a', ipv4: '192.0.2.11', ipv6: '2001:db8:1::11',
      podCIDRv4: '198.18.1.0/24', podCIDRv6: '2001:db8:10:1::/64',
      podPrefixV4: '198.18.1.', podPrefixV6: '2001:db8:10:1::',
    },
    {
      name: 'node-b', ipv4: '192.0.2.12', ipv6: '2001:db8:1::12',
      podCIDRv4: '198.18.2.0/24', podCIDRv6: '2001:db8:10:2::/64',
      podPrefixV4: '198.18.2.', podPrefixV6: '2001:db8:10:2::',
    },
  ] as const satisfies readonly NodePlan[],
  clusterCIDRv4: '198.18.0.0/16',
  clusterCIDRv6: '2001:db8:10::/56',
  serviceCIDRv4: '198.19.0.0/16',
  serviceCIDRv6: '2001:db8:20::/112',
  /** The apiserver takes the first address of each service range for `default/kubernetes`. */
  kubernetesServiceV4: '198.19.0.1',
  kubernetesServiceV6: '2001:db8:20::1',
  externalV4: '203.0.113.0/24',
  /** Pod-side gateway: every pod veth on a node carries these, so pods need no per-node config. */
  podGatewayV4Suffix: '1',
  podGatewayV6: 'fe80::1',
  apiserverPort: 6443,
} as const;
