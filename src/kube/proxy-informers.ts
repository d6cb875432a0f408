/**
 * @module
 * The three watches kube-proxy runs (spec §0, §5.1, §5.16, §5.17): Services and EndpointSlices
 * with a server-side label selector that drops objects another proxy owns and headless slices,
 * and the own Node by field selector. Events reach one handler interface.
 */
import type { V1EndpointSlice, V1Node, V1Service } from '@kubernetes/client-node';
import type { Clock, Timers } from '../health/clock.ts';
import type { ListWatch } from './list-watch.ts';
import { Reflector, type ReflectorError } from './reflector.ts';

/** A Service or slice with this label belongs to another proxy implementation. */
export const SERVICE_PROXY_NAME_LABEL = 'service.kubernetes.io/service-proxy-name';
/** Set by the EndpointSlice controller on the slices of headless Services. */
export const HEADLESS_LABEL = 'service.kubernetes.io/headless';
/**
 * Upstream builds one selector from both requirements and applies it to every informer of its
 * shared factory, Services and EndpointSlices alike; we send the same one so the server filters.
 */
export const PROXY_LABEL_SELECTOR = `!${SERVICE_PROXY_NAME_LABEL},!${HEADLESS_LABEL}`;

export type InformerKind = 'services' | 'endpointslices' | 'node';

/** What the proxier implements (add = (null, obj), delete = (obj, null)). */
export interface ProxyEventHandler {
  onService(prev: V1Service | null, cur: V1Service | null): void;
  onEndpointSlice(prev: V1EndpointSlice | null, cur: V1EndpointSlice | null): void;
  onNode(prev: V1Node | null, cur: V1Node | null): void;
  /** The first list of `kind` was delivered. Programming must wait for services and endpointslices. */
  onSynced(kind: InformerKind): void;
}

export interface ProxyInformersOptions {
  /** This node's name (the hostname-override value); selects the Node. */
  nodeName: string;
  transport: {
    services: ListWatch<V1Service>;
    endpointSlices: ListWatch<V1EndpointSlice>;
    nodes: ListWatch<V1Node>;
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
  services: Reflector<V1Service>;
  endpointSlices: Reflector<V1EndpointSlice>;
  node: Reflector<V1Node>;
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
  const services = new Reflector<V1Service>({
    ...common, resource: 'services', listWatch: options.transport.services, labelSelector: PROXY_LABEL_SELECTOR,
    handler: { onUpdate: (p, c) => handler.onService(p, c), onSynced: () => handler.onSynced('services') },
  });
  const endpointSlices = new Reflector<V1EndpointSlice>({
    ...common, resource: 'endpointslices', listWatch: options.transport.endpointSlices, labelSelector: PROXY_LABEL_SELECTOR,
    handler: { onUpdate: (p, c) => handler.onEndpointSlice(p, c), onSynced: () => handler.onSynced('endpointslices') },
  });
  const node = new Reflector<V1Node>({
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
