/**
 * @module
 * ServiceChangeTracker in kube-proxy's shape: informer events become Update(prev, cur) (add is
 * Update(null, obj), delete is Update(obj, null)); pending changes are kept per namespace/name as
 * a (state at last apply, newest state) pair and dropped once the two are equal again, so a
 * flap between syncs costs nothing.
 */
import type { ServiceProjection } from '../kube/projections.ts';
import type { Problem } from './problem.ts';
import { namespacedName, servicePortsFromService, type ServicePortInfo } from './service-port.ts';

/** The ports (both families) of every handled Service, by "namespace/name". */
export type ServicePortMap = Map<string, ServicePortInfo[]>;

type Pending = { previous: ServicePortInfo[]; current: ServicePortInfo[] };

const same = (a: ServicePortInfo[], b: ServicePortInfo[]) => a.length === b.length && (a.length === 0 || JSON.stringify(a) === JSON.stringify(b));

export class ServiceChangeTracker {
  #pending = new Map<string, Pending>();

  /**
   * Records a change. Returns whether the service now has a pending change, and the problems
   * found in `cur` (report them once: this is called once per object version).
   */
  update(prev: ServiceProjection | null, cur: ServiceProjection | null): { pending: boolean; problems: Problem[] } {
    const obj = cur ?? prev;
    if (!obj) return { pending: false, problems: [] };
    const name = namespacedName(obj.metadata);
    const converted = cur ? servicePortsFromService(cur) : { ports: [], problems: [] };
    let entry = this.#pending.get(name);
    if (!entry) {
      entry = { previous: prev ? servicePortsFromService(prev).ports : [], current: [] };
      this.#pending.set(name, entry);
    }
    entry.current = converted.ports;
    if (same(entry.previous, entry.current)) this.#pending.delete(name);
    return { pending: this.#pending.has(name), problems: converted.problems };
  }

  /** Number of services with a pending change (the changes_pending gauge; O(1)). */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /**
   * Merges pending changes into `map` (a Service without ports is removed) and clears them.
   * Returns the services whose ports changed.
   */
  apply(map: ServicePortMap): { updatedServices: Set<string> } {
    const updatedServices = new Set<string>();
    for (const [name, { current }] of this.#pending) {
      if (current.length > 0) map.set(name, current);
      else map.delete(name);
      updatedServices.add(name);
    }
    this.#pending.clear();
    return { updatedServices };
  }
}
