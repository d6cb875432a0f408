/**
 * @module
 * LbState: the one encoded state of the control-plane-written LB maps (architecture §3), keyed by
 * dense service ids (one per lb_services entry: frontends and VIP markers) and backend ids, in
 * typed arrays and Buffers laid out as the kernel's values. It replaces the wanted and applied
 * object graphs: between syncs the maps equal this state; during a sync the state changes first
 * and remembers, per touched id, what the maps still hold (a snapshot taken at the first touch),
 * and flush() then writes just the difference in the datapath's safe order (lb-flush.ts).
 *
 * What the state decides:
 * - Frontend conflicts, per frontend key: the claimant with the lowest rank (older Service, then
 *   namespace/name, then port) is programmed, the others wait as contenders; when the winner
 *   leaves, the next claimant's Service is handed back to be recompiled (promoted).
 * - Sharing: a backend is referenced by every slot naming it (its LOCAL and TERMINATING flags are
 *   the OR over those references, kept as counts so a leaving sharer can be subtracted); a VIP
 *   marker by every port naming its address (per-kind counts give its flags).
 * - Capacity: `used` counts, per map, the entries the maps may hold at once (what they hold now
 *   plus what the state adds before the flush deletes anything), and check() says whether a
 *   whole Service fits before any of it is programmed.
 */
import { backendKeyText, backendKeyV4Address as backendKeyV4 } from '../model/backend-key.ts';
import type { EndpointInfo } from '../model/endpoints.ts';
import { parseIp, type IpFamily } from '../model/ip.ts';
import type { ServicePortInfo } from '../model/service-port.ts';
import type { CompiledFrontend, CompiledMarker, CompiledPort, FrontendKey } from '../translate/compile-port.ts';
import { LB_BE_LOCAL, LB_BE_TERMINATING, LB_SCOPE_INTERNAL, LB_SVC_CLUSTER_IP, LB_SVC_EXTERNAL_IP, LB_SVC_LOADBALANCER, LB_SVC_VIP_MARKER } from '../translate/lb-types.ts';
import type { LbIds } from './ids.ts';
import type { LbCodec } from './lb-codec.ts';

/** The maps whose entries the state counts against capacity. */
export const COUNTED_MAPS = ['lb_services', 'lb_slots', 'lb_backends', 'lb_rev_nat', 'lb_maglev', 'lb_src_ranges'] as const;
export type CountedMap = (typeof COUNTED_MAPS)[number];
export type MapCounts = Record<CountedMap, number>;

export const zeroCounts = (): MapCounts => ({ lb_services: 0, lb_slots: 0, lb_backends: 0, lb_rev_nat: 0, lb_maglev: 0, lb_src_ranges: 0 });

/** lb_services kinds of an id. */
export const KIND_FREE = 0;
export const KIND_FRONTEND = 1;
export const KIND_MARKER = 2;

/** Per-slot reference flags (what this reference contributes to the backend's flags). */
const REF_LOCAL = 1;
const REF_TERM = 2;
const MARKER_KINDS = [LB_SVC_CLUSTER_IP, LB_SVC_EXTERNAL_IP, LB_SVC_LOADBALANCER] as const;
// Per-frontend slot lists are plain arrays of small integers: at ~10 slots a Uint32Array costs
// about four times as much (its object, its ArrayBuffer and a malloc'd backing store each).
const EMPTY_IDS: readonly number[] = Object.freeze([]);
const EMPTY_FLAGS: readonly number[] = EMPTY_IDS;

/** Ids whose entries changed while a watch was open (LbState.watchTouches()). */
export type Touches = { services: Set<number>; backends: Set<number> };

/** What the maps hold for one service id (taken at its first touch in a sync, or from a dump). */
export type FrontendSnapshot = {
  kind: number;
  /** Encoded lb_service_key the maps hold (null: no lb_services entry). */
  key: Buffer | null;
  /** Encoded lb_service_value (null: none). */
  value: Buffer | null;
  /** Backend id per slot (slot i+1); 0: no entry for that slot. */
  slots: readonly number[];
  /** Encoded lb_rev_nat value (null: none). */
  revNat: Buffer | null;
  /** 0 none; 1 the table we wrote; 2 a table of unknown content (rewritten when wanted). */
  maglev: number;
  /** Packed lb_src_range keys. */
  ranges: Buffer;
};

export type BackendSnapshot = { value: Buffer | null };

export type Conflict = { frontend: FrontendKey; loser: string; winner: string };

export type LbStateOptions = {
  codec: LbCodec;
  ids: LbIds;
  /** Max entries per map. */
  capacity: MapCounts;
  /** This node's name: a backend whose endpoint runs here is LOCAL. */
  nodeName: string;
  /** DSR: the address of another node for lb_backend.node_addr; undefined without DSR. */
  nodeAddress?: (nodeName: string, family: IpFamily) => string | undefined;
  /** Told when a port starts losing a frontend to another claimant (report once). */
  onConflict?: (c: Conflict) => void;
};

type PortClaim = { sp: ServicePortInfo; frontends: FrontendKey[]; markers: CompiledMarker[] };

/**
 * Which of two claimants of a frontend wins: the older Service, then the lower port key
 * ("namespace/name:port/PROTO/family"), so the winner is the same whatever the order of events.
 */
export function outranks(a: ServicePortInfo, b: ServicePortInfo): boolean {
  return a.created !== b.created ? a.created < b.created : a.key < b.key;
}

/** "namespace/name" of a service-port key ("namespace/name:port/PROTO/family"). */
export const serviceOfPort = (portKey: string): string => portKey.slice(0, portKey.indexOf(':'));

export class LbState {
  readonly codec: LbCodec;
  readonly ids: LbIds;
  readonly capacity: MapCounts;
  /** Entries the maps may hold at once (see the module comment). */
  readonly used: MapCounts = zeroCounts();
  /** Entries of the state alone (what the maps hold after a successful flush). */
  readonly entries: MapCounts = zeroCounts();
  readonly #nodeName: string;
  readonly #nodeAddress: LbStateOptions['nodeAddress'];
  readonly #onConflict: LbStateOptions['onConflict'];

  // Service-id-indexed arrays (grown with the id allocator's high water).
  #cap = 0;
  #fKind = new Uint8Array(0);
  #fKey: Buffer = Buffer.alloc(0);
  #fVal: Buffer = Buffer.alloc(0);
  #fMaglev = new Uint8Array(0);
  #fSlots: (readonly number[] | undefined)[] = [];
  #fSlotRefs: (readonly number[] | undefined)[] = [];
  #fSlotNodes: (readonly number[] | undefined)[] = [];
  #fRanges: (Buffer | undefined)[] = [];
  /** The winning port of each frontend id. */
  #fOwner: (ServicePortInfo | undefined)[] = [];
  #mKinds = new Uint32Array(0);

  // Backend-id-indexed arrays.
  #bCap = 0;
  #bVal: Buffer = Buffer.alloc(0);
  #bRefs = new Uint32Array(0);
  #bLocal = new Uint32Array(0);
  #bTerm = new Uint32Array(0);
  /** DSR only: node name index -> references, per backend. */
  #bNodes = new Map<number, Map<number, number>>();
  #nodeIndex = new Map<string, number>();
  #nodeNames: string[] = [];

  /**
   * False while a fresh state is built (a full sync): nothing is in the maps for it yet, so no
   * snapshot is taken; reconcileLbState() then records what the maps really hold.
   */
  #tracking = false;
  #ports = new Map<string, PortClaim>();
  #servicePorts = new Map<string, Set<string>>();
  /** Frontend key -> port key -> port, for claimants that lost. */
  #contenders = new Map<FrontendKey, Map<string, ServicePortInfo>>();
  #promoted = new Set<string>();

  /** Open watches of touched ids (watchTouches()): a paused comparison of the maps skips these. */
  readonly #touchWatches = new Set<Touches>();
  /** Snapshots of what the maps hold, for ids touched since the last successful flush. */
  readonly dirtyFrontends = new Map<number, FrontendSnapshot>();
  readonly dirtyBackends = new Map<number, BackendSnapshot>();
  /** lb_services keys the maps hold that no id accounts for (found by a dump): deleted at flush. */
  readonly strayServiceKeys: Buffer[] = [];
  /** lb_slots keys with a slot number no entry can reach (found by a dump): deleted at flush. */
  readonly straySlotKeys: Buffer[] = [];
  /** lb_node_addrs: the node's NodePort addresses (16 bytes each, by hex). */
  readonly nodeAddrs = new Map<string, Uint8Array>();
  /** What lb_node_addrs holds, when it may differ from nodeAddrs (null: equal). */
  nodeAddrsSnapshot: Map<string, Uint8Array> | null = null;

  constructor(o: LbStateOptions) {
    this.codec = o.codec;
    this.ids = o.ids;
    this.capacity = o.capacity;
    this.#nodeName = o.nodeName;
    this.#nodeAddress = o.nodeAddress;
    this.#onConflict = o.onConflict;
  }

  // ---- reading ----

  get serviceIdLimit(): number {
    return this.#cap;
  }

  get backendIdLimit(): number {
    return this.#bCap;
  }

  kind(sid: number): number {
    return sid < this.#cap ? this.#fKind[sid]! : KIND_FREE;
  }

  /** Encoded lb_service_key of a programmed id (a view). */
  key(sid: number): Buffer {
    const n = this.codec.serviceKeySize;
    return this.#fKey.subarray(sid * n, sid * n + n);
  }

  /** Encoded lb_service_value of a programmed id (a view). */
  value(sid: number): Buffer {
    const n = this.codec.serviceValueSize;
    return this.#fVal.subarray(sid * n, sid * n + n);
  }

  slots(sid: number): readonly number[] {
    return (sid < this.#cap ? this.#fSlots[sid] : undefined) ?? EMPTY_IDS;
  }

  maglev(sid: number): boolean {
    return sid < this.#cap && this.#fMaglev[sid] === 1;
  }

  ranges(sid: number): Buffer {
    return (sid < this.#cap ? this.#fRanges[sid] : undefined) ?? EMPTY_BUF;
  }

  /** The winning port (its key) of a frontend id. */
  owner(sid: number): string | undefined {
    return sid < this.#cap ? this.#fOwner[sid]?.key : undefined;
  }

  backendRefs(bid: number): number {
    return bid < this.#bCap ? this.#bRefs[bid]! : 0;
  }

  /** Encoded lb_backend of a referenced backend (a view). */
  backendValue(bid: number): Buffer {
    const n = this.codec.backendSize;
    return this.#bVal.subarray(bid * n, bid * n + n);
  }

  /** Encoded lb_rev_nat value of a frontend id, derived from its key. */
  revNatValue(sid: number): Buffer {
    const out = Buffer.alloc(this.codec.revNatSize);
    this.codec.writeRevNatFromKey(out, 0, this.#fKey, sid * this.codec.serviceKeySize);
    return out;
  }

  /** Ports of a Service currently in the state (claiming, won or lost). */
  portsOf(service: string): ReadonlySet<string> {
    return this.#servicePorts.get(service) ?? NO_PORTS;
  }

  hasService(service: string): boolean {
    return this.#servicePorts.has(service);
  }

  /** Services whose ports must be recompiled because they now win a frontend; cleared by the call. */
  takePromoted(): string[] {
    const out = [...this.#promoted];
    this.#promoted.clear();
    return out;
  }

  // ---- capacity ----

  /**
   * Whether programming `ports` as the whole of `service` keeps every map within capacity, counted
   * at the peak of the next flush (new entries are written before old ones are deleted).
   * Returns null when it fits, else the first map that would overflow with the entries it needs.
   */
  check(service: string, ports: CompiledPort[]): { map: CountedMap; need: number; free: number } | null {
    const need = zeroCounts();
    const seenF = new Set<FrontendKey>();
    const seenB = new Set<number | string>();
    const seenM = new Set<FrontendKey>();
    for (const cp of ports) {
      for (const f of cp.frontends) {
        if (seenF.has(f.key)) continue;
        seenF.add(f.key);
        const sid = this.ids.services.lookup(f.key);
        if (sid !== undefined && this.kind(sid) === KIND_FRONTEND) {
          const owner = this.#fOwner[sid]!;
          if (owner.service !== service && !outranks(cp.sp, owner)) continue;
        }
        this.#needForFrontend(sid, f, need);
        for (const ep of f.backends) {
          const id = ep.backend;
          if (seenB.has(id)) continue;
          seenB.add(id);
          const bid = this.ids.backends.lookup(id);
          if (bid === undefined || (this.backendRefs(bid) === 0 && !this.dirtyBackends.get(bid)?.value)) need.lb_backends++;
        }
      }
      for (const m of cp.markers) {
        if (seenM.has(m.key)) continue;
        seenM.add(m.key);
        const sid = this.ids.services.lookup(m.key);
        if (sid === undefined || (this.kind(sid) === KIND_FREE && !this.dirtyFrontends.get(sid)?.key)) need.lb_services++;
      }
    }
    for (const map of COUNTED_MAPS) {
      if (need[map] > 0 && this.used[map] + need[map] > this.capacity[map]) return { map, need: need[map], free: Math.max(0, this.capacity[map] - this.used[map]) };
    }
    return null;
  }

  /**
   * How much the footprint of frontend `sid` (what the maps hold for it, plus what the state adds
   * before the next flush) changes when it becomes `f`.
   */
  #needForFrontend(sid: number | undefined, f: CompiledFrontend, need: MapCounts): void {
    const snap = sid === undefined ? undefined : this.dirtyFrontends.get(sid);
    const kind = sid === undefined ? KIND_FREE : this.kind(sid);
    if (kind === KIND_FREE && (snap?.key ?? null) === null) need.lb_services++;
    if (kind !== KIND_FRONTEND && (snap?.revNat ?? null) === null) need.lb_rev_nat++;
    const n = f.backends.length;
    const now = sid === undefined ? 0 : this.#slotFootprint(sid);
    let after = n;
    if (snap) {
      for (let i = n; i < snap.slots.length; i++) if (snap.slots[i] !== 0) after++;
    } else {
      after = Math.max(n, now);
    }
    need.lb_slots += after - now;
    const kernelTable = snap ? snap.maglev !== 0 : sid !== undefined && this.maglev(sid);
    const hasNow = kernelTable || (sid !== undefined && this.maglev(sid));
    if (f.maglev && n > 0 && !hasNow) need.lb_maglev++;
    if (f.ranges.length > 0) need.lb_src_ranges += Math.max(0, f.ranges.length - (sid === undefined ? 0 : this.#rangeFootprint(sid)));
  }

  // ---- programming ----

  /** Sets the NodePort addresses (lb_node_addrs). */
  setNodeAddresses(addrs: Uint8Array[]): void {
    const next = new Map(addrs.map((a) => [Buffer.from(a).toString('hex'), a]));
    if (next.size === this.nodeAddrs.size && [...next.keys()].every((k) => this.nodeAddrs.has(k))) return;
    this.nodeAddrsSnapshot ??= new Map(this.nodeAddrs);
    this.nodeAddrs.clear();
    for (const [k, v] of next) this.nodeAddrs.set(k, v);
  }

  /**
   * Makes `ports` the whole programming of `service` (an empty list removes it). Claims are
   * resolved per frontend; services that now win a frontend are collected for takePromoted().
   */
  setService(service: string, ports: CompiledPort[]): void {
    const before = this.#servicePorts.get(service) ?? NO_PORTS;
    const next = new Set(ports.map((p) => p.sp.key));
    for (const pk of [...before]) if (!next.has(pk)) this.#setPort(pk, null);
    for (const cp of ports) this.#setPort(cp.sp.key, cp);
    if (next.size === 0) this.#servicePorts.delete(service);
    else this.#servicePorts.set(service, next);
  }

  #setPort(pk: string, cp: CompiledPort | null): void {
    const prev = this.#ports.get(pk);
    // New markers before old ones go, so a marker shared by both never drops to zero.
    for (const m of cp?.markers ?? []) this.#addMarker(m);
    for (const m of prev?.markers ?? []) this.#removeMarker(m);
    const keep = new Set<FrontendKey>();
    for (const f of cp?.frontends ?? []) {
      if (keep.has(f.key)) continue;
      keep.add(f.key);
      this.#claim(f, cp!.sp);
    }
    for (const k of prev?.frontends ?? []) if (!keep.has(k)) this.#unclaim(k, pk);
    if (cp) this.#ports.set(pk, { sp: cp.sp, frontends: [...keep], markers: cp.markers });
    else this.#ports.delete(pk);
  }

  #claim(f: CompiledFrontend, sp: ServicePortInfo): void {
    let sid = this.ids.services.lookup(f.key);
    if (sid !== undefined && this.kind(sid) === KIND_FRONTEND) {
      const owner = this.#fOwner[sid]!;
      if (owner.key !== sp.key) {
        if (!outranks(sp, owner)) {
          this.#contend(f.key, sp, owner);
          return;
        }
        // An older claimant takes the frontend; the previous winner waits.
        this.#contend(f.key, owner, sp);
      }
    }
    this.#contenders.get(f.key)?.delete(sp.key);
    if (this.#contenders.get(f.key)?.size === 0) this.#contenders.delete(f.key);
    sid ??= this.ids.services.acquire(f.key);
    this.#program(sid, f, sp);
  }

  #contend(key: FrontendKey, loser: ServicePortInfo, winner: ServicePortInfo): void {
    let c = this.#contenders.get(key);
    if (!c) this.#contenders.set(key, (c = new Map()));
    if (!c.has(loser.key)) this.#onConflict?.({ frontend: key, loser: loser.key, winner: winner.key });
    c.set(loser.key, loser);
  }

  #unclaim(key: FrontendKey, pk: string): void {
    const sid = this.ids.services.lookup(key);
    const c = this.#contenders.get(key);
    if (sid !== undefined && this.kind(sid) === KIND_FRONTEND && this.#fOwner[sid]!.key === pk) this.#unprogram(sid);
    else c?.delete(pk);
    if (!c) return;
    if (c.size === 0) {
      this.#contenders.delete(key);
      return;
    }
    // No winner any more: the best remaining claimant's Service is recompiled and takes it.
    if (sid === undefined || this.kind(sid) !== KIND_FRONTEND) {
      let best: ServicePortInfo | undefined;
      for (const sp of c.values()) if (best === undefined || outranks(sp, best)) best = sp;
      this.#promoted.add(best!.service);
    }
  }

  #program(sid: number, f: CompiledFrontend, sp: ServicePortInfo): void {
    this.#grow(sid);
    this.#before(sid);
    const ks = this.codec.serviceKeySize;
    if (this.#fKind[sid] !== KIND_FRONTEND) {
      this.codec.writeServiceKey(this.#fKey, sid * ks, f.addr, f.port, f.proto, f.scope);
      this.#fKind[sid] = KIND_FRONTEND;
    }
    this.#fOwner[sid] = sp;
    this.#setSlots(sid, f.backends, f.proto);
    const n = f.backends.length;
    this.codec.writeServiceValue(this.#fVal, sid * this.codec.serviceValueSize, sid, n, f.localCount, f.flags, f.affinityTimeout);
    this.#fMaglev[sid] = f.maglev && n > 0 ? 1 : 0;
    this.#fRanges[sid] = f.ranges.length > 0 ? this.#encodeRanges(sid, f.ranges) : undefined;
    this.#after(sid);
  }

  #unprogram(sid: number): void {
    this.#before(sid);
    this.#setSlots(sid, [], 0);
    this.#fKind[sid] = KIND_FREE;
    this.#fVal.fill(0, sid * this.codec.serviceValueSize, (sid + 1) * this.codec.serviceValueSize);
    this.#fMaglev[sid] = 0;
    this.#fRanges[sid] = undefined;
    this.#fOwner[sid] = undefined;
    this.#after(sid);
  }

  #encodeRanges(sid: number, ranges: CompiledFrontend['ranges']): Buffer {
    const n = this.codec.srcRangeKeySize;
    const buf = Buffer.alloc(ranges.length * n);
    ranges.forEach((r, i) => this.codec.writeSrcRangeKey(buf, i * n, r.prefixlen, sid, r.addr));
    return buf;
  }

  /** Replaces the slots of `sid`, adding the new backend references before dropping the old. */
  #setSlots(sid: number, backends: EndpointInfo[], proto: number): void {
    const oldIds = this.#fSlots[sid] ?? EMPTY_IDS;
    const oldRefs = this.#fSlotRefs[sid] ?? EMPTY_FLAGS;
    const oldNodes = this.#fSlotNodes[sid];
    const n = backends.length;
    const ids: number[] = new Array(n);
    const refs: number[] = new Array(n);
    const nodes: number[] | undefined = this.#nodeAddress && n > 0 ? new Array(n) : undefined;
    for (let i = 0; i < n; i++) {
      const ep = backends[i]!;
      ids[i] = this.#backendId(ep);
      refs[i] = (ep.isLocal ? REF_LOCAL : 0) | (ep.terminating ? REF_TERM : 0);
      if (nodes) nodes[i] = this.#node(ep.nodeName);
    }
    if (n === oldIds.length && sameArray(ids, oldIds) && sameArray(refs, oldRefs) && (!nodes || (oldNodes !== undefined && sameArray(nodes, oldNodes)))) return;
    for (let i = 0; i < n; i++) this.#ref(ids[i]!, refs[i]!, nodes?.[i], 1, backends[i]!, proto);
    for (let i = 0; i < oldIds.length; i++) this.#ref(oldIds[i]!, oldRefs[i]!, oldNodes?.[i], -1, null, 0);
    this.#fSlots[sid] = n === 0 ? undefined : ids;
    this.#fSlotRefs[sid] = n === 0 ? undefined : refs;
    this.#fSlotNodes[sid] = nodes;
  }

  #backendId(ep: EndpointInfo): number {
    const key = ep.backend;
    const bid = this.ids.backends.lookup(key) ?? this.ids.backends.acquire(key);
    this.#growBackends(bid);
    return bid;
  }

  #node(name: string): number {
    let i = this.#nodeIndex.get(name);
    if (i === undefined) {
      i = this.#nodeNames.length;
      this.#nodeNames.push(name);
      this.#nodeIndex.set(name, i);
    }
    return i;
  }

  /** Adds (d=1) or drops (d=-1) one slot's reference to backend `bid`. */
  #ref(bid: number, flags: number, node: number | undefined, d: 1 | -1, ep: EndpointInfo | null, proto: number): void {
    this.#beforeBackend(bid);
    const off = bid * this.codec.backendSize;
    if (d === 1 && this.#bRefs[bid] === 0) {
      const addr = typeof ep!.backend === 'number' ? backendKeyV4(ep!.backend) : parseIp(ep!.ip)!.bytes;
      this.codec.writeBackend(this.#bVal, off, addr, ep!.port, proto, 0, null);
    }
    this.#bRefs[bid]! += d;
    if (flags & REF_LOCAL) this.#bLocal[bid]! += d;
    if (flags & REF_TERM) this.#bTerm[bid]! += d;
    if (node !== undefined) {
      let m = this.#bNodes.get(bid);
      if (!m) this.#bNodes.set(bid, (m = new Map()));
      const c = (m.get(node) ?? 0) + d;
      if (c <= 0) m.delete(node);
      else m.set(node, c);
      if (m.size === 0) this.#bNodes.delete(bid);
    }
    if (this.#bRefs[bid] === 0) this.#bVal.fill(0, off, off + this.codec.backendSize);
    else this.#refreshBackend(bid);
    this.#afterBackend(bid);
  }

  /** Recomputes a referenced backend's flags (and DSR node address) from its references. */
  #refreshBackend(bid: number): void {
    const off = bid * this.codec.backendSize;
    const flags = (this.#bLocal[bid]! > 0 ? LB_BE_LOCAL : 0) | (this.#bTerm[bid]! > 0 ? LB_BE_TERMINATING : 0);
    this.codec.setBackendFlags(this.#bVal, off, flags);
    if (!this.#nodeAddress) return;
    // The node with the smallest name among the references: the same whatever the order of events.
    let best: string | undefined;
    for (const i of this.#bNodes.get(bid)?.keys() ?? []) {
      const name = this.#nodeNames[i]!;
      if (name !== '' && (best === undefined || name < best)) best = name;
    }
    const fields = this.codec.backendFields(this.#bVal, off);
    const family: IpFamily = fields.addr[10] === 0xff && fields.addr[11] === 0xff && fields.addr.subarray(0, 10).every((b) => b === 0) ? 'IPv4' : 'IPv6';
    const text = best === undefined ? undefined : this.#nodeAddress(best, family);
    const addr = text ? parseIp(text)?.bytes ?? null : null;
    this.codec.setBackendNodeAddr(this.#bVal, off, addr);
  }

  /** DSR: another node's address changed; refresh the backends that run there. */
  refreshNode(nodeName: string): void {
    const i = this.#nodeIndex.get(nodeName);
    if (i === undefined || !this.#nodeAddress) return;
    for (const [bid, m] of this.#bNodes) {
      if (!m.has(i)) continue;
      this.#beforeBackend(bid);
      this.#refreshBackend(bid);
      this.#afterBackend(bid);
    }
  }

  #addMarker(m: CompiledMarker): void {
    const sid = this.ids.services.lookup(m.key) ?? this.ids.services.acquire(m.key);
    this.#grow(sid);
    this.#before(sid);
    if (this.#fKind[sid] === KIND_FREE) {
      this.codec.writeServiceKey(this.#fKey, sid * this.codec.serviceKeySize, m.addr, 0, 0, 0);
      this.#fKind[sid] = KIND_MARKER;
    }
    MARKER_KINDS.forEach((k, i) => {
      if (m.kind & k) this.#mKinds[sid * 3 + i]!++;
    });
    this.#writeMarker(sid);
    this.#after(sid);
  }

  #removeMarker(m: CompiledMarker): void {
    const sid = this.ids.services.lookup(m.key);
    if (sid === undefined || this.kind(sid) !== KIND_MARKER) return;
    this.#before(sid);
    MARKER_KINDS.forEach((k, i) => {
      if (m.kind & k && this.#mKinds[sid * 3 + i]! > 0) this.#mKinds[sid * 3 + i]!--;
    });
    if (this.#mKinds[sid * 3]! + this.#mKinds[sid * 3 + 1]! + this.#mKinds[sid * 3 + 2]! === 0) {
      this.#fKind[sid] = KIND_FREE;
      this.#fVal.fill(0, sid * this.codec.serviceValueSize, (sid + 1) * this.codec.serviceValueSize);
    } else {
      this.#writeMarker(sid);
    }
    this.#after(sid);
  }

  #writeMarker(sid: number): void {
    let flags = LB_SVC_VIP_MARKER;
    MARKER_KINDS.forEach((k, i) => {
      if (this.#mKinds[sid * 3 + i]! > 0) flags |= k;
    });
    this.codec.writeServiceValue(this.#fVal, sid * this.codec.serviceValueSize, sid, 0, 0, flags, 0);
  }

  // ---- snapshots and accounting ----

  /** What the maps hold for `sid` now, when it is not dirty: exactly the state. */
  #snapshotOf(sid: number): FrontendSnapshot {
    const kind = this.kind(sid);
    if (kind === KIND_FREE) return NOTHING;
    return {
      kind,
      key: Buffer.from(this.key(sid)),
      value: Buffer.from(this.value(sid)),
      slots: this.slots(sid),
      revNat: kind === KIND_FRONTEND ? this.revNatValue(sid) : null,
      maglev: this.maglev(sid) ? 1 : 0,
      ranges: this.ranges(sid),
    };
  }

  #before(sid: number): void {
    for (const w of this.#touchWatches) w.services.add(sid);
    if (this.#tracking && !this.dirtyFrontends.has(sid)) this.dirtyFrontends.set(sid, this.#snapshotOf(sid));
    this.#account(sid, -1);
  }

  #after(sid: number): void {
    this.#account(sid, 1);
  }

  #slotFootprint(sid: number): number {
    const cur = this.slots(sid).length;
    const snap = this.dirtyFrontends.get(sid);
    if (!snap) return cur;
    let n = cur;
    for (let i = cur; i < snap.slots.length; i++) if (snap.slots[i] !== 0) n++;
    return n;
  }

  #rangeFootprint(sid: number): number {
    const cur = this.ranges(sid);
    const snap = this.dirtyFrontends.get(sid);
    const n = this.codec.srcRangeKeySize;
    let count = cur.length / n;
    if (snap) for (let o = 0; o < snap.ranges.length; o += n) if (!containsKey(cur, snap.ranges.subarray(o, o + n), n)) count++;
    return count;
  }

  /** Adds (d=1) or subtracts (d=-1) the footprint of `sid` to `used` and its state to `entries`. */
  #account(sid: number, d: 1 | -1): void {
    const kind = this.kind(sid);
    const snap = this.dirtyFrontends.get(sid);
    const u = this.used;
    const e = this.entries;
    const slots = this.slots(sid).length;
    const ranges = this.ranges(sid).length / this.codec.srcRangeKeySize;
    if (kind !== KIND_FREE) e.lb_services += d;
    if (kind === KIND_FRONTEND) e.lb_rev_nat += d;
    e.lb_slots += d * slots;
    if (this.maglev(sid)) e.lb_maglev += d;
    e.lb_src_ranges += d * ranges;
    if (kind !== KIND_FREE || (snap?.key ?? null) !== null) u.lb_services += d;
    if (kind === KIND_FRONTEND || (snap?.revNat ?? null) !== null) u.lb_rev_nat += d;
    u.lb_slots += d * this.#slotFootprint(sid);
    if (this.maglev(sid) || (snap?.maglev ?? 0) !== 0) u.lb_maglev += d;
    u.lb_src_ranges += d * this.#rangeFootprint(sid);
  }

  #beforeBackend(bid: number): void {
    for (const w of this.#touchWatches) w.backends.add(bid);
    if (this.#tracking && !this.dirtyBackends.has(bid)) this.dirtyBackends.set(bid, this.backendRefs(bid) > 0 ? { value: Buffer.from(this.backendValue(bid)) } : NO_BACKEND);
    this.#accountBackend(bid, -1);
  }

  #afterBackend(bid: number): void {
    this.#accountBackend(bid, 1);
  }

  #accountBackend(bid: number, d: 1 | -1): void {
    const live = this.backendRefs(bid) > 0;
    if (live) this.entries.lb_backends += d;
    if (live || (this.dirtyBackends.get(bid)?.value ?? null) !== null) this.used.lb_backends += d;
  }

  /**
   * Records what the maps hold for ids a dump found different from the state (reconcile). The
   * snapshot replaces any earlier one: the dump is newer.
   */
  setFrontendSnapshot(sid: number, snap: FrontendSnapshot): void {
    if (sid < this.#cap) this.#account(sid, -1);
    else {
      const old = this.dirtyFrontends.get(sid);
      if (old) this.#accountOutside(old, -1);
    }
    this.dirtyFrontends.set(sid, snap);
    if (sid < this.#cap) this.#account(sid, 1);
    else this.#accountOutside(snap, 1);
  }

  setBackendSnapshot(bid: number, snap: BackendSnapshot): void {
    if (bid < this.#bCap) this.#accountBackend(bid, -1);
    else if (this.dirtyBackends.get(bid)?.value) this.used.lb_backends--;
    this.dirtyBackends.set(bid, snap);
    if (bid < this.#bCap) this.#accountBackend(bid, 1);
    else if (snap.value) this.used.lb_backends++;
  }

  /** Footprint of a snapshot whose id lies beyond the arrays (a stray of another allocator). */
  #accountOutside(snap: FrontendSnapshot, d: 1 | -1): void {
    if (snap.key) this.used.lb_services += d;
    if (snap.revNat) this.used.lb_rev_nat += d;
    let n = 0;
    for (const s of snap.slots) if (s !== 0) n++;
    this.used.lb_slots += d * n;
    if (snap.maglev) this.used.lb_maglev += d;
    this.used.lb_src_ranges += d * (snap.ranges.length / this.codec.srcRangeKeySize);
  }

  /**
   * Drops the snapshots of a freshly built state (they all say "the maps hold nothing"), so that
   * reconcileLbState() can record what the maps really hold, for the ids that differ only.
   */
  forgetSnapshots(): void {
    this.dirtyFrontends.clear();
    this.dirtyBackends.clear();
    this.nodeAddrsSnapshot = null;
    for (const m of COUNTED_MAPS) this.used[m] = this.entries[m];
    this.#tracking = true;
  }

  /**
   * After a successful flush the maps equal the state: snapshots go, and ids that no entry uses
   * any more are released into quarantine.
   */
  commit(): void {
    // forEach, not for-of: no entry pair allocated per id (a full sync commits 100k+ of them).
    this.dirtyFrontends.forEach((snap, sid) => {
      if (sid < this.#cap) this.#account(sid, -1);
      else this.#accountOutside(snap, -1);
      this.dirtyFrontends.delete(sid);
      if (sid < this.#cap) this.#account(sid, 1);
      if (this.kind(sid) === KIND_FREE) {
        const key = this.ids.services.keyOf(sid);
        // Still claimed by a contender waiting for promotion? Then the id stays.
        if (key !== undefined && !this.#contenders.has(key)) this.ids.services.release(key);
      }
    });
    this.dirtyBackends.forEach((snap, bid) => {
      if (bid < this.#bCap) this.#accountBackend(bid, -1);
      else if (snap.value) this.used.lb_backends--;
      this.dirtyBackends.delete(bid);
      if (bid < this.#bCap) this.#accountBackend(bid, 1);
      if (this.backendRefs(bid) === 0) {
        const key = this.ids.backends.keyOf(bid);
        if (key !== undefined) this.ids.backends.release(key);
      }
    });
    this.strayServiceKeys.length = 0;
    this.straySlotKeys.length = 0;
    this.nodeAddrsSnapshot = null;
  }

  // ---- growth ----

  #grow(sid: number): void {
    if (sid < this.#cap) return;
    const cap = Math.max(1024, 2 ** Math.ceil(Math.log2(sid + 1)), this.#cap * 2);
    const kind = new Uint8Array(cap);
    kind.set(this.#fKind);
    this.#fKind = kind;
    this.#fKey = growBuffer(this.#fKey, cap * this.codec.serviceKeySize);
    this.#fVal = growBuffer(this.#fVal, cap * this.codec.serviceValueSize);
    const mg = new Uint8Array(cap);
    mg.set(this.#fMaglev);
    this.#fMaglev = mg;
    const mk = new Uint32Array(cap * 3);
    mk.set(this.#mKinds);
    this.#mKinds = mk;
    this.#cap = cap;
  }

  #growBackends(bid: number): void {
    if (bid < this.#bCap) return;
    const cap = Math.max(1024, 2 ** Math.ceil(Math.log2(bid + 1)), this.#bCap * 2);
    this.#bVal = growBuffer(this.#bVal, cap * this.codec.backendSize);
    for (const name of ['refs', 'local', 'term'] as const) {
      const a = new Uint32Array(cap);
      if (name === 'refs') {
        a.set(this.#bRefs);
        this.#bRefs = a;
      } else if (name === 'local') {
        a.set(this.#bLocal);
        this.#bLocal = a;
      } else {
        a.set(this.#bTerm);
        this.#bTerm = a;
      }
    }
    this.#bCap = cap;
  }

  /** Makes room for ids up to the allocators' high water (before a dump is compared). */
  reserve(): void {
    if (this.ids.services.highWater > 0) this.#grow(this.ids.services.highWater);
    if (this.ids.backends.highWater > 0) this.#growBackends(this.ids.backends.highWater);
  }

  /**
   * From now on, records the service and backend ids whose entries change (every change of the
   * state goes through #before/#beforeBackend), until unwatchTouches(). A comparison of the maps
   * that pauses for changes (lb-reconcile.ts) skips them: what it read of them may be stale.
   */
  watchTouches(): Touches {
    const t: Touches = { services: new Set(), backends: new Set() };
    this.#touchWatches.add(t);
    return t;
  }

  unwatchTouches(t: Touches): void {
    this.#touchWatches.delete(t);
  }

  /** Service ids in use or dirty, for a full comparison. */
  *serviceIds(): Iterable<number> {
    for (let sid = 1; sid < this.#cap; sid++) if (this.#fKind[sid] !== KIND_FREE) yield sid;
  }

  *backendIds(): Iterable<number> {
    for (let bid = 1; bid < this.#bCap; bid++) if (this.#bRefs[bid] !== 0) yield bid;
  }

  /** The backend ids and identities of a frontend's slots, for its Maglev table. */
  maglevBackends(sid: number): { id: number; identity: string }[] {
    return [...this.slots(sid)].map((id) => {
      const key = this.ids.backends.keyOf(id);
      return { id, identity: key === undefined ? '' : backendKeyText(key) };
    });
  }

  /** True when internal-scope entries must be written first (an external TWO_SCOPES entry needs its twin). */
  isInternal(key: Uint8Array): boolean {
    return this.codec.serviceKeyScope(key, 0) === LB_SCOPE_INTERNAL;
  }
}

const EMPTY_BUF = Buffer.alloc(0);
/** Nothing in the maps for an id: shared, never mutated. */
export const NOTHING: FrontendSnapshot = Object.freeze({ kind: KIND_FREE, key: null, value: null, slots: EMPTY_IDS, revNat: null, maglev: 0, ranges: EMPTY_BUF });
export const NO_BACKEND: BackendSnapshot = Object.freeze({ value: null });
const NO_PORTS: ReadonlySet<string> = new Set();

function growBuffer(b: Buffer, size: number): Buffer {
  const n = Buffer.alloc(size);
  b.copy(n);
  return n;
}

function sameArray(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** True when packed `keys` (entries of `n` bytes) contains `key`. */
export function containsKey(keys: Buffer, key: Uint8Array, n: number): boolean {
  for (let o = 0; o < keys.length; o += n) if (keys.compare(key, 0, n, o, o + n) === 0) return true;
  return false;
}
