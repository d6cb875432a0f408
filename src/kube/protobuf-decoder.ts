/**
 * @module
 * Decodes the API server's protobuf (`application/vnd.kubernetes.protobuf`) straight into the
 * informer projections (projections.ts): lists, watch frames and Status. Only the fields of
 * protobuf-fields.ts are read, at the numbers the build-time schema (build/proto/k8s-schema.ts,
 * from upstream's generated.proto) gives; every other field is skipped by its wire type, so a
 * Service's selector, a slice's targetRefs or an object's managedFields are never materialized.
 *
 * Wire format (k8s.io/apimachinery/pkg/runtime/serializer/protobuf):
 * - a body is the magic `k8s\0` followed by a runtime.Unknown {typeMeta, raw, contentEncoding,
 *   contentType}; `raw` holds the object (e.g. a ServiceList);
 * - a watch stream is frames of a 4-byte big-endian length and a meta.v1.WatchEvent {type,
 *   object: RawExtension{raw}}; the apiserver writes the event with the raw serializer (no magic,
 *   no Unknown) and the object inside with the normal one (magic and Unknown). Both are accepted
 *   either way.
 *
 * What the projections get is what the JSON path gives (projections.ts): Go's protobuf encoder
 * writes non-pointer scalars even when empty, so an empty string, zero or false of a non-pointer
 * Go field (the schema knows which are pointers) is left out, as JSON's omitempty does, while a
 * pointer's empty value is kept (a false condition, an unnamed slice port); a zero
 * metav1.Time is absent; labels and annotations keep only the keys the proxy reads; an endpoint
 * keeps its first address; node names, zones and namespaces are interned.
 */
import protobuf from 'protobufjs/minimal.js';
import { K8S_SCHEMA } from '../../build/proto/k8s-schema.ts';
import type { ApiStatus, ListPage, WatchEvent } from './list-watch.ts';
import { K8S_PROTO_PACKAGES, type ProtoField, type ProtoSchema } from './protobuf-fields.ts';
import { internName, PROJECTED_LABELS, type ProjectionKind } from './projections.ts';

const { META, RUNTIME, CORE, DISCOVERY, NETWORKING } = K8S_PROTO_PACKAGES;
const MAGIC = [0x6b, 0x38, 0x73, 0x00]; // "k8s\0"
/** metav1.Time of Go's zero time.Time: 0001-01-01T00:00:00Z. */
const ZERO_TIME_SECONDS = -62135596800;
const NO_ADDRESSES: string[] = [];

type Reader = protobuf.Reader;
type Obj = Record<string, unknown>;
type Kind = 'string' | 'bytes' | 'bool' | 'varint' | 'int64' | 'time' | 'message' | 'map';
type FieldPlan = { name: string; kind: Kind; repeated: boolean; pointer: boolean; msg?: MessagePlan; first?: boolean; intern?: boolean; keys?: 'labels' | 'annotations' };
type MessagePlan = { name: string; byId: (FieldPlan | undefined)[]; fill?: (o: Obj) => void };
/** Which label and annotation keys an object's metadata keeps (null: all). */
type Keep = { labels: ReadonlySet<string> | null; annotations: ReadonlySet<string> | null };

const VARINT = new Set(['int32', 'uint32', 'sint32', 'fixed32', 'sfixed32', 'enum']);

/** Fields handled specially, by "Message.field". */
const FIRST_ONLY = new Set([`${DISCOVERY}.Endpoint.addresses`]);
const INTERNED = new Set([`${DISCOVERY}.Endpoint.nodeName`, `${DISCOVERY}.Endpoint.zone`, `${DISCOVERY}.ForZone.name`, `${DISCOVERY}.ForNode.name`, `${META}.ObjectMeta.namespace`]);
/** Fields the JSON projectors always set (projections.ts), when protobuf left them out. */
const FILL: Record<string, (o: Obj) => void> = {
  [`${CORE}.ServicePort`]: (o) => void (o.port ??= 0),
  [`${DISCOVERY}.EndpointSlice`]: (o) => {
    o.addressType ??= '';
    o.endpoints ??= [];
  },
  [`${DISCOVERY}.Endpoint`]: (o) => void (o.addresses ??= NO_ADDRESSES),
  // Go writes every non-pointer struct; the projectors keep these only when they hold data.
  [`${CORE}.Service`]: (o) => {
    const ingress = ((o.status as Obj | undefined)?.loadBalancer as Obj | undefined)?.ingress;
    if (ingress === undefined) delete o.status;
    else o.status = { loadBalancer: { ingress } };
  },
  [`${CORE}.ServiceSpec`]: (o) => {
    const t = ((o.sessionAffinityConfig as Obj | undefined)?.clientIP as Obj | undefined)?.timeoutSeconds;
    if (t === undefined) delete o.sessionAffinityConfig;
  },
  [`${CORE}.Node`]: (o) => {
    const spec = o.spec as Obj | undefined;
    if (spec?.taints === undefined && spec?.podCIDRs === undefined) delete o.spec;
    if ((o.status as Obj | undefined)?.addresses === undefined) delete o.status;
  },
};

/** Compiles the schema into per-message plans indexed by field number. */
function compile(schema: ProtoSchema): Map<string, MessagePlan> {
  const plans = new Map<string, MessagePlan>();
  for (const name of Object.keys(schema.messages)) plans.set(name, { name, byId: [], ...(FILL[name] ? { fill: FILL[name] } : {}) });
  for (const [name, fields] of Object.entries(schema.messages)) {
    const plan = plans.get(name)!;
    for (const [fname, f] of Object.entries(fields) as [string, ProtoField][]) {
      const id = `${name}.${fname}`;
      let kind: Kind;
      if (f.keyType !== undefined) kind = 'map';
      else if (f.type === `${META}.Time`) kind = 'time';
      else if (plans.has(f.type)) kind = 'message';
      else if (f.type === 'string') kind = 'string';
      else if (f.type === 'bytes') kind = 'bytes';
      else if (f.type === 'bool') kind = 'bool';
      else if (f.type === 'int64' || f.type === 'uint64') kind = 'int64';
      else if (VARINT.has(f.type)) kind = 'varint';
      else throw new Error(`protobuf schema: ${id} has type ${f.type}, which the decoder does not read`);
      const fp: FieldPlan = { name: fname, kind, repeated: f.repeated, pointer: f.pointer === true };
      if (kind === 'message') fp.msg = plans.get(f.type)!;
      if (FIRST_ONLY.has(id)) fp.first = true;
      if (INTERNED.has(id)) fp.intern = true;
      if (kind === 'map' && name === `${META}.ObjectMeta` && (fname === 'labels' || fname === 'annotations')) fp.keys = fname;
      plan.byId[f.id] = fp;
    }
  }
  return plans;
}

const PLANS = compile(K8S_SCHEMA);
const plan = (name: string): MessagePlan => {
  const p = PLANS.get(name);
  if (!p) throw new Error(`protobuf schema has no message ${name}`);
  return p;
};

function int64(r: Reader): number {
  const v = r.int64() as unknown as number | { toNumber(): number };
  return typeof v === 'number' ? v : v.toNumber();
}

function decodeTime(r: Reader, end: number): Date | undefined {
  let seconds = 0;
  let nanos = 0;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag >>> 3 === 1 && (tag & 7) === 0) seconds = int64(r);
    else if (tag >>> 3 === 2 && (tag & 7) === 0) nanos = r.int32();
    else r.skipType(tag & 7);
  }
  if (seconds <= ZERO_TIME_SECONDS) return undefined;
  return new Date(seconds * 1000 + Math.floor(nanos / 1e6));
}

/** A map<string, string> entry: key 1, value 2. */
function decodeEntry(r: Reader, end: number): [string, string] {
  let k = '';
  let v = '';
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === 0x0a) k = r.string();
    else if (tag === 0x12) v = r.string();
    else r.skipType(tag & 7);
  }
  return [k, v];
}

function scalar(r: Reader, kind: Kind): unknown {
  switch (kind) {
    case 'string': return r.string();
    case 'bytes': return r.bytes();
    case 'bool': return r.bool();
    case 'varint': return r.int32();
    default: return int64(r);
  }
}

/** Decodes one message of `p` ending at `end` into a plain object of its planned fields. */
function decodeMessage(r: Reader, end: number, p: MessagePlan, keep: Keep): Obj {
  const out: Obj = {};
  while (r.pos < end) {
    const tag = r.uint32();
    const f = p.byId[tag >>> 3];
    const wire = tag & 7;
    if (f === undefined) {
      r.skipType(wire);
      continue;
    }
    if (f.kind === 'message' || f.kind === 'time' || f.kind === 'map') {
      if (wire !== 2) throw new Error(`${p.name}.${f.name}: wire type ${wire}, expected a length-delimited message`);
      const len = r.uint32();
      const stop = r.pos + len;
      if (f.kind === 'map') {
        const [k, v] = decodeEntry(r, stop);
        const allowed = f.keys ? keep[f.keys] : null;
        if (allowed === null || allowed.has(k)) ((out[f.name] as Record<string, string> | undefined) ?? (out[f.name] = {}) as Record<string, string>)[k] = v;
        r.pos = stop;
        continue;
      }
      const v = f.kind === 'time' ? decodeTime(r, stop) : decodeMessage(r, stop, f.msg!, keep);
      r.pos = stop;
      if (v === undefined) continue;
      if (f.repeated) ((out[f.name] as unknown[] | undefined) ?? (out[f.name] = []) as unknown[]).push(v);
      else out[f.name] = v;
      continue;
    }
    if (f.repeated) {
      const list = (out[f.name] as unknown[] | undefined) ?? (out[f.name] = []) as unknown[];
      if (wire === 2 && f.kind !== 'string' && f.kind !== 'bytes') {
        const stop = r.uint32() + r.pos;
        while (r.pos < stop) list.push(scalar(r, f.kind));
      } else if (!f.first || list.length === 0) {
        const v = scalar(r, f.kind);
        list.push(f.intern ? internName(v as string) : v);
      } else {
        r.skipType(wire);
      }
      continue;
    }
    const v = scalar(r, f.kind);
    // Go writes a non-pointer scalar even when empty, where JSON's omitempty leaves it out; a
    // pointer is written exactly when set, so its empty value is kept (a false condition).
    if (!f.pointer && (v === '' || v === 0 || v === false)) continue;
    out[f.name] = f.intern ? internName(v as string) : v;
  }
  p.fill?.(out);
  return out;
}

/** The object inside a `k8s\0` + runtime.Unknown body. */
export function unwrapEnvelope(body: Uint8Array, what: string): { apiVersion: string; kind: string; raw: Uint8Array } {
  if (body.length < 4 || MAGIC.some((b, i) => body[i] !== b)) {
    throw new SyntaxError(`${what}: not a Kubernetes protobuf body (no "k8s\\0" prefix; ${body.length} bytes)`);
  }
  const r = protobuf.Reader.create(body.subarray(4));
  const u = decodeMessage(r, r.len, plan(`${RUNTIME}.Unknown`), KEEP_NONE);
  if (u.contentEncoding) throw new SyntaxError(`${what}: content encoding "${String(u.contentEncoding)}" is not supported`);
  const tm = (u.typeMeta ?? {}) as { apiVersion?: string; kind?: string };
  return { apiVersion: tm.apiVersion ?? '', kind: tm.kind ?? '', raw: (u.raw as Uint8Array | undefined) ?? new Uint8Array(0) };
}

/** The message of a body with or without the `k8s\0` + Unknown envelope. */
function unwrapIfEnveloped(body: Uint8Array, what: string): Uint8Array {
  const enveloped = body.length >= 4 && MAGIC.every((b, i) => body[i] === b);
  return enveloped ? unwrapEnvelope(body, what).raw : body;
}

const KEEP_NONE: Keep = { labels: new Set(), annotations: new Set() };

/** What one resource decodes into: its message names and the metadata keys it keeps. */
export type ResourceCodec = { kind: ProjectionKind; item: string; list: string; keep: Keep };

const keepOf = (kind: ProjectionKind): Keep => {
  const k = PROJECTED_LABELS[kind];
  return { labels: k.labels === null ? null : new Set(k.labels), annotations: k.annotations === null ? null : new Set(k.annotations) };
};

/** The four resources kube-proxy watches. */
export const RESOURCE_CODECS = {
  services: { kind: 'service', item: `${CORE}.Service`, list: `${CORE}.ServiceList`, keep: keepOf('service') },
  endpointslices: { kind: 'endpointslice', item: `${DISCOVERY}.EndpointSlice`, list: `${DISCOVERY}.EndpointSliceList`, keep: keepOf('endpointslice') },
  nodes: { kind: 'node', item: `${CORE}.Node`, list: `${CORE}.NodeList`, keep: keepOf('node') },
  servicecidrs: { kind: 'servicecidr', item: `${NETWORKING}.ServiceCIDR`, list: `${NETWORKING}.ServiceCIDRList`, keep: keepOf('servicecidr') },
} as const satisfies Record<string, ResourceCodec>;

function decodeStatus(raw: Uint8Array): ApiStatus {
  const r = protobuf.Reader.create(raw);
  const s = decodeMessage(r, r.len, plan(`${META}.Status`), KEEP_NONE) as ApiStatus;
  return { kind: 'Status', ...s };
}

/** A list page (a `*List` body) decoded into projections of `codec`. A Status body throws. */
export function decodeProtobufList<T>(body: Uint8Array, codec: ResourceCodec, what: string): ListPage<T> {
  const env = unwrapEnvelope(body, what);
  if (env.kind === 'Status') {
    const st = decodeStatus(env.raw);
    throw new SyntaxError(`${what}: the server answered with a Status: ${st.message ?? st.reason ?? ''}`);
  }
  const r = protobuf.Reader.create(env.raw);
  const list = decodeMessage(r, r.len, plan(codec.list), codec.keep) as { metadata?: { resourceVersion?: string; continue?: string }; items?: T[] };
  return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? '', continue: list.metadata?.continue || undefined };
}

/** A Status body (a failed request's), or null when the body is something else. */
export function decodeProtobufStatus(body: Uint8Array): ApiStatus | null {
  try {
    const env = unwrapEnvelope(body, 'status');
    return env.kind === 'Status' ? decodeStatus(env.raw) : null;
  } catch {
    return null;
  }
}

const EVENT_TYPES = new Set(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']);

/**
 * The protobuf watch stream: length-delimited frames, each a WatchEvent, split across arbitrary
 * chunk boundaries. Objects become projections of `codec`; ERROR events carry the Status.
 */
export class ProtobufWatchDecoder<T> {
  readonly #what: string;
  readonly #codec: ResourceCodec;
  #chunks: Buffer[] = [];
  #buffered = 0;

  constructor(what: string, codec: ResourceCodec) {
    this.#what = what;
    this.#codec = codec;
  }

  /** Feed one chunk; returns the events it completed. */
  push(chunk: Uint8Array): WatchEvent<T>[] {
    this.#chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.#buffered += chunk.byteLength;
    const out: WatchEvent<T>[] = [];
    while (this.#buffered >= 4) {
      const head = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
      this.#chunks = [head];
      const len = head.readUInt32BE(0);
      if (head.length < 4 + len) break;
      out.push(this.#event(head.subarray(4, 4 + len)));
      const rest = head.subarray(4 + len);
      this.#chunks = rest.length > 0 ? [rest] : [];
      this.#buffered = rest.length;
    }
    return out;
  }

  /** The stream ended: a partial frame left over means it was cut. */
  end(): WatchEvent<T>[] {
    if (this.#buffered > 0) throw new SyntaxError(`${this.#what}: the stream ended inside a frame (${this.#buffered} bytes left)`);
    return [];
  }

  #event(frame: Uint8Array): WatchEvent<T> {
    const r = protobuf.Reader.create(unwrapIfEnveloped(frame, this.#what));
    const ev = decodeMessage(r, r.len, plan(`${META}.WatchEvent`), KEEP_NONE) as { type?: string; object?: { raw?: Uint8Array } };
    const type = ev.type ?? '';
    if (!EVENT_TYPES.has(type)) throw new SyntaxError(`${this.#what}: watch event of unknown type "${type}"`);
    const raw = unwrapIfEnveloped(ev.object?.raw ?? new Uint8Array(0), `${this.#what} ${type} object`);
    if (type === 'ERROR') return { type: 'ERROR', object: decodeStatus(raw) };
    const r2 = protobuf.Reader.create(raw);
    const object = decodeMessage(r2, r2.len, plan(this.#codec.item), this.#codec.keep);
    if (type === 'BOOKMARK') return { type: 'BOOKMARK', object: object as { metadata?: { resourceVersion?: string } } };
    return { type: type as 'ADDED' | 'MODIFIED' | 'DELETED', object: object as T };
  }
}
