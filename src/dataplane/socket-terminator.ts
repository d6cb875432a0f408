/**
 * @module
 * SocketTerminator: ends the sockets the socket LB connected to backends that stopped serving
 * (stale-backends.ts), with the iterators of sock_term.bpf.c and the bpf_sock_destroy kfunc: TCP
 * connections are reset (the application sees ECONNABORTED), connected UDP sockets are
 * disconnected with ECONNABORTED pending, so clients reconnect and get a live backend.
 *
 * One run: the pairs go into lb_sock_term (in chunks of the map's size), the TCP and UDP
 * iterators run in every network namespace of the node (listNetworkNamespaces), and the map is
 * emptied again. The iterators destroy only sockets whose cookie and peer lb_sock_rev_nat holds,
 * so sockets nobody load-balanced, and other agents' sockets, are never touched. A namespace that
 * vanished during the run is skipped; any other failure is reported per namespace and the run
 * goes on.
 */
import { closeSync, openSync } from 'node:fs';
import { endianness } from 'node:os';
import { attachIter, type BpfMap, type Collection, type Link } from 'bpf-loader-napi';
import { parseIp } from '../model/ip.ts';
import { IPPROTO } from '../translate/lb-types.ts';
import { listNetworkNamespaces } from './list-network-namespaces.ts';
import type { StaleFlow } from './stale-backends.ts';

export type TerminationResult = {
  /** Sockets destroyed, by protocol. */
  destroyed: { TCP: number; UDP: number };
  /** Sockets bpf_sock_destroy refused (errno names), e.g. a socket closing meanwhile. */
  refused: string[];
  /** Namespaces the iterators ran in. */
  namespaces: number;
  /** Failures naming the namespace and what failed. */
  errors: string[];
  /** Pairs written to lb_sock_term (TCP and UDP only; SCTP has no iterator). */
  pairs: number;
};

export type SocketTerminatorOptions = {
  /** The loaded sock_term object (its maps adopted from the datapath's pin folder). */
  collection: Collection;
  /** Network namespaces to visit. @default listNetworkNamespaces() */
  namespaces?: () => string[];
};

type TermKey = { frontend: Uint8Array; backend: Uint8Array; frontend_port: number; backend_port: number; proto: number; pad: Uint8Array };

const LE = endianness() === 'LE';
const ERRNO: Record<number, string> = { 1: 'EPERM', 2: 'ENOENT', 16: 'EBUSY', 22: 'EINVAL', 95: 'EOPNOTSUPP', 103: 'ECONNABORTED' };

/** lb_sock_term keys of the TCP and UDP pairs (addresses as lb_structs.h stores them). */
export function termKeys(flows: readonly StaleFlow[]): TermKey[] {
  const out = new Map<string, TermKey>();
  for (const f of flows) {
    if (f.protocol !== 'TCP' && f.protocol !== 'UDP') continue;
    const fe = parseIp(f.frontend);
    const be = parseIp(f.backend);
    if (!fe || !be) continue;
    const id = `${fe.text}|${f.frontendPort}|${be.text}|${f.backendPort}|${f.protocol}`;
    out.set(id, { frontend: fe.bytes, backend: be.bytes, frontend_port: f.frontendPort, backend_port: f.backendPort, proto: IPPROTO[f.protocol], pad: new Uint8Array(3) });
  }
  return [...out.values()];
}

export class SocketTerminator {
  readonly #filter: BpfMap;
  readonly #iters: { proto: 'TCP' | 'UDP'; link: Link }[];
  readonly #namespaces: () => string[];

  constructor(options: SocketTerminatorOptions) {
    this.#filter = options.collection.map('lb_sock_term');
    this.#iters = [
      { proto: 'TCP', link: attachIter(options.collection.program('kpb_sock_term_tcp')) },
      { proto: 'UDP', link: attachIter(options.collection.program('kpb_sock_term_udp')) },
    ];
    this.#namespaces = options.namespaces ?? (() => listNetworkNamespaces());
  }

  /** Destroys the LB-connected sockets of `flows` in every namespace; see the module comment. */
  run(flows: readonly StaleFlow[]): TerminationResult {
    const steps = this.runSteps(flows);
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
    }
  }

  /**
   * run() in steps: yields after listing the namespaces and after each iterator run (one socket
   * table walk of one namespace, ~2.5 ms for TCP here), so the caller can give the event loop a
   * turn between them. lb_sock_term holds the pairs while the steps run and is emptied at the
   * end, or when the steps are dropped (return()); only one run may be under way at a time.
   */
  *runSteps(flows: readonly StaleFlow[]): Generator<void, TerminationResult, void> {
    const result: TerminationResult = { destroyed: { TCP: 0, UDP: 0 }, refused: [], namespaces: 0, errors: [], pairs: 0 };
    const keys = termKeys(flows);
    result.pairs = keys.length;
    if (keys.length === 0) return result;
    const chunk = this.#filter.info().maxEntries;
    const namespaces = this.#namespaces();
    result.namespaces = namespaces.length;
    yield;
    for (let i = 0; i < keys.length; i += chunk) {
      const part = keys.slice(i, i + chunk);
      this.#filter.updateBatch(part, part.map(() => 1));
      try {
        for (const ns of namespaces) yield* this.#runIn(ns, result);
      } finally {
        this.#filter.deleteBatch(part);
      }
    }
    return result;
  }

  *#runIn(ns: string, result: TerminationResult): Generator<void, void, void> {
    let fd: number;
    try {
      fd = openSync(ns, 'r');
    } catch (err) {
      // The process exited or the namespace was removed since the listing: nothing left to end.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ESRCH') {
        result.errors.push(`open ${ns}: ${(err as Error).message}`);
      }
      return;
    }
    try {
      for (const { proto, link } of this.#iters) {
        let out: Buffer;
        try {
          out = link.readIter({ netnsFd: fd });
        } catch (err) {
          result.errors.push(`${proto} sockets of ${ns}: ${(err as Error).message}`);
          yield;
          continue;
        }
        // Records of sock_term.bpf.c: {__u64 cookie; __s64 bpf_sock_destroy's result}, host order.
        for (let off = 0; off + 16 <= out.length; off += 16) {
          const ret = Number(LE ? out.readBigInt64LE(off + 8) : out.readBigInt64BE(off + 8));
          if (ret === 0) result.destroyed[proto]++;
          else result.refused.push(ERRNO[-ret] ?? `errno ${-ret}`);
        }
        yield;
      }
    } finally {
      closeSync(fd);
    }
  }

  close(): void {
    for (const { link } of this.#iters) link.close();
  }
}
