import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HostDevice } from './host-info.ts';
import { podDetection } from './pod-detection.ts';
import { podInterfaces } from './pod-interfaces.ts';

const dev = (name: string, ifindex: number, over: Partial<HostDevice> = {}): HostDevice => ({ name, ifindex, up: true, addresses: [], kind: 'veth', linkType: 1, master: 0, ...over });

// A node: lo; eth0 with the node IP; bond0, a second uplink, with its port eth1; routed pod veths
// (cali*); a bridge with two pod ports; a wireguard device (no Ethernet header); docker0.
const DEVICES: HostDevice[] = [
  dev('lo', 1, { kind: '', linkType: 772 }),
  dev('eth0', 2, { kind: '', addresses: ['192.0.2.11'] }),
  dev('bond0', 3, { kind: 'bond', addresses: ['198.51.100.11'] }),
  dev('eth1', 4, { kind: '', master: 3 }),
  dev('cali1', 5),
  dev('cali2', 6),
  dev('cni0', 7, { kind: 'bridge', addresses: ['10.244.1.1'] }),
  dev('veth1', 8, { master: 7 }),
  dev('veth2', 9, { master: 7 }),
  dev('wg0', 10, { kind: 'wireguard', linkType: 65534 }),
  dev('docker0', 11, { kind: 'bridge' }),
];
const EXTERNAL = [DEVICES[1], DEVICES[2]];
const names = (l: HostDevice[]) => l.map((d) => d.name);
const detect = (detectLocalMode: string, detectLocal = { bridgeInterface: '', interfaceNamePrefix: '' }) =>
  podDetection({ detectLocalMode, detectLocal, clusterCIDR: '10.244.0.0/16' }, null);

test('podInterfaces: the pods\' interfaces per detect-local mode', () => {
  const cases: [string, ReturnType<typeof detect>, string[]][] = [
    ['ClusterCIDR: every Ethernet device but lo, the external ones and their ports', detect('ClusterCIDR'), ['cali1', 'cali2', 'cni0', 'veth1', 'veth2', 'docker0']],
    ['NodeCIDR: the same set', detect('NodeCIDR'), ['cali1', 'cali2', 'cni0', 'veth1', 'veth2', 'docker0']],
    ['BridgeInterface: the bridge\'s ports', detect('BridgeInterface', { bridgeInterface: 'cni0', interfaceNamePrefix: '' }), ['veth1', 'veth2']],
    ['BridgeInterface: a bridge that does not exist', detect('BridgeInterface', { bridgeInterface: 'br-pods', interfaceNamePrefix: '' }), []],
    ['InterfaceNamePrefix', detect('InterfaceNamePrefix', { bridgeInterface: '', interfaceNamePrefix: 'cali' }), ['cali1', 'cali2']],
    ['InterfaceNamePrefix never picks an external device', detect('InterfaceNamePrefix', { bridgeInterface: '', interfaceNamePrefix: 'eth' }), []],
  ];
  for (const [name, d, want] of cases) assert.deepEqual(names(podInterfaces(DEVICES, EXTERNAL, d)), want, name);
});

test('podInterfaces: an external bridge\'s ports are external too, and order is by ifindex', () => {
  const devices = [dev('v2', 20, { master: 7 }), dev('cni0', 7, { kind: 'bridge' }), dev('v1', 12)];
  assert.deepEqual(names(podInterfaces(devices, [devices[1]], detect('ClusterCIDR'))), ['v1']);
});
