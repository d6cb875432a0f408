import assert from 'node:assert/strict';
import { test } from 'node:test';
import { podDetection, type DetectLocalSettings, type PodMatch } from './pod-detection.ts';

const settings = (over: Partial<DetectLocalSettings>): DetectLocalSettings => ({
  detectLocalMode: '', detectLocal: { bridgeInterface: '', interfaceNamePrefix: '' }, clusterCIDR: '', ...over,
});
const show = (m: PodMatch) => (m.kind === 'cidr' ? m.cidr.text : m.kind === 'none' ? `none: ${m.why}` : 'any');

test('podDetection: each detect-local mode, and what it matches per family', () => {
  const cases: { name: string; s: Partial<DetectLocalSettings>; node?: string[] | null; mode: string; v4: string; v6: string; bridge?: string; prefix?: string }[] = [
    { name: 'default mode is ClusterCIDR, dual-stack', s: { clusterCIDR: '10.244.0.0/16,fd00:10::/56' }, mode: 'ClusterCIDR', v4: '10.244.0.0/16', v6: 'fd00:10::/56' },
    { name: 'host bits are cleared', s: { detectLocalMode: 'ClusterCIDR', clusterCIDR: ' 10.244.1.7/16 ' }, mode: 'ClusterCIDR', v4: '10.244.0.0/16', v6: 'none: clusterCIDR (--cluster-cidr) has no IPv6 range' },
    { name: 'no clusterCIDR: nothing is a pod\'s (upstream\'s no-op detector)', s: {}, mode: 'ClusterCIDR',
      v4: 'none: clusterCIDR (--cluster-cidr) has no IPv4 range', v6: 'none: clusterCIDR (--cluster-cidr) has no IPv6 range' },
    { name: 'NodeCIDR from the Node', s: { detectLocalMode: 'NodeCIDR', clusterCIDR: '10.0.0.0/8' }, node: ['10.244.3.0/24', 'fd00:10:0:3::/64'], mode: 'NodeCIDR', v4: '10.244.3.0/24', v6: 'fd00:10:0:3::/64' },
    { name: 'NodeCIDR before the Node is known', s: { detectLocalMode: 'NodeCIDR' }, node: null, mode: 'NodeCIDR',
      v4: 'none: the Node (not known yet) has no IPv4 range', v6: 'none: the Node (not known yet) has no IPv6 range' },
    { name: 'NodeCIDR, single-stack node', s: { detectLocalMode: 'NodeCIDR' }, node: ['10.244.3.0/24'], mode: 'NodeCIDR',
      v4: '10.244.3.0/24', v6: 'none: the Node\'s spec.podCIDRs has no IPv6 range' },
    { name: 'BridgeInterface: every packet from the bridge', s: { detectLocalMode: 'BridgeInterface', detectLocal: { bridgeInterface: 'cni0', interfaceNamePrefix: '' }, clusterCIDR: '10.0.0.0/8' },
      mode: 'BridgeInterface', v4: 'any', v6: 'any', bridge: 'cni0' },
    { name: 'InterfaceNamePrefix', s: { detectLocalMode: 'InterfaceNamePrefix', detectLocal: { bridgeInterface: '', interfaceNamePrefix: 'cali' } },
      mode: 'InterfaceNamePrefix', v4: 'any', v6: 'any', prefix: 'cali' },
  ];
  for (const c of cases) {
    const d = podDetection(settings(c.s), c.node ?? null);
    assert.equal(d.mode, c.mode, c.name);
    assert.equal(show(d.pods.IPv4), c.v4, c.name);
    assert.equal(show(d.pods.IPv6), c.v6, c.name);
    assert.equal(d.bridge, c.bridge, c.name);
    assert.equal(d.prefix, c.prefix, c.name);
  }
});
