/**
 * @module
 * KubeProxyConfiguration, kubeproxy.config.k8s.io/v1alpha1, in its wire (JSON/YAML) shape.
 * Durations stay Go duration strings in canonical form (`30s`, `1h0m0s`); `parseDuration` in
 * duration.ts turns them into milliseconds. After `applyDefaults` every field is present, so the
 * types carry no optionals except where upstream omits the field (`windowsRunAsService`).
 */

/** A Go duration string such as `30s` or `1h0m0s`. */
export type Duration = string;

export const API_VERSION = 'kubeproxy.config.k8s.io/v1alpha1';
export const KIND = 'KubeProxyConfiguration';

export type ClientConnectionConfiguration = {
  kubeconfig: string;
  acceptContentTypes: string;
  contentType: string;
  qps: number;
  burst: number;
};

export type VModuleItem = { filePattern: string; verbosity: number };

/** component-base OutputRoutingOptions; `infoBufferSize` is a resource.Quantity string. */
export type OutputRoutingOptions = { splitStream: boolean; infoBufferSize: string };

export type LoggingConfiguration = {
  format: string;
  flushFrequency: Duration;
  verbosity: number;
  vmodule: VModuleItem[] | null;
  options: { text: OutputRoutingOptions; json: OutputRoutingOptions };
};

export type KubeProxyIPTablesConfiguration = {
  masqueradeBit: number;
  masqueradeAll: boolean;
  localhostNodePorts: boolean;
  syncPeriod: Duration;
  minSyncPeriod: Duration;
};

export type KubeProxyIPVSConfiguration = {
  syncPeriod: Duration;
  minSyncPeriod: Duration;
  scheduler: string;
  excludeCIDRs: string[] | null;
  strictARP: boolean;
  tcpTimeout: Duration;
  tcpFinTimeout: Duration;
  udpTimeout: Duration;
};

export type KubeProxyNFTablesConfiguration = {
  masqueradeBit: number;
  masqueradeAll: boolean;
  syncPeriod: Duration;
  minSyncPeriod: Duration;
};

export type KubeProxyWinkernelConfiguration = {
  networkName: string;
  sourceVip: string;
  enableDSR: boolean;
  rootHnsEndpointName: string;
  forwardHealthCheckVip: boolean;
};

export type DetectLocalConfiguration = { bridgeInterface: string; interfaceNamePrefix: string };

export type KubeProxyConntrackConfiguration = {
  maxPerCore: number;
  min: number;
  tcpEstablishedTimeout: Duration;
  tcpCloseWaitTimeout: Duration;
  tcpBeLiberal: boolean;
  udpTimeout: Duration;
  udpStreamTimeout: Duration;
};

export type KubeProxyConfiguration = {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  featureGates: Record<string, boolean>;
  clientConnection: ClientConnectionConfiguration;
  logging: LoggingConfiguration;
  hostnameOverride: string;
  bindAddress: string;
  healthzBindAddress: string;
  metricsBindAddress: string;
  bindAddressHardFail: boolean;
  enableProfiling: boolean;
  showHiddenMetricsForVersion: string;
  mode: string;
  iptables: KubeProxyIPTablesConfiguration;
  ipvs: KubeProxyIPVSConfiguration;
  nftables: KubeProxyNFTablesConfiguration;
  winkernel: KubeProxyWinkernelConfiguration;
  detectLocalMode: string;
  detectLocal: DetectLocalConfiguration;
  clusterCIDR: string;
  nodePortAddresses: string[] | null;
  oomScoreAdj: number;
  conntrack: KubeProxyConntrackConfiguration;
  configSyncPeriod: Duration;
  portRange: string;
  windowsRunAsService?: boolean;
};

/** Recursively optional: what a decoded file or the flags supply before defaulting. */
export type DeepPartial<T> = T extends (infer U)[] ? U[] : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> | null } : T;

export type PartialKubeProxyConfiguration = DeepPartial<KubeProxyConfiguration>;
