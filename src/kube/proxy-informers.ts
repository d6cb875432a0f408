/**
 * @module
 * The three watches kube-proxy runs (spec §0, §5.1, §5.16, §5.17): Services and EndpointSlices
 * with a server-side label selector that drops objects another proxy owns (and, for slices,
 * those of headless Services), and the own Node by field selector. Events reach one handler
 * interface, as compact projections (projections.ts).
 */
import type { Clock, Timers } from '../health/clock.ts';
import type { ListWatch } from './list-watch.ts';
import { slimEndpointSlice, type EndpointSliceProjection, type NodeProjection, type ServiceProjection } from './projections.ts';
import { Reflector, type ReflectorError } from './reflector.ts';

/** A Service or slice with this label belongs to another proxy implementation. */
export const SERVICE_PROXY_NAME_LABEL = 'service.kubernetes.io/service-proxy-name';
/** Set by the EndpointSlice controller on the slices of headless Services. */
export const HEADLESS_LABEL = 'service.kubernetes.io/headless';
/**
 * Services: only those another proxy owns are dropped. A Service that carries the headless label
 * but has a ClusterIP is served, as upstream v1.37 does (it applies the headless requirement to
 * EndpointSlices only); a truly headless Service (clusterIP None) is skipped by the model.
 */
export const SERVICE_LABEL_SELECTOR = `!${SERVICE_PROXY_NAME_LABEL}`;
/** EndpointSlices: also those the controller labelled as belonging to a headless Service. */
export const PROXY_LABEL_SELECTOR = `!${SERVICE_PROXY_NAME_LABEL},!${HEADLESS_LABEL}`;

export type InformerKind = 'services' | 'endpointslices' | 'node';

/** What the proxier implements (add = (null, obj), delete = (obj, null)). */
export interface ProxyEventHandler {
  onService(prev: ServiceProjection | null, cur: ServiceProjection | null): void;
  onEndpointSlice(prev: EndpointSliceProjection | null, cur: EndpointSliceProjection | null): void;
  onNode(prev: NodeProjection | null, cur: NodeProjection | null): void;
  /** The first list of `kind` was delivered. Programming must wait for services and endpointslices. */
  onSynced(kind: InformerKind): void;
}

export interface ProxyInformersOptions {
  /** This node's name (the hostname-override value); selects the Node. */
  nodeName: string;
  transport: {
    services: ListWatch<ServiceProjection>;
    endpointSlices: ListWatch<EndpointSliceProjection>;
    nodes: ListWatch<NodeProjection>;
  };
  handler: ProxyEventHandler;
  /** configSyncPeriod (default 15m); 0 turns resync off. */
  resyncPeriodMs: number;
  clock: Clock;
  timers: Timers;
  random?: () => number;
  /** List, watch and handler failures, for logs and metrics; the informers keep retrying. */
  onError?: (err: ReflectorError) => void;
}

/** The running informers. */
export interface ProxyInformers {
  services: Reflector<ServiceProjection>;
  endpointSlices: Reflector<EndpointSliceProjection>;
  node: Reflector<NodeProjection>;
  /** True once both Services and EndpointSlices have synced: the first sync may run. */
  synced(): boolean;
  stop(): Promise<void>;
}

/**
 * Start the Service, EndpointSlice and Node informers.
 *
 * @example
 * const informers = startProxyInformers({ nodeName: 'node-a', transport: createApiListWatches(kc), handler, resyncPeriodMs: 900_000, clock: systemClock, timers: systemTimers });
 */
export function startProxyInformers(options: ProxyInformersOptions): ProxyInformers {
  const nodeName = options.nodeName.trim();
  if (nodeName === '') throw new RangeError('Cannot watch the own Node: the node name is empty');
  const { handler } = options;
  const common = { resyncPeriodMs: options.resyncPeriodMs, clock: options.clock, timers: options.timers, random: options.random, onError: options.onError };
  const services = new Reflector<ServiceProjection>({
    ...common, resource: 'services', listWatch: options.transport.services, labelSelector: SERVICE_LABEL_SELECTOR,
    handler: { onUpdate: (p, c) => handler.onService(p, c), onSynced: () => handler.onSynced('services') },
  });
  const endpointSlices = new Reflector<EndpointSliceProjection>({
    ...common, resource: 'endpointslices', listWatch: options.transport.endpointSlices, labelSelector: PROXY_LABEL_SELECTOR,
    // The change tracker keeps the endpoints (converted); the cache only who a slice belongs to.
    cacheAs: slimEndpointSlice,
    handler: { onUpdate: (p, c) => handler.onEndpointSlice(p, c), onSynced: () => handler.onSynced('endpointslices') },
  });
  const node = new Reflector<NodeProjection>({
    ...common, resource: 'nodes', listWatch: options.transport.nodes, fieldSelector: `metadata.name=${nodeName}`,
    handler: { onUpdate: (p, c) => handler.onNode(p, c), onSynced: () => handler.onSynced('node') },
  });
  services.start();
  endpointSlices.start();
  node.start();
  return {
    services,
    endpointSlices,
    node,
    synced: () => services.hasSynced() && endpointSlices.hasSynced(),
    stop: async () => {
      await Promise.all([services.stop(), endpointSlices.stop(), node.stop()]);
    },
  };
}
