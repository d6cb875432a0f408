/**
 * @module
 * podInterfaces: the node-side interfaces of the pods, where the per-packet service translation of
 * --bpf-socket-lb=host-namespace-only runs (datapath/bpf/pod.bpf.c), chosen by the local-traffic
 * detection (pod-detection.ts):
 * - BridgeInterface: the ports of the named bridge. Upstream matches packets coming in on the bridge
 *   itself; a pod's packet to a pod on the same bridge never reaches the bridge device (kube-proxy
 *   relies on br_netfilter there), so the programs go where every pod packet enters: the ports.
 * - InterfaceNamePrefix: the interfaces whose name starts with the prefix.
 * - ClusterCIDR, NodeCIDR: the test is the packet's address (kpb_pod_cfg), so the programs go on
 *   every interface a pod's packet may come in by: every Ethernet device but loopback, the node's
 *   external devices (the north-south programs own those) and the ports of those.
 * Only Ethernet devices (ARPHRD_ETHER): the programs read an Ethernet header, which an L3 device
 * (tun, wireguard, ipip) does not have.
 */
import type { HostDevice } from './host-info.ts';
import type { PodDetection } from './pod-detection.ts';

const ARPHRD_ETHER = 1;

/** The pod interfaces among `devices`, in ifindex order; `external` are the north-south devices. */
export function podInterfaces(devices: readonly HostDevice[], external: readonly HostDevice[], d: PodDetection): HostDevice[] {
  const ext = new Set(external.map((x) => x.ifindex));
  const candidate = (x: HostDevice) => x.name !== 'lo' && !ext.has(x.ifindex) && !ext.has(x.master ?? 0) && (x.linkType ?? ARPHRD_ETHER) === ARPHRD_ETHER;
  let out: HostDevice[];
  if (d.mode === 'BridgeInterface') {
    const bridge = devices.find((x) => x.name === d.bridge);
    out = bridge ? devices.filter((x) => x.master === bridge.ifindex && candidate(x)) : [];
  } else if (d.mode === 'InterfaceNamePrefix') {
    out = devices.filter((x) => d.prefix !== undefined && d.prefix !== '' && x.name.startsWith(d.prefix) && candidate(x));
  } else {
    out = devices.filter(candidate);
  }
  return [...out].sort((a, b) => a.ifindex - b.ifindex);
}
