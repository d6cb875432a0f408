/**
 * @module
 * StaleBackends: which (frontend, backend) pairs lost their backend at a sync, so that the sockets
 * the socket LB connected through them (socket-terminator.ts) and their north-south UDP conntrack
 * entries (stale-conntrack.ts) can be ended.
 *
 * A backend is stale for a service port when it was serving there at the previous sync and is not
 * serving now: it left the Service (slice or Service deleted, label changed), or it stopped being
 * ready and is not serving-terminating. Serving-terminating endpoints keep their connections (they
 * are draining), and so do serving endpoints that topology or a Local policy merely stopped
 * selecting for new connections here. The pairs use the frontends of the previous sync: those are
 * the addresses old sockets were connected through. Pure: the caller feeds the views of the
 * services that changed (servicePortViews) and gets the pairs back; nothing else is remembered
 * than, per service port, its frontends and serving endpoints as text.
 */
import type { EndpointInfo } from '../model/endpoints.ts';
import type { EndpointsMap } from '../model/endpoints-change-tracker.ts';
import type { ServicePortMap } from '../model/service-change-tracker.ts';
import type { Protocol, ServicePortInfo } from '../model/service-port.ts';

/** One frontend/backend pair whose connections must end. */
export type StaleFlow = {
  /** The frontend address (canonical text), or the family's NodePort wildcard: "0.0.0.0" or "::". */
  frontend: string;
  frontendPort: number;
  backend: string;
  backendPort: number;
  protocol: Protocol;
};

/** A service port as this module needs it. Lists are of "address|port" texts. */
export type PortView = { protocol: Protocol; frontends: string[]; serving: string[] };

const NODEPORT_WILDCARD = { IPv4: '0.0.0.0', IPv6: '::' } as const;

/** The frontends and serving endpoints of one service port. */
export function portView(sp: ServicePortInfo, endpoints: readonly EndpointInfo[] | undefined): PortView {
  const frontends: string[] = [];
  if (sp.clusterIP !== '') frontends.push(`${sp.clusterIP}|${sp.port}`);
  for (const ip of sp.externalIPs) frontends.push(`${ip}|${sp.port}`);
  for (const ip of sp.loadBalancerVIPs) frontends.push(`${ip}|${sp.port}`);
  if (sp.nodePort !== 0) frontends.push(`${NODEPORT_WILDCARD[sp.family]}|${sp.nodePort}`);
  const serving = (endpoints ?? []).filter((e) => e.serving).map((e) => `${e.ip}|${e.port}`);
  return { protocol: sp.protocol, frontends: [...new Set(frontends)].sort(), serving: [...new Set(serving)].sort() };
}

/** Views of every port of `services` ("namespace/name"); a service that is gone gets an empty map. */
export function servicePortViews(services: ReadonlySet<string>, serviceMap: ServicePortMap, endpointsMap: EndpointsMap): Map<string, Map<string, PortView>> {
  const out = new Map<string, Map<string, PortView>>();
  for (const s of services) {
    const ports = new Map<string, PortView>();
    for (const sp of serviceMap.get(s) ?? []) ports.set(sp.key, portView(sp, endpointsMap.get(sp.key)));
    out.set(s, ports);
  }
  return out;
}

function split(text: string): [string, number] {
  const i = text.lastIndexOf('|');
  return [text.slice(0, i), Number(text.slice(i + 1))];
}

export class StaleBackends {
  /** service -> service-port key -> view at the last update */
  #last = new Map<string, Map<string, PortView>>();

  /**
   * Records the current views of the services that changed and returns the pairs whose backend
   * stopped serving since the previous call. The first sight of a service returns nothing.
   */
  update(changed: ReadonlyMap<string, ReadonlyMap<string, PortView>>): StaleFlow[] {
    const flows: StaleFlow[] = [];
    for (const [service, ports] of changed) {
      const before = this.#last.get(service);
      if (before) {
        for (const [key, prev] of before) {
          const now = new Set(ports.get(key)?.serving ?? []);
          const gone = prev.serving.filter((s) => !now.has(s));
          for (const b of gone) {
            const [backend, backendPort] = split(b);
            for (const f of prev.frontends) {
              const [frontend, frontendPort] = split(f);
              flows.push({ frontend, frontendPort, backend, backendPort, protocol: prev.protocol });
            }
          }
        }
      }
      if (ports.size === 0) this.#last.delete(service);
      else this.#last.set(service, new Map(ports));
    }
    return flows;
  }

  /** Service ports remembered (for tests and memory checks). */
  get size(): number {
    let n = 0;
    for (const p of this.#last.values()) n += p.size;
    return n;
  }
}
