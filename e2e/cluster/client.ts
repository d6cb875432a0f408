// The test's view of the apiserver through @kubernetes/client-node: typed helpers for the objects
// kube-proxy consumes (Services, EndpointSlices, Nodes) and namespaces to hold them. Namespaces
// are always created with the `kpb-` prefix and removed by the test that made them.
import {
  CoreV1Api, DiscoveryV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy,
  type KubernetesObject, type V1EndpointSlice, type V1Namespace, type V1Node, type V1Service,
} from '@kubernetes/client-node';
import type { NodePlan } from './plan.ts';

/** Object kinds and names in one line, for error messages. */
function describe(obj: KubernetesObject): string {
  const ns = obj.metadata?.namespace === undefined ? '' : `${obj.metadata.namespace}/`;
  return `${obj.kind ?? '?'} ${ns}${obj.metadata?.name ?? '?'}`;
}

/**
 * client-node 1.3 makes a new https.Agent for every request, and the apiserver keeps each idle
 * connection open, so every request leaves a socket behind: writing 10,000 Services and their
 * slices ran the bench out of file descriptors (EMFILE at the 20,000 limit). One keep-alive agent
 * per kubeconfig reuses connections instead. createAgent is private in the typings, hence the cast.
 */
function shareOneAgent(kubeconfig: KubeConfig): void {
  const k = kubeconfig as unknown as { createAgent: (cluster: unknown, options: object) => unknown };
  const make = k.createAgent.bind(kubeconfig);
  let shared: unknown;
  k.createAgent = (cluster, options) => {
    shared ??= make(cluster, { ...options, keepAlive: true });
    return shared;
  };
}

export class ClusterClient {
  readonly kubeconfig: KubeConfig;
  readonly core: CoreV1Api;
  readonly discovery: DiscoveryV1Api;
  readonly objects: KubernetesObjectApi;

  constructor(kubeconfigPath: string) {
    this.kubeconfig = new KubeConfig();
    this.kubeconfig.loadFromFile(kubeconfigPath);
    shareOneAgent(this.kubeconfig);
    this.core = this.kubeconfig.makeApiClient(CoreV1Api);
    this.discovery = this.kubeconfig.makeApiClient(DiscoveryV1Api);
    this.objects = KubernetesObjectApi.makeApiClient(this.kubeconfig);
  }

  async createNamespace(name: string): Promise<V1Namespace> {
    if (!name.startsWith('kpb-')) throw new Error(`namespace ${name}: test namespaces must start with kpb-`);
    return this.core.createNamespace({ body: { metadata: { name } } });
  }

  async deleteNamespace(name: string): Promise<void> {
    await this.core.deleteNamespace({ name });
  }

  async createService(namespace: string, service: V1Service): Promise<V1Service> {
    return this.core.createNamespacedService({ namespace, body: service });
  }

  async deleteService(namespace: string, name: string): Promise<void> {
    await this.core.deleteNamespacedService({ namespace, name });
  }

  async createEndpointSlice(namespace: string, slice: V1EndpointSlice): Promise<V1EndpointSlice> {
    return this.discovery.createNamespacedEndpointSlice({ namespace, body: slice });
  }

  async deleteEndpointSlice(namespace: string, name: string): Promise<void> {
    await this.discovery.deleteNamespacedEndpointSlice({ namespace, name });
  }

  /**
   * Registers a node the way a kubelet would (spec.podCIDRs, InternalIP addresses, Ready), since
   * this cluster has no kubelet. Extra labels go on top of the standard hostname and OS labels.
   */
  async createNode(plan: NodePlan, labels: Record<string, string> = {}): Promise<V1Node> {
    return this.core.createNode({
      body: {
        metadata: {
          name: plan.name,
          labels: { 'kubernetes.io/hostname': plan.name, 'kubernetes.io/os': 'linux', ...labels },
        },
        spec: { podCIDR: plan.podCIDRv4, podCIDRs: [plan.podCIDRv4, plan.podCIDRv6] },
        status: {
          addresses: [
            { type: 'InternalIP', address: plan.ipv4 },
            { type: 'InternalIP', address: plan.ipv6 },
            { type: 'Hostname', address: plan.name },
          ],
          conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kpb-e2e node' }],
        },
      },
    });
  }

  async deleteNode(name: string): Promise<void> {
    await this.core.deleteNode({ name });
  }

  /**
   * Server-side apply of each object (what `kubectl apply --server-side` does). With
   * `dryRun`, the apiserver runs admission and validation but stores nothing.
   */
  async apply(objects: readonly KubernetesObject[], opts: { dryRun?: boolean; fieldManager?: string } = {}): Promise<KubernetesObject[]> {
    const out: KubernetesObject[] = [];
    for (const obj of objects) {
      try {
        out.push(await this.objects.patch(obj, undefined, opts.dryRun ? 'All' : undefined,
          opts.fieldManager ?? 'kpb-e2e', true, PatchStrategy.ServerSideApply));
      } catch (err) {
        throw new Error(`apply ${describe(obj)}${opts.dryRun ? ' (dry-run)' : ''}: ${(err as Error).message}`);
      }
    }
    return out;
  }
}
