// Brings up the whole e2e cluster of architecture §5 and §6: namespaces and links, PKI, etcd and a
// real kube-apiserver in the control-plane namespace, kubeconfigs, one cgroup and one pin folder
// per node, and Node objects. `stop()` removes all of it; it also runs on SIGINT/SIGTERM, and every
// start-up step registers its own undo first, so a failed start leaves nothing behind either.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPki, type ClientCert, type ClusterPki } from './certs.ts';
import { ClusterClient } from './client.ts';
import { startControlPlane, type ControlPlane } from './control-plane.ts';
import { startForward } from './forward.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import { PLAN } from './plan.ts';
import type { Placement } from './proc.ts';
import { createSandbox, sweepStaleRuns, type Sandbox } from './sandbox.ts';
import { Teardown } from './teardown.ts';
import { createTopology, type NodeName, type TopologyNet } from './topology.ts';

export interface ClusterPod {
  name: string;
  node: NodeName;
  ipv4: string;
  ipv6: string;
  hostVeth: string;
  /** The pod's namespace, in its own child cgroup of the node's cgroup. */
  place: Placement;
}

export interface ClusterNode {
  name: NodeName;
  ipv4: string;
  ipv6: string;
  podCIDRv4: string;
  podCIDRv6: string;
  /** The node's host network namespace and the node's cgroup (the agent attaches here). */
  place: Placement;
  netns: string;
  cgroup: string;
  pinPath: string;
  /** Kubeconfig the node's agent uses: user system:kube-proxy (bootstrap system:node-proxier). */
  kubeconfig: string;
  /** The certificate behind `kubeconfig`. */
  clientCert: ClientCert;
  pods: ClusterPod[];
  /** Run folder for this node's files (agent config, logs). */
  dir: string;
  teardown: Teardown;
}

export interface Cluster {
  runId: string;
  /** Private run folder (PKI, etcd data, logs, kubeconfigs); removed by stop(). */
  dir: string;
  net: TopologyNet;
  sandbox: Sandbox;
  pki: ClusterPki;
  controlPlane: ControlPlane;
  /** Admin (system:masters) client and kubeconfig, reaching the apiserver via a loopback forward. */
  admin: ClusterClient;
  adminKubeconfig: string;
  /** The apiserver URL as seen from inside the cluster namespaces. */
  serverUrl: string;
  /** The apiserver URL as seen from the test process (loopback forward). */
  localServerUrl: string;
  dualStack: boolean;
  nodes: Record<NodeName, ClusterNode>;
  /** The external client (192.0.2.100) on the fabric, in its own cgroup. */
  client: Placement;
  controlPlanePlace: Placement;
  teardown: Teardown;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  podsPerNode?: number;
  /** Dual-stack service CIDRs (198.19.0.0/16 + 2001:db8:20::/112); default true. */
  dualStack?: boolean;
  /** Extra kube-apiserver flags (e.g. --feature-gates=...). */
  apiserverArgs?: readonly string[];
  /** Create Node objects for node-a and node-b (default true). */
  registerNodes?: boolean;
  /** Extra labels per Node object (e.g. topology.kubernetes.io/zone for topology tests). */
  nodeLabels?: Partial<Record<NodeName, Record<string, string>>>;
  /** Run id prefix for namespaces, cgroups and pins (default "kpb-e2e"; the benchmarks use "kpb-bench"). */
  runIdPrefix?: string;
}

let clusterSeq = 0;

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const seq = clusterSeq++;
  const prefix = opts.runIdPrefix ?? 'kpb-e2e';
  const runId = seq === 0 ? `${prefix}-${process.pid}` : `${prefix}-${process.pid}-${seq}`;
  const teardown = new Teardown();
  const dualStack = opts.dualStack ?? true;
  try {
    await sweepStaleRuns();
    const dir = mkdtempSync(join(tmpdir(), `${runId}-`));
    const removeDir = (): void => rmSync(dir, { recursive: true, force: true });
    teardown.add(`run folder ${dir}`, removeDir, removeDir);
    const sandbox = createSandbox(runId, teardown);
    const [net, pki] = await Promise.all([
      createTopology(runId, teardown, { podsPerNode: opts.podsPerNode }),
      createPki(dir),
    ]);

    const controlPlanePlace = { netns: net.controlPlaneNetns, cgroup: sandbox.cgroup('control-plane') };
    const adminCert = await pki.client('admin', 'kpb-admin', ['system:masters']);
    const forward = await startForward(controlPlanePlace, '127.0.0.1', PLAN.apiserverPort, join(dir, 'apiserver.sock'), teardown);
    const controlPlane = await startControlPlane({
      place: controlPlanePlace, dir, pki, probeCert: adminCert, forwardPort: forward.localPort, dualStack, extraArgs: opts.apiserverArgs, teardown,
    });
    const adminKubeconfig = writeKubeconfig(join(dir, 'admin.kubeconfig'), {
      server: `https://127.0.0.1:${forward.localPort}`, caFile: pki.caCert,
      certFile: adminCert.cert, keyFile: adminCert.key, user: 'kpb-admin',
    });
    const admin = new ClusterClient(adminKubeconfig);

    const nodes = {} as Record<NodeName, ClusterNode>;
    for (const plan of PLAN.nodes) {
      const n = net.nodes[plan.name];
      const cgroup = sandbox.cgroup(plan.name);
      const nodeFolder = join(dir, plan.name);
      mkdirSync(nodeFolder);
      // Same identity kubeadm-era certificate-based kube-proxies use; one certificate per node.
      const cert = await pki.client(`${plan.name}-kube-proxy`, 'system:kube-proxy');
      const kubeconfig = writeKubeconfig(join(nodeFolder, 'kubeconfig'), {
        server: controlPlane.serverUrl, caFile: pki.caCert, certFile: cert.cert, keyFile: cert.key, user: 'system:kube-proxy',
      });
      nodes[plan.name] = {
        name: plan.name, ipv4: n.ipv4, ipv6: n.ipv6, podCIDRv4: n.podCIDRv4, podCIDRv6: n.podCIDRv6,
        place: { netns: n.netns, cgroup }, netns: n.netns, cgroup,
        pinPath: sandbox.pinPath(plan.name), kubeconfig, clientCert: cert, dir: nodeFolder, teardown,
        pods: n.pods.map((p) => ({
          name: p.name, node: p.node, ipv4: p.ipv4, ipv6: p.ipv6, hostVeth: p.hostVeth,
          place: { netns: p.netns, cgroup: sandbox.cgroup(`${plan.name}/${p.name}`) },
        })),
      };
      if (opts.registerNodes ?? true) {
        await admin.createNode(plan, opts.nodeLabels?.[plan.name]);
      }
    }

    return {
      runId, dir, net, sandbox, pki, controlPlane, admin, adminKubeconfig,
      serverUrl: controlPlane.serverUrl, localServerUrl: `https://127.0.0.1:${forward.localPort}`, dualStack, nodes,
      client: { netns: net.clientNetns, cgroup: sandbox.cgroup('client') },
      controlPlanePlace, teardown,
      stop: () => teardown.run(),
    };
  } catch (err) {
    await teardown.run().catch((tErr: Error) => {
      (err as Error).message += `\n(and ${tErr.message})`;
    });
    throw err;
  }
}
