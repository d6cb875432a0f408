/**
 * @module
 * The shape of KubeProxyConfiguration v1alpha1 as the decoder checks it: every known JSON key and
 * its Go type. Unknown keys are what strict decoding rejects, so this table is the single list of
 * what the file may hold (spec §2.1).
 */

export type FieldType =
  | 'string'
  | 'bool'
  | 'int32'
  | 'uint32'
  | 'float32'
  | 'duration'
  /** component-base TimeOrMetaDuration: a duration string, or a number of nanoseconds. */
  | 'timeOrDuration'
  /** resource.Quantity: a string or a number. */
  | 'quantity'
  | 'stringList'
  | 'boolMap'
  | { object: Schema }
  | { listOf: Schema };

export type Schema = { [key: string]: FieldType };

const routing: Schema = { splitStream: 'bool', infoBufferSize: 'quantity' };

/** KubeProxyConfiguration's fields, by JSON key. */
export const kubeProxyConfigurationSchema: Schema = {
  apiVersion: 'string',
  kind: 'string',
  featureGates: 'boolMap',
  clientConnection: {
    object: { kubeconfig: 'string', acceptContentTypes: 'string', contentType: 'string', qps: 'float32', burst: 'int32' },
  },
  logging: {
    object: {
      format: 'string',
      flushFrequency: 'timeOrDuration',
      verbosity: 'uint32',
      vmodule: { listOf: { filePattern: 'string', verbosity: 'uint32' } },
      options: { object: { text: { object: routing }, json: { object: routing } } },
    },
  },
  hostnameOverride: 'string',
  bindAddress: 'string',
  healthzBindAddress: 'string',
  metricsBindAddress: 'string',
  bindAddressHardFail: 'bool',
  enableProfiling: 'bool',
  showHiddenMetricsForVersion: 'string',
  mode: 'string',
  iptables: {
    object: { masqueradeBit: 'int32', masqueradeAll: 'bool', localhostNodePorts: 'bool', syncPeriod: 'duration', minSyncPeriod: 'duration' },
  },
  ipvs: {
    object: {
      syncPeriod: 'duration',
      minSyncPeriod: 'duration',
      scheduler: 'string',
      excludeCIDRs: 'stringList',
      strictARP: 'bool',
      tcpTimeout: 'duration',
      tcpFinTimeout: 'duration',
      udpTimeout: 'duration',
    },
  },
  nftables: { object: { masqueradeBit: 'int32', masqueradeAll: 'bool', syncPeriod: 'duration', minSyncPeriod: 'duration' } },
  winkernel: {
    object: { networkName: 'string', sourceVip: 'string', enableDSR: 'bool', rootHnsEndpointName: 'string', forwardHealthCheckVip: 'bool' },
  },
  detectLocalMode: 'string',
  detectLocal: { object: { bridgeInterface: 'string', interfaceNamePrefix: 'string' } },
  clusterCIDR: 'string',
  nodePortAddresses: 'stringList',
  oomScoreAdj: 'int32',
  conntrack: {
    object: {
      maxPerCore: 'int32',
      min: 'int32',
      tcpEstablishedTimeout: 'duration',
      tcpCloseWaitTimeout: 'duration',
      tcpBeLiberal: 'bool',
      udpTimeout: 'duration',
      udpStreamTimeout: 'duration',
    },
  },
  configSyncPeriod: 'duration',
  portRange: 'string',
  windowsRunAsService: 'bool',
};
