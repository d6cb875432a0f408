import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1EndpointSlice, V1Node, V1Service } from '@kubernetes/client-node';
import type { KubeObject, ListOptions, ListPage, ListWatch, WatchEvent, WatchOptions } from './list-watch.ts';
import { PROXY_LABEL_SELECTOR, SERVICE_LABEL_SELECTOR, startProxyInformers, type ProxyEventHandler } from './proxy-informers.ts';

/** Answers lists with fixed items and records every request; watches stay open until aborted. */
class Recording<T extends KubeObject> implements ListWatch<T> {
  lists: ListOptions[] = [];
  watches: Array<{ options: WatchOptions; emit: (e: WatchEvent<T>) => void }> = [];
  readonly items: T[];
  constructor(items: T[]) {
    this.items = items;
  }
  async list(options: ListOptions): Promise<ListPage<T>> {
    this.lists.push(options);
    return { items: this.items, resourceVersion: '100' };
  }
  watch(options: WatchOptions, onEvent: (e: WatchEvent<T>) => void, signal: AbortSignal): Promise<void> {
    this.watches.push({ options, emit: onEvent });
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve()));
  }
}

const settle = async () => { for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r)); };

test('startProxyInformers filters server-side and routes events to the handler', async () => {
  const svc: V1Service = { metadata: { namespace: 'default', name: 'web', resourceVersion: '7' }, spec: { clusterIP: '198.19.0.10' } };
  const slice: V1EndpointSlice = { metadata: { namespace: 'default', name: 'web-abc', resourceVersion: '8', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4', endpoints: [] };
  const node: V1Node = { metadata: { name: 'node-a', resourceVersion: '9' } };
  const transport = { services: new Recording([svc]), endpointSlices: new Recording([slice]), nodes: new Recording([node]) };
  const calls: string[] = [];
  const handler: ProxyEventHandler = {
    onService: (p, c) => calls.push(`service ${p?.metadata?.name ?? '-'} ${c?.metadata?.name ?? '-'}`),
    onEndpointSlice: (p, c) => calls.push(`slice ${p?.metadata?.name ?? '-'} ${c?.metadata?.name ?? '-'}`),
    onNode: (p, c) => calls.push(`node ${p?.metadata?.name ?? '-'} ${c?.metadata?.name ?? '-'}`),
    onSynced: (kind) => calls.push(`synced ${kind}`),
  };
  const timers = { setTimeout: () => 0, clearTimeout: () => {} };
  const inf = startProxyInformers({ nodeName: ' node-a ', transport, handler, resyncPeriodMs: 0, clock: { now: () => 0 }, timers });
  await settle();

  assert.equal(PROXY_LABEL_SELECTOR, '!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless');
  // Upstream v1.37 applies the headless requirement to EndpointSlices only: a Service that has a
  // ClusterIP and carries the headless label is still served.
  assert.equal(SERVICE_LABEL_SELECTOR, '!service.kubernetes.io/service-proxy-name');
  assert.equal(transport.services.lists[0].labelSelector, SERVICE_LABEL_SELECTOR);
  assert.equal(transport.endpointSlices.lists[0].labelSelector, PROXY_LABEL_SELECTOR);
  assert.equal(transport.nodes.lists[0].fieldSelector, 'metadata.name=node-a');
  assert.equal(transport.nodes.lists[0].labelSelector, undefined);
  assert.equal(transport.services.watches[0].options.labelSelector, SERVICE_LABEL_SELECTOR);
  assert.equal(transport.endpointSlices.watches[0].options.labelSelector, PROXY_LABEL_SELECTOR);
  assert.equal(transport.nodes.watches[0].options.fieldSelector, 'metadata.name=node-a');
  assert.deepEqual(calls.sort(), ['node - node-a', 'service - web', 'slice - web-abc', 'synced endpointslices', 'synced node', 'synced services']);
  assert.equal(inf.synced(), true);

  calls.length = 0;
  transport.nodes.watches[0].emit({ type: 'MODIFIED', object: { metadata: { name: 'node-a', resourceVersion: '10' }, spec: { unschedulable: true } } });
  transport.services.watches[0].emit({ type: 'DELETED', object: { metadata: { namespace: 'default', name: 'web', resourceVersion: '11' } } });
  assert.deepEqual(calls, ['node node-a node-a', 'service web -']);
  await inf.stop();
});

test('startProxyInformers refuses an empty node name', () => {
  const r = new Recording<V1Service>([]);
  assert.throws(() => startProxyInformers({
    nodeName: '  ', transport: { services: r, endpointSlices: new Recording([]), nodes: new Recording([]) },
    handler: { onService() {}, onEndpointSlice() {}, onNode() {}, onSynced() {} }, resyncPeriodMs: 0, clock: { now: () => 0 }, timers: { setTimeout: () => 0, clearTimeout() {} },
  }), { name: 'RangeError', message: /node name is empty/ });
  assert.equal(r.lists.length, 0);
});
