/**
 * @module
 * Validation of an effective KubeProxyConfiguration (spec §2.5). kube-proxy refuses to start on
 * any returned error. Paths use the JSON keys a user edits (`KubeProxyConfiguration.iptables.
 * masqueradeBit`) rather than upstream's Go type names, so the message points into the file.
 */
import { parseIp } from '../model/ip.ts';
import { parseCidr } from './cidr.ts';
import { parseDurationNs } from './duration.ts';
import { forbidden, invalid, required, unsupported } from './field-error.ts';
import type { FieldError } from './field-error.ts';
import type { KubeProxyConfiguration } from './types.ts';
import { KUBERNETES_VERSION } from './version.ts';
import { KNOWN_FEATURE_GATES } from './known-feature-gates.ts';

const ROOT = 'KubeProxyConfiguration';
export const LINUX_PROXY_MODES = ['iptables', 'ipvs', 'nftables'];
export const LOCAL_MODES = ['ClusterCIDR', 'NodeCIDR', 'BridgeInterface', 'InterfaceNamePrefix'];
export const NODE_PORT_ADDRESS_KEYWORDS = ['primary', 'localhost', 'all'];

/** Every problem in `c`, empty when it is valid. */
export function validateKubeProxyConfiguration(c: KubeProxyConfiguration): FieldError[] {
  const errs: FieldError[] = [];
  const p = (...parts: string[]) => [ROOT, ...parts].join('.');
  const ns = (path: string, v: string) => {
    try {
      return parseDurationNs(v);
    } catch {
      errs.push(invalid(path, v, 'must be a duration such as 30s'));
      return 0;
    }
  };

  for (const section of ['iptables', 'nftables'] as const) {
    const bit = c[section].masqueradeBit;
    if (bit < 0 || bit > 31) errs.push(invalid(p(section, 'masqueradeBit'), bit, 'must be within the range [0, 31]'));
  }

  // The mode's own section supplies the sync periods that are used, so only that one is checked.
  const syncSection = c.mode === 'ipvs' ? 'ipvs' : c.mode === 'nftables' ? 'nftables' : 'iptables';
  const sync = ns(p(syncSection, 'syncPeriod'), c[syncSection].syncPeriod);
  const minSync = ns(p(syncSection, 'minSyncPeriod'), c[syncSection].minSyncPeriod);
  if (sync <= 0) errs.push(invalid(p(syncSection, 'syncPeriod'), c[syncSection].syncPeriod, 'must be greater than 0'));
  if (minSync < 0) errs.push(invalid(p(syncSection, 'minSyncPeriod'), c[syncSection].minSyncPeriod, 'must be greater than or equal to 0'));
  else if (sync > 0 && minSync > sync) {
    errs.push(invalid(p(syncSection, 'minSyncPeriod'), c[syncSection].minSyncPeriod, `must be less than or equal to ${p(syncSection, 'syncPeriod')}`));
  }

  if (c.mode === 'ipvs') {
    // Upstream leaves ipvs.scheduler to the kernel (any name is accepted at validation).
    for (const k of ['tcpTimeout', 'tcpFinTimeout', 'udpTimeout'] as const) {
      if (ns(p('ipvs', k), c.ipvs[k]) < 0) errs.push(invalid(p('ipvs', k), c.ipvs[k], 'must be greater than or equal to 0'));
    }
  }
  (c.ipvs.excludeCIDRs ?? []).forEach((cidr, i) => {
    if (!parseCidr(cidr)) errs.push(invalid(`${p('ipvs', 'excludeCIDRs')}[${i}]`, cidr, 'must be a valid CIDR'));
  });

  for (const k of ['maxPerCore', 'min'] as const) {
    if (c.conntrack[k] < 0) errs.push(invalid(p('conntrack', k), c.conntrack[k], 'must be greater than or equal to 0'));
  }
  for (const k of ['tcpEstablishedTimeout', 'tcpCloseWaitTimeout', 'udpTimeout', 'udpStreamTimeout'] as const) {
    if (ns(p('conntrack', k), c.conntrack[k]) < 0) errs.push(invalid(p('conntrack', k), c.conntrack[k], 'must be greater than or equal to 0'));
  }

  if (c.oomScoreAdj < -1000 || c.oomScoreAdj > 1000) errs.push(invalid(p('oomScoreAdj'), c.oomScoreAdj, 'must be within the range [-1000, 1000]'));
  if (ns(p('configSyncPeriod'), c.configSyncPeriod) <= 0) errs.push(invalid(p('configSyncPeriod'), c.configSyncPeriod, 'must be greater than 0'));
  if (c.clientConnection.burst < 0) errs.push(invalid(p('clientConnection', 'burst'), c.clientConnection.burst, 'must be greater than or equal to 0'));
  if (c.clientConnection.qps < 0) errs.push(invalid(p('clientConnection', 'qps'), c.clientConnection.qps, 'must be greater than or equal to 0'));

  if (!isSloppyIP(c.bindAddress)) errs.push(invalid(p('bindAddress'), c.bindAddress, 'not a valid textual representation of an IP address'));
  errs.push(...validateHostPort(c.healthzBindAddress, p('healthzBindAddress')));
  errs.push(...validateHostPort(c.metricsBindAddress, p('metricsBindAddress')));

  if (c.clusterCIDR !== '') {
    const cidrs = c.clusterCIDR.split(',').map((s) => s.trim());
    const parsed = cidrs.map(parseCidr);
    if (cidrs.length > 2) {
      errs.push(invalid(p('clusterCIDR'), c.clusterCIDR, 'only one CIDR allowed or a valid DualStack CIDR (e.g. 10.100.0.0/16,fde4:8dba:82e1::/48)'));
    } else if (cidrs.length === 2) {
      if (!parsed[0] || !parsed[1] || parsed[0].family === parsed[1].family) {
        errs.push(invalid(p('clusterCIDR'), c.clusterCIDR, 'must be a valid DualStack CIDR (e.g. 10.100.0.0/16,fde4:8dba:82e1::/48)'));
      }
    } else if (!parsed[0]) {
      errs.push(invalid(p('clusterCIDR'), c.clusterCIDR, 'must be a valid CIDR block (e.g. 10.100.0.0/16 or fde4:8dba:82e1::/48)'));
    }
  }

  (c.nodePortAddresses ?? []).forEach((addr, i) => {
    if (NODE_PORT_ADDRESS_KEYWORDS.includes(addr)) return;
    if (!parseCidr(addr)) {
      errs.push(invalid(`${p('nodePortAddresses')}[${i}]`, addr, `must be a valid CIDR or one of ${NODE_PORT_ADDRESS_KEYWORDS.map((k) => JSON.stringify(k)).join(', ')}`));
    }
  });

  if (c.mode !== '' && !LINUX_PROXY_MODES.includes(c.mode)) errs.push(unsupported(p('mode'), c.mode, LINUX_PROXY_MODES));
  if (c.detectLocalMode !== '' && !LOCAL_MODES.includes(c.detectLocalMode)) {
    errs.push(unsupported(p('detectLocalMode'), c.detectLocalMode, LOCAL_MODES));
  }
  if (c.detectLocalMode === 'BridgeInterface' && c.detectLocal.bridgeInterface === '') {
    errs.push(required(p('detectLocal', 'bridgeInterface'), 'must not be empty when detectLocalMode is BridgeInterface'));
  }
  if (c.detectLocalMode === 'InterfaceNamePrefix' && c.detectLocal.interfaceNamePrefix === '') {
    errs.push(required(p('detectLocal', 'interfaceNamePrefix'), 'must not be empty when detectLocalMode is InterfaceNamePrefix'));
  }

  for (const gate of Object.keys(c.featureGates)) {
    if (!KNOWN_FEATURE_GATES.has(gate)) errs.push(invalid(p('featureGates'), gate, 'unrecognized feature gate'));
  }

  if (c.showHiddenMetricsForVersion !== '') {
    const [major, minor] = KUBERNETES_VERSION.slice(1).split('.').map(Number);
    const previous = `${major}.${minor - 1}`;
    if (c.showHiddenMetricsForVersion !== previous) {
      errs.push(
        invalid(p('showHiddenMetricsForVersion'), c.showHiddenMetricsForVersion, `must be omitted or have the value '${previous}': only the previous minor version is allowed`),
      );
    }
  }

  if (ns(p('logging', 'flushFrequency'), c.logging.flushFrequency) <= 0) {
    errs.push(invalid(p('logging', 'flushFrequency'), c.logging.flushFrequency, 'must be greater than 0'));
  }
  (c.logging.vmodule ?? []).forEach((m, i) => {
    const path = `${p('logging', 'vmodule')}[${i}]`;
    if (m.filePattern === '') errs.push(required(`${path}.filePattern`, ''));
    else if (/[=,]/.test(m.filePattern)) errs.push(invalid(`${path}.filePattern`, m.filePattern, 'must not contain "=" or ","'));
  });

  return errs;
}

/**
 * component-base's checks of the logging options, which upstream reports as "initialize logging"
 * before any other validation: the format must be registered (`text`, or `json` while
 * LoggingBetaOptions is on), and the split-stream options need LoggingAlphaOptions.
 */
export function validateLoggingConfiguration(c: KubeProxyConfiguration, enabled: (gate: string) => boolean): FieldError[] {
  const errs: FieldError[] = [];
  const formats = enabled('LoggingBetaOptions') ? ['json', 'text'] : ['text'];
  if (!formats.includes(c.logging.format)) errs.push(invalid('logging.format', c.logging.format, 'Unsupported log format'));
  if (!enabled('LoggingAlphaOptions')) {
    for (const fmt of ['text', 'json'] as const) {
      const o = c.logging.options[fmt];
      if (o.splitStream) errs.push(forbidden(`logging.options.${fmt}.splitStream`, 'Feature LoggingAlphaOptions is disabled'));
      if (!/^[+-]?0*(\.0*)?[a-zA-Z]*$/.test(o.infoBufferSize)) errs.push(forbidden(`logging.options.${fmt}.infoBufferSize`, 'Feature LoggingAlphaOptions is disabled'));
    }
  }
  return errs;
}

/** An address as Kubernetes' ParseIPSloppy reads it (leading zeros allowed, zones refused). */
function isSloppyIP(text: string): boolean {
  return text.trim() === text && text !== '' && parseIp(text) !== null;
}

function validateHostPort(input: string, path: string): FieldError[] {
  if (input === '') return []; // empty disables the server
  const m = /^(?:\[([^\]]*)\]|([^:]*)):([^:]*)$/.exec(input);
  if (!m) return [invalid(path, input, 'must be IP:port')];
  const errs: FieldError[] = [];
  const host = m[1] ?? m[2];
  if (!isSloppyIP(host)) errs.push(invalid(path, host, 'must be a valid IP'));
  const port = Number(m[3]);
  if (!/^\d+$/.test(m[3]) || port < 1 || port > 65535) errs.push(invalid(path, m[3], 'must be a valid port'));
  return errs;
}
