/**
 * @module
 * v1alpha1 defaulting, as upstream's SetDefaults_KubeProxyConfiguration does it. Two rules matter:
 * pointer fields upstream (*int32, *bool, *Duration) are defaulted only when absent, so an explicit
 * `0` survives; plain fields are defaulted when they hold the zero value, so `syncPeriod: 0s` in a
 * file becomes `30s`. Platform (Linux) defaults are separate: see platform-defaults.ts.
 */
import { isIP } from 'node:net';
import { API_VERSION, KIND } from './types.ts';
import type { KubeProxyConfiguration, OutputRoutingOptions, PartialKubeProxyConfiguration } from './types.ts';

export const PROXY_HEALTHZ_PORT = 10256;
export const PROXY_METRICS_PORT = 10249;

/** The fully defaulted configuration, as `kube-proxy --write-config-to` starts from. */
export function defaultKubeProxyConfiguration(): KubeProxyConfiguration {
  return applyDefaults({});
}

const str = (v: string | null | undefined, dflt: string) => (v === undefined || v === null || v === '' ? dflt : v);
const dur = (v: string | null | undefined, dflt: string) =>
  v === undefined || v === null || v === '' || v === '0s' || v === '0' ? dflt : v;
const num = (v: number | null | undefined, dflt: number) => (v === undefined || v === null || v === 0 ? dflt : v);
const ptr = <T,>(v: T | null | undefined, dflt: T): T => (v === undefined || v === null ? dflt : v);

/** Fills every missing field of a decoded (or flag-built) configuration with its default. */
export function applyDefaults(c: PartialKubeProxyConfiguration): KubeProxyConfiguration {
  const bindAddress = str(c.bindAddress, '0.0.0.0');
  // An IPv6 bind address moves the default servers to IPv6 as well.
  const v6 = isIP(bindAddress) === 6;
  const routing = (o: { splitStream?: boolean | null; infoBufferSize?: string | null } | null | undefined): OutputRoutingOptions => ({
    splitStream: o?.splitStream ?? false,
    infoBufferSize: str(o?.infoBufferSize, '0'),
  });
  const out: KubeProxyConfiguration = {
    apiVersion: API_VERSION,
    kind: KIND,
    featureGates: { ...(c.featureGates ?? {}) } as Record<string, boolean>,
    clientConnection: {
      kubeconfig: c.clientConnection?.kubeconfig ?? '',
      acceptContentTypes: c.clientConnection?.acceptContentTypes ?? '',
      contentType: str(c.clientConnection?.contentType, 'application/vnd.kubernetes.protobuf'),
      qps: num(c.clientConnection?.qps, 5),
      burst: num(c.clientConnection?.burst, 10),
    },
    logging: {
      format: str(c.logging?.format, 'text'),
      flushFrequency: dur(c.logging?.flushFrequency, '5s'),
      verbosity: c.logging?.verbosity ?? 0,
      vmodule: c.logging?.vmodule ? c.logging.vmodule.map((m) => ({ filePattern: m.filePattern ?? '', verbosity: m.verbosity ?? 0 })) : null,
      options: { text: routing(c.logging?.options?.text), json: routing(c.logging?.options?.json) },
    },
    hostnameOverride: c.hostnameOverride ?? '',
    bindAddress,
    healthzBindAddress: appendPortIfNeeded(str(c.healthzBindAddress, v6 ? '[::]' : '0.0.0.0'), PROXY_HEALTHZ_PORT),
    metricsBindAddress: appendPortIfNeeded(str(c.metricsBindAddress, v6 ? '[::1]' : '127.0.0.1'), PROXY_METRICS_PORT),
    bindAddressHardFail: c.bindAddressHardFail ?? false,
    enableProfiling: c.enableProfiling ?? false,
    showHiddenMetricsForVersion: c.showHiddenMetricsForVersion ?? '',
    mode: c.mode ?? '',
    iptables: {
      masqueradeBit: ptr(c.iptables?.masqueradeBit, 14),
      masqueradeAll: c.iptables?.masqueradeAll ?? false,
      localhostNodePorts: ptr(c.iptables?.localhostNodePorts, true),
      syncPeriod: dur(c.iptables?.syncPeriod, '30s'),
      minSyncPeriod: dur(c.iptables?.minSyncPeriod, '1s'),
    },
    ipvs: {
      syncPeriod: dur(c.ipvs?.syncPeriod, '30s'),
      // Upstream never defaulted ipvs.minSyncPeriod in v1alpha1 (spec §9 item 1).
      minSyncPeriod: dur(c.ipvs?.minSyncPeriod, '0s'),
      scheduler: c.ipvs?.scheduler ?? '',
      excludeCIDRs: c.ipvs?.excludeCIDRs ? [...c.ipvs.excludeCIDRs] : null,
      strictARP: c.ipvs?.strictARP ?? false,
      tcpTimeout: dur(c.ipvs?.tcpTimeout, '0s'),
      tcpFinTimeout: dur(c.ipvs?.tcpFinTimeout, '0s'),
      udpTimeout: dur(c.ipvs?.udpTimeout, '0s'),
    },
    nftables: {
      masqueradeBit: ptr(c.nftables?.masqueradeBit, 14),
      masqueradeAll: c.nftables?.masqueradeAll ?? false,
      syncPeriod: dur(c.nftables?.syncPeriod, '30s'),
      minSyncPeriod: dur(c.nftables?.minSyncPeriod, '1s'),
    },
    winkernel: {
      networkName: c.winkernel?.networkName ?? '',
      sourceVip: c.winkernel?.sourceVip ?? '',
      enableDSR: c.winkernel?.enableDSR ?? false,
      rootHnsEndpointName: c.winkernel?.rootHnsEndpointName ?? '',
      forwardHealthCheckVip: c.winkernel?.forwardHealthCheckVip ?? false,
    },
    detectLocalMode: c.detectLocalMode ?? '',
    detectLocal: {
      bridgeInterface: c.detectLocal?.bridgeInterface ?? '',
      interfaceNamePrefix: c.detectLocal?.interfaceNamePrefix ?? '',
    },
    clusterCIDR: c.clusterCIDR ?? '',
    nodePortAddresses: c.nodePortAddresses ? [...c.nodePortAddresses] : null,
    oomScoreAdj: ptr(c.oomScoreAdj, -999),
    conntrack: {
      maxPerCore: ptr(c.conntrack?.maxPerCore, 32768),
      min: ptr(c.conntrack?.min, 131072),
      tcpEstablishedTimeout: ptr(c.conntrack?.tcpEstablishedTimeout, '24h0m0s'),
      tcpCloseWaitTimeout: ptr(c.conntrack?.tcpCloseWaitTimeout, '1h0m0s'),
      tcpBeLiberal: c.conntrack?.tcpBeLiberal ?? false,
      udpTimeout: dur(c.conntrack?.udpTimeout, '0s'),
      udpStreamTimeout: dur(c.conntrack?.udpStreamTimeout, '0s'),
    },
    configSyncPeriod: dur(c.configSyncPeriod, '15m0s'),
    portRange: c.portRange ?? '',
  };
  if (c.windowsRunAsService !== undefined && c.windowsRunAsService !== null) out.windowsRunAsService = c.windowsRunAsService;
  return out;
}

/** `host` -> `host:port` when `addr` is a bare IP; anything else is returned unchanged for validation. */
export function appendPortIfNeeded(addr: string, port: number): string {
  const bare = addr.startsWith('[') && addr.endsWith(']') ? addr.slice(1, -1) : addr;
  const family = isIP(bare);
  if (family === 4) return `${bare}:${port}`;
  if (family === 6) return `[${bare}]:${port}`;
  return addr;
}
