/**
 * @module
 * The compact projections the informer caches hold instead of whole V1 objects (architecture §3):
 * for each resource, the fields kube-proxy reads, under their V1 names and shapes (so a V1Service
 * is also a ServiceProjection, and code written against the projection accepts either). Everything
 * else (managedFields, selectors, targetRefs, conditions of the status, spec fields of no use to a
 * proxy) is dropped as the object is decoded, so the caches of 10k Services and 100k endpoints stay
 * small. A transport (JSON here, protobuf later) decodes straight into these types.
 *
 * The projectors take what JSON.parse returned and copy only known fields of the expected type;
 * a field of another type is left out (the model then reports what is missing).
 */

/** Metadata fields read anywhere in the proxy. */
export type ProjectedMeta = {
  namespace?: string;
  name?: string;
  resourceVersion?: string;
  uid?: string;
  /** Services: admission order (older first); decoded to a Date by the watch reviver. */
  creationTimestamp?: Date;
  /** Nodes: a Node being deleted is not eligible for health checks. */
  deletionTimestamp?: Date;
  /** Only the labels the proxy reads (see each projector). */
  labels?: Record<string, string>;
  /** Only the annotations the proxy reads (the last-change-trigger-time). */
  annotations?: Record<string, string>;
};

export type ProjectedServicePort = { name?: string; protocol?: string; port: number; nodePort?: number };

export type ServiceProjection = {
  metadata?: ProjectedMeta;
  spec?: {
    type?: string;
    clusterIP?: string;
    clusterIPs?: string[];
    externalIPs?: string[];
    loadBalancerSourceRanges?: string[];
    sessionAffinity?: string;
    sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } };
    externalTrafficPolicy?: string;
    internalTrafficPolicy?: string;
    healthCheckNodePort?: number;
    trafficDistribution?: string;
    ports?: ProjectedServicePort[];
  };
  status?: { loadBalancer?: { ingress?: { ip?: string; ipMode?: string }[] } };
};

export type ProjectedEndpoint = {
  /** Only the first address: the only one kube-proxy uses. */
  addresses: string[];
  conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
  nodeName?: string;
  zone?: string;
  hints?: { forZones?: { name: string }[]; forNodes?: { name: string }[] };
};

export type EndpointSliceProjection = {
  metadata?: ProjectedMeta;
  addressType: string;
  ports?: { name?: string; protocol?: string; port?: number }[];
  endpoints: ProjectedEndpoint[];
};

export type NodeProjection = {
  metadata?: ProjectedMeta;
  spec?: { taints?: { key: string; effect?: string; value?: string }[]; podCIDRs?: string[] };
  status?: { addresses?: { type: string; address: string }[] };
};

/** networking.k8s.io/v1 ServiceCIDR: the ranges ClusterIPs are allocated from. */
export type ServiceCIDRProjection = {
  metadata?: ProjectedMeta;
  spec?: { cidrs?: string[] };
};

/** Service labels the proxy reads. */
const SERVICE_LABELS = ['service.kubernetes.io/service-proxy-name'];
/** EndpointSlice labels the proxy reads. */
const SLICE_LABELS = ['kubernetes.io/service-name', 'service.kubernetes.io/headless', 'service.kubernetes.io/service-proxy-name'];
const SLICE_ANNOTATIONS = ['endpoints.kubernetes.io/last-change-trigger-time'];

export type ProjectionKind = 'service' | 'endpointslice' | 'node' | 'servicecidr';

/**
 * The label and annotation keys each projection keeps (null: every key). The protobuf decoder
 * (protobuf-decoder.ts) keeps the same ones, so both encodings give the same projections.
 */
export const PROJECTED_LABELS: Record<ProjectionKind, { labels: readonly string[] | null; annotations: readonly string[] | null }> = {
  service: { labels: SERVICE_LABELS, annotations: [] },
  endpointslice: { labels: SLICE_LABELS, annotations: SLICE_ANNOTATIONS },
  node: { labels: null, annotations: [] },
  servicecidr: { labels: [], annotations: [] },
};

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const bool = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);
const strings = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined);
const date = (v: unknown): Date | undefined => (v instanceof Date ? v : typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? new Date(v) : undefined);

/** Copies `o[k]` into `out[k]` when defined; keeps absent fields absent (smaller objects). */
function set<T extends object, K extends keyof T>(out: T, k: K, v: T[K] | undefined): void {
  if (v !== undefined) out[k] = v;
}

function pick(m: unknown, keys: readonly string[]): Record<string, string> | undefined {
  if (!isObj(m)) return undefined;
  let out: Record<string, string> | undefined;
  for (const k of keys) {
    const v = m[k];
    if (typeof v === 'string') (out ??= {})[k] = v;
  }
  return out;
}

/**
 * Interns short, highly repeated strings (node names, zones): JSON.parse makes a new string for
 * each of the 100k occurrences. Bounded, so a flood of distinct values cannot grow it.
 */
class Interner {
  #m = new Map<string, string>();
  readonly #max: number;
  constructor(max: number) {
    this.#max = max;
  }
  get(s: string | undefined): string | undefined {
    if (s === undefined) return undefined;
    const have = this.#m.get(s);
    if (have !== undefined) return have;
    if (this.#m.size < this.#max) this.#m.set(s, s);
    return s;
  }
}
const interned = new Interner(16384);

/** The shared copy of a short, highly repeated name (node names, zones, namespaces). */
export function internName(s: string): string {
  return interned.get(s) ?? s;
}

function meta(m: unknown, labels: readonly string[], annotations: readonly string[] = []): ProjectedMeta {
  const out: ProjectedMeta = {};
  if (!isObj(m)) return out;
  set(out, 'namespace', interned.get(str(m.namespace)));
  set(out, 'name', str(m.name));
  set(out, 'resourceVersion', str(m.resourceVersion));
  set(out, 'uid', str(m.uid));
  set(out, 'creationTimestamp', date(m.creationTimestamp));
  set(out, 'deletionTimestamp', date(m.deletionTimestamp));
  set(out, 'labels', labels.length > 0 ? pick(m.labels, labels) : undefined);
  set(out, 'annotations', annotations.length > 0 ? pick(m.annotations, annotations) : undefined);
  return out;
}

/** A Service as the informer cache keeps it. */
export function projectService(raw: unknown): ServiceProjection {
  const o = isObj(raw) ? raw : {};
  const out: ServiceProjection = { metadata: meta(o.metadata, SERVICE_LABELS) };
  if (isObj(o.spec)) {
    const s = o.spec;
    const spec: NonNullable<ServiceProjection['spec']> = {};
    set(spec, 'type', str(s.type));
    set(spec, 'clusterIP', str(s.clusterIP));
    set(spec, 'clusterIPs', strings(s.clusterIPs));
    set(spec, 'externalIPs', strings(s.externalIPs));
    set(spec, 'loadBalancerSourceRanges', strings(s.loadBalancerSourceRanges));
    set(spec, 'sessionAffinity', str(s.sessionAffinity));
    const t = isObj(s.sessionAffinityConfig) && isObj(s.sessionAffinityConfig.clientIP) ? num(s.sessionAffinityConfig.clientIP.timeoutSeconds) : undefined;
    if (t !== undefined) spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: t } };
    set(spec, 'externalTrafficPolicy', str(s.externalTrafficPolicy));
    set(spec, 'internalTrafficPolicy', str(s.internalTrafficPolicy));
    set(spec, 'healthCheckNodePort', num(s.healthCheckNodePort));
    set(spec, 'trafficDistribution', str(s.trafficDistribution));
    if (Array.isArray(s.ports)) {
      spec.ports = s.ports.filter(isObj).map((p) => {
        const port: ProjectedServicePort = { port: num(p.port) ?? 0 };
        set(port, 'name', str(p.name));
        set(port, 'protocol', str(p.protocol));
        set(port, 'nodePort', num(p.nodePort));
        return port;
      });
    }
    out.spec = spec;
  }
  const ingress = isObj(o.status) && isObj(o.status.loadBalancer) && Array.isArray(o.status.loadBalancer.ingress) ? o.status.loadBalancer.ingress : undefined;
  if (ingress) {
    out.status = {
      loadBalancer: {
        ingress: ingress.filter(isObj).map((i) => {
          const e: { ip?: string; ipMode?: string } = {};
          set(e, 'ip', str(i.ip));
          set(e, 'ipMode', str(i.ipMode));
          return e;
        }),
      },
    };
  }
  return out;
}

const NO_ADDRESSES: string[] = [];

function projectEndpoint(e: Obj): ProjectedEndpoint {
  const first = Array.isArray(e.addresses) && typeof e.addresses[0] === 'string' ? e.addresses[0] : undefined;
  const out: ProjectedEndpoint = { addresses: first === undefined ? NO_ADDRESSES : [first] };
  if (isObj(e.conditions)) {
    const c: NonNullable<ProjectedEndpoint['conditions']> = {};
    set(c, 'ready', bool(e.conditions.ready));
    set(c, 'serving', bool(e.conditions.serving));
    set(c, 'terminating', bool(e.conditions.terminating));
    out.conditions = c;
  }
  set(out, 'nodeName', interned.get(str(e.nodeName)));
  set(out, 'zone', interned.get(str(e.zone)));
  if (isObj(e.hints)) {
    const names = (v: unknown) => (Array.isArray(v) ? v.filter(isObj).map((x) => ({ name: interned.get(str(x.name)) ?? '' })) : undefined);
    const h: NonNullable<ProjectedEndpoint['hints']> = {};
    set(h, 'forZones', names(e.hints.forZones));
    set(h, 'forNodes', names(e.hints.forNodes));
    out.hints = h;
  }
  return out;
}

/** An EndpointSlice as the informer cache keeps it. */
export function projectEndpointSlice(raw: unknown): EndpointSliceProjection {
  const o = isObj(raw) ? raw : {};
  const out: EndpointSliceProjection = {
    metadata: meta(o.metadata, SLICE_LABELS, SLICE_ANNOTATIONS),
    addressType: str(o.addressType) ?? '',
    endpoints: Array.isArray(o.endpoints) ? o.endpoints.filter(isObj).map(projectEndpoint) : [],
  };
  if (Array.isArray(o.ports)) {
    out.ports = o.ports.filter(isObj).map((p) => {
      const port: { name?: string; protocol?: string; port?: number } = {};
      set(port, 'name', str(p.name));
      set(port, 'protocol', str(p.protocol));
      set(port, 'port', num(p.port));
      return port;
    });
  }
  return out;
}

const NO_ENDPOINTS: ProjectedEndpoint[] = [];

/**
 * What the EndpointSlice informer keeps once the change tracker has converted a slice: its
 * identity and the labels that say which Service it belongs to. The endpoints live on in the
 * tracker's converted form only, not twice.
 */
export function slimEndpointSlice(s: EndpointSliceProjection): EndpointSliceProjection {
  return { metadata: s.metadata, addressType: s.addressType, endpoints: NO_ENDPOINTS };
}

/** A Node as the informer cache keeps it: labels (topology), taints (draining), addresses. */
export function projectNode(raw: unknown): NodeProjection {
  const o = isObj(raw) ? raw : {};
  const m = isObj(o.metadata) ? o.metadata : {};
  const out: NodeProjection = { metadata: meta(m, []) };
  // Every label: topology selection reads the zone, and a label change triggers a full sync.
  if (isObj(m.labels)) out.metadata!.labels = Object.fromEntries(Object.entries(m.labels).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
  if (isObj(o.spec) && Array.isArray(o.spec.taints)) {
    out.spec = {
      taints: o.spec.taints.filter(isObj).map((t) => {
        const taint: { key: string; effect?: string; value?: string } = { key: str(t.key) ?? '' };
        set(taint, 'effect', str(t.effect));
        set(taint, 'value', str(t.value));
        return taint;
      }),
    };
  }
  // detectLocalMode NodeCIDR: the node's pod ranges are the pods' addresses.
  const podCIDRs = isObj(o.spec) ? strings(o.spec.podCIDRs) : undefined;
  if (podCIDRs && podCIDRs.length > 0) out.spec = { ...out.spec, podCIDRs };
  if (isObj(o.status) && Array.isArray(o.status.addresses)) {
    out.status = { addresses: o.status.addresses.filter(isObj).map((a) => ({ type: str(a.type) ?? '', address: str(a.address) ?? '' })) };
  }
  return out;
}

/** A ServiceCIDR as the informer cache keeps it: its name and its CIDRs. */
export function projectServiceCIDR(raw: unknown): ServiceCIDRProjection {
  const o = isObj(raw) ? raw : {};
  const out: ServiceCIDRProjection = { metadata: meta(o.metadata, []) };
  if (isObj(o.spec)) {
    const cidrs = strings(o.spec.cidrs);
    out.spec = cidrs ? { cidrs } : {};
  }
  return out;
}
