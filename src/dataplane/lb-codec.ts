/**
 * @module
 * LbCodec: fixed-offset encoders for the control-plane-written LB maps. The offsets, sizes and
 * byte orders come from the BTF layouts of lb_structs.h (read once, by field name, from the loaded
 * maps or from the object file), never from a copy here; the encoders then write straight into
 * preallocated buffers, so a batch of 100k slots costs no per-entry object.
 */
import type { Layout } from 'bpf-loader-napi';
import type { LbMapName } from '../translate/lb-types.ts';

/** Zeroes `n` bytes at `off` (a plain loop: Buffer#fill's argument checks cost more at these sizes). */
function zero(buf: Uint8Array, off: number, n: number): void {
  for (let i = off, end = off + n; i < end; i++) buf[i] = 0;
}

/** The key and value layouts of a map, as BpfMap's codecs or a MapSpec carry them. */
export type MapLayouts = { key?: Layout | undefined; value?: Layout | undefined };

type Field = { offset: number; size: number; kind: string };

function field(l: Layout | undefined, map: string, side: string, name: string, kinds: string[], size?: number): Field {
  const f = l?.fields?.find((x) => x.name === name);
  if (!f) throw new Error(`Cannot encode ${map} ${side}: its BTF layout has no field "${name}"`);
  if (!kinds.includes(f.kind) || (size !== undefined && f.size !== size)) {
    throw new Error(`Cannot encode ${map} ${side}.${name}: expected ${kinds.join(' or ')}${size ? ` of ${size} bytes` : ''}, BTF says ${f.kind} of ${f.size} bytes`);
  }
  return { offset: f.offset, size: f.size, kind: f.kind };
}

function scalar(l: Layout | undefined, map: string, side: string, size: number): void {
  if (!l || l.size !== size || (l.kind !== `u${size * 8}` && l.fields === undefined)) {
    throw new Error(`Cannot encode ${map} ${side}: expected a ${size}-byte integer, BTF says ${l ? `${l.kind} of ${l.size} bytes` : 'nothing'}`);
  }
}

function writeInt(buf: Buffer, off: number, f: Field, v: number): void {
  switch (f.kind) {
    case 'u8': buf[off + f.offset] = v; return;
    case 'u16': buf.writeUInt16LE(v, off + f.offset); return;
    case 'be16': buf.writeUInt16BE(v, off + f.offset); return;
    case 'u32': buf.writeUInt32LE(v, off + f.offset); return;
    case 'be32': buf.writeUInt32BE(v, off + f.offset); return;
  }
  throw new Error(`Cannot write a ${f.kind} field`);
}

function readInt(buf: Uint8Array, off: number, f: Field): number {
  const b = buf as Buffer;
  switch (f.kind) {
    case 'u8': return b[off + f.offset]!;
    case 'u16': return b.readUInt16LE(off + f.offset);
    case 'be16': return b.readUInt16BE(off + f.offset);
    case 'u32': return b.readUInt32LE(off + f.offset);
    case 'be32': return b.readUInt32BE(off + f.offset);
  }
  throw new Error(`Cannot read a ${f.kind} field`);
}

export class LbCodec {
  /** lb_service_key */
  readonly serviceKeySize: number;
  /** lb_service_value */
  readonly serviceValueSize: number;
  /** lb_slot_key (value: __u32 backend id) */
  readonly slotKeySize: number;
  /** lb_backend (key: __u32 backend id) */
  readonly backendSize: number;
  /** lb_rev_nat (key: __u32 service id) */
  readonly revNatSize: number;
  /** lb_src_range_key (value: __u8) */
  readonly srcRangeKeySize: number;
  /** lb_node_addr_key / lb_node_addr_value */
  readonly nodeAddrKeySize: number;
  readonly nodeAddrValueSize: number;
  readonly #sk: { addr: Field; port: Field; proto: Field; scope: Field };
  readonly #sv: { id: Field; count: Field; local: Field; flags: Field; timeout: Field };
  readonly #slot: { id: Field; slot: Field };
  readonly #be: { addr: Field; port: Field; proto: Field; flags: Field; node: Field };
  readonly #rn: { addr: Field; port: Field };
  readonly #sr: { prefixlen: Field; id: Field; addr: Field };
  readonly #na: Field;

  /** @param layouts the BTF layouts of each control-plane map (BpfMap.keyCodec/valueCodec, or a MapSpec) */
  constructor(layouts: (map: LbMapName) => MapLayouts) {
    const s = layouts('lb_services');
    const ints = ['u8', 'u16', 'u32'];
    this.#sk = {
      addr: field(s.key, 'lb_services', 'key', 'addr', ['bytes'], 16),
      port: field(s.key, 'lb_services', 'key', 'port', ['be16'], 2),
      proto: field(s.key, 'lb_services', 'key', 'proto', ints),
      scope: field(s.key, 'lb_services', 'key', 'scope', ints),
    };
    this.#sv = {
      id: field(s.value, 'lb_services', 'value', 'service_id', ['u32']),
      count: field(s.value, 'lb_services', 'value', 'backend_count', ints),
      local: field(s.value, 'lb_services', 'value', 'local_backend_count', ints),
      flags: field(s.value, 'lb_services', 'value', 'flags', ints),
      timeout: field(s.value, 'lb_services', 'value', 'affinity_timeout', ints),
    };
    this.serviceKeySize = s.key!.size;
    this.serviceValueSize = s.value!.size;
    const sl = layouts('lb_slots');
    this.#slot = { id: field(sl.key, 'lb_slots', 'key', 'service_id', ['u32']), slot: field(sl.key, 'lb_slots', 'key', 'slot', ['u32']) };
    scalar(sl.value, 'lb_slots', 'value', 4);
    this.slotKeySize = sl.key!.size;
    const b = layouts('lb_backends');
    scalar(b.key, 'lb_backends', 'key', 4);
    this.#be = {
      addr: field(b.value, 'lb_backends', 'value', 'addr', ['bytes'], 16),
      port: field(b.value, 'lb_backends', 'value', 'port', ['be16'], 2),
      proto: field(b.value, 'lb_backends', 'value', 'proto', ints),
      flags: field(b.value, 'lb_backends', 'value', 'flags', ints),
      node: field(b.value, 'lb_backends', 'value', 'node_addr', ['bytes'], 16),
    };
    this.backendSize = b.value!.size;
    const r = layouts('lb_rev_nat');
    scalar(r.key, 'lb_rev_nat', 'key', 4);
    this.#rn = { addr: field(r.value, 'lb_rev_nat', 'value', 'addr', ['bytes'], 16), port: field(r.value, 'lb_rev_nat', 'value', 'port', ['be16'], 2) };
    this.revNatSize = r.value!.size;
    const sr = layouts('lb_src_ranges');
    this.#sr = {
      prefixlen: field(sr.key, 'lb_src_ranges', 'key', 'prefixlen', ['u32']),
      id: field(sr.key, 'lb_src_ranges', 'key', 'service_id', ['u32']),
      addr: field(sr.key, 'lb_src_ranges', 'key', 'addr', ['bytes'], 16),
    };
    scalar(sr.value, 'lb_src_ranges', 'value', 1);
    this.srcRangeKeySize = sr.key!.size;
    const na = layouts('lb_node_addrs');
    this.#na = field(na.key, 'lb_node_addrs', 'key', 'addr', ['bytes'], 16);
    this.nodeAddrKeySize = na.key!.size;
    this.nodeAddrValueSize = na.value!.size;
  }

  writeServiceKey(buf: Buffer, off: number, addr: Uint8Array, port: number, proto: number, scope: number): void {
    zero(buf, off, this.serviceKeySize);
    buf.set(addr, off + this.#sk.addr.offset);
    writeInt(buf, off, this.#sk.port, port);
    writeInt(buf, off, this.#sk.proto, proto);
    writeInt(buf, off, this.#sk.scope, scope);
  }

  serviceKeyScope(buf: Uint8Array, off: number): number {
    return readInt(buf, off, this.#sk.scope);
  }

  writeServiceValue(buf: Buffer, off: number, id: number, count: number, local: number, flags: number, timeout: number): void {
    zero(buf, off, this.serviceValueSize);
    writeInt(buf, off, this.#sv.id, id);
    writeInt(buf, off, this.#sv.count, count);
    writeInt(buf, off, this.#sv.local, local);
    writeInt(buf, off, this.#sv.flags, flags);
    writeInt(buf, off, this.#sv.timeout, timeout);
  }

  serviceValueId(buf: Uint8Array, off: number): number {
    return readInt(buf, off, this.#sv.id);
  }

  serviceValueCount(buf: Uint8Array, off: number): number {
    return readInt(buf, off, this.#sv.count);
  }

  serviceValueFlags(buf: Uint8Array, off: number): number {
    return readInt(buf, off, this.#sv.flags);
  }

  serviceValueLocal(buf: Uint8Array, off: number): number {
    return readInt(buf, off, this.#sv.local);
  }

  serviceValueTimeout(buf: Uint8Array, off: number): number {
    return readInt(buf, off, this.#sv.timeout);
  }

  /** Key and value sizes of a packed map. */
  sizes(map: 'lb_services' | 'lb_slots' | 'lb_backends' | 'lb_rev_nat' | 'lb_src_ranges' | 'lb_node_addrs'): [number, number] {
    switch (map) {
      case 'lb_services': return [this.serviceKeySize, this.serviceValueSize];
      case 'lb_slots': return [this.slotKeySize, 4];
      case 'lb_backends': return [4, this.backendSize];
      case 'lb_rev_nat': return [4, this.revNatSize];
      case 'lb_src_ranges': return [this.srcRangeKeySize, 1];
      case 'lb_node_addrs': return [this.nodeAddrKeySize, this.nodeAddrValueSize];
    }
  }

  writeSlotKey(buf: Buffer, off: number, id: number, slot: number): void {
    zero(buf, off, this.slotKeySize);
    writeInt(buf, off, this.#slot.id, id);
    writeInt(buf, off, this.#slot.slot, slot);
  }

  slotKeyId(buf: Uint8Array, off: number): number {
    return readInt(buf, off, this.#slot.id);
  }

  slotKeySlot(buf: Uint8Array, off: number): number {
    return readInt(buf, off, this.#slot.slot);
  }

  /** `addr`: 16 bytes, or an IPv4 address as a number (written v4-mapped). */
  writeBackend(buf: Buffer, off: number, addr: Uint8Array | number, port: number, proto: number, flags: number, nodeAddr: Uint8Array | null): void {
    zero(buf, off, this.backendSize);
    const a = off + this.#be.addr.offset;
    if (typeof addr === 'number') {
      buf[a + 10] = 0xff;
      buf[a + 11] = 0xff;
      buf[a + 12] = addr >>> 24;
      buf[a + 13] = (addr >>> 16) & 255;
      buf[a + 14] = (addr >>> 8) & 255;
      buf[a + 15] = addr & 255;
    } else {
      buf.set(addr, a);
    }
    writeInt(buf, off, this.#be.port, port);
    writeInt(buf, off, this.#be.proto, proto);
    writeInt(buf, off, this.#be.flags, flags);
    if (nodeAddr) buf.set(nodeAddr, off + this.#be.node.offset);
  }

  setBackendFlags(buf: Buffer, off: number, flags: number): void {
    writeInt(buf, off, this.#be.flags, flags);
  }

  backendFlags(buf: Uint8Array, off: number): number {
    return readInt(buf, off, this.#be.flags);
  }

  setBackendNodeAddr(buf: Buffer, off: number, nodeAddr: Uint8Array | null): void {
    const o = off + this.#be.node.offset;
    if (nodeAddr) buf.set(nodeAddr, o);
    else zero(buf, o, 16);
  }

  /** Backend identity (address, port, protocol) of an encoded lb_backend, for adopting ids. */
  backendFields(buf: Uint8Array, off: number): { addr: Uint8Array; port: number; proto: number } {
    const a = off + this.#be.addr.offset;
    return { addr: buf.subarray(a, a + 16), port: readInt(buf, off, this.#be.port), proto: readInt(buf, off, this.#be.proto) };
  }

  /** lb_rev_nat's value from the frontend's encoded key: the address and port replies must show. */
  writeRevNatFromKey(buf: Buffer, off: number, key: Uint8Array, keyOff: number): void {
    zero(buf, off, this.revNatSize);
    const a = keyOff + this.#sk.addr.offset;
    buf.set(key.subarray(a, a + 16), off + this.#rn.addr.offset);
    writeInt(buf, off, this.#rn.port, readInt(key, keyOff, this.#sk.port));
  }

  writeSrcRangeKey(buf: Buffer, off: number, prefixlen: number, id: number, addr: Uint8Array): void {
    zero(buf, off, this.srcRangeKeySize);
    writeInt(buf, off, this.#sr.prefixlen, prefixlen);
    writeInt(buf, off, this.#sr.id, id);
    buf.set(addr, off + this.#sr.addr.offset);
  }

  srcRangeKeyId(buf: Uint8Array, off: number): number {
    return readInt(buf, off, this.#sr.id);
  }

  writeNodeAddrKey(buf: Buffer, off: number, addr: Uint8Array): void {
    zero(buf, off, this.nodeAddrKeySize);
    buf.set(addr, off + this.#na.offset);
  }

  /** Decoded service key fields (for logs, inspection and adopting ids). */
  serviceKeyFields(buf: Uint8Array, off: number): { addr: Uint8Array; port: number; proto: number; scope: number } {
    const a = off + this.#sk.addr.offset;
    return { addr: buf.subarray(a, a + 16), port: readInt(buf, off, this.#sk.port), proto: readInt(buf, off, this.#sk.proto), scope: readInt(buf, off, this.#sk.scope) };
  }
}
