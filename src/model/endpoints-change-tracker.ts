/**
 * @module
 * EndpointsChangeTracker: a cache of EndpointSlices keyed by service then slice name (slices
 * arrive before or after their Service and a Service may have many), plus pending changes per
 * service kept as "merged endpoints at last apply" and dropped when the merged view is equal
 * again. Slices for services that do not exist are kept: they are harmless until the Service
 * appears, and then the endpoints are already known.
 */
import type { EndpointSliceProjection } from '../kube/projections.ts';
import {
  endpointsFromSlice,
  LAST_CHANGE_TRIGGER_TIME_ANNOTATION,
  mergeSliceEndpoints,
  sameEndpoints,
  sliceServiceName,
  type EndpointInfo,
  type SliceEndpoints,
} from './endpoints.ts';
import type { Problem } from './problem.ts';

/** Endpoints by service-port key (see servicePortKey). */
export type EndpointsMap = Map<string, EndpointInfo[]>;

/** A pending change: what was applied last, and the merged endpoints now (null: not merged yet). */
type Pending = { previous: Map<string, EndpointInfo[]>; current: Map<string, EndpointInfo[]> | null; triggerTimes: Date[] };

const NONE: Map<string, EndpointInfo[]> = new Map();

function sameMerged(a: Map<string, EndpointInfo[]>, b: Map<string, EndpointInfo[]>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, eps] of a) {
    const other = b.get(k);
    if (!other || !sameEndpoints(eps, other)) return false;
  }
  return true;
}

export class EndpointsChangeTracker {
  readonly #nodeName: string;
  readonly #startedAt: number;
  #slices = new Map<string, Map<string, SliceEndpoints>>();
  /** The merged endpoints of each service as last applied (shared with the caller's map). */
  #applied = new Map<string, Map<string, EndpointInfo[]>>();
  #pending = new Map<string, Pending>();

  /**
   * @param nodeName this node's name (hostname-override), which decides EndpointInfo.isLocal.
   * @param startedAt when the tracker started (ms); trigger times before it are not recorded, as
   *   upstream does: the first sync would otherwise report the age of every listed object as
   *   network programming latency. @default Date.now()
   */
  constructor(nodeName: string, startedAt: number = Date.now()) {
    this.#nodeName = nodeName;
    this.#startedAt = startedAt;
  }

  #merged(service: string): Map<string, EndpointInfo[]> {
    const slices = this.#slices.get(service);
    return slices ? mergeSliceEndpoints(slices) : new Map();
  }

  #touch(service: string): Pending {
    let p = this.#pending.get(service);
    if (!p) {
      p = { previous: this.#applied.get(service) ?? NONE, current: null, triggerTimes: [] };
      this.#pending.set(service, p);
    }
    return p;
  }

  /** Merges the service's slices; drops the pending change when that is what was applied. */
  #settle(service: string): void {
    const p = this.#pending.get(service);
    if (!p) return;
    p.current = this.#merged(service);
    if (sameMerged(p.current, p.previous)) this.#pending.delete(service);
  }

  /**
   * Records a slice change. Returns whether any service now has a pending change, and the
   * problems found in `cur` (report once per object version).
   */
  update(prev: EndpointSliceProjection | null, cur: EndpointSliceProjection | null): { pending: boolean; problems: Problem[] } {
    // An informer resync re-delivers what it keeps (update(obj, obj)): nothing changed.
    if (prev !== null && prev === cur) return { pending: this.#pending.size > 0, problems: [] };
    const sliceName = (cur ?? prev)?.metadata?.name ?? '';
    const prevService = prev ? sliceServiceName(prev) : null;
    const curService = cur ? sliceServiceName(cur) : null;
    const problems: Problem[] = [];
    const touched = new Set<string>();

    // A slice that changes service (label edited) or gains the headless label leaves its old
    // service: remove it there before adding it under the new one.
    if (prevService !== null && prevService !== curService) {
      this.#touch(prevService);
      this.#slices.get(prevService)?.delete(sliceName);
      if (this.#slices.get(prevService)?.size === 0) this.#slices.delete(prevService);
      touched.add(prevService);
    }
    if (cur && curService !== null) {
      const pending = this.#touch(curService);
      const converted = endpointsFromSlice(cur, this.#nodeName);
      problems.push(...converted.problems);
      let slices = this.#slices.get(curService);
      if (!slices) this.#slices.set(curService, (slices = new Map()));
      slices.set(sliceName, converted.endpoints);
      const t = cur.metadata?.annotations?.[LAST_CHANGE_TRIGGER_TIME_ANNOTATION];
      const when = t ? new Date(t) : null;
      if (when && !Number.isNaN(when.getTime()) && when.getTime() > this.#startedAt) pending.triggerTimes.push(when);
      touched.add(curService);
    } else if (!cur && prevService !== null && !touched.has(prevService)) {
      this.#touch(prevService);
      this.#slices.get(prevService)?.delete(sliceName);
      if (this.#slices.get(prevService)?.size === 0) this.#slices.delete(prevService);
      touched.add(prevService);
    }
    let pending = false;
    for (const s of touched) {
      this.#settle(s);
      if (this.#pending.has(s)) pending = true;
    }
    return { pending, problems };
  }

  /** Endpoints per service (summed over its slices' ports), applied or not: for sizing the maps. */
  endpointCounts(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [service, slices] of this.#slices) {
      let n = 0;
      for (const ports of slices.values()) for (const eps of ports.values()) n += eps.length;
      out.set(service, n);
    }
    return out;
  }

  /** Number of services with pending endpoint changes. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /**
   * Merges pending changes into `map` and clears them. Returns the services whose endpoints
   * changed, and per service the last-change-trigger-time annotations seen (for the network
   * programming latency metric).
   */
  apply(map: EndpointsMap): { updatedServices: Set<string>; lastChangeTriggerTimes: Map<string, Date[]> } {
    const updatedServices = new Set<string>();
    const lastChangeTriggerTimes = new Map<string, Date[]>();
    for (const [service, p] of this.#pending) {
      const current = p.current ?? this.#merged(service);
      for (const key of p.previous.keys()) map.delete(key);
      for (const [key, eps] of current) map.set(key, eps);
      if (current.size > 0) this.#applied.set(service, current);
      else this.#applied.delete(service);
      updatedServices.add(service);
      if (p.triggerTimes.length > 0) lastChangeTriggerTimes.set(service, p.triggerTimes);
    }
    this.#pending.clear();
    return { updatedServices, lastChangeTriggerTimes };
  }
}
