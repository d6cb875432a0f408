// Address plan (architecture §5): ClusterIPs 198.19.0.0/16 and 2001:db8:20::/112, pods
// 198.18.0.0/16 and 2001:db8:10::/56, ExternalIPs and LB IPs 203.0.113.0/24.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { EndpointsChangeTracker, type EndpointsMap } from '../model/endpoints-change-tracker.ts';
import { ServiceChangeTracker, type ServicePortMap } from '../model/service-change-tracker.ts';
import { slice, svc, type EpSpec } from '../model/testing/fixtures.ts';
import { servicePortViews, StaleBackends, type StaleFlow } from './stale-backends.ts';

type Step = { services?: V1Service[]; deleteServices?: string[]; slices?: V1EndpointSlice[]; deleteSlices?: string[]; want: string[] };

const fmt = (f: StaleFlow) => `${f.protocol} ${f.frontend}:${f.frontendPort} -> ${f.backend}:${f.backendPort}`;

/** Runs the steps through the real change trackers, as proxy-server's sync does. */
function run(steps: Step[]): string[][] {
  const st = new ServiceChangeTracker();
  const et = new EndpointsChangeTracker('node-a');
  const services: ServicePortMap = new Map();
  const endpoints: EndpointsMap = new Map();
  const byName = new Map<string, V1Service>();
  const slices = new Map<string, V1EndpointSlice>();
  const stale = new StaleBackends();
  return steps.map((step) => {
    for (const s of step.services ?? []) {
      st.update(byName.get(s.metadata!.name!) ?? null, s);
      byName.set(s.metadata!.name!, s);
    }
    for (const n of step.deleteServices ?? []) {
      st.update(byName.get(n)!, null);
      byName.delete(n);
    }
    for (const s of step.slices ?? []) {
      et.update(slices.get(s.metadata!.name!) ?? null, s);
      slices.set(s.metadata!.name!, s);
    }
    for (const n of step.deleteSlices ?? []) {
      et.update(slices.get(n)!, null);
      slices.delete(n);
    }
    const changed = new Set([...st.apply(services).updatedServices, ...et.apply(endpoints).updatedServices]);
    return stale.update(servicePortViews(changed, services, endpoints)).map(fmt).sort();
  });
}

const two: EpSpec[] = [{ ip: '198.18.1.5', node: 'node-a' }, { ip: '198.18.2.5', node: 'node-b' }];
const udp = { ports: [{ name: 'dns', port: 53, protocol: 'UDP' as const }] };
const udpSlice = (eps: EpSpec[]) => slice('dns', 'dns-1', eps, { ports: [{ name: 'dns', port: 5353, protocol: 'UDP' }] });

test('StaleBackends reports the pairs whose backend stopped serving', () => {
  const rows: { name: string; steps: Step[] }[] = [
    {
      name: 'an endpoint leaves the slice: one pair per frontend of the port',
      steps: [
        { services: [svc('dns', udp)], slices: [udpSlice(two)], want: [] },
        { slices: [udpSlice([two[0]!])], want: ['UDP 198.19.0.10:53 -> 198.18.2.5:5353'] },
        { slices: [udpSlice([two[0]!])], want: [] },
      ],
    },
    {
      name: 'not ready and not serving-terminating: stale; serving-terminating: kept until it goes',
      steps: [
        { services: [svc('dns', udp)], slices: [udpSlice(two)], want: [] },
        { slices: [udpSlice([two[0]!, { ...two[1]!, ready: false, serving: true, terminating: true }])], want: [] },
        { slices: [udpSlice([two[0]!, { ...two[1]!, ready: false, serving: false, terminating: true }])], want: ['UDP 198.19.0.10:53 -> 198.18.2.5:5353'] },
      ],
    },
    {
      name: 'ready false without conditions serving: serving follows ready, so stale',
      steps: [
        { services: [svc('dns', udp)], slices: [udpSlice(two)], want: [] },
        { slices: [udpSlice([two[0]!, { ...two[1]!, ready: false }])], want: ['UDP 198.19.0.10:53 -> 198.18.2.5:5353'] },
        // back to ready: nothing to end
        { slices: [udpSlice(two)], want: [] },
      ],
    },
    {
      name: 'NodePort, ExternalIP and LB IP frontends, TCP',
      steps: [
        {
          services: [svc('web', { type: 'LoadBalancer', externalIPs: ['203.0.113.7'], ports: [{ name: 'http', port: 80, nodePort: 30080, protocol: 'TCP' }] }, { status: { loadBalancer: { ingress: [{ ip: '203.0.113.9' }] } } })],
          slices: [slice('web', 'web-1', two)],
          want: [],
        },
        {
          deleteSlices: ['web-1'],
          want: [
            'TCP 0.0.0.0:30080 -> 198.18.1.5:8080', 'TCP 0.0.0.0:30080 -> 198.18.2.5:8080',
            'TCP 198.19.0.10:80 -> 198.18.1.5:8080', 'TCP 198.19.0.10:80 -> 198.18.2.5:8080',
            'TCP 203.0.113.7:80 -> 198.18.1.5:8080', 'TCP 203.0.113.7:80 -> 198.18.2.5:8080',
            'TCP 203.0.113.9:80 -> 198.18.1.5:8080', 'TCP 203.0.113.9:80 -> 198.18.2.5:8080',
          ],
        },
      ],
    },
    {
      name: 'a deleted Service ends every pair it had; a new one starts clean',
      steps: [
        { services: [svc('dns', udp)], slices: [udpSlice(two)], want: [] },
        { deleteServices: ['dns'], want: ['UDP 198.19.0.10:53 -> 198.18.1.5:5353', 'UDP 198.19.0.10:53 -> 198.18.2.5:5353'] },
        { services: [svc('dns', udp)], want: [] },
      ],
    },
    {
      name: 'IPv6 port: its own family\'s frontends and wildcard',
      steps: [
        {
          services: [svc('v6', { type: 'NodePort', clusterIP: '2001:db8:20::10', clusterIPs: ['2001:db8:20::10'], ports: [{ name: 'dns', port: 53, nodePort: 30053, protocol: 'UDP' }] })],
          slices: [slice('v6', 'v6-1', [{ ip: '2001:db8:10::5' }], { addressType: 'IPv6', ports: [{ name: 'dns', port: 5353, protocol: 'UDP' }] })],
          want: [],
        },
        { deleteSlices: ['v6-1'], want: ['UDP 2001:db8:20::10:53 -> 2001:db8:10::5:5353', 'UDP :::30053 -> 2001:db8:10::5:5353'] },
      ],
    },
  ];
  for (const row of rows) {
    const got = run(row.steps);
    row.steps.forEach((s, i) => assert.deepEqual(got[i], [...s.want].sort(), `${row.name}, step ${i}`));
  }
});

test('StaleBackends forgets deleted services', () => {
  const stale = new StaleBackends();
  const view = { protocol: 'UDP' as const, frontends: ['198.19.0.10|53'], serving: ['198.18.1.5|5353'] };
  stale.update(new Map([['default/dns', new Map([['k', view]])]]));
  assert.equal(stale.size, 1);
  stale.update(new Map([['default/dns', new Map()]]));
  assert.equal(stale.size, 0);
});
