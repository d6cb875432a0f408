/**
 * StructCodec: encodes plain JS values to map keys/values and back, by field name, from a layout
 * read out of the object's BTF (see btf_layout.c). Nobody hand-copies an offset.
 *
 * Byte order follows the C types: fields whose typedef is __be16/__be32/__be64 are network order,
 * every other integer is host order (little-endian on the machines we run on). `__u8 x[N]` is a
 * Uint8Array. 64-bit integers decode to bigint and accept number or bigint.
 * @module
 */
import { endianness } from 'node:os';
import { invalidParameterError, isBytes } from './errors.ts';

export type Kind =
  | 'u8' | 'u16' | 'u32' | 'u64' | 's8' | 's16' | 's32' | 's64'
  | 'be16' | 'be32' | 'be64' | 'bytes' | 'array' | 'struct' | 'union' | 'bits';

/** A type's layout: size and kind, plus fields (struct/union) or element info (arrays). */
export interface Layout {
  name: string;
  size: number;
  kind: Kind;
  fields?: FieldLayout[];
  elemCount?: number;
  elemKind?: Kind;
  elem?: Layout;
}

/** A struct member: its layout plus where it sits. */
export interface FieldLayout extends Layout {
  offset: number;
  typeName?: string;
  bitOffset?: number;
  bitSize?: number;
}

const LE = endianness() === 'LE';

/** A plain integer layout (for keys/values without BTF, e.g. a hash-of-maps value). */
export function scalarLayout(size: number): Layout | undefined {
  const kind = ({ 1: 'u8', 2: 'u16', 4: 'u32', 8: 'u64' } as const)[size as 1 | 2 | 4 | 8];
  return kind ? { name: `__u${size * 8}`, size, kind } : undefined;
}

function intRange(kind: Kind): [bigint, bigint] {
  const bits = BigInt(kind.replace(/\D/g, ''));
  if (kind.startsWith('s')) return [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n];
  return [0n, (1n << bits) - 1n];
}

function toBig(path: string, kind: Kind, v: unknown): bigint {
  let b: bigint;
  if (typeof v === 'bigint') b = v;
  else if (typeof v === 'number' && Number.isInteger(v)) b = BigInt(v);
  else if (typeof v === 'boolean') b = v ? 1n : 0n;
  else throw invalidParameterError(path, `an integer for a ${kind} field`, v);
  const [lo, hi] = intRange(kind);
  if (b < lo || b > hi) throw new RangeError(`Expected ${path} between ${lo} and ${hi} (${kind}) but received ${b}`);
  return b;
}

function writeInt(buf: Buffer, off: number, kind: Kind, size: number, v: bigint): void {
  const be = kind.startsWith('be') || !LE;
  const signed = kind.startsWith('s');
  switch (size) {
    case 1: signed ? buf.writeInt8(Number(v), off) : buf.writeUInt8(Number(v), off); return;
    case 2: signed ? (be ? buf.writeInt16BE(Number(v), off) : buf.writeInt16LE(Number(v), off))
      : (be ? buf.writeUInt16BE(Number(v), off) : buf.writeUInt16LE(Number(v), off)); return;
    case 4: signed ? (be ? buf.writeInt32BE(Number(v), off) : buf.writeInt32LE(Number(v), off))
      : (be ? buf.writeUInt32BE(Number(v), off) : buf.writeUInt32LE(Number(v), off)); return;
    case 8: signed ? (be ? buf.writeBigInt64BE(v, off) : buf.writeBigInt64LE(v, off))
      : (be ? buf.writeBigUInt64BE(v, off) : buf.writeBigUInt64LE(v, off)); return;
  }
  throw new RangeError(`Integer of ${size} bytes is not supported`);
}

function readInt(buf: Buffer, off: number, kind: Kind, size: number): number | bigint {
  const be = kind.startsWith('be') || !LE;
  const signed = kind.startsWith('s');
  switch (size) {
    case 1: return signed ? buf.readInt8(off) : buf.readUInt8(off);
    case 2: return signed ? (be ? buf.readInt16BE(off) : buf.readInt16LE(off)) : (be ? buf.readUInt16BE(off) : buf.readUInt16LE(off));
    case 4: return signed ? (be ? buf.readInt32BE(off) : buf.readInt32LE(off)) : (be ? buf.readUInt32BE(off) : buf.readUInt32LE(off));
    case 8: return signed ? (be ? buf.readBigInt64BE(off) : buf.readBigInt64LE(off)) : (be ? buf.readBigUInt64BE(off) : buf.readBigUInt64LE(off));
  }
  throw new RangeError(`Integer of ${size} bytes is not supported`);
}

function isInt(kind: Kind): boolean {
  return /^(u|s|be)\d+$/.test(kind);
}

/** Encodes and decodes one layout. Unknown field names are a TypeError; absent fields are zero. */
export class StructCodec {
  readonly layout: Layout;
  readonly size: number;

  constructor(layout: Layout) {
    if (!layout || typeof layout.size !== 'number' || typeof layout.kind !== 'string') {
      throw invalidParameterError('layout', 'a layout object with size and kind', layout);
    }
    this.layout = layout;
    this.size = layout.size;
  }

  /** A new Buffer of exactly `size` bytes holding `value`. */
  encode(value: unknown): Buffer {
    const buf = Buffer.alloc(this.size);
    this.encodeInto(buf, 0, value);
    return buf;
  }

  /** Write `value` into `buf` at `offset`. */
  encodeInto(buf: Buffer, offset: number, value: unknown): void {
    encodeLayout(this.layout, buf, offset, value, this.layout.name || 'value');
  }

  /** Decode `size` bytes of `buf` at `offset`. */
  decode(buf: Uint8Array, offset = 0): unknown {
    const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    if (b.length - offset < this.size) {
      throw new RangeError(`Expected at least ${this.size} bytes to decode ${this.layout.name || 'value'} but received ${b.length - offset}`);
    }
    return decodeLayout(this.layout, b, offset, 0);
  }

  /**
   * A decoder of only the named members of a struct (what a scan of many entries needs, without
   * decoding padding and nested arrays): returns a function of (buf, offset) giving an object with
   * those members, decoded as decode() does. Throws for a name the struct has not.
   */
  picker(names: readonly string[]): (buf: Buffer, offset: number) => Record<string, unknown> {
    const fields = names.map((n) => {
      const f = this.layout.fields?.find((x) => x.name === n);
      if (!f) throw new RangeError(`Expected a member of ${this.layout.name || 'the struct'} but received "${n}"`);
      return f;
    });
    return (buf, offset) => {
      const out: Record<string, unknown> = {};
      for (const f of fields) out[f.name] = f.kind === 'bits' ? readBits(buf, offset, f) : decodeLayout(f, buf, offset + f.offset, 1);
      return out;
    };
  }
}

function encodeLayout(l: Layout, buf: Buffer, off: number, v: unknown, path: string): void {
  if (isInt(l.kind)) {
    writeInt(buf, off, l.kind, l.size, toBig(path, l.kind, v));
    return;
  }
  switch (l.kind) {
    case 'bytes': {
      if (!isBytes(v)) throw invalidParameterError(path, `a Uint8Array of ${l.size} bytes`, v);
      if (v.length !== l.size) throw new RangeError(`Expected ${path} to be ${l.size} bytes but received ${v.length}`);
      buf.set(v, off);
      return;
    }
    case 'array': {
      const n = l.elemCount ?? 0;
      if (!Array.isArray(v) || v.length > n) throw invalidParameterError(path, `an array of at most ${n} elements`, v);
      const elem = l.elem!;
      v.forEach((x, i) => encodeLayout(elem, buf, off + i * elem.size, x, `${path}[${i}]`));
      return;
    }
    case 'struct':
    case 'union': {
      if (typeof v !== 'object' || v === null || isBytes(v) || Array.isArray(v)) {
        throw invalidParameterError(path, `an object with fields of ${l.name || l.kind}`, v);
      }
      const fields = l.fields ?? [];
      for (const k of Object.keys(v)) {
        if (!fields.some((f) => f.name === k)) {
          throw new TypeError(`Unknown field "${k}" in ${path}: expected one of ${fields.map((f) => f.name).join(', ')}`);
        }
      }
      for (const f of fields) {
        const fv = (v as Record<string, unknown>)[f.name];
        if (fv === undefined) continue;
        if (f.kind === 'bits') writeBits(buf, off, f, toBig(`${path}.${f.name}`, 'u64', fv));
        else encodeLayout(f, buf, off + f.offset, fv, `${path}.${f.name}`);
      }
      return;
    }
  }
  throw new TypeError(`Encoding ${path} of kind ${l.kind} is not supported`);
}

function writeBits(buf: Buffer, base: number, f: FieldLayout, v: bigint): void {
  const size = BigInt(f.bitSize ?? 0);
  if (v >= 1n << size) throw new RangeError(`Expected ${f.name} to fit in ${size} bits but received ${v}`);
  for (let i = 0; i < (f.bitSize ?? 0); i++) {
    const bit = (f.bitOffset ?? 0) + i;
    const byte = base + (bit >> 3);
    const mask = 1 << (bit & 7);
    if ((v >> BigInt(i)) & 1n) buf[byte] |= mask;
    else buf[byte] &= ~mask;
  }
}

function readBits(buf: Buffer, base: number, f: FieldLayout): number {
  let v = 0;
  for (let i = (f.bitSize ?? 0) - 1; i >= 0; i--) {
    const bit = (f.bitOffset ?? 0) + i;
    v = v * 2 + ((buf[base + (bit >> 3)] >> (bit & 7)) & 1);
  }
  return v;
}

function decodeLayout(l: Layout, buf: Buffer, off: number, depth: number): unknown {
  if (isInt(l.kind)) return readInt(buf, off, l.kind, l.size);
  switch (l.kind) {
    case 'array': {
      const elem = l.elem!;
      return Array.from({ length: l.elemCount ?? 0 }, (_, i) => decodeLayout(elem, buf, off + i * elem.size, depth + 1));
    }
    case 'struct':
    case 'union': {
      const out: Record<string, unknown> = {};
      for (const f of l.fields ?? []) {
        out[f.name] = f.kind === 'bits' ? readBits(buf, off, f) : decodeLayout(f, buf, off + f.offset, depth + 1);
      }
      return out;
    }
    default:
      return new Uint8Array(buf.subarray(off, off + l.size));
  }
}
