/**
 * @module
 * Whether the proxy keeps up with the API (spec §3.1): each IP family records when a sync was
 * queued and when one last succeeded; a family is unhealthy once a queued change has waited
 * longer than the health timeout (2 × syncPeriod). Node eligibility comes from the own Node.
 */
import type { NodeProjection } from '../kube/projections.ts';
import type { Clock } from './clock.ts';

export type IpFamily = 'IPv4' | 'IPv6';

/** One family's view, as the `status` map of the health JSON carries it. */
export interface FamilyHealth {
  /** Epoch ms of the last successful sync, or null before the first. */
  lastUpdated: number | null;
  healthy: boolean;
}

export interface ProxyHealthSnapshot {
  healthy: boolean;
  /** The current time when healthy ("lastUpdated is recent when healthy"), else the newest family update, or null. */
  lastUpdated: number | null;
  currentTime: number;
  status: Partial<Record<IpFamily, FamilyHealth>>;
}

export interface ProxyHealthOptions {
  clock: Clock;
  /** 2 × the mode's syncPeriod (60s with the default 30s). */
  healthTimeoutMs: number;
  /** The families this node proxies; one proxier each. */
  families: readonly IpFamily[];
}

/** The taint cluster-autoscaler puts on a node it is about to remove. */
const TO_BE_DELETED_TAINT = 'ToBeDeletedByClusterAutoscaler';

/**
 * Health state shared by the :10256 server and the healthCheckNodePort servers.
 *
 * @example
 * const h = new ProxyHealth({ clock: systemClock, healthTimeoutMs: 60_000, families: ['IPv4'] });
 * h.queuedUpdate('IPv4'); // on every Service/EndpointSlice/Node change
 * h.updated('IPv4');      // when the sync loop starts and after each successful sync
 */
export class ProxyHealth {
  #clock: Clock;
  #timeoutMs: number;
  #lastUpdated = new Map<IpFamily, number | null>();
  #oldestQueued = new Map<IpFamily, number>();
  // Newest kube-proxy: not eligible until the Node has been seen, so a load balancer does not
  // send traffic to a node whose state we do not know yet.
  #nodeEligible = false;

  constructor(options: ProxyHealthOptions) {
    if (!(options.healthTimeoutMs > 0)) {
      throw new RangeError(`Cannot create proxy health: healthTimeoutMs ${options.healthTimeoutMs} must be > 0`);
    }
    if (options.families.length === 0) throw new RangeError('Cannot create proxy health: no IP family given');
    this.#clock = options.clock;
    this.#timeoutMs = options.healthTimeoutMs;
    const start = options.clock.now();
    for (const f of options.families) {
      this.#lastUpdated.set(f, null);
      // The initial sync counts as queued at start: healthy until the timeout elapses, and
      // unhealthy after it if the first sync never completes (for example, caches never sync).
      this.#oldestQueued.set(f, start);
    }
  }

  /** A sync was requested for `family`. Only the oldest pending request matters. */
  queuedUpdate(family: IpFamily): void {
    this.#family(family);
    if (!this.#oldestQueued.has(family)) this.#oldestQueued.set(family, this.#clock.now());
  }

  /** `family` finished a successful sync (or its sync loop started). */
  updated(family: IpFamily): void {
    this.#family(family);
    this.#oldestQueued.delete(family);
    this.#lastUpdated.set(family, this.#clock.now());
  }

  /** Feed the own Node (null when deleted or not yet seen). */
  syncNode(node: NodeProjection | null): void {
    if (node === null) {
      this.#nodeEligible = false;
      return;
    }
    const deleting = node.metadata?.deletionTimestamp != null;
    const draining = (node.spec?.taints ?? []).some((t) => t.key === TO_BE_DELETED_TAINT);
    this.#nodeEligible = !deleting && !draining;
  }

  /** False while the node is being deleted or drained by the autoscaler, or has not been seen. */
  nodeEligible(): boolean {
    return this.#nodeEligible;
  }

  /** The health of every family and of the proxy as a whole, as of now. */
  health(): ProxyHealthSnapshot {
    const now = this.#clock.now();
    const status: Partial<Record<IpFamily, FamilyHealth>> = {};
    let healthy = true;
    let newest: number | null = null;
    for (const [family, lastUpdated] of this.#lastUpdated) {
      if (lastUpdated !== null && (newest === null || lastUpdated > newest)) newest = lastUpdated;
      const queued = this.#oldestQueued.get(family);
      const ok = queued === undefined || now - queued < this.#timeoutMs;
      status[family] = { lastUpdated, healthy: ok };
      if (!ok) healthy = false;
    }
    return { healthy, lastUpdated: healthy ? now : newest, currentTime: now, status };
  }

  #family(family: IpFamily): void {
    if (!this.#lastUpdated.has(family)) throw new RangeError(`Cannot record health for IP family "${family}": not proxied on this node`);
  }
}
