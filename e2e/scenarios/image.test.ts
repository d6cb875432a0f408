// The drop-in image, run the way the DaemonSet runs it: node-b's agent is the container built by
// `make image` (kube-proxy-bpf:dev), started by podman with runc (crun refuses this host's hybrid
// cgroups) in node-b's network namespace, privileged, with the host folders the DaemonSet mounts
// (bpffs, the cgroup tree, /lib/modules, xtables.lock) and the node's config and kubeconfig. node-a
// runs the binary as in the other scenarios. Checks /healthz, Service traffic through node-b (a pod
// on node-b to a ClusterIP, the external client to node-b's NodePort), and `kube-proxy inspect`
// inside the container (what `kubectl exec` runs).
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startCluster, type Cluster } from '../cluster/cluster.ts';
import { endpointSliceFor } from '../cluster/endpoint-slice.ts';
import { PLAN } from '../cluster/plan.ts';
import { Proc } from '../cluster/proc.ts';
import { run } from '../cluster/run.ts';
import { echo, startEchoServer, waitForHttp } from '../cluster/workload.ts';
import { eventually, startReadyAgent } from './support.ts';

const IMAGE = process.env.KPB_IMAGE ?? 'kube-proxy-bpf:dev';
const NS = 'kpb-image';
const PORT = 8080;

/** podman, its runc runtime and the image: each missing piece fails with what to do. */
async function requireImage(): Promise<void> {
  const has = async (argv: string[]) => (await run(argv, { allowFailure: true, timeoutMs: 60_000 }).catch((e: Error) => ({ code: 127, stdout: '', stderr: e.message })));
  const podman = await has(['podman', '--version']);
  assert.equal(podman.code, 0, `podman is missing (${podman.stderr.trim()}): "make test" installs it (make setup), or apt-get install podman runc`);
  const runc = await has(['runc', '--version']);
  assert.equal(runc.code, 0, `runc is missing (${runc.stderr.trim()}): apt-get install runc (crun refuses this host's hybrid cgroups)`);
  const img = await has(['podman', 'image', 'exists', IMAGE]);
  assert.equal(img.code, 0, `the image ${IMAGE} is missing: run "make image"`);
}

describe('the image as node-b\'s agent', () => {
  let cluster: Cluster;
  let container = '';
  let nodePort = 0;
  let clusterIP = '';

  before(async () => {
    await requireImage();
    cluster = await startCluster();
    const a1 = cluster.nodes['node-a'].pods[0]!;
    await startEchoServer(a1.place, a1.name, [PORT], cluster.teardown);
    await cluster.admin.createNamespace(NS);
    const svc = await cluster.admin.createService(NS, { metadata: { name: 'echo' }, spec: { type: 'NodePort', ports: [{ name: 'tcp', port: 80, targetPort: PORT }] } });
    nodePort = svc.spec!.ports![0]!.nodePort!;
    clusterIP = svc.spec!.clusterIP!;
    await cluster.admin.createEndpointSlice(NS, endpointSliceFor('echo', 'IPv4', [{ target: a1 }], [{ name: 'tcp', port: PORT }]));
    await startReadyAgent(cluster.nodes['node-a'], ['--v=2', '--bpf-xdp=generic']);
  });
  after(async () => {
    await cluster?.stop();
  });

  test('the container serves /healthz, node-b forwards ClusterIP and NodePort traffic, inspect works inside it', async (t) => {
    const node = cluster.nodes['node-b'];
    // kubeadm's ConfigMap as the DaemonSet mounts it: /var/lib/kube-proxy/config.conf.
    const configDir = join(node.dir, 'configmap');
    await run(['mkdir', '-p', configDir]);
    writeFileSync(join(configDir, 'config.conf'), JSON.stringify({
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', kind: 'KubeProxyConfiguration', bindAddress: '0.0.0.0',
      clientConnection: { kubeconfig: node.kubeconfig }, clusterCIDR: `${PLAN.clusterCIDRv4},${PLAN.clusterCIDRv6}`, mode: '',
    }, null, 2));
    container = `${cluster.runId}-node-b`;
    const argv = [
      'podman', '--runtime', 'runc', '--cgroup-manager', 'cgroupfs', 'run', '--rm', '--name', container,
      '--privileged', '--network', `ns:/run/netns/${node.netns}`, '--pull', 'never', '--log-driver', 'none',
      // The DaemonSet's volumes: the ConfigMap, xtables.lock, /lib/modules, bpffs (Bidirectional), the cgroup tree (HostToContainer).
      '-v', `${configDir}:/var/lib/kube-proxy:ro`, '-v', '/run/xtables.lock:/run/xtables.lock',
      // This test VM's kernel has no module tree; the DaemonSet mounts it where there is one.
      ...(existsSync('/lib/modules') ? ['-v', '/lib/modules:/lib/modules:ro'] : []),
      '-v', '/sys/fs/bpf:/sys/fs/bpf:rshared', '-v', '/sys/fs/cgroup:/sys/fs/cgroup:rslave',
      // The kubeconfig and its certificates (a Secret or the service account in a real cluster).
      '-v', `${cluster.dir}:${cluster.dir}:ro`,
      IMAGE, '--config=/var/lib/kube-proxy/config.conf', `--hostname-override=${node.name}`,
      `--bpf-pin-path=${node.pinPath}`, `--bpf-cgroup-path=${node.cgroup}`, '--bpf-xdp=generic', '--v=2',
    ];
    await run(['touch', '/run/xtables.lock']);
    // podman's defaults that runc refuses here: sysctls (net.ipv4.ping_group_range) in a network
    // namespace given with --network ns:, and rlimits above this host's hard limits; the
    // DaemonSet's kubelet sets neither.
    const conf = join(node.dir, 'containers.conf');
    writeFileSync(conf, '[containers]\ndefault_sysctls = []\ndefault_ulimits = []\n');
    const env = { ...process.env, CONTAINERS_CONF: conf };
    const agent = new Proc({ netns: node.netns }, argv, { name: 'agent node-b (image)', logFile: join(node.dir, 'agent-image.log'), env });
    cluster.teardown.add(`container ${container}`, async () => {
      await run(['podman', 'rm', '-f', '-t', '5', container], { allowFailure: true, timeoutMs: 60_000 });
      await agent.stop();
    }, () => agent.kill());
    await agent.waitFor(/"Sync done" mode="full" ok=true/, 120_000);
    await waitForHttp(node.place, 'http://127.0.0.1:10256/healthz', 30_000);
    const b1 = node.pods[0]!;
    const { value: [viaClusterIP], ms } = await eventually('ClusterIP from a node-b pod', () => echo(b1.place, 'tcp', clusterIP, 80, { timeoutMs: 1_000 }), 20_000, 300);
    assert.equal(viaClusterIP!.name, 'a-pod1');
    t.diagnostic(`ClusterIP served ${ms} ms after the first full sync`);
    const { value: [viaNodePort] } = await eventually('NodePort through node-b', () => echo(cluster.client, 'tcp', node.ipv4, nodePort, { timeoutMs: 1_000 }), 20_000, 300);
    assert.equal(viaNodePort!.name, 'a-pod1');
    const ex = await run(['podman', '--runtime', 'runc', '--cgroup-manager', 'cgroupfs', 'exec', container, 'kube-proxy', 'inspect', 'services', `--bpf-pin-path=${node.pinPath}`], { allowFailure: true, timeoutMs: 60_000 });
    assert.equal(ex.code, 0, `inspect in the container: ${ex.stderr}`);
    assert.match(ex.stdout, new RegExp(`^${clusterIP.replace(/\./g, '\\.')}:80 +TCP +internal .*${cluster.nodes['node-a'].pods[0]!.ipv4.replace(/\./g, '\\.')}:${PORT}\\(active\\)`, 'm'));
    assert.doesNotMatch(agent.output, /full sync failed/i, 'a sync failed inside the image');
  });
});
