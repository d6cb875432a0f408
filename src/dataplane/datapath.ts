/**
 * @module
 * The datapath of one node: loads the sock, tc and xdp objects into one pin folder (so the lb_*
 * maps, conntrack and counters are one instance shared by all three, and adopted by the next
 * agent), attaches them, and gives the control plane its map writer, its map reader, the ids
 * found in the maps and the counters.
 *
 * Restart safety (architecture §4 "Restart and upgrade"): pinned maps are adopted when their
 * layout matches (the addon refuses others with the map named); cgroup and XDP attachments are
 * bpf_links pinned under <pin>/links/ and get their program replaced through link update; tc
 * filters are replaced in place. close() therefore leaves every pin and attachment: the old
 * programs keep forwarding with the last programmed state until the next agent takes over.
 * cleanupDatapath() is the opposite, for --cleanup.
 */
import { existsSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { BpfObject, attachCgroup, openPinnedLink, type BpfMap, type BpfProgram, type Collection, type Link, type MapSpec, type RodataValue } from 'bpf-loader-napi';
import type { BpfOptions } from '../config/bpf-options.ts';
import type { Logger } from '../log/logger.ts';
import type { DatapathSnapshot } from '../metrics/datapath-metrics.ts';
import { removeBpfPins } from '../cleanup/remove-bpf-pins.ts';
import type { LbMapName } from '../translate/lb-types.ts';
import { attachDevices, attachTcOne, attachXdpOne, detachDevices, xdpLinkPin, type AttachDevicesInput, type DeviceAttachment } from './attach-devices.ts';
import { BpfLbMapIo } from './bpf-map-writer.ts';
import { devicesForAddresses, ensureBpffs, hostDevices, hostNetnsCookie, kernelHz, type HostDevice } from './host-info.ts';
import type { LbIds } from './ids.ts';
import type { LbCodec } from './lb-codec.ts';
import { seedIdsFromMaps } from './lb-reconcile.ts';
import type { MapCounts } from './lb-state.ts';
import { DATAPATH_WRITTEN, MAP_CONVERTERS } from './map-converters.ts';
import { MapMigration } from './map-migration.ts';
import { checkPin, securePinFolder } from './pin-folder.ts';
import { MapEntryCounter } from './map-entry-counter.ts';
import { snatSlotCount } from './snat-slots.ts';
import { readCounters } from './read-counters.ts';
import { repairDatapath, type KeptLink, type Repair, type RepairState } from './repair-datapath.ts';
import { bumpGeneration, type GenerationMap } from './generations.ts';
import { POD_ONLY_PINS, PodAttachments, detachPodFilters } from './pod-attachments.ts';
import { podDetection, type DetectLocalSettings, type PodMatch } from './pod-detection.ts';

export type DatapathObjects = {
  sock: string;
  tc: string;
  xdp: string;
  /** The socket terminator (sock_term.bpf.c), optional: a kernel without bpf_sock_destroy refuses it. */
  sockTerm?: string;
  /** The pod-side programs (pod.bpf.c), loaded with --bpf-socket-lb=host-namespace-only. */
  pod?: string;
  /** The map entry counter (map_count.bpf.c), optional: a kernel before 6.6 refuses it. */
  mapCount?: string;
};

export type DatapathOpenOptions = {
  bpf: BpfOptions;
  logger: Logger;
  /** Paths of the three built objects. */
  objects: DatapathObjects;
  /**
   * More load-time constants by name (e.g. the conntrack lifetimes from --conntrack-*, see
   * sysctl/conntrack-sysctls.ts); each object receives those it declares.
   */
  rodata?: Record<string, RodataValue>;
  /**
   * kube-proxy's local-traffic detection (detectLocalMode and its data), which finds the pods'
   * interfaces for --bpf-socket-lb=host-namespace-only. @default ClusterCIDR without a CIDR
   */
  detectLocal?: DetectLocalSettings;
};

/** Map name -> BpfMapSizes field, for --bpf-map-* (lb_maps.h, conntrack.h, sock_lb.h). */
const RESIZABLE: Record<string, keyof BpfOptions['mapSizes']> = {
  lb_services: 'services',
  lb_backends: 'backends',
  lb_rev_nat: 'services',
  lb_slots: 'slots',
  kpb_ct4: 'conntrack',
  kpb_ct6: 'conntrack',
  kpb_snat4: 'snat',
  kpb_snat6: 'snat',
  kpb_pod_ct4: 'conntrack',
  kpb_pod_ct6: 'conntrack',
  lb_affinity: 'affinity',
  lb_sock_rev_nat: 'sockRevNat',
};

const SIZED_MAPS = ['lb_services', 'lb_slots', 'lb_backends', 'lb_rev_nat', 'lb_maglev', 'lb_node_addrs', 'lb_src_ranges', 'lb_affinity', 'lb_sock_rev_nat',
  'kpb_ct4', 'kpb_ct6', 'kpb_snat4', 'kpb_snat6', 'kpb_frag4', 'kpb_frag6', 'kpb_pod_ct4', 'kpb_pod_ct6'];

/**
 * Slots of each SNAT table the sweep and the census walk in one run (~15-40 ns a slot here, so a
 * run holds the event loop ~1-2 ms): the sweep does one part per sync period (a 262,144-slot
 * table in 8 periods; a slot whose flow ended can be taken over by a new flow before its sweep),
 * the census all parts with a turn of the event loop between them.
 */
const SNAT_PART = 32768;

/** The __sk_buff of a sweep or census run: cb[0] first slot, cb[1] how many, cb[2] family (snat_gc.h; UAPI offsets). */
function snatPartCtx(first: number, count: number, family: number): Buffer {
  const skb = Buffer.alloc(192);
  skb.writeUInt32LE(first, 48);
  skb.writeUInt32LE(count, 52);
  skb.writeUInt32LE(family, 56);
  return skb;
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Sets the `.rodata` constants an object declares (each object declares a subset). */
function setConstants(obj: BpfObject, all: Record<string, RodataValue>): void {
  const declared = new Set(obj.variables.filter((v) => v.section === '.rodata').map((v) => v.name));
  obj.setRodata(Object.fromEntries(Object.entries(all).filter(([k]) => declared.has(k))));
}

export class Datapath {
  readonly pinPath: string;
  readonly maps: BpfLbMapIo;
  readonly codec: LbCodec;
  readonly #logger: Logger;
  readonly #bpf: BpfOptions;
  readonly #detectLocal: DetectLocalSettings;
  readonly #colls: { sock: Collection; tc: Collection; xdp: Collection };
  /** Names of the maps pinned by name (the objects' LIBBPF_PIN_BY_NAME maps). */
  readonly #pinnedMaps: string[];
  #attachments: DeviceAttachment[] = [];
  /**
   * The agent keeps its bpf_link handles open for its whole life: removing a pin then detaches
   * nothing, and a link detached by someone else is visible in its info (see repair()).
   */
  readonly #sockLinks = new Map<string, Link>();
  readonly #xdpLinks = new Map<string, Link>();
  readonly #progIds = new Map<BpfProgram, number>();
  /** A migration of the pinned maps waiting for finishMigration(). */
  #migration: MapMigration | null = null;
  /** The socket terminator's object, or why it could not be loaded. */
  #sockTerm: { collection: Collection } | { unavailable: string } = { unavailable: 'not loaded' };
  /** The kernel's map entry counts for the metrics (map-entry-counter.ts); null: maps are walked. */
  #mapCounter: MapEntryCounter | null = null;
  /** The first slot of the SNAT sweep's next part. */
  #snatSweepAt = 0;
  /** The pod-side object and its attachments (host-namespace-only), else null. */
  #pod: { collection: Collection; attachments: PodAttachments } | null = null;
  /** Pod filters of an earlier run in another mode were removed (or there were none). */
  #podSwept = false;
  /** The pod-detection problems last logged, so each is logged when it changes. */
  #podProblems = '';

  private constructor(opts: DatapathOpenOptions, colls: { sock: Collection; tc: Collection; xdp: Collection }, pinnedMaps: string[]) {
    this.pinPath = opts.bpf.pinPath;
    this.#logger = opts.logger;
    this.#bpf = opts.bpf;
    this.#detectLocal = opts.detectLocal ?? { detectLocalMode: 'ClusterCIDR', detectLocal: { bridgeInterface: '', interfaceNamePrefix: '' }, clusterCIDR: '' };
    this.#colls = colls;
    this.#pinnedMaps = pinnedMaps;
    // The inner-map template carries BPF_F_INNER_MAP, so tables of any size can be swapped in.
    this.maps = new BpfLbMapIo((name) => colls.tc.map(name), opts.bpf.maglevTableSize);
    this.codec = this.maps.codec();
  }

  /** Mounts bpffs if needed, loads the three objects (adopting pins) and attaches the socket programs. */
  static async open(opts: DatapathOpenOptions): Promise<Datapath> {
    const { bpf, logger } = opts;
    const fs = ensureBpffs(bpf.pinPath);
    if (fs.mounted) logger.info('Mounted bpffs', { path: fs.root, mode: '0700' });
    for (const action of securePinFolder(bpf.pinPath, fs.root)) logger.info('Prepared the pin folder', { action });
    let hz = kernelHz();
    if (hz === null) {
      hz = 250;
      logger.warning('CONFIG_HZ not found in /proc/config.gz or /boot; assuming 250 for affinity and conntrack timeouts');
    }
    const constants: Record<string, RodataValue> = {
      lb_kernel_hz: hz,
      lb_maglev_m: bpf.maglevTableSize,
      kpb_snat_port_min: bpf.nodePortSnatPortRange.min,
      kpb_snat_port_max: bpf.nodePortSnatPortRange.max,
      kpb_snat_slots: snatSlotCount(bpf.mapSizes.snat),
      ...opts.rodata,
    };
    if (bpf.socketLB !== 'off') constants.lb_host_netns_cookie = hostNetnsCookie();
    const podPath = bpf.socketLB === 'host-namespace-only';
    if (podPath) constants.lb_host_netns_only = true;

    const loaded: Collection[] = [];
    const opened: BpfObject[] = [];
    /** The pinned-by-name maps of the three objects, as they will be created (after resizing). */
    const wanted = new Map<string, MapSpec>();
    const prepare = (name: keyof DatapathObjects): BpfObject => {
      const path = opts.objects[name] ?? '';
      if (!existsSync(path)) throw new Error(`BPF object ${name} is missing at ${path} (run make bpf)`);
      const obj = BpfObject.open(path, { name });
      opened.push(obj);
      for (const spec of obj.maps) {
        const field = RESIZABLE[spec.name];
        // The SNAT reservation table is indexed by a mask of the tuple's hash: a power of two.
        const size = field === 'snat' ? snatSlotCount(bpf.mapSizes.snat) : field ? bpf.mapSizes[field] : 0;
        if (field && spec.maxEntries !== size) obj.resizeMap(spec.name, size);
        if (spec.pinByName && !wanted.has(spec.name)) wanted.set(spec.name, spec);
      }
      setConstants(obj, constants);
      return obj;
    };
    const load = async (name: keyof DatapathObjects, obj: BpfObject): Promise<Collection> => {
      try {
        const coll = await obj.load({ pinPath: bpf.pinPath });
        loaded.push(coll);
        return coll;
      } catch (err) {
        throw new Error(`cannot load BPF object ${name} (${opts.objects[name]}) with pins in ${bpf.pinPath}: ${errText(err)}`, { cause: err });
      }
    };
    let migration: MapMigration | null = null;
    try {
      const objs = { tc: prepare('tc'), xdp: prepare('xdp'), sock: prepare('sock') };
      // The socket terminator shares the socket LB's maps (declared the same way); optional.
      const sockTermObj = bpf.socketLB !== 'off' && opts.objects.sockTerm ? prepare('sockTerm') : null;
      // Pods' service traffic is translated per packet at their interfaces when the socket LB
      // stays in the node's namespace.
      if (podPath && !opts.objects.pod) throw new Error('--bpf-socket-lb=host-namespace-only needs the pod-side BPF object (pod.bpf.o)');
      const podObj = podPath ? prepare('pod') : null;
      // Pins whose size or layout differs from this version's maps are migrated, not refused
      // (map-migration.ts): checked and planned before anything changes, moved aside, re-created
      // by the load, and copied before any program is replaced.
      migration = MapMigration.plan({ pinPath: bpf.pinPath, wanted, converters: MAP_CONVERTERS, datapathWritten: DATAPATH_WRITTEN });
      for (const it of migration.items) logger.info('Migrating a pinned map', { map: it.name, kind: it.kind, why: it.why, resumed: it.resumed });
      migration.moveAside();
      // tc first: it declares every north-south map; sock and xdp then adopt the shared pins.
      const tc = await load('tc', objs.tc);
      const xdp = await load('xdp', objs.xdp);
      const sock = await load('sock', objs.sock);
      const dp = new Datapath(opts, { sock, tc, xdp }, [...wanted.keys()]);
      if (podObj) {
        const collection = await load('pod', podObj);
        dp.#pod = {
          collection,
          attachments: new PodAttachments({ ingress: collection.program('kpb_pod_ingress'), egress: collection.program('kpb_pod_egress'), cfg: collection.map('kpb_pod_cfg') }),
        };
      }
      if (sockTermObj) {
        try {
          dp.#sockTerm = { collection: await load('sockTerm', sockTermObj) };
        } catch (err) {
          // Its iterators call the bpf_sock_destroy kfunc (Linux 6.5+); without it the socket LB
          // works on, and sockets connected to removed backends are simply not ended.
          dp.#sockTerm = { unavailable: errText(err) };
        }
      }
      if (opts.objects.mapCount) {
        try {
          dp.#mapCounter = await MapEntryCounter.load(opts.objects.mapCount);
        } catch (err) {
          // The bpf_map_sum_elem_count kfunc is Linux 6.6+; the metrics then walk every map.
          logger.info('Map entry counts are read by walking the maps: the map_count iterator did not load (it needs the bpf_map_sum_elem_count kfunc, Linux 6.6+)', { reason: errText(err) });
        }
      }
      try {
        for (const r of migration.copy((name) => dp.#mapOrThrow(name))) {
          logger.info('Copied a pinned map into its new version', { map: r.map, kind: r.kind, into: r.into.join(','), copied: r.copied, dropped: r.dropped });
          if (r.dropped > 0) logger.warning('Entries did not fit the new map and were dropped; their flows select again', { map: r.map, dropped: r.dropped });
        }
        if (migration.items.length > 0) dp.#migration = migration;
        else migration.close();
        migration = null;
        dp.#attachSock(sock);
      } catch (err) {
        dp.close();
        throw err;
      }
      logger.info('Loaded the BPF datapath', { pinPath: bpf.pinPath, kernelHz: hz, socketLB: bpf.socketLB, cgroup: bpf.cgroupPath });
      return dp;
    } catch (err) {
      migration?.close();
      for (const c of loaded) c.close();
      throw err;
    } finally {
      for (const o of opened) o.close();
    }
  }

  #mapOrThrow(name: string): BpfMap {
    const m = this.#map(name);
    if (!m) throw new Error(`map ${name} is not in the loaded objects`);
    return m;
  }

  /**
   * Ends a migration of the pinned maps started by open() (nothing to do without one): copies the
   * entries the old programs created since, and removes the old pins. Call once every program runs
   * on the new maps: after the devices are attached and a sync programmed the maps.
   */
  finishMigration(): void {
    const m = this.#migration;
    if (!m) return;
    for (const r of m.finish((name) => this.#mapOrThrow(name))) this.#logger.info('Finished migrating a pinned map', { map: r.map, lateEntries: r.late, removed: r.removed });
    this.#migration = null;
  }

  #programId(prog: BpfProgram): number {
    let id = this.#progIds.get(prog);
    if (id === undefined) this.#progIds.set(prog, (id = prog.info().id));
    return id;
  }

  /** The cgroup id (the folder's inode) the socket programs attach to. */
  #cgroupId(): bigint {
    return statSync(this.#bpf.cgroupPath, { bigint: true }).ino;
  }

  /** Cgroup links, pinned; updated in place when a previous run's link is pinned. */
  #attachSock(sock: Collection): void {
    const wanted = this.#bpf.socketLB !== 'off';
    if (wanted && this.#bpf.cgroupPath === '') throw new Error('socket load balancing needs a cgroup v2 directory (--bpf-cgroup-path); none was found');
    let updated = 0;
    let attached = 0;
    const cgroupId = wanted ? this.#cgroupId() : 0n;
    for (const [name, prog] of sock.programs) {
      const path = this.#sockPin(name);
      if (checkPin(path)) {
        const link = openPinnedLink(path);
        const info = link.info();
        // Adopted only when it is a live link of this hook on our cgroup; anything else (the
        // cgroup path changed, a detached or foreign link) is detached and replaced.
        if (wanted && info.attached === true && info.cgroupId === cgroupId && info.attachType === prog.expectedAttachType) {
          link.update(prog);
          this.#sockLinks.set(name, link);
          updated++;
          continue;
        }
        try {
          if (info.attached === true) link.detach();
        } finally {
          link.close();
        }
        unlinkSync(path);
      }
      if (!wanted) continue;
      this.#attachSockOne(name, prog);
      attached++;
    }
    this.#logger.info('Socket load balancing', { mode: this.#bpf.socketLB, attached, updated });
  }

  #sockPin(name: string): string {
    return `${this.pinPath}/links/sock-${name}`;
  }

  /** A new cgroup link for `prog`, pinned in place of any previous pin, its handle kept. */
  #attachSockOne(name: string, prog: BpfProgram): Link {
    const path = this.#sockPin(name);
    let link: Link;
    try {
      link = attachCgroup(prog, this.#bpf.cgroupPath);
    } catch (err) {
      throw new Error(`cannot attach socket program ${name} to cgroup ${this.#bpf.cgroupPath}: ${errText(err)}`, { cause: err });
    }
    try {
      if (existsSync(path)) unlinkSync(path);
      link.pin(path);
    } catch (err) {
      link.close();
      throw new Error(`cannot pin the link of socket program ${name} at ${path}: ${errText(err)}`, { cause: err });
    }
    this.#sockLinks.get(name)?.close();
    this.#sockLinks.set(name, link);
    return link;
  }

  /** `--bpf-devices`, or else the devices holding `nodeIPs`; throws naming a missing --bpf-devices entry. */
  devicesFor(nodeIPs: string[], all: HostDevice[] = hostDevices()): HostDevice[] {
    if (this.#bpf.devices.length === 0) return devicesForAddresses(all, nodeIPs);
    return this.#bpf.devices.map((name) => {
      const d = all.find((x) => x.name === name);
      if (!d) throw new Error(`device ${name} (--bpf-devices) does not exist in the agent's network namespace`);
      return d;
    });
  }

  /**
   * Attaches tc and XDP to devicesFor(nodeIPs) and removes ours from every other device (a node
   * IP moved, --bpf-devices changed since the last run). Returns what was attached; a device
   * where native XDP failed is served by tc alone (see readCounters().xdpFallback).
   */
  attachDevices(nodeIPs: string[], all: HostDevice[] = hostDevices()): DeviceAttachment[] {
    const devices = this.devicesFor(nodeIPs, all);
    if (devices.length === 0) this.#logger.warning('No device holds a node IP; NodePort, ExternalIP and LoadBalancer traffic from outside is not served', { nodeIPs });
    this.#attachments = attachDevices({ ...this.#deviceInput(), devices });
    for (const a of this.#attachments) this.#logger.info('Attached the north-south datapath', { device: a.device, tc: a.tc, xdp: a.xdp });
    const wanted = new Set(devices.map((d) => d.name));
    for (const item of detachDevices(all.filter((d) => !wanted.has(d.name)), this.pinPath, this.#xdpLinks)) this.#logger.info('Detached the north-south datapath', { item });
    return this.#attachments;
  }

  /**
   * Pods' interfaces (--bpf-socket-lb=host-namespace-only): writes which packets are a pod's and
   * puts the pod-side programs on every pod interface among `all`, off those that stopped being
   * one; `nodeIPs` (null until the Node is known) find the external devices, which are never pods'.
   * In the other modes, removes pod programs an earlier run left. Logs what it did; false when
   * something failed (retried at the next sync).
   */
  syncPods(all: HostDevice[], nodeIPs: string[] | null, nodePodCIDRs: string[] | null): boolean {
    if (!this.#pod) {
      if (this.#podSwept) return true;
      try {
        for (const item of detachPodFilters(all)) this.#logger.info('Removed the pod-side datapath (the socket LB mode needs none)', { item });
        // Its maps too: the conntrack ones hold (preallocated) memory for nothing in this mode.
        for (const name of POD_ONLY_PINS) {
          const pin = `${this.pinPath}/${name}`;
          if (!existsSync(pin)) continue;
          unlinkSync(pin);
          this.#logger.info('Removed the pod-side datapath (the socket LB mode needs none)', { item: `pin ${pin}` });
        }
        this.#podSwept = true;
        return true;
      } catch (err) {
        this.#logger.error('Cannot remove the pod-side programs of an earlier run', { err });
        return false;
      }
    }
    // Without the node's addresses its external devices are unknown, and one could pass for a pod's.
    if (nodeIPs === null && this.#bpf.devices.length === 0) return true;
    const d = podDetection(this.#detectLocal, nodePodCIDRs);
    const problems = (['IPv4', 'IPv6'] as const).map((f) => [f, d.pods[f]] as const).filter((x): x is readonly ['IPv4' | 'IPv6', Extract<PodMatch, { kind: 'none' }>] => x[1].kind === 'none');
    const bridgeMissing = d.mode === 'BridgeInterface' && !all.some((x) => x.name === d.bridge);
    const text = JSON.stringify([problems, bridgeMissing]);
    if (text !== this.#podProblems) {
      this.#podProblems = text;
      for (const [family, m] of problems) {
        this.#logger.warning('Pods\' service traffic of this family is not translated: the local-traffic detection matches none of it', { ipFamily: family, detectLocalMode: d.mode, reason: m.why });
      }
      if (bridgeMissing) this.#logger.warning('The pod bridge does not exist (yet); pods behind it are not served until it does', { bridgeInterface: d.bridge });
    }
    let external: HostDevice[];
    try {
      external = this.devicesFor(nodeIPs ?? [], all);
    } catch (err) {
      this.#logger.error('Cannot tell the node\'s external devices from its pods\' interfaces', { err });
      return false;
    }
    const r = this.#pod.attachments.sync(all, external, d);
    for (const a of r.attached) this.#logger.v(2).info('Attached the pod-side datapath', { device: a.device, how: a.how, detectLocalMode: d.mode });
    for (const x of r.detached) this.#logger.v(2).info('Detached the pod-side datapath', { device: x });
    for (const err of r.errors) this.#logger.error('Cannot attach the pod-side datapath; retrying at the next sync', { err });
    return r.errors.length === 0;
  }

  #deviceInput(): Omit<AttachDevicesInput, 'devices'> {
    return {
      tcIngress: this.#colls.tc.program('kpb_tc_ingress'),
      tcEgress: this.#colls.tc.program('kpb_tc_egress'),
      xdp: this.#colls.xdp.program('kpb_xdp_ingress'),
      xdpMode: this.#bpf.xdp,
      pinPath: this.pinPath,
      logger: this.#logger,
      xdpLinks: this.#xdpLinks,
    };
  }

  /** What repair() checks: the kept links, our tc filters on the attached devices, the map pins. */
  #repairState(): RepairState {
    const links: KeptLink[] = [];
    if (this.#bpf.socketLB !== 'off') {
      const cgroupId = this.#cgroupId();
      for (const [name, prog] of this.#colls.sock.programs) {
        links.push({
          what: `socket program ${name} on cgroup ${this.#bpf.cgroupPath}`, hook: 'cgroup', pin: this.#sockPin(name),
          program: prog, programId: this.#programId(prog), target: cgroupId,
          get: () => this.#sockLinks.get(name), reattach: () => this.#attachSockOne(name, prog),
        });
      }
    }
    const input = this.#deviceInput();
    const tc: RepairState['tc'] = [];
    for (const a of this.#attachments) {
      const dev = { name: a.device, ifindex: a.ifindex };
      for (const [direction, prog] of [['ingress', input.tcIngress], ['egress', input.tcEgress]] as const) {
        tc.push({ device: a.device, ifindex: a.ifindex, direction, programId: this.#programId(prog), reattach: () => void attachTcOne(prog, dev, direction) });
      }
      if (a.xdp === 'off') continue;
      links.push({
        what: `XDP on ${a.device}`, hook: 'xdp', pin: xdpLinkPin(this.pinPath, a.device),
        program: input.xdp, programId: this.#programId(input.xdp), target: a.ifindex,
        get: () => this.#xdpLinks.get(a.device),
        reattach: () => {
          // The stale link and its pin go first, so attachXdpOne makes a fresh one.
          const old = this.#xdpLinks.get(a.device);
          this.#xdpLinks.delete(a.device);
          try {
            if (old && old.info().attached === true) old.detach();
          } catch {
            // already detached
          }
          old?.close();
          const path = xdpLinkPin(this.pinPath, a.device);
          if (existsSync(path)) unlinkSync(path);
          const r = attachXdpOne(input, { name: a.device, ifindex: a.ifindex, kind: '' });
          const fresh = this.#xdpLinks.get(a.device);
          if (r.xdp === 'off' || !fresh) throw new Error(`XDP could not be attached again (${r.xdpFallbackReason || 'off'})`);
          return fresh;
        },
      });
    }
    if (this.#pod) {
      const ids = { ingress: this.#programId(this.#pod.collection.program('kpb_pod_ingress')), egress: this.#programId(this.#pod.collection.program('kpb_pod_egress')) };
      tc.push(...this.#pod.attachments.repairEntries(ids));
    }
    const maps = this.#pinnedMaps.map((name) => {
      const map = this.#map(name)!;
      return { name, pin: `${this.pinPath}/${name}`, map, id: map.info().id };
    });
    return { links, tc, maps };
  }

  /**
   * Verifies that every program is still attached (cgroup links, tc filters, XDP links) and every
   * pin exists and is ours; re-attaches or re-pins what is not. Returns what was repaired and the
   * repairs that failed. Call once per sync period (issue 11 item 4).
   */
  repair(): { repairs: Repair[]; errors: Error[] } {
    return repairDatapath(this.#repairState());
  }

  get attachments(): readonly DeviceAttachment[] {
    return this.#attachments;
  }

  /** Max entries of each map the LB state counts, as loaded. */
  capacity(): MapCounts {
    const m = (n: LbMapName) => this.maps.capacity(n);
    return { lb_services: m('lb_services'), lb_slots: m('lb_slots'), lb_backends: m('lb_backends'), lb_rev_nat: m('lb_rev_nat'), lb_maglev: m('lb_maglev'), lb_src_ranges: m('lb_src_ranges') };
  }

  /**
   * Seeds `ids` from the pinned lb_services and lb_backends; returns the keys not adopted. Ids
   * beyond twice a map's size (a sparse id of an older allocator) are not adopted.
   */
  seedIds(ids: LbIds): { services: (string | number)[]; backends: (string | number)[] } {
    const c = this.capacity();
    return seedIdsFromMaps(ids, this.maps, this.codec, { services: 2 * c.lb_services, backends: 2 * c.lb_backends });
  }

  /**
   * Tell the datapath that routes or neighbours changed: every flow's cached next hop (MACs,
   * ifindex) is dropped and re-learnt from the FIB on its next packet (kpb_gens.nh, conntrack.h).
   * Returns the new generation.
   */
  bumpNextHopGeneration(): number {
    return bumpGeneration(this.#colls.tc.map('kpb_gens') as unknown as GenerationMap, 'nh');
  }

  /**
   * Tell the datapath that backends may have left lb_backends: each flow re-checks its backend
   * once, on its next packet (kpb_gens.be, conntrack.h). Returns the new generation.
   */
  bumpBackendGeneration(): number {
    return bumpGeneration(this.#colls.tc.map('kpb_gens') as unknown as GenerationMap, 'be');
  }

  /**
   * Free the SNAT reservation slots of ended flows (expired, and no longer used by their forward
   * entry) in the next part of the tables (SNAT_PART slots of each family): nothing evicts a slot,
   * so one whose flow went away stays claimed until a new flow's port walk takes it over, or this
   * sweep frees it (snat_gc.h). Returns how many were freed.
   */
  sweepSnat(): number {
    const slots = this.#colls.tc.map('kpb_snat4').maxEntries;
    const first = this.#snatSweepAt < slots ? this.#snatSweepAt : 0;
    this.#snatSweepAt = first + SNAT_PART;
    return this.#colls.tc.program('kpb_snat_gc').testRun({ data: Buffer.alloc(14), ctx: snatPartCtx(first, SNAT_PART, 0) }).retval;
  }

  /**
   * The claimed slots of kpb_snat4 (4) or kpb_snat6 (6): what /metrics reports as their entries.
   * An array has no element count; the census program walks the slots in BPF (snat_gc.h), a part
   * per run with `turn()` between the parts.
   */
  async snatClaimed(family: 4 | 6, turn: () => Promise<void>): Promise<number> {
    const slots = this.#colls.tc.map('kpb_snat4').maxEntries;
    const census = this.#colls.tc.program('kpb_snat_census');
    let n = 0;
    for (let first = 0; first < slots; first += SNAT_PART) {
      if (first > 0) await turn();
      n += census.testRun({ data: Buffer.alloc(14), ctx: snatPartCtx(first, SNAT_PART, family) }).retval;
    }
    return n;
  }

  /** Counters and fill levels for the kubeproxy_bpf_* metrics. */
  #map(name: string): BpfMap | undefined {
    for (const c of [this.#colls.tc, this.#colls.sock, this.#colls.xdp, ...(this.#pod ? [this.#pod.collection] : [])]) {
      try {
        return c.map(name);
      } catch {
        // not in this object
      }
    }
    return undefined;
  }

  readCounters(): Promise<DatapathSnapshot> {
    const m = (name: string): BpfMap | undefined => this.#map(name);
    return readCounters(
      {
        npCounters: m('kpb_np_counters'), podCounters: m('kpb_pod_counters'), sockStats: m('lb_sock_stats'), sized: SIZED_MAPS.map((n) => m(n)!).filter(Boolean),
        ...(this.#mapCounter ? { kernelCounts: () => this.#mapCounter!.counts() } : {}),
        counted: new Map([['kpb_snat4', (turn) => this.snatClaimed(4, turn)], ['kpb_snat6', (turn) => this.snatClaimed(6, turn)]]),
        conntrack: {
          IPv4: [m('kpb_ct4'), m('kpb_snat4'), m('kpb_pod_ct4')].filter((x) => x !== undefined),
          IPv6: [m('kpb_ct6'), m('kpb_snat6'), m('kpb_pod_ct6')].filter((x) => x !== undefined),
        },
      },
      this.#attachments
        .filter((a) => this.#bpf.xdp !== 'off')
        .map((a) => ({ device: a.device, reason: a.xdpFallbackReason || 'none', fallback: a.xdp === 'off' })),
    );
  }

  /** Releases our handles; pins and attachments stay (restart-safe). */
  /** The loaded socket terminator object, or why there is none (see DatapathObjects.sockTerm). */
  get socketTerminator(): { collection: Collection } | { unavailable: string } {
    return this.#sockTerm;
  }

  /** A map only the socket LB declares (sock_lb.h), e.g. lb_service_cidrs. */
  sockMap(name: string): BpfMap {
    return this.#colls.sock.map(name);
  }

  /**
   * The conntrack maps whose entries may be deleted: north-south per family (conntrack.h), and
   * the pods' flows (pod.h) when the pod-side object is loaded. The SNAT reservation slots are
   * not among them: only the datapath claims and frees a slot (one compare-and-swap); a
   * reservation whose forward entry was deleted is freed by the sweep once it expires.
   */
  conntrackMaps(): BpfMap[] {
    const out: BpfMap[] = [];
    for (const name of ['kpb_ct4', 'kpb_ct6']) {
      try {
        out.push(this.#colls.tc.map(name));
      } catch {
        // not in this build
      }
    }
    if (this.#pod) for (const name of ['kpb_pod_ct4', 'kpb_pod_ct6']) out.push(this.#pod.collection.map(name));
    return out;
  }

  close(): void {
    this.#migration?.close();
    this.#migration = null;
    if ('collection' in this.#sockTerm) this.#sockTerm.collection.close();
    this.#mapCounter?.close();
    this.#mapCounter = null;
    this.#pod?.collection.close();
    this.#pod = null;
    for (const l of [...this.#sockLinks.values(), ...this.#xdpLinks.values()]) l.close();
    this.#sockLinks.clear();
    this.#xdpLinks.clear();
    for (const c of Object.values(this.#colls)) c.close();
  }
}

export type CleanupResult = { removed: string[]; errors: Error[] };

/**
 * --cleanup: detaches everything we attached and removes every pin. Pinned links are detached
 * explicitly (unpinning alone would leave a link that another holder keeps alive), tc filters are
 * found by our handle/priority on every device of this namespace, and the pin folder goes last.
 */
export function cleanupDatapath(pinPath: string): CleanupResult {
  const removed: string[] = [];
  const errors: Error[] = [];
  const linkDir = `${pinPath}/links`;
  if (existsSync(linkDir)) {
    for (const name of readdirSync(linkDir)) {
      try {
        const link = openPinnedLink(`${linkDir}/${name}`);
        try {
          link.detach();
        } finally {
          link.close();
        }
        removed.push(`link ${name}`);
      } catch (err) {
        errors.push(new Error(`cannot detach pinned link ${linkDir}/${name}: ${errText(err)}`, { cause: err }));
      }
    }
  }
  try {
    const devices = hostDevices();
    for (const f of detachDevices(devices, null)) removed.push(f);
    for (const f of detachPodFilters(devices)) removed.push(f);
  } catch (err) {
    errors.push(new Error(`cannot remove tc filters: ${errText(err)}`, { cause: err }));
  }
  try {
    for (const p of removeBpfPins(pinPath)) removed.push(`pin ${p}`);
  } catch (err) {
    errors.push(new Error(`cannot remove pins under ${pinPath}: ${errText(err)}`, { cause: err }));
  }
  return { removed, errors };
}
