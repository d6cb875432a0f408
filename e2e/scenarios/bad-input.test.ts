// Hostile and bad input against small maps (issue 11 item 8), end to end against the real
// apiserver: node-a's agent runs with --bpf-map-services=256 (lb_services and lb_rev_nat). A
// normal Service keeps working while Services with hundreds of ExternalIPs and an EndpointSlice
// of 1,000 endpoints the proxy must ignore (one address listed 1,000 times) exist and are
// rewritten in a loop; /healthz answers fast and stays 200 (everything that fits is programmed);
// the log grows by less than 1 MB a minute; /metrics gains no series per object; a Service that
// found the maps full is programmed within 10 s once the hostile objects are deleted.
//
// Address plan (architecture §5): pods 198.18.0.0/16, ClusterIPs 198.19.0.0/16, ExternalIPs
// 203.0.113.0/24 and 2001:db8:40::/64 (never routed: they only fill the maps).
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { startCluster, type Cluster } from '../cluster/cluster.ts';
import { endpointSliceFor } from '../cluster/endpoint-slice.ts';
import type { Proc } from '../cluster/proc.ts';
import { echo, httpGet, startEchoServer } from '../cluster/workload.ts';
import { eventually, serviceEntriesFor, sleep, startReadyAgent } from './support.ts';

const NS = 'kpb-bad-input';
const PORT = 8080;
const SERVICES_MAP = 256;
const LOG_BUDGET_PER_MINUTE = 1_000_000;

/** Metric series (name and labels) of a /metrics text, without values. */
function series(text: string): Set<string> {
  return new Set(text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.slice(0, l.lastIndexOf(' '))));
}

function metric(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

describe('bad input with small maps', () => {
  let cluster: Cluster;
  let agent: Proc;
  let logFile: string;

  before(async () => {
    cluster = await startCluster();
    const b1 = cluster.nodes['node-b'].pods[0]!;
    await startEchoServer(b1.place, b1.name, [PORT], cluster.teardown);
    await cluster.admin.createNamespace(NS);
    const node = cluster.nodes['node-a'];
    agent = await startReadyAgent(node, ['--v=2', `--bpf-map-services=${SERVICES_MAP}`]);
    // startAgent writes the agent's output to the node folder, one file per start.
    logFile = join(node.dir, 'agent-0.log');
  });

  after(async () => {
    await cluster?.stop();
  });

  const service = (name: string, externalIPs: string[] = []): V1Service => ({
    metadata: { name },
    spec: { ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv4'], externalIPs, ports: [{ name: 'tcp', port: 80, targetPort: PORT, protocol: 'TCP' }] },
  });
  const v4 = (n: number) => `203.0.113.${n}`;
  const v6 = (n: number) => `2001:db8:40::${n.toString(16)}`;

  test('a normal Service keeps working, health and the log stay bounded, and everything is programmed again within 10 s of deleting the hostile objects', async (t) => {
    const node = cluster.nodes['node-a'];
    const a1 = node.pods[0]!;
    const b1 = cluster.nodes['node-b'].pods[0]!;
    const normal = await cluster.admin.createService(NS, service('normal'));
    await cluster.admin.createEndpointSlice(NS, endpointSliceFor('normal', 'IPv4', [{ target: b1 }], [{ name: 'tcp', port: PORT }]));
    await eventually('the normal Service answers', () => echo(a1.place, 'tcp', normal.spec!.clusterIP!, 80, { timeoutMs: 1_000 }));
    const before = await httpGet(node.place, 'http://127.0.0.1:10249/metrics');
    // What is left of lb_services (the normal Service and default/kubernetes hold some).
    const free = SERVICES_MAP - metric(before.body, 'kubeproxy_bpf_map_entries{map="lb_services"}')!;
    await sleep(1_100); // creationTimestamp has seconds: the hostile Services are strictly younger

    // Hostile: one Service that fits exactly in what is left (ClusterIP and ExternalIPs, a VIP
    // marker each: the map is then full), two that never fit (hundreds of
    // ExternalIPs, IPv6 ones too, which an IPv4 Service ignores), and a slice of 1,000 endpoints
    // that all list one address (999 duplicates to ignore and report).
    await cluster.admin.createService(NS, service('hostile-fits', Array.from({ length: (free - 2) / 2 }, (_, i) => v4(i + 1))));
    await cluster.admin.createService(NS, service('hostile-huge', [...Array.from({ length: 250 }, (_, i) => v4(i + 1)), ...Array.from({ length: 250 }, (_, i) => v6(i + 1))]));
    await cluster.admin.createService(NS, service('hostile-wide', Array.from({ length: 200 }, (_, i) => v4(i + 50))));
    const b2 = cluster.nodes['node-b'].pods[1]!;
    // Each generation lists another address 1,000 times, so every rewrite is a real change.
    const dup = (gen: number): V1EndpointSlice => {
      const s = endpointSliceFor('hostile-huge', 'IPv4', Array.from({ length: 1_000 }, () => ({ target: gen % 2 ? b2 : b1 })), [{ name: 'tcp', port: PORT }], 'hostile-dup');
      s.metadata!.labels!['kpb-generation'] = String(gen);
      return s;
    };
    await cluster.admin.createEndpointSlice(NS, dup(0));
    await eventually('the maps are full and the hostile Services that do not fit wait', async () => {
      const m = await httpGet(node.place, 'http://127.0.0.1:10249/metrics');
      assert.equal(metric(m.body, 'kubeproxy_bpf_services_not_programmed'), 2);
      assert.equal(metric(m.body, 'kubeproxy_bpf_map_entries{map="lb_services"}'), SERVICES_MAP);
      assert.equal(metric(m.body, 'kubeproxy_bpf_map_capacity{map="lb_services"}'), SERVICES_MAP);
    }, 20_000, 250);
    // A younger Service that finds the maps full: not programmed (never half-programmed), and it
    // displaces nothing.
    const late = await cluster.admin.createService(NS, service('late'));
    await cluster.admin.createEndpointSlice(NS, endpointSliceFor('late', 'IPv4', [{ target: b1 }], [{ name: 'tcp', port: PORT }]));
    const huge = (await cluster.admin.core.readNamespacedService({ namespace: NS, name: 'hostile-huge' })).spec!.clusterIP!;
    await eventually('three Services wait', async () => {
      const m = await httpGet(node.place, 'http://127.0.0.1:10249/metrics');
      assert.equal(metric(m.body, 'kubeproxy_bpf_services_not_programmed'), 3);
    }, 20_000, 250);
    assert.deepEqual(serviceEntriesFor(node, late.spec!.clusterIP!), [], 'late is not programmed at all');
    assert.deepEqual(serviceEntriesFor(node, huge), [], 'hostile-huge is not programmed at all');

    // A minute of churn: the hostile slice rewritten every 2 s (a new version and other endpoints
    // each time, so every rewrite is a sync and a new set of problems), the normal Service checked
    // all along, /healthz timed.
    const logAt = statSync(logFile).size;
    const until = Date.now() + 60_000;
    let slowestHealthz = 0;
    for (let gen = 1; Date.now() < until && gen < 100; gen++) {
      const slice = dup(gen);
      await cluster.admin.discovery.replaceNamespacedEndpointSlice({ namespace: NS, name: 'hostile-dup', body: slice });
      const started = Date.now();
      const h = await httpGet(node.place, 'http://127.0.0.1:10256/healthz', 2_000);
      slowestHealthz = Math.max(slowestHealthz, Date.now() - started);
      assert.equal(h.status, 200, `/healthz answered ${h.status}: everything that fits is programmed, so the proxy is healthy`);
      const [reply] = await echo(a1.place, 'tcp', normal.spec!.clusterIP!, 80, { timeoutMs: 2_000 });
      assert.equal(reply!.name, b1.name);
      await sleep(2_000);
    }
    const logGrowth = statSync(logFile).size - logAt;
    t.diagnostic(`log growth over a minute of churn: ${logGrowth} bytes; slowest /healthz: ${slowestHealthz} ms (curl in the node namespace included)`);
    assert.ok(logGrowth < LOG_BUDGET_PER_MINUTE, `the log grew by ${logGrowth} bytes in a minute`);
    assert.ok(slowestHealthz < 2_000);

    // No series per object: what is new since before the hostile objects is bounded label values.
    const after = await httpGet(node.place, 'http://127.0.0.1:10249/metrics');
    const added = [...series(after.body)].filter((s) => !series(before.body).has(s));
    t.diagnostic(`new series: ${added.join(' ')}`);
    for (const s of added) {
      assert.doesNotMatch(s, /hostile|late|normal|\[\d+\]|\d+\.\d+\.\d+\.\d+|2001:db8/, `series ${s} carries an object's name, index or address`);
    }
    assert.ok(added.length < 40, `${added.length} new series`);
    assert.match(after.body, /^kubeproxy_bpf_bad_objects_total\{kind="EndpointSlice",reason="duplicate"\} \d+$/m);
    assert.match(after.body, /^kubeproxy_bpf_bad_objects_total\{kind="Service",reason="not_programmed"\} \d+$/m);

    // The hostile objects go: the waiting Service is programmed within 10 s.
    const gone = Date.now();
    for (const name of ['hostile-fits', 'hostile-huge', 'hostile-wide']) await cluster.admin.deleteService(NS, name);
    await cluster.admin.deleteEndpointSlice(NS, 'hostile-dup');
    const { ms } = await eventually('late is served', () => echo(a1.place, 'tcp', late.spec!.clusterIP!, 80, { timeoutMs: 1_000 }), 10_000 - (Date.now() - gone), 100);
    t.diagnostic(`late served ${Date.now() - gone} ms after the hostile objects were deleted (${ms} ms of polling)`);
    // The deletions may reach the proxy over more than one sync: the gauge follows within the 10 s.
    await eventually('nothing waits', async () => {
      const m = await httpGet(node.place, 'http://127.0.0.1:10249/metrics');
      assert.equal(metric(m.body, 'kubeproxy_bpf_services_not_programmed'), 0);
    }, Math.max(1_000, 10_000 - (Date.now() - gone)), 100);
    assert.equal(agent.running, true);
  });
});
