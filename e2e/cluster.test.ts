// The e2e harness itself, against the real thing: a kube-apiserver built from the release and
// backed by etcd, the kubeadm manifests applied to it, the RBAC the agent will run under, and
// plain routed traffic across the namespace topology (no agent involved). Needs root, bpffs,
// cgroup v2 and `make k8s`; it fails, never skips, when one is missing.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ApiException, KubeConfig, VersionApi, Watch, loadAllYaml, type KubernetesObject,
} from '@kubernetes/client-node';
import { ClusterClient } from './cluster/client.ts';
import { startCluster, type Cluster } from './cluster/cluster.ts';
import { writeKubeconfig } from './cluster/kubeconfig.ts';
import { PLAN } from './cluster/plan.ts';
import { findCgroup2Mount } from './cluster/sandbox.ts';
import { endpointSliceFor } from './cluster/endpoint-slice.ts';
import { echo, startEchoServer, waitForHttp } from './cluster/workload.ts';

const MANIFESTS = join(import.meta.dirname, '..', 'manifests');
const ECHO_PORT = 8080;

function loadManifests(): KubernetesObject[] {
  const files = readdirSync(MANIFESTS).filter((f) => f.endsWith('.yaml')).sort();
  assert.ok(files.length > 0, `no *.yaml under ${MANIFESTS}`);
  // Kubernetes objects only: prometheus-rules.yaml is a Prometheus rule file, not an API object.
  return files.flatMap((f) => loadAllYaml(readFileSync(join(MANIFESTS, f), 'utf8')) as KubernetesObject[]).filter((o) => o?.apiVersion && o.kind);
}

function inV4Cidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const toInt = (a: string): number => a.split('.').reduce((n, o) => (n << 8) + Number(o), 0) >>> 0;
  const mask = Number(bits) === 0 ? 0 : (~0 << (32 - Number(bits))) >>> 0;
  return ((toInt(ip) & mask) >>> 0) === ((toInt(base!) & mask) >>> 0);
}

async function statusOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    if (err instanceof ApiException) return err.code;
    throw err;
  }
}

/** Opens a watch and closes it once the apiserver accepted it; rejects with the HTTP status. */
async function watchOpens(kc: KubeConfig, path: string): Promise<void> {
  let failure: unknown;
  // Watch.watch resolves after the response status is known; a refusal has called `done` by then.
  const controller = await new Watch(kc).watch(path, {}, () => {}, (err: unknown) => {
    failure ??= err;
  });
  const refused = failure;
  controller.abort(); // reports an abort error to `done`, which is expected and not a refusal
  if (refused !== undefined && refused !== null) {
    throw Object.assign(new Error(`watch ${path}: ${(refused as Error).message}`), { statusCode: (refused as { statusCode?: number }).statusCode });
  }
}

/** What the agent does with the API, as `client`: each must be allowed. */
async function assertProxierAccess(client: ClusterClient, who: string): Promise<void> {
  assert.equal(await statusOf(client.core.listServiceForAllNamespaces()), 200, `${who}: list services`);
  assert.equal(await statusOf(client.discovery.listEndpointSliceForAllNamespaces()), 200, `${who}: list endpointslices`);
  assert.equal(await statusOf(client.core.listNode()), 200, `${who}: list nodes`);
  assert.equal(await statusOf(client.core.readNode({ name: 'node-a' })), 200, `${who}: get own node`);
  // ServiceCIDRs: watched while MultiCIDRServiceAllocator is on (GA); the bootstrap role has them.
  assert.equal(await statusOf(client.objects.list('networking.k8s.io/v1', 'ServiceCIDR')), 200, `${who}: list servicecidrs`);
  for (const path of ['/api/v1/services', '/apis/discovery.k8s.io/v1/endpointslices', '/api/v1/nodes', '/apis/networking.k8s.io/v1/servicecidrs']) {
    await watchOpens(client.kubeconfig, path);
  }
  // Events are how kube-proxy reports problems; system:node-proxier allows creating them.
  assert.equal(await statusOf(client.core.createNamespacedEvent({
    namespace: 'default',
    body: {
      metadata: { generateName: 'kpb-e2e-' }, involvedObject: { kind: 'Node', name: 'node-a' },
      reason: 'KpbE2E', message: 'rbac check', type: 'Normal', source: { component: 'kube-proxy' },
    },
  })), 200, `${who}: create event`);
}

/** What the agent must not be able to do. */
async function assertNoMore(client: ClusterClient, who: string): Promise<void> {
  assert.equal(await statusOf(client.core.createNamespacedSecret({
    namespace: 'default', body: { metadata: { name: 'kpb-e2e-forbidden' }, stringData: { a: 'b' } },
  })), 403, `${who}: create secret must be forbidden`);
  assert.equal(await statusOf(client.core.listSecretForAllNamespaces()), 403, `${who}: list secrets must be forbidden`);
  assert.equal(await statusOf(client.core.listPodForAllNamespaces()), 403, `${who}: list pods must be forbidden`);
  assert.equal(await statusOf(client.core.deleteNamespacedService({ namespace: 'default', name: 'kubernetes', dryRun: 'All' })),
    403, `${who}: delete service must be forbidden`);
  await assert.rejects(watchOpens(client.kubeconfig, '/api/v1/secrets'), (err: { statusCode?: number }) => err.statusCode === 403);
}

describe('e2e cluster harness', () => {
  let cluster: Cluster;
  const testNs = `kpb-e2e-${process.pid}`;

  before(async () => {
    const t0 = Date.now();
    cluster = await startCluster();
    console.log(`# cluster up in ${Date.now() - t0} ms (apiserver ready ${cluster.controlPlane.startupMs} ms after etcd start)`);
  });

  after(async () => {
    if (cluster === undefined) return;
    const pids = [cluster.controlPlane.etcd.pid, cluster.controlPlane.apiserver.pid];
    await cluster.stop();
    // Leaves nothing: namespaces, cgroups, pins, run folder and daemons are all gone.
    const leftNs = existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith(`${cluster.runId}-`)) : [];
    assert.deepEqual(leftNs, [], 'network namespaces left behind');
    assert.equal(existsSync(join(findCgroup2Mount(), cluster.runId)), false, 'cgroup left behind');
    assert.equal(existsSync(join('/sys/fs/bpf', cluster.runId)), false, 'pin folder left behind');
    assert.equal(existsSync(cluster.dir), false, 'run folder left behind');
    for (const pid of pids) {
      assert.throws(() => process.kill(pid!, 0), `process ${pid} still alive`);
    }
  });

  test('the apiserver is a real v1.37.2 kube-apiserver with the planned service ranges', async () => {
    const version = await cluster.admin.kubeconfig.makeApiClient(VersionApi).getCode();
    assert.equal(version.gitVersion, 'v1.37.2');
    const names = (await cluster.admin.core.listNamespace()).items.map((n) => n.metadata?.name);
    for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) assert.ok(names.includes(ns), `namespace ${ns} missing from ${names.join(',')}`);
    const kubernetes = await cluster.admin.core.readNamespacedService({ namespace: 'default', name: 'kubernetes' });
    assert.equal(kubernetes.spec?.clusterIP, PLAN.kubernetesServiceV4);

    await cluster.admin.createNamespace(testNs);
    try {
      const svc = await cluster.admin.createService(testNs, {
        metadata: { name: 'echo' },
        spec: {
          ipFamilyPolicy: cluster.dualStack ? 'RequireDualStack' : 'SingleStack',
          ports: [{ name: 'tcp', port: 80, targetPort: ECHO_PORT, protocol: 'TCP' }],
        },
      });
      const ips = svc.spec?.clusterIPs ?? [];
      assert.ok(inV4Cidr(ips[0]!, PLAN.serviceCIDRv4), `ClusterIP ${ips[0]} not in ${PLAN.serviceCIDRv4}`);
      if (cluster.dualStack) {
        assert.match(ips[1] ?? '', /^2001:db8:20::[0-9a-f]{1,4}$/, `IPv6 ClusterIP ${ips[1]} not in ${PLAN.serviceCIDRv6}`);
      }
      const read = await cluster.admin.core.readNamespacedService({ namespace: testNs, name: 'echo' });
      assert.deepEqual(read.spec?.clusterIPs, ips, 'the ClusterIPs read back differ from the allocated ones');
      const b1 = cluster.nodes['node-b'].pods[0]!;
      await cluster.admin.createEndpointSlice(testNs, endpointSliceFor('echo', 'IPv4', [{ target: b1 }], [{ name: 'tcp', port: ECHO_PORT }]));
      const slices = await cluster.admin.discovery.listNamespacedEndpointSlice({ namespace: testNs, labelSelector: 'kubernetes.io/service-name=echo' });
      assert.deepEqual(slices.items.map((s) => s.endpoints.map((e) => [e.addresses[0], e.nodeName])), [[[b1.ipv4, 'node-b']]]);
      const nodes = (await cluster.admin.core.listNode()).items.map((n) => n.metadata?.name).sort();
      assert.deepEqual(nodes, ['node-a', 'node-b']);
    } finally {
      await cluster.admin.deleteNamespace(testNs);
    }
  });

  test('manifests pass server-side dry-run, then apply for real', async () => {
    const objects = loadManifests();
    const kinds = objects.map((o) => `${o.kind}/${o.metadata?.name}`).sort();
    assert.deepEqual(kinds, [
      'ClusterRoleBinding/kubeadm:node-proxier', 'ConfigMap/kube-proxy', 'DaemonSet/kube-proxy',
      'Role/kube-proxy', 'RoleBinding/kube-proxy', 'ServiceAccount/kube-proxy',
    ]);
    await cluster.admin.apply(objects, { dryRun: true });
    // A dry run stores nothing.
    assert.equal(await statusOf(cluster.admin.core.readNamespacedServiceAccount({ namespace: 'kube-system', name: 'kube-proxy' })), 404);
    const applied = await cluster.admin.apply(objects);
    assert.equal(applied.length, objects.length);
    const ds = await cluster.admin.objects.read({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'kube-proxy', namespace: 'kube-system' } });
    assert.equal((ds as { spec?: { template?: { spec?: { priorityClassName?: string } } } }).spec?.template?.spec?.priorityClassName, 'system-node-critical');
    // The bound role is the apiserver's own bootstrap role, not one of ours.
    const role = await cluster.admin.objects.read({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'system:node-proxier' } });
    assert.equal(role.metadata?.labels?.['kubernetes.io/bootstrapping'], 'rbac-defaults');
  });

  test('RBAC: the node agent certificate (system:kube-proxy) can watch what kube-proxy needs, nothing more', async () => {
    for (const node of Object.values(cluster.nodes)) {
      const kc = writeKubeconfig(join(node.dir, 'kubeconfig.local'), {
        server: cluster.localServerUrl, caFile: cluster.pki.caCert,
        certFile: node.clientCert.cert, keyFile: node.clientCert.key, user: 'system:kube-proxy',
      });
      const client = new ClusterClient(kc);
      await assertProxierAccess(client, `${node.name} agent`);
      await assertNoMore(client, `${node.name} agent`);
    }
  });

  test('RBAC: the kube-proxy ServiceAccount gets its access from kubeadm:node-proxier', async () => {
    const tr = await cluster.admin.core.createNamespacedServiceAccountToken({
      namespace: 'kube-system', name: 'kube-proxy',
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    const token = tr.status?.token;
    assert.ok(token, 'TokenRequest for kube-system/kube-proxy returned no token');
    const client = new ClusterClient(writeKubeconfig(join(cluster.dir, 'sa.kubeconfig'), {
      server: cluster.localServerUrl, caFile: cluster.pki.caCert, token, user: 'kube-proxy-sa',
    }));
    await assertProxierAccess(client, 'kube-proxy ServiceAccount');
    await assertNoMore(client, 'kube-proxy ServiceAccount');

    // Without the manifest's binding the same token is refused: the access came from it.
    await cluster.admin.objects.delete({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'kubeadm:node-proxier' } });
    let status = 0;
    for (let i = 0; i < 50 && status !== 403; i++) {
      status = await statusOf(client.core.listServiceForAllNamespaces());
      if (status !== 403) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 403, 'listing services still allowed after deleting ClusterRoleBinding kubeadm:node-proxier');
  });

  test('pods reach pods across nodes and on the same node, IPv4 and IPv6, TCP and UDP, unNATed', async () => {
    const a1 = cluster.nodes['node-a'].pods[0]!;
    const a2 = cluster.nodes['node-a'].pods[1]!;
    const b1 = cluster.nodes['node-b'].pods[0]!;
    await startEchoServer(b1.place, b1.name, [ECHO_PORT], cluster.teardown);
    await startEchoServer(a2.place, a2.name, [ECHO_PORT], cluster.teardown);
    for (const [from, to] of [[a1, b1], [a1, a2], [b1, a2]] as const) {
      for (const [src, dst] of [[from.ipv4, to.ipv4], [from.ipv6, to.ipv6]]) {
        for (const proto of ['tcp', 'udp'] as const) {
          const [reply] = await echo(from.place, proto, dst!, ECHO_PORT);
          assert.equal(reply!.name, to.name, `${proto} ${from.name} -> ${dst}`);
          assert.equal(reply!.peer, src, `${proto} ${from.name} -> ${dst}: source was rewritten`);
        }
      }
    }
  });

  test('nodes reach the apiserver over the fabric at its advertised address', async () => {
    for (const node of Object.values(cluster.nodes)) {
      const live = await waitForHttp(node.place, `${cluster.serverUrl}/livez`, 5_000);
      assert.equal(live.body, 'ok');
    }
  });

  test('the external client reaches node addresses over the fabric', async () => {
    const node = cluster.nodes['node-a'];
    const server = await startEchoServer(node.place, 'node-a-host', [ECHO_PORT], cluster.teardown);
    // Host-network processes of a node live in that node's cgroup, where its agent attaches.
    // The cgroup v2 entry is the `0::` line (hybrid hosts list v1 controllers too).
    const v2 = readFileSync(`/proc/${server.pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
    assert.equal(join(findCgroup2Mount(), v2?.slice(3) ?? '?'), node.cgroup);
    for (const [dst, src] of [[node.ipv4, PLAN.client.ipv4], [node.ipv6, PLAN.client.ipv6]]) {
      for (const proto of ['tcp', 'udp'] as const) {
        const replies = await echo(cluster.client, proto, dst, ECHO_PORT, { count: 3 });
        assert.equal(replies.length, 3);
        for (const r of replies) {
          assert.equal(r.name, 'node-a-host');
          assert.equal(r.peer, src);
        }
      }
    }
    // The client is outside the cluster: it has no route to pod addresses.
    await assert.rejects(echo(cluster.client, 'tcp', cluster.nodes['node-b'].pods[0]!.ipv4, ECHO_PORT, { timeoutMs: 1_000 }), /ENETUNREACH|EHOSTUNREACH|no reply/);
  });
});

test('a failed start-up removes everything it had created', async () => {
  const before = new Set(existsSync('/run/netns') ? readdirSync('/run/netns') : []);
  await assert.rejects(startCluster({ apiserverArgs: ['--kpb-no-such-flag'] }), (err: Error) => {
    assert.match(err.message, /kube-apiserver exited during start-up/);
    // The start-up's own cleanup appends what it could not remove; that must be nothing.
    assert.doesNotMatch(err.message, /teardown left errors/);
    return true;
  });
  const after = (existsSync('/run/netns') ? readdirSync('/run/netns') : []).filter((n) => !before.has(n) && n.startsWith(`kpb-e2e-${process.pid}-`));
  assert.deepEqual(after, [], 'network namespaces left behind by the failed start');
  const leftovers = [
    ...readdirSync(findCgroup2Mount()), ...readdirSync('/sys/fs/bpf'), ...readdirSync(tmpdir()),
  ].filter((n) => n.startsWith(`kpb-e2e-${process.pid}`));
  assert.deepEqual(leftovers, [], 'cgroups, pins or run folders left behind by the failed start');
});
