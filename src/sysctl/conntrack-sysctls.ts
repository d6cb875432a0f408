/**
 * @module
 * The conntrack settings of kube-proxy's start-up (cmd/kube-proxy/app/server_linux.go
 * platformSetup -> pkg/proxy/conntrack SetSysctls), with the same rules: pods' traffic that is not
 * for a Service still goes through netfilter, so `--conntrack-*` keep their meaning.
 *  - nf_conntrack_max = maxPerCore x CPUs (capped at 1M), at least `min`; only raised, never
 *    lowered; maxPerCore 0 leaves it (and `min`) alone. The conntrack hashsize module parameter is
 *    raised to max/4 when smaller.
 *  - tcp_timeout_established, tcp_timeout_close_wait, udp_timeout, udp_timeout_stream: set when
 *    the duration is > 0 (whole seconds); tcp_be_liberal=1 when tcpBeLiberal.
 *  - a sysctl is written only when its value differs ("Set sysctl" logged, as upstream); any
 *    failure is fatal, as upstream's platformSetup error is.
 * kube-proxy v1.37 has no br_netfilter / bridge-nf-call-iptables check any more (it was dropped
 * in v1.29), so there is none here either.
 * The same durations set the BPF conntrack lifetimes (bpfConntrackTimeouts), so one setting
 * governs both datapaths.
 */
import { parseDurationNs } from '../config/duration.ts';
import type { KubeProxyConntrackConfiguration } from '../config/types.ts';

/** Reads and writes sysctls; injected so the rules are tested without a kernel. */
export interface SysctlIo {
  /** The integer value of `/proc/sys/<path>` (or of a /sys path), or throws. */
  read(path: string): number;
  write(path: string, value: number): void;
  /** The node's online CPUs (not the process's cpuset, as upstream's cpuset.NumCPU). */
  cpus(): number;
}

export const HASHSIZE = '/sys/module/nf_conntrack/parameters/hashsize';
const NF = 'net/netfilter/';
const MAX_LIMIT = 1048576;

/** nf_conntrack_max wanted by the configuration, or 0 for "leave it". */
export function conntrackMax(c: KubeProxyConntrackConfiguration, cpus: number): number {
  if (c.maxPerCore <= 0) return 0;
  const scaled = c.maxPerCore * cpus;
  if (scaled > MAX_LIMIT) return MAX_LIMIT;
  return Math.max(scaled, c.min);
}

const seconds = (d: string): number => Math.floor(parseDurationNs(d) / 1e9);

/**
 * Applies the settings; returns the sysctls written, e.g. `net/netfilter/nf_conntrack_udp_timeout=5`.
 * @throws {Error} naming the sysctl and why, like upstream's "could not set conntrack parameters"
 */
export function setConntrackSysctls(c: KubeProxyConntrackConfiguration, io: SysctlIo, log: (entry: string, value: number) => void = () => {}): string[] {
  const written: string[] = [];
  const fail = (what: string, e: unknown): never => {
    throw new Error(`could not set conntrack parameters from kube-proxy configuration: ${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  };
  const set = (entry: string, value: number) => {
    let current: number | undefined;
    try {
      current = io.read(entry);
    } catch {
      current = undefined;
    }
    if (current === value) return;
    log(entry, value);
    try {
      io.write(entry, value);
    } catch (e) {
      fail(`write ${entry}=${value}`, e);
    }
    written.push(`${entry}=${value}`);
  };
  const max = conntrackMax(c, io.cpus());
  if (max > 0) {
    let current = -1;
    try {
      current = io.read(`${NF}nf_conntrack_max`);
    } catch {
      current = -1;
    }
    if (current < max) set(`${NF}nf_conntrack_max`, max);
    let hashsize = 0;
    try {
      hashsize = io.read(HASHSIZE);
    } catch (e) {
      fail(`read ${HASHSIZE}`, e);
    }
    if (hashsize < Math.floor(max / 4)) set(HASHSIZE, Math.floor(max / 4));
  }
  const timeouts: [string, string][] = [
    [c.tcpEstablishedTimeout, 'nf_conntrack_tcp_timeout_established'],
    [c.tcpCloseWaitTimeout, 'nf_conntrack_tcp_timeout_close_wait'],
  ];
  for (const [d, name] of timeouts) if (seconds(d) > 0) set(NF + name, seconds(d));
  if (c.tcpBeLiberal) set(`${NF}nf_conntrack_tcp_be_liberal`, 1);
  for (const [d, name] of [[c.udpTimeout, 'nf_conntrack_udp_timeout'], [c.udpStreamTimeout, 'nf_conntrack_udp_timeout_stream']] as const) {
    if (seconds(d) > 0) set(NF + name, seconds(d));
  }
  return written;
}

/**
 * Lifetimes of the BPF conntrack entries (`.rodata` constants of datapath/include/conntrack.h)
 * from the same settings; a setting of 0 ("leave as is") keeps the datapath's own default.
 * UDP has one lifetime in the datapath: --conntrack-udp-timeout, else --conntrack-udp-timeout-stream.
 * --conntrack-tcp-timeout-close-wait has no BPF counterpart: the datapath's closing state follows
 * a FIN or RST of either side, like netfilter's short CLOSE/TIME_WAIT states, not the half-closed
 * CLOSE_WAIT; an hour there would hold SNAT port reservations of closed flows for an hour.
 */
export function bpfConntrackTimeouts(c: KubeProxyConntrackConfiguration): Record<string, number> {
  const out: Record<string, number> = {};
  if (seconds(c.tcpEstablishedTimeout) > 0) out.kpb_ct_timeout_tcp_established = seconds(c.tcpEstablishedTimeout);
  const udp = seconds(c.udpTimeout) > 0 ? seconds(c.udpTimeout) : seconds(c.udpStreamTimeout);
  if (udp > 0) out.kpb_ct_timeout_udp = udp;
  if (seconds(c.udpStreamTimeout) > 0) out.kpb_ct_timeout_udp_stream = seconds(c.udpStreamTimeout);
  return out;
}
