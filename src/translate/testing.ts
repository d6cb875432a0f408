/**
 * @module
 * Test helpers: build a model from Kubernetes objects and render wanted state as readable lines
 * (frontend, flags, backends in slot order), so translate and dataplane tests compare text.
 */
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { EndpointsChangeTracker } from '../model/endpoints-change-tracker.ts';
import { formatIp } from '../model/ip.ts';
import { ServiceChangeTracker } from '../model/service-change-tracker.ts';
import * as lb from './lb-types.ts';
import type { TranslateModel } from './translate.ts';

export function buildModel(services: V1Service[], slices: V1EndpointSlice[], nodeName = 'node-a'): TranslateModel {
  const st = new ServiceChangeTracker();
  const et = new EndpointsChangeTracker(nodeName);
  for (const s of services) st.update(null, s);
  for (const s of slices) et.update(null, s);
  const model: TranslateModel = { services: new Map(), endpoints: new Map() };
  st.apply(model.services);
  et.apply(model.endpoints);
  return model;
}

const FLAG_NAMES = Object.entries(lb)
  .filter(([k]) => k.startsWith('LB_SVC_'))
  .map(([k, v]) => [k.slice('LB_SVC_'.length), v as number] as const)
  .sort((a, b) => a[1] - b[1]);

export function flagNames(flags: number): string {
  return FLAG_NAMES.filter(([, v]) => flags & v)
    .map(([k]) => k)
    .join('|');
}

const PROTO: Record<number, string> = { 0: 'ANY', 6: 'TCP', 17: 'UDP', 132: 'SCTP' };

/** One line per lb_services entry: "addr:port/PROTO scope flags [backends]" (sorted). */
export function renderServices(state: lb.LbState): string[] {
  const lines: string[] = [];
  for (const { key, value } of state.lb_services.values()) {
    const backends: string[] = [];
    for (let slot = 1; slot <= value.backend_count; slot++) {
      const id = state.lb_slots.get(`service_id=${value.service_id},slot=${slot}`)?.value;
      const be = id === undefined ? undefined : state.lb_backends.get(String(id))?.value;
      if (!be) backends.push('MISSING');
      else backends.push(`${formatIp(be.addr)}:${be.port}${be.flags & lb.LB_BE_LOCAL ? 'L' : ''}${be.flags & lb.LB_BE_TERMINATING ? 'T' : ''}`);
    }
    const scope = key.scope === lb.LB_SCOPE_INTERNAL ? 'int' : 'ext';
    const extra = value.affinity_timeout ? ` t=${value.affinity_timeout}` : '';
    const local = value.local_backend_count ? ` local=${value.local_backend_count}` : '';
    lines.push(`${formatIp(key.addr)}:${key.port}/${PROTO[key.proto]} ${scope} ${flagNames(value.flags)}${extra}${local} [${backends.join(' ')}]`);
  }
  return lines.sort();
}
