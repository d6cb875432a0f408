/**
 * @module
 * Endpoint selection for one service port (spec §5.9), the same decisions as kube-proxy's
 * CategorizeEndpoints, as a pure function.
 */
import type { EndpointInfo } from './endpoints.ts';
import { usesClusterEndpoints, usesLocalEndpoints, type ServicePortInfo } from './service-port.ts';

export const ZONE_LABEL = 'topology.kubernetes.io/zone';

export type TopologyMode = '' | 'PreferSameNode' | 'PreferSameZone';

export type CategorizedEndpoints = {
  /** For iTP=Cluster internal traffic and eTP=Cluster external traffic (and the eTP=Local
   * short-circuit); topology-filtered. Empty when the port never uses Cluster policy. */
  cluster: EndpointInfo[];
  /** For iTP=Local or eTP=Local. Empty when the port never uses Local policy. */
  local: EndpointInfo[];
  /** Union of the two: every endpoint this node may send to (for conntrack cleanup). */
  allReachable: EndpointInfo[];
  /** Any usable endpoint anywhere in the cluster (false: REJECT, true with none local: DROP). */
  hasAnyEndpoints: boolean;
  /** The topology mode used for the cluster set. */
  topologyMode: TopologyMode;
  /** The cluster (or local) set fell back to serving-and-terminating endpoints. */
  clusterUsesTerminating: boolean;
  localUsesTerminating: boolean;
};

export type CategorizeOptions = {
  nodeName: string;
  /** The node's labels (topology.kubernetes.io/zone is read). */
  topologyLabels: Record<string, string>;
  /** The PreferSameTrafficDistribution gate (node hints). @default true (GA behaviour) */
  preferSameTrafficDistribution?: boolean;
};

const servingTerminating = (ep: EndpointInfo) => ep.serving && ep.terminating;

/**
 * Hints are used all-or-nothing: only if every ready endpoint carries them and at least one is
 * for this node (or zone); one endpoint without hints disables them for the whole port.
 */
export function topologyModeFromHints(endpoints: EndpointInfo[], nodeName: string, zone: string, nodeHintsEnabled: boolean): TopologyMode {
  let anyReady = false;
  let allNodeHints = true;
  let forNode = false;
  let allZoneHints = true;
  let forZone = false;
  for (const ep of endpoints) {
    if (!ep.ready) continue;
    anyReady = true;
    if (ep.nodeHints.length === 0) allNodeHints = false;
    else if (ep.nodeHints.includes(nodeName)) forNode = true;
    if (ep.zoneHints.length === 0) allZoneHints = false;
    else if (zone !== '' && ep.zoneHints.includes(zone)) forZone = true;
  }
  if (!anyReady) return '';
  if (nodeHintsEnabled && allNodeHints && forNode) return 'PreferSameNode';
  if (allZoneHints && forZone) return 'PreferSameZone';
  return '';
}

function availableForTopology(ep: EndpointInfo, mode: TopologyMode, nodeName: string, zone: string): boolean {
  if (mode === 'PreferSameNode') return ep.nodeHints.includes(nodeName);
  if (mode === 'PreferSameZone') return ep.zoneHints.includes(zone);
  return true;
}

/**
 * Splits a port's endpoints into the cluster and local sets. Ready endpoints are used first;
 * each set independently falls back to serving-and-terminating endpoints when it has no ready
 * one (topology is ignored for that fallback: if a zone had ready endpoints the mode would have
 * selected them). Not-ready, non-serving endpoints are never used.
 */
export function categorizeEndpoints(endpoints: EndpointInfo[], sp: ServicePortInfo, opts: CategorizeOptions): CategorizedEndpoints {
  const out: CategorizedEndpoints = {
    cluster: [],
    local: [],
    allReachable: [],
    hasAnyEndpoints: false,
    topologyMode: '',
    clusterUsesTerminating: false,
    localUsesTerminating: false,
  };
  if (endpoints.length === 0) return out;
  const zone = opts.topologyLabels[ZONE_LABEL] ?? '';
  const useCluster = usesClusterEndpoints(sp);
  const useLocal = usesLocalEndpoints(sp);

  if (useCluster) {
    out.topologyMode = topologyModeFromHints(endpoints, opts.nodeName, zone, opts.preferSameTrafficDistribution ?? true);
    out.cluster = endpoints.filter((ep) => ep.ready && availableForTopology(ep, out.topologyMode, opts.nodeName, zone));
    if (out.cluster.length === 0) {
      out.cluster = endpoints.filter(servingTerminating);
      out.clusterUsesTerminating = out.cluster.length > 0;
    }
    out.hasAnyEndpoints = out.cluster.length > 0;
  }
  if (!useLocal) {
    out.allReachable = out.cluster;
    return out;
  }

  let localReady = false;
  let localTerminating = false;
  for (const ep of endpoints) {
    if (ep.ready) {
      out.hasAnyEndpoints = true;
      if (ep.isLocal) localReady = true;
    } else if (servingTerminating(ep)) {
      out.hasAnyEndpoints = true;
      if (ep.isLocal) localTerminating = true;
    }
  }
  if (localReady) out.local = endpoints.filter((ep) => ep.isLocal && ep.ready);
  else if (localTerminating) {
    out.local = endpoints.filter((ep) => ep.isLocal && servingTerminating(ep));
    out.localUsesTerminating = true;
  }
  if (!useCluster) {
    out.allReachable = out.local;
    return out;
  }
  const union = new Map<string, EndpointInfo>();
  for (const ep of [...out.cluster, ...out.local]) union.set(`${ep.ip}|${ep.port}`, ep);
  out.allReachable = [...union.values()];
  return out;
}
