/**
 * @module
 * ServiceCidrState: the ServiceCIDR objects the informer delivered, written to lb_service_cidrs
 * when they changed (or when a full sync asks to verify the map). Informer events only mark the
 * state dirty; the sync writes it, so a burst of events costs one write.
 */
import type { BpfMap } from 'bpf-loader-napi';
import type { ServiceCIDRProjection } from '../kube/projections.ts';
import type { Problem } from '../model/problem.ts';
import { serviceCidrsOf } from '../model/service-cidrs.ts';
import { writeServiceCidrs } from './write-service-cidrs.ts';

export class ServiceCidrState {
  readonly #objects = new Map<string, ServiceCIDRProjection>();
  #dirty = false;

  /** An informer event (add: prev null; delete: cur null). Returns the bad ranges of `cur`. */
  update(prev: ServiceCIDRProjection | null, cur: ServiceCIDRProjection | null): Problem[] {
    const name = (cur ?? prev)?.metadata?.name ?? '';
    if (cur) this.#objects.set(name, cur);
    else this.#objects.delete(name);
    this.#dirty = true;
    return cur ? serviceCidrsOf([cur]).problems : [];
  }

  /**
   * Writes the map when something changed or `force` is set; null when nothing was to do.
   */
  apply(map: BpfMap, force: boolean): { added: string[]; removed: string[]; cidrs: number } | null {
    if (!this.#dirty && !force) return null;
    const { cidrs } = serviceCidrsOf(this.#objects.values());
    const r = writeServiceCidrs(map, cidrs);
    this.#dirty = false;
    return { ...r, cidrs: cidrs.length };
  }
}
