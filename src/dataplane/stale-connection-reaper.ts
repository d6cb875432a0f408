/**
 * @module
 * StaleConnectionReaper: after each sync, ends the connections whose backend stopped serving
 * (stale-backends.ts): the sockets the socket LB connected to it, in every network namespace of
 * the node (socket-terminator.ts), and the north-south UDP conntrack entries that would keep
 * sending datagrams there (stale-conntrack.ts). It runs after the maps were written, so a client
 * that reconnects at once is already load-balanced over the remaining backends.
 *
 * Without the socket terminator (a kernel before 6.5 has no bpf_sock_destroy) the conntrack part
 * still runs; the missing part is reported once by the caller (see `terminatorUnavailable`).
 */
import type { BpfMap, Collection } from 'bpf-loader-napi';
import type { Counter } from 'prom-client';
import type { Logger } from '../log/logger.ts';
import type { EndpointsMap } from '../model/endpoints-change-tracker.ts';
import { formatIp } from '../model/ip.ts';
import type { ServicePortMap } from '../model/service-change-tracker.ts';
import type { SocketTerminator, TerminationResult } from './socket-terminator.ts';
import { StaleBackends, servicePortViews, type StaleFlow } from './stale-backends.ts';
import { staleConntrackKeys } from './stale-conntrack.ts';

export type ReapResult = {
  flows: StaleFlow[];
  /** null without a socket terminator or when no TCP/UDP pair was stale. */
  sockets: TerminationResult | null;
  /** Conntrack entries deleted (both directions count). */
  conntrack: number;
  /** Failures naming what failed; the reaper goes on with the rest. */
  errors: string[];
};

export type StaleConnectionReaperOptions = {
  terminator: SocketTerminator | null;
  /** The north-south conntrack maps (decoded through their BTF codecs). */
  conntrack: () => BpfMap[];
  /** lb_node_addrs, whose keys are the addresses NodePorts answer on. */
  nodeAddresses: () => BpfMap | null;
  /** lb_backends (backend id -> address and port), for DSR entries. */
  backends?: () => BpfMap | null;
};

export class StaleConnectionReaper {
  readonly #stale = new StaleBackends();
  readonly #o: StaleConnectionReaperOptions;

  constructor(options: StaleConnectionReaperOptions) {
    this.#o = options;
  }

  /** Call after the maps of a sync were written, with the services that sync changed. */
  afterSync(changedServices: ReadonlySet<string>, serviceMap: ServicePortMap, endpointsMap: EndpointsMap): ReapResult {
    const flows = this.#stale.update(servicePortViews(changedServices, serviceMap, endpointsMap));
    const result: ReapResult = { flows, sockets: null, conntrack: 0, errors: [] };
    if (flows.length === 0) return result;
    if (this.#o.terminator && flows.some((f) => f.protocol !== 'SCTP')) {
      try {
        result.sockets = this.#o.terminator.run(flows);
        result.errors.push(...result.sockets.errors);
      } catch (err) {
        result.errors.push(`socket termination: ${(err as Error).message}`);
      }
    }
    if (flows.some((f) => f.protocol === 'UDP')) {
      const nodes = new Set<string>();
      try {
        for (const k of this.#o.nodeAddresses()?.keys() ?? []) nodes.add(formatIp((k as { addr: Uint8Array }).addr));
      } catch (err) {
        result.errors.push(`read lb_node_addrs: ${(err as Error).message}`);
      }
      const backends = this.#o.backends?.() ?? null;
      const backendOf = (id: number) => {
        const b = backends?.lookup(id) as { addr: Uint8Array; port: number } | undefined;
        return b ? { addr: formatIp(b.addr), port: b.port } : undefined;
      };
      for (const map of this.#o.conntrack()) {
        try {
          const keys = staleConntrackKeys(map.entries(), flows, nodes, backendOf);
          if (keys.length > 0) result.conntrack += map.deleteBatch(keys);
        } catch (err) {
          result.errors.push(`delete stale entries of ${map.name}: ${(err as Error).message}`);
        }
      }
    }
    return result;
  }
}

/** What the agent wires to the reaper: the datapath's parts, a logger and the metric. */
export type ReaperWiring = {
  datapath: {
    socketTerminator: { collection: Collection } | { unavailable: string };
    conntrackMaps(): BpfMap[];
    maps: { map(name: 'lb_node_addrs' | 'lb_backends'): BpfMap };
  };
  logger: Logger;
  ended: Counter<'kind'>;
  /** Builds the terminator from the loaded object. @default the real SocketTerminator */
  makeTerminator: (collection: Collection) => SocketTerminator;
};

/**
 * The agent's hook: a function to call after each sync with the services it changed. Logs what it
 * ended (V(2)), failures (warning) and, once, that sockets cannot be ended on this kernel.
 */
export function reapStaleConnections(w: ReaperWiring): (changed: ReadonlySet<string>, serviceMap: ServicePortMap, endpointsMap: EndpointsMap) => void {
  const st = w.datapath.socketTerminator;
  let terminator: SocketTerminator | null = null;
  if ('collection' in st) {
    try {
      terminator = w.makeTerminator(st.collection);
    } catch (err) {
      w.logger.warning('Sockets connected to removed backends will not be ended: the socket terminator cannot attach', { err });
    }
  } else {
    w.logger.warning('Sockets connected to removed backends will not be ended: the socket terminator did not load (its iterators need the bpf_sock_destroy kfunc, Linux 6.5+); UDP conntrack entries of removed backends are still deleted', { reason: st.unavailable });
  }
  const reaper = new StaleConnectionReaper({
    terminator,
    conntrack: () => w.datapath.conntrackMaps(),
    nodeAddresses: () => w.datapath.maps.map('lb_node_addrs'),
    backends: () => w.datapath.maps.map('lb_backends'),
  });
  return (changed, serviceMap, endpointsMap) => {
    const r = reaper.afterSync(changed, serviceMap, endpointsMap);
    if (r.flows.length === 0) return;
    const tcp = r.sockets?.destroyed.TCP ?? 0;
    const udp = r.sockets?.destroyed.UDP ?? 0;
    if (tcp) w.ended.inc({ kind: 'tcp_socket' }, tcp);
    if (udp) w.ended.inc({ kind: 'udp_socket' }, udp);
    if (r.conntrack) w.ended.inc({ kind: 'conntrack' }, r.conntrack);
    w.logger.v(2).info('Ended connections to backends that stopped serving', {
      pairs: r.flows.length, tcpSockets: tcp, udpSockets: udp, conntrackEntries: r.conntrack,
      namespaces: r.sockets?.namespaces ?? 0, refused: r.sockets?.refused.length ?? 0,
    });
    for (const e of r.errors) w.logger.warning('Cannot end connections to a removed backend', { reason: e });
  };
}
