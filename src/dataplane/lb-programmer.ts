/**
 * @module
 * LbProgrammer: one sync of the LB maps (architecture §3). The change trackers hand over the
 * Services whose ports or endpoints changed; each is compiled (compilePort, pure), admitted whole
 * or not at all against the maps' capacity (older Services first), and merged into the encoded
 * LbState, which resolves frontend conflicts and reference-counts shared backends and VIP
 * markers; the flush then writes just what changed. One incremental path: a full sync is the same
 * compile over every Service into a fresh state, compared with what the maps hold (start-up, a
 * change of the node, its addresses or the options). Every sync period the maps are compared with
 * the state (one batch lookup per map) and drift is repaired.
 *
 * Admission (issue 11): a Service that does not fit is not programmed at all and waits; it never
 * displaces an admitted one. When a flush frees entries, waiting Services are tried again, oldest
 * first, within the same sync.
 */
import type { EndpointsMap } from '../model/endpoints-change-tracker.ts';
import type { IpFamily } from '../model/ip.ts';
import { parseIp } from '../model/ip.ts';
import type { Problem } from '../model/problem.ts';
import type { ServicePortMap } from '../model/service-change-tracker.ts';
import type { ServicePortInfo } from '../model/service-port.ts';
import { compileContext, compilePort, describeFrontend, type CompileContext, type CompiledPort, type CompileNode, type CompileOptions, type PortSummary } from '../translate/compile-port.ts';
import type { LbIds } from './ids.ts';
import type { LbCodec } from './lb-codec.ts';
import { LbFlusher, type FlushFailure } from './lb-flush.ts';
import type { LbMapIo } from './lb-io.ts';
import { reconcileLbState, reconcileSteps, type ReconcileResult } from './lb-reconcile.ts';
import { COUNTED_MAPS, KIND_FREE, LbState, serviceOfPort, type CountedMap, type MapCounts } from './lb-state.ts';

export type LbProgrammerOptions = {
  io: LbMapIo;
  codec: LbCodec;
  ids: LbIds;
  /** Max entries per map (the loaded sizes). */
  capacity: MapCounts;
  maglevTableSize: number;
  /** DSR: another node's address for lb_backend.node_addr. */
  nodeAddress?: (nodeName: string, family: IpFamily) => string | undefined;
  /** A problem found while programming (frontend conflicts, truncated backends); log and count it. */
  onProblem?: (p: Problem) => void;
  /** A Service that does not fit: `map` would need `need` more entries than the `free` ones. */
  onNotProgrammed?: (service: string, why: { map: CountedMap; need: number; free: number }) => void;
};

export type ProgramMode = 'full' | 'partial';

export type ProgramResult = {
  ok: boolean;
  /** Entries written or deleted. */
  ops: number;
  /** Services whose writes failed, per failure. */
  failures: (FlushFailure & { services: string[] })[];
  /** Ids whose map entries differed from the state and were repaired (full and verifying syncs). */
  repaired: number;
  /** Services waiting for room in the maps. */
  notProgrammed: number;
};

/** The per-port facts the health-check servers and the no-local-endpoints metric need. */
export type ServiceHealthFacts = { healthCheckNodePort: number; localReadyEndpoints: number };

const admissionRank = (sp: ServicePortInfo): string => `${String(Math.max(0, sp.created)).padStart(15, '0')}|${sp.service}`;

export class LbProgrammer {
  readonly #o: LbProgrammerOptions;
  readonly #flusher: LbFlusher;
  #state: LbState | null = null;
  /** A comparison of the maps paused for changes (verifySteps()), resumed by the next one. */
  #verifying: { state: LbState; steps: Generator<void, ReconcileResult, void> } | null = null;
  #ctx: CompileContext | null = null;
  #ctxKey = '';
  #nodeAddrs: Uint8Array[] = [];
  /** Services not programmed for lack of room, by admission rank. */
  readonly #waiting = new Map<string, string>();
  readonly #summaries = new Map<string, { sp: ServicePortInfo; summary: PortSummary }>();
  readonly #portKeys = new Map<string, string[]>();
  /** Service ports whose Local policy finds no local endpoint, by "family/internal|external". */
  readonly noLocalEndpoints = new Map<string, number>();
  /** Services with a healthCheckNodePort: the port and their local ready endpoints. */
  readonly healthChecks = new Map<string, ServiceHealthFacts>();
  /** Full recomputes after the first one (start-up). */
  fullRecomputes = 0;
  #fulls = 0;

  constructor(o: LbProgrammerOptions) {
    this.#o = o;
    this.#flusher = new LbFlusher(o.io, o.maglevTableSize);
  }

  /** The state (for inspection and tests); null before the first sync. */
  get state(): LbState | null {
    return this.#state;
  }

  get waiting(): ReadonlyMap<string, string> {
    return this.#waiting;
  }

  /**
   * Sets the node and the options. Returns true when they differ from the last ones: the next
   * sync must then be full.
   */
  configure(node: CompileNode, options: CompileOptions): boolean {
    const key = JSON.stringify([node, options]);
    if (key === this.#ctxKey && this.#ctx) return false;
    this.#ctxKey = key;
    this.#ctx = compileContext(node, options);
    const families = options.families ?? ['IPv4', 'IPv6'];
    this.#nodeAddrs = node.nodePortAddresses.map((a) => parseIp(a)).filter((ip) => ip !== null && families.includes(ip.family)).map((ip) => ip!.bytes);
    return true;
  }

  /** DSR: another node's address changed; the backends running there are rewritten. */
  refreshNode(nodeName: string): void {
    this.#state?.refreshNode(nodeName);
  }

  /**
   * Programs the maps. `full`: every Service of `services` is compiled into a fresh state and
   * compared with the maps; else only `changed` (Service names). `verify`: afterwards the maps
   * are compared with the state and drift repaired.
   */
  program(services: ServicePortMap, endpoints: EndpointsMap, changed: Iterable<string>, mode: ProgramMode, verify = false): ProgramResult {
    if (!this.#ctx) throw new Error('Cannot program the LB maps: the node is not configured yet');
    const result: ProgramResult = { ok: true, ops: 0, failures: [], repaired: 0, notProgrammed: 0 };
    const flush = (state: LbState) => this.#flush(state, result);

    if (mode === 'full' || !this.#state) {
      if (this.#fulls++ > 0) this.fullRecomputes++;
      const state = this.#newState();
      this.#waiting.clear();
      this.#summaries.clear();
      this.#portKeys.clear();
      this.noLocalEndpoints.clear();
      this.healthChecks.clear();
      state.setNodeAddresses(this.#nodeAddrs);
      const order = [...services.keys()].map((s) => [admissionRank(services.get(s)![0]!), s] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      for (const [, s] of order) this.#admit(state, s, services, endpoints);
      this.#drain(state, services, endpoints);
      state.forgetSnapshots();
      const r = reconcileLbState(state, this.#o.io);
      result.repaired = r.frontends + r.backends;
      this.#state = state;
      if (flush(state)) {
        // Ids of the previous state (or adopted from pins) that no entry uses any more.
        this.#o.ids.services.releaseIdsExcept((sid) => state.kind(sid) !== KIND_FREE);
        this.#o.ids.backends.releaseIdsExcept((bid) => state.backendRefs(bid) > 0);
      }
    } else {
      const state = this.#state;
      state.setNodeAddresses(this.#nodeAddrs);
      const order = [...new Set(changed)].map((s) => [this.#rankOf(s, services), s] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      for (const [, s] of order) this.#admit(state, s, services, endpoints);
      this.#drain(state, services, endpoints);
      const before = { ...state.used };
      if (flush(state) && this.#waiting.size > 0 && COUNTED_MAPS.some((m) => state.used[m] < before[m])) {
        // Entries were freed: waiting Services get their turn, oldest first.
        const waiting = [...this.#waiting].sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0)).map(([s]) => s);
        for (const s of waiting) this.#admit(state, s, services, endpoints);
        this.#drain(state, services, endpoints);
        flush(state);
      }
      if (verify && result.ok) {
        const steps = this.verifySteps();
        let r = steps.next();
        while (!r.done) r = steps.next();
        result.repaired = r.value.repaired;
        result.ops += r.value.ops;
        result.failures.push(...r.value.failures);
        result.ok = r.value.ok;
      }
    }
    result.notProgrammed = this.#waiting.size;
    return result;
  }

  /**
   * The verifying part of a sync in steps: the maps are compared with the state and drift is
   * repaired (reconcileSteps()). A run left part-way (the caller stops stepping, or return()s
   * this generator) has recorded and written nothing; it stays paused, changes may be programmed
   * meanwhile (program()), and the next verifySteps() resumes it where it was, on the same state
   * (reconcileSteps() leaves out the ids those changes touched). A full sync's new state starts a
   * new comparison.
   */
  *verifySteps(stepEntries?: number): Generator<void, ProgramResult, void> {
    const result: ProgramResult = { ok: true, ops: 0, failures: [], repaired: 0, notProgrammed: this.#waiting.size };
    const state = this.#state;
    if (!state) return result;
    if (this.#verifying?.state !== state) {
      // A comparison paused on an older state: that state is gone, and its comparison with it.
      this.#verifying?.steps.return(undefined as unknown as ReconcileResult);
      this.#verifying = { state, steps: reconcileSteps(state, this.#o.io, stepEntries) };
    }
    const run = this.#verifying;
    // Stepped by hand, not with yield*: a return() of this generator must leave the comparison
    // paused, not end it.
    let step = run.steps.next();
    while (!step.done) {
      yield;
      step = run.steps.next();
    }
    this.#verifying = null;
    const r = step.value;
    result.repaired = r.frontends + r.backends;
    if (result.repaired > 0 || r.strays > 0 || state.nodeAddrsSnapshot) this.#flush(state, result);
    return result;
  }

  #flush(state: LbState, result: ProgramResult): boolean {
    const r = this.#flusher.flush(state);
    result.ops += r.ops;
    if (!r.ok) {
      result.ok = false;
      for (const f of r.failures) {
        const owners = f.map === 'lb_backends' ? [] : f.ids.map((sid) => state.owner(sid)).filter((o) => o !== undefined).map(serviceOfPort);
        result.failures.push({ ...f, services: [...new Set(owners)] });
      }
    }
    return r.ok;
  }

  #newState(): LbState {
    return new LbState({
      codec: this.#o.codec,
      ids: this.#o.ids,
      capacity: this.#o.capacity,
      nodeName: this.#ctx!.node.name,
      ...(this.#o.nodeAddress ? { nodeAddress: this.#o.nodeAddress } : {}),
      onConflict: (c) => this.#o.onProblem?.({
        object: `Service ${serviceOfPort(c.loser)}`, field: 'spec', reason: 'frontend_conflict',
        message: `frontend ${describeFrontend(c.frontend)} is already used by Service ${serviceOfPort(c.winner)}; not programmed for this Service while that one holds it`,
      }),
    });
  }

  #rankOf(service: string, services: ServicePortMap): string {
    const sp = services.get(service)?.[0];
    return sp ? admissionRank(sp) : `~|${service}`;
  }

  /** Services promoted to a frontend they now win are recompiled until none is left. */
  #drain(state: LbState, services: ServicePortMap, endpoints: EndpointsMap): void {
    for (let round = 0; round < 1000; round++) {
      const promoted = state.takePromoted();
      if (promoted.length === 0) return;
      for (const s of promoted.sort()) this.#admit(state, s, services, endpoints);
    }
  }

  /** Compiles every port of `service` and programs them all, or none when they do not fit. */
  #admit(state: LbState, service: string, services: ServicePortMap, endpoints: EndpointsMap): void {
    const ports = services.get(service) ?? [];
    const compiled: CompiledPort[] = ports.map((sp) => compilePort(sp, endpoints.get(sp.key), this.#ctx!));
    for (const cp of compiled) for (const p of cp.problems) this.#o.onProblem?.(p);
    const overflow = compiled.length > 0 ? state.check(service, compiled) : null;
    if (overflow) {
      state.setService(service, []);
      this.#setSummaries(service, []);
      if (!this.#waiting.has(service)) this.#o.onNotProgrammed?.(service, overflow);
      this.#waiting.set(service, admissionRank(ports[0]!));
      return;
    }
    state.setService(service, compiled);
    this.#setSummaries(service, compiled);
    this.#waiting.delete(service);
  }

  #setSummaries(service: string, compiled: CompiledPort[]): void {
    for (const key of this.#portKeys.get(service) ?? []) {
      const old = this.#summaries.get(key);
      if (old) this.#countNoLocal(old.sp, old.summary, -1);
      this.#summaries.delete(key);
    }
    this.healthChecks.delete(service);
    if (compiled.length === 0) {
      this.#portKeys.delete(service);
      return;
    }
    this.#portKeys.set(service, compiled.map((c) => c.sp.key));
    for (const c of compiled) {
      this.#summaries.set(c.sp.key, { sp: c.sp, summary: c.summary });
      this.#countNoLocal(c.sp, c.summary, 1);
      if (c.sp.healthCheckNodePort > 0) {
        const h = this.healthChecks.get(service);
        this.healthChecks.set(service, { healthCheckNodePort: c.sp.healthCheckNodePort, localReadyEndpoints: Math.max(h?.localReadyEndpoints ?? 0, c.summary.localReadyEndpoints) });
      }
    }
  }

  #countNoLocal(sp: ServicePortInfo, s: PortSummary, d: 1 | -1): void {
    if (!s.hasAnyEndpoints || s.localReadyEndpoints > 0) return;
    const add = (k: string) => this.noLocalEndpoints.set(k, (this.noLocalEndpoints.get(k) ?? 0) + d);
    if (sp.internalPolicyLocal) add(`${sp.family}/internal`);
    if (sp.externalPolicyLocal) add(`${sp.family}/external`);
  }
}
