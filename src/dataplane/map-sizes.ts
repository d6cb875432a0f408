/**
 * @module
 * Map sizes that scale with the node (issue 11): the LB maps from the objects listed at start,
 * with headroom; the LRU maps (conntrack, affinity, socket reverse NAT) from node memory, like
 * Cilium's --bpf-map-dynamic-size-ratio (0.25% of total memory for the entries); never below
 * today's defaults, and the --bpf-map-* flags still win. A pinned map that already holds what the
 * cluster needs keeps its size, so a restart with a slightly different cluster does not migrate
 * maps for nothing. Sizes are powers of two: a small change of the cluster gives the same size.
 */
import type { BpfMapSizes } from '../config/bpf-options.ts';
import type { ServiceProjection } from '../kube/projections.ts';

export type MapDemand = { services: number; backends: number; slots: number };

/** Share of total memory for the LRU maps' entries (Cilium's default dynamic size ratio). */
export const DYNAMIC_SIZE_RATIO = 0.0025;
/** Bytes one tracked connection costs across the per-connection maps (entries with kernel overhead): conntrack, SNAT, socket reverse NAT, a quarter affinity. */
const BYTES_PER_CONNECTION = 200 + 100 + 120 + 104 / 4;
/** The LB maps' entries are allocated on use (BPF_F_NO_PREALLOC): max_entries costs only buckets. */
const LB_MAX = 1 << 24;
/** Room to grow before the next restart; the admission control covers what is beyond. */
const HEADROOM = 1.5;

const pow2ceil = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));
const pow2floor = (n: number) => 2 ** Math.floor(Math.log2(Math.max(1, n)));

/**
 * An upper bound of the LB entries the listed objects need: per service port one entry per
 * frontend (ClusterIP, NodePort, each ExternalIP and LB VIP; twice for eTP=Local), VIP markers,
 * a slot per frontend and endpoint, a backend per endpoint. `endpoints`: per "namespace/name",
 * its endpoints summed over slice ports (EndpointsChangeTracker.endpointCounts()).
 */
export function demandOf(services: Iterable<ServiceProjection>, endpoints: ReadonlyMap<string, number>): MapDemand {
  const d: MapDemand = { services: 0, backends: 0, slots: 0 };
  for (const svc of services) {
    const spec = svc.spec ?? {};
    const ports = spec.ports?.length ?? 0;
    if (ports === 0) continue;
    const families = Math.max(1, spec.clusterIPs?.length ?? 0);
    const vips = (spec.externalIPs?.length ?? 0) + (svc.status?.loadBalancer?.ingress?.length ?? 0);
    const external = vips + (spec.ports?.some((p) => (p.nodePort ?? 0) > 0) ? 1 : 0);
    const perPort = 1 + external * (spec.externalTrafficPolicy === 'Local' ? 2 : 1);
    d.services += families * (ports * perPort + 1 + vips);
    const eps = endpoints.get(`${svc.metadata?.namespace ?? ''}/${svc.metadata?.name ?? ''}`) ?? 0;
    d.slots += perPort * eps;
    d.backends += eps;
  }
  return d;
}

export type MapSizingInput = {
  /** --bpf-map-* values (defaults where not given). */
  flags: BpfMapSizes;
  /** The --bpf-map-* flags given on the command line: those sizes are used as they are. */
  explicit: ReadonlySet<keyof BpfMapSizes>;
  defaults: BpfMapSizes;
  /** os.totalmem(). */
  totalMemory: number;
  demand: MapDemand;
  /** Sizes of the maps already pinned (a previous run), by field. */
  pinned: Partial<BpfMapSizes>;
};

export type MapSizing = { sizes: BpfMapSizes; why: Partial<Record<keyof BpfMapSizes, string>> };

export function sizeMaps(o: MapSizingInput): MapSizing {
  const sizes = { ...o.flags };
  const why: MapSizing['why'] = {};
  const lb = (field: 'services' | 'backends' | 'slots', need: number) => {
    const pinned = o.pinned[field];
    const want = Math.min(LB_MAX, Math.max(o.defaults[field], pow2ceil(need * HEADROOM)));
    if (pinned !== undefined && pinned >= need && pinned >= o.defaults[field]) {
      sizes[field] = pinned;
      why[field] = `pinned map holds the ${need} listed entries`;
    } else {
      sizes[field] = want;
      why[field] = want === o.defaults[field] ? 'default' : `${need} entries listed, with headroom`;
    }
  };
  lb('services', o.demand.services);
  lb('backends', o.demand.backends);
  lb('slots', o.demand.slots);
  const connections = pow2floor((o.totalMemory * DYNAMIC_SIZE_RATIO) / BYTES_PER_CONNECTION);
  const lru = (field: 'conntrack' | 'sockRevNat' | 'affinity' | 'snat', n: number) => {
    const want = Math.max(o.defaults[field], n);
    const pinned = o.pinned[field];
    // An LRU map is full by design; keep a pinned size unless memory allows a larger one.
    sizes[field] = pinned !== undefined && pinned >= want ? pinned : want;
    why[field] = sizes[field] === pinned ? 'pinned' : want === o.defaults[field] ? 'default' : `${(DYNAMIC_SIZE_RATIO * 100).toFixed(2)}% of node memory`;
  };
  lru('conntrack', connections);
  lru('snat', connections);
  lru('sockRevNat', connections);
  lru('affinity', connections / 4);
  for (const f of o.explicit) {
    sizes[f] = o.flags[f];
    why[f] = `--bpf-map-${f === 'sockRevNat' ? 'sock-rev-nat' : f}`;
  }
  return { sizes, why };
}
