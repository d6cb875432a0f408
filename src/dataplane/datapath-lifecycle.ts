/**
 * @module
 * DatapathLifecycle: what a sync does around the map writes for the host side of the datapath,
 * so the sync body only calls two hooks.
 * - beforeSync(): the node's devices (cached by the HostWatcher, re-dumped only after a link or
 *   address change); the north-south programs attached to the devices holding the node IPs
 *   whenever that set changes; once per sync period, self-repair of attachments and pins
 *   (issue 11 item 4), logged and counted by hook.
 * - afterSync(): a previous kube-proxy's rules are removed only once the datapath is attached
 *   (tc/XDP on the node's devices) and a sync has programmed the maps (issue 11 item 6), so service
 *   traffic never falls between the two datapaths; and a migration of the pinned maps started at
 *   load is finished then (its last delta copied, the old pins removed), once every program runs
 *   on the new maps.
 * Link and address events ask for a sync (onDevicesChanged); route and neighbour events go to
 * onRoutesChanged, which bumps the datapath's next-hop generation (kpb_gens.nh), so each flow asks
 * the FIB again on its next packet. Without a subscription both happen at every sync instead.
 */
import type { Counter } from 'prom-client';
import type { Logger } from '../log/logger.ts';
import type { Datapath } from './datapath.ts';
import type { HostDevice } from './host-info.ts';
import { HostWatcher } from './host-watcher.ts';
import type { RepairHook } from './repair-datapath.ts';

const HOOKS: RepairHook[] = ['cgroup', 'tc', 'xdp', 'link_pin', 'map_pin'];

export type DatapathLifecycleOptions = {
  dp: Pick<Datapath, 'devicesFor' | 'attachDevices' | 'repair' | 'finishMigration'>;
  logger: Logger;
  /** kubeproxy_bpf_datapath_repairs_total and kubeproxy_bpf_sync_errors_total. */
  metrics: { repairs: Counter<'hook'>; syncErrors: Counter<'ip_family' | 'op'> };
  /** The sync period: self-repair runs at most this often. */
  syncPeriodMs: number;
  now: () => number;
  /** A link or address changed: ask for a sync. */
  onDevicesChanged: () => void;
  /**
   * A route or neighbour changed (or events were lost): invalidate the datapath's next hops.
   * Without a subscription it is called at every sync instead.
   */
  onRoutesChanged: () => void;
  /** Removes (or reports) a previous kube-proxy's rules; called once, see afterSync(). */
  handleStaleRules: () => Promise<void>;
  /** @default a HostWatcher over rtnetlink */
  watcher?: Pick<HostWatcher, 'start' | 'stop' | 'devices' | 'invalidate'>;
};

export class DatapathLifecycle {
  readonly #o: DatapathLifecycleOptions;
  readonly #watcher: Pick<HostWatcher, 'start' | 'stop' | 'devices' | 'invalidate'>;
  /** The device set (name#ifindex) the north-south programs were last attached to; null before the first. */
  #attachedKey: string | null = null;
  #lastRepair = 0;
  #staleHandled = false;
  #migrationFinished = false;
  #watching = false;

  constructor(opts: DatapathLifecycleOptions) {
    this.#o = opts;
    this.#watcher = opts.watcher ?? new HostWatcher({
      onDevicesChanged: () => {
        opts.logger.v(2).info('Host devices or addresses changed; syncing');
        opts.onDevicesChanged();
      },
      onRoutesChanged: () => {
        opts.logger.v(4).info('Routes or neighbours changed; invalidating cached next hops');
        opts.onRoutesChanged();
      },
      onError: (err) => opts.logger.error('A host change handler failed', { err }),
    });
    for (const hook of HOOKS) opts.metrics.repairs.inc({ hook }, 0);
  }

  /** Subscribes to host changes; without a subscription every sync dumps the devices (logged). */
  start(): void {
    const err = this.#watcher.start();
    this.#watching = err === null;
    // Routes may have changed while no agent listened: next hops cached before are checked again.
    try {
      this.#o.onRoutesChanged();
    } catch (e) {
      this.#o.logger.error('Cannot invalidate the datapath\'s cached next hops', { err: e });
    }
    if (err) this.#o.logger.warning('Cannot watch the host\'s devices, addresses, routes and neighbours; they are read, and next hops invalidated, at every sync instead', { err });
  }

  stop(): void {
    this.#watcher.stop();
  }

  /** Whether the north-south programs have been attached to the node's devices. */
  get attached(): boolean {
    return this.#attachedKey !== null;
  }

  /**
   * First step of a sync. `nodeIPs` is null until the Node is known (or known absent): nothing is
   * attached before. Returns the devices (for node-port addresses) and false when attaching or a
   * repair failed (logged here).
   */
  beforeSync(nodeIPs: string[] | null): { ok: boolean; devices: HostDevice[] } {
    const { dp, logger, metrics } = this.#o;
    let ok = true;
    const devices = this.#watcher.devices();
    if (!this.#watching) {
      try {
        this.#o.onRoutesChanged();
      } catch (err) {
        ok = false;
        logger.error('Cannot invalidate the datapath\'s cached next hops', { err });
        metrics.syncErrors.inc({ ip_family: '', op: 'next hops' });
      }
    }
    if (nodeIPs !== null) {
      try {
        const key = dp.devicesFor(nodeIPs, devices).map((d) => `${d.name}#${d.ifindex}`).join(',');
        if (key !== this.#attachedKey) {
          dp.attachDevices(nodeIPs, devices);
          this.#attachedKey = key;
          this.#lastRepair = this.#o.now();
        }
      } catch (err) {
        ok = false;
        logger.error('Cannot attach the north-south datapath; retrying at the next sync', { err });
        metrics.syncErrors.inc({ ip_family: '', op: 'attach' });
      }
    }
    if (this.#attachedKey !== null && this.#o.now() - this.#lastRepair >= this.#o.syncPeriodMs) {
      this.#lastRepair = this.#o.now();
      // Also a safety net for the device cache, should an event ever be missed.
      this.#watcher.invalidate();
      const t0 = performance.now();
      const { repairs, errors } = dp.repair();
      logger.v(4).info('Checked the attachments and pins', { ms: Math.round((performance.now() - t0) * 10) / 10 });
      for (const r of repairs) {
        logger.warning('Repaired the datapath', { hook: r.hook, what: r.what, why: r.why });
        metrics.repairs.inc({ hook: r.hook });
      }
      for (const err of errors) {
        ok = false;
        logger.error('Cannot repair the datapath; retrying at the next sync period', { err });
        metrics.syncErrors.inc({ ip_family: '', op: 'repair' });
      }
    }
    return { ok, devices };
  }

  /**
   * Last step of a sync; `ok` says the whole sync succeeded (maps programmed). The first such
   * sync after the datapath is attached removes a previous kube-proxy's rules and finishes a map
   * migration; a sync before that leaves both for later.
   */
  async afterSync(ok: boolean): Promise<void> {
    if (!ok || this.#attachedKey === null) return;
    if (!this.#migrationFinished) {
      try {
        this.#o.dp.finishMigration();
        this.#migrationFinished = true;
      } catch (err) {
        this.#o.logger.error('Cannot finish the migration of the pinned maps; retrying after the next sync', { err });
      }
    }
    if (this.#staleHandled) return;
    this.#staleHandled = true;
    try {
      await this.#o.handleStaleRules();
    } catch (err) {
      this.#o.logger.error('Cannot check for a previous kube-proxy\'s rules', { err });
    }
  }
}
