/**
 * @module
 * podDetection: which packets are a pod's, for the per-packet service translation at the pod
 * interfaces (--bpf-socket-lb=host-namespace-only, datapath/include/pod.h), from kube-proxy's own
 * local-traffic detection settings (--detect-local-mode, --cluster-cidr, --pod-bridge-interface,
 * --pod-interface-name-prefix; upstream's pkg/proxy/util/localdetector):
 * - ClusterCIDR: a packet is a pod's when its source lies in that family's clusterCIDR;
 * - NodeCIDR: ... in that family's entry of the Node's spec.podCIDRs;
 * - BridgeInterface: when it comes from the named bridge (here: from one of its ports);
 * - InterfaceNamePrefix: when it comes from an interface whose name starts with the prefix.
 * Where upstream's detector has no data for a family (no CIDR of that family), it matches nothing,
 * and so does ours: that family's pod traffic is not translated, and the reason is reported.
 * Pure: the caller logs the problems and writes the result into kpb_pod_cfg.
 */
import { parseCidr, type IpFamily, type ParsedCidr } from '../model/ip.ts';

export type PodMatch = { kind: 'any' } | { kind: 'cidr'; cidr: ParsedCidr } | { kind: 'none'; why: string };

export type PodDetection = {
  mode: 'ClusterCIDR' | 'NodeCIDR' | 'BridgeInterface' | 'InterfaceNamePrefix';
  /** Per family: every packet on a pod interface, those of a CIDR, or none (with the reason). */
  pods: Record<IpFamily, PodMatch>;
  /** BridgeInterface: the bridge whose ports are the pods' interfaces. */
  bridge?: string;
  /** InterfaceNamePrefix: the prefix of the pods' interfaces. */
  prefix?: string;
};

export type DetectLocalSettings = {
  /** '' means ClusterCIDR, as upstream's platform default. */
  detectLocalMode: string;
  detectLocal: { bridgeInterface: string; interfaceNamePrefix: string };
  /** Comma-separated, at most one per family (validated with the configuration). */
  clusterCIDR: string;
};

const FAMILIES: IpFamily[] = ['IPv4', 'IPv6'];

function byFamily(cidrs: readonly string[], source: string): Record<IpFamily, PodMatch> {
  const parsed = cidrs.map((c) => c.trim()).filter((c) => c !== '').map((c) => parseCidr(c));
  const out = {} as Record<IpFamily, PodMatch>;
  for (const f of FAMILIES) {
    const cidr = parsed.find((c) => c?.family === f);
    out[f] = cidr ? { kind: 'cidr', cidr } : { kind: 'none', why: `${source} has no ${f} range` };
  }
  return out;
}

/**
 * The detection for `settings`; `nodePodCIDRs` is the Node's spec.podCIDRs (null while the Node
 * is not known), used by NodeCIDR only.
 */
export function podDetection(settings: DetectLocalSettings, nodePodCIDRs: readonly string[] | null): PodDetection {
  const mode = settings.detectLocalMode === '' ? 'ClusterCIDR' : settings.detectLocalMode;
  const any: Record<IpFamily, PodMatch> = { IPv4: { kind: 'any' }, IPv6: { kind: 'any' } };
  switch (mode) {
    case 'NodeCIDR':
      return { mode, pods: nodePodCIDRs === null ? byFamily([], 'the Node (not known yet)') : byFamily(nodePodCIDRs, 'the Node\'s spec.podCIDRs') };
    case 'BridgeInterface':
      return { mode, pods: any, bridge: settings.detectLocal.bridgeInterface };
    case 'InterfaceNamePrefix':
      return { mode, pods: any, prefix: settings.detectLocal.interfaceNamePrefix };
    case 'ClusterCIDR':
      return { mode, pods: byFamily(settings.clusterCIDR.split(','), 'clusterCIDR (--cluster-cidr)') };
    default:
      // Validation refuses other values before the datapath exists; nothing is a pod's here.
      return { mode: 'ClusterCIDR', pods: byFamily([], `detectLocalMode ${JSON.stringify(mode)}`) };
  }
}
