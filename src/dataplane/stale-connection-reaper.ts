/**
 * @module
 * StaleConnectionReaper: after each sync, ends the connections whose backend stopped serving
 * (stale-backends.ts): the sockets the socket LB connected to it, in every network namespace of
 * the node (socket-terminator.ts), and the north-south UDP conntrack entries that would keep
 * sending datagrams there (stale-conntrack.ts). It runs after the maps were written, so a client
 * that reconnects at once is already load-balanced over the remaining backends. The pairs are found
 * at the sync, in work proportional to the changed services; ending their connections walks socket
 * tables and conntrack maps, which have no index by backend, so it runs in bounded steps in the
 * background, giving the event loop a turn between them (reapSteps(), reapStaleConnections()).
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
import { CONNTRACK_FIELDS, staleConntrackMatcher } from './stale-conntrack.ts';
import { runSteps } from '../runner/run-steps.ts';

export type ReapResult = {
  flows: StaleFlow[];
  /** null without a socket terminator or when no TCP/UDP pair was stale. */
  sockets: TerminationResult | null;
  /** Conntrack entries deleted (both directions count). */
  conntrack: number;
  /** Failures naming what failed; the reaper goes on with the rest. */
  errors: string[];
};

/** The socket terminator as the reaper uses it (socket-terminator.ts). */
export type Terminator = Pick<SocketTerminator, 'runSteps'>;

export type StaleConnectionReaperOptions = {
  terminator: Terminator | null;
  /** The north-south conntrack maps (decoded through their BTF codecs). */
  conntrack: () => BpfMap[];
  /** lb_node_addrs, whose keys are the addresses NodePorts answer on. */
  nodeAddresses: () => BpfMap | null;
  /** lb_backends (backend id -> address and port), for DSR entries. */
  backends?: () => BpfMap | null;
  /** Conntrack entries read and matched per step. @default CONNTRACK_STEP_ENTRIES */
  conntrackStepEntries?: number;
};

/**
 * Conntrack entries read, decoded and matched per step of reapSteps(): ~2 ms here. Conntrack has
 * no index by backend, so ending a backend's UDP flows reads every entry (0.35-0.47 s with 100k
 * entries; 0.7-1.3 s in one piece before); in steps, a sync waits for one step at most.
 */
export const CONNTRACK_STEP_ENTRIES = 512;

export class StaleConnectionReaper {
  readonly #stale = new StaleBackends();
  readonly #o: StaleConnectionReaperOptions;

  constructor(options: StaleConnectionReaperOptions) {
    this.#o = options;
  }

  /**
   * Call after the maps of a sync were written, with the services that sync changed: records their
   * serving endpoints and returns the pairs whose backend stopped serving (work proportional to the
   * changed services). End their connections with reapSteps().
   */
  staleFlows(changedServices: ReadonlySet<string>, serviceMap: ServicePortMap, endpointsMap: EndpointsMap): StaleFlow[] {
    return this.#stale.update(servicePortViews(changedServices, serviceMap, endpointsMap));
  }

  /** staleFlows() and reapSteps() in one piece (tests and tools; the agent runs the steps apart). */
  afterSync(changedServices: ReadonlySet<string>, serviceMap: ServicePortMap, endpointsMap: EndpointsMap): ReapResult {
    const steps = this.reapSteps(this.staleFlows(changedServices, serviceMap, endpointsMap));
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
    }
  }

  /**
   * Ends the connections of `flows` in bounded steps, yielding after each: the namespace listing,
   * each socket iterator run in each namespace (socket-terminator.ts), each chunk of
   * `conntrackStepEntries` entries of each conntrack map. The maps may change between steps: an
   * entry the datapath adds meanwhile may be missed, and that is harmless, because the maps were
   * written before the flows were computed, so a new entry never points at a stale backend.
   */
  *reapSteps(flows: StaleFlow[]): Generator<void, ReapResult, void> {
    const result: ReapResult = { flows, sockets: null, conntrack: 0, errors: [] };
    if (flows.length === 0) return result;
    if (this.#o.terminator && flows.some((f) => f.protocol !== 'SCTP')) {
      try {
        result.sockets = yield* this.#o.terminator.runSteps(flows);
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
      const stale = staleConntrackMatcher(flows, nodes, backendOf);
      const step = this.#o.conntrackStepEntries ?? CONNTRACK_STEP_ENTRIES;
      for (const map of this.#o.conntrack()) {
        let doing = 'read';
        try {
          for (const chunk of map.pickedChunks(step, CONNTRACK_FIELDS)) {
            const hits: Buffer[] = [];
            chunk.entries.forEach(([k, v], i) => {
              if (stale(k, v)) hits.push(chunk.keys.subarray(i * map.keySize, (i + 1) * map.keySize));
            });
            doing = 'delete';
            if (hits.length > 0) result.conntrack += map.deletePacked(Buffer.concat(hits));
            doing = 'read';
            yield;
          }
        } catch (err) {
          result.errors.push(`${doing} stale entries of ${map.name}: ${(err as Error).message}`);
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
  makeTerminator: (collection: Collection) => Terminator;
  /** Longest run of reaping steps between two turns of the event loop. @default REAP_SLICE_MS */
  sliceMs?: number;
  /** One turn of the event loop. @default setImmediate */
  turn?: () => Promise<void>;
};

/** Longest run of reaping steps between two turns of the event loop (one step is 1-3 ms). */
export const REAP_SLICE_MS = 2;

/** The agent's hook (see reapStaleConnections()). */
export type StaleConnectionHook = {
  /**
   * Call after each sync with the services it changed: the stale pairs are found at once, and
   * their connections are ended in steps that give the event loop a turn every `sliceMs`, after
   * those of earlier syncs (one run at a time: lb_sock_term holds one run's pairs).
   */
  afterSync(changed: ReadonlySet<string>, serviceMap: ServicePortMap, endpointsMap: EndpointsMap): void;
  /** Resolves when every run started so far has ended (tests). */
  idle(): Promise<void>;
  /** Drops the run under way and those waiting (before the datapath closes); resolves once dropped. */
  stop(): Promise<void>;
};

/**
 * The agent's hook: finds the stale pairs after each sync and ends their connections in the
 * background, in bounded steps. Logs what it ended (V(2)), failures (warning) and, once, that
 * sockets cannot be ended on this kernel.
 */
export function reapStaleConnections(w: ReaperWiring): StaleConnectionHook {
  const st = w.datapath.socketTerminator;
  let terminator: Terminator | null = null;
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
  let stopped = false;
  let chain: Promise<void> = Promise.resolve();
  const report = (r: ReapResult, ms: number, turns: number) => {
    const tcp = r.sockets?.destroyed.TCP ?? 0;
    const udp = r.sockets?.destroyed.UDP ?? 0;
    if (tcp) w.ended.inc({ kind: 'tcp_socket' }, tcp);
    if (udp) w.ended.inc({ kind: 'udp_socket' }, udp);
    if (r.conntrack) w.ended.inc({ kind: 'conntrack' }, r.conntrack);
    w.logger.v(2).info('Ended connections to backends that stopped serving', {
      pairs: r.flows.length, tcpSockets: tcp, udpSockets: udp, conntrackEntries: r.conntrack,
      namespaces: r.sockets?.namespaces ?? 0, refused: r.sockets?.refused.length ?? 0, ms: Math.round(ms), turns,
    });
    for (const e of r.errors) w.logger.warning('Cannot end connections to a removed backend', { reason: e });
  };
  const run = async (flows: StaleFlow[]): Promise<void> => {
    if (stopped) return;
    const start = performance.now();
    const out = await runSteps(reaper.reapSteps(flows), {
      sliceMs: w.sliceMs ?? REAP_SLICE_MS, now: () => performance.now(), stop: () => stopped, ...(w.turn ? { turn: w.turn } : {}),
    });
    if (out.done) report(out.value, performance.now() - start, out.turns);
  };
  return {
    afterSync(changed, serviceMap, endpointsMap) {
      if (stopped) return;
      const flows = reaper.staleFlows(changed, serviceMap, endpointsMap);
      if (flows.length === 0) return;
      chain = chain.then(() => run(flows)).catch((err: unknown) => {
        w.logger.warning('Cannot end connections to a removed backend', { err, pairs: flows.length });
      });
    },
    idle: () => chain,
    stop() {
      stopped = true;
      return chain;
    },
  };
}
