/**
 * BpfObject (a parsed ELF object, no kernel objects yet) and Collection (what one load created).
 *
 * open() only parses; setRodata() and resizeMap() edit the parsed object; load() creates every map
 * and program off the main thread. Maps declared with LIBBPF_PIN_BY_NAME are pinned under
 * `pinPath` (and nothing is pinned without one); an existing pin is adopted when its type, key and
 * value sizes, max entries and flags match the object, and refused with a BpfError naming the map
 * and each difference otherwise. An object loads once; open it again for another load.
 * @module
 */
import { native, type Handle, type NativeMapSpec, type NativeProgramSpec, type NativeVariableSpec } from './binding.ts';
import { StructCodec, type Layout } from './codec.ts';
import { bpfError, checkString, checkUint, invalidParameterError, isBytes, rethrowAt } from './errors.ts';
import { BpfMap } from './map.ts';
import { ensurePinFolder } from './pin-folder.ts';
import { BpfProgram } from './program.ts';

export type MapSpec = NativeMapSpec;
export type ProgramSpec = NativeProgramSpec;
export type VariableSpec = NativeVariableSpec;

/** Values setRodata accepts: integers, booleans, or raw bytes of the variable's size. */
export type RodataValue = number | bigint | boolean | Uint8Array;

export interface LoadOptions {
  /** bpffs folder for maps pinned by name; created when missing. @default no pinning */
  pinPath?: string | undefined;
  /** Verifier log level for every program (1 or 2): the log is Collection.loadLog. @default 0 */
  logLevel?: number | undefined;
}

export class BpfObject {
  readonly name: string;
  readonly maps: readonly MapSpec[];
  readonly programs: readonly ProgramSpec[];
  /** Global variables of the data sections (.rodata, .data, .bss). */
  readonly variables: readonly VariableSpec[];
  readonly #h: Handle;
  #state: 'open' | 'loading' | 'done' = 'open';

  private constructor(h: Handle) {
    this.#h = h;
    const d = native.objectDescribe(h);
    this.name = d.name;
    this.maps = d.maps;
    this.programs = d.programs;
    this.variables = d.variables;
  }

  /** Parse an ELF object from a file path or its bytes. No kernel object is created. */
  static open(source: string | Uint8Array, options: { name?: string } = {}): BpfObject {
    if (typeof source !== 'string' && !isBytes(source)) throw invalidParameterError('source', 'a file path or a Buffer', source);
    if (typeof source === 'string') checkString('source', source);
    if (options.name !== undefined) checkString('name', options.name);
    return new BpfObject(native.objectOpen(source, options.name ?? null));
  }

  #checkOpen(op: string): void {
    if (this.#state !== 'open') {
      throw bpfError(op, 'EBUSY', 16, this.name, `${op} on object "${this.name}" failed: it was already loaded or is loading; open it again`);
    }
  }

  /** Set `const volatile` globals in .rodata by name, before load. */
  setRodata(values: Record<string, RodataValue>): this {
    return this.#setVariables(values, (s) => s.startsWith('.rodata'), 'setRodata');
  }

  /** Set initial values of globals in .data/.bss (or .rodata) by name, before load. */
  setGlobals(values: Record<string, RodataValue>): this {
    return this.#setVariables(values, () => true, 'setGlobals');
  }

  #setVariables(values: Record<string, RodataValue>, section: (s: string) => boolean, op: string): this {
    if (typeof values !== 'object' || values === null) throw invalidParameterError('values', 'an object of variable names to values', values);
    this.#checkOpen(op);
    for (const [name, value] of Object.entries(values)) {
      const v = this.variables.find((x) => x.name === name && section(x.section));
      if (!v) {
        const known = this.variables.filter((x) => section(x.section)).map((x) => x.name);
        throw bpfError(op, 'ENOENT', 2, name, `Set variable "${name}" in object "${this.name}" failed: no such variable (known: ${known.join(', ') || 'none'})`);
      }
      native.objectSetVariable(this.#h, v.mapName, v.offset, encodeVariable(v, value));
    }
    return this;
  }

  /** Change a map's max_entries before load. */
  resizeMap(name: string, maxEntries: number): this {
    checkString('name', name);
    checkUint('maxEntries', maxEntries, 0xffffffff, 1);
    this.#checkOpen('resizeMap');
    native.objectResizeMap(this.#h, name, maxEntries);
    const spec = this.maps.find((m) => m.name === name);
    if (spec) spec.maxEntries = maxEntries;
    return this;
  }

  /** Create maps and programs in the kernel (off the main thread). */
  async load(options: LoadOptions = {}): Promise<Collection> {
    if (typeof options !== 'object' || options === null) throw invalidParameterError('options', 'an object', options);
    const { pinPath, logLevel = 0 } = options;
    if (pinPath !== undefined) checkString('pinPath', pinPath);
    checkUint('logLevel', logLevel, 2);
    this.#checkOpen('load');
    if (pinPath) ensurePinFolder(pinPath);
    const callSite = new Error();
    this.#state = 'loading';
    try {
      const r = await native.objectLoad(this.#h, pinPath ?? null, logLevel);
      return new Collection(this, r.maps, r.programs, r.log);
    } catch (err) {
      return rethrowAt(err, callSite);
    } finally {
      this.#state = 'done';
    }
  }

  /** Free the parsed object (a no-op after load, which frees it). */
  close(): void {
    if (this.#state === 'loading') throw bpfError('close', 'EBUSY', 16, this.name, `Close object "${this.name}" failed: a load is running`);
    if (this.#state === 'open') native.close(this.#h);
    this.#state = 'done';
  }
}

function encodeVariable(v: VariableSpec, value: RodataValue): Uint8Array {
  if (isBytes(value)) {
    if (value.length !== v.size) throw new RangeError(`Expected ${v.size} bytes for variable "${v.name}" but received ${value.length}`);
    return value;
  }
  const layout: Layout = v.layout ?? { name: v.name, size: v.size, kind: 'bytes' };
  if (layout.kind === 'bytes' || layout.kind === 'struct' || layout.kind === 'array' || layout.kind === 'union') {
    if (typeof value === 'object') return new StructCodec(layout).encode(value);
    throw invalidParameterError(v.name, `bytes or an object for a ${layout.kind} variable`, value);
  }
  return new StructCodec({ ...layout, name: v.name }).encode(value);
}

/** The maps and programs of one load. Each is closed by close() (pins and links keep them alive). */
export class Collection {
  readonly object: string;
  readonly maps: ReadonlyMap<string, BpfMap>;
  readonly programs: ReadonlyMap<string, BpfProgram>;
  /** libbpf's output for the load, including verifier logs, when LoadOptions.logLevel > 0. */
  readonly loadLog: string | undefined;

  /** @internal */
  constructor(obj: BpfObject, maps: { name: string; handle: Handle }[], programs: { name: string; handle: Handle }[], log?: string) {
    this.object = obj.name;
    this.loadLog = log;
    const m = new Map<string, BpfMap>();
    for (const { name, handle } of maps) {
      const spec = obj.maps.find((s) => s.name === name);
      m.set(name, new BpfMap(handle, name, { keyLayout: spec?.keyLayout, valueLayout: spec?.valueLayout }));
    }
    const p = new Map<string, BpfProgram>();
    for (const { name, handle } of programs) {
      const spec = obj.programs.find((s) => s.name === name);
      p.set(name, new BpfProgram(handle, spec ?? { name }));
    }
    this.maps = m;
    this.programs = p;
  }

  /** The map called `name`; BpfError ENOENT when the object has none. */
  map(name: string): BpfMap {
    checkString('name', name);
    const m = this.maps.get(name);
    if (!m) throw bpfError('map', 'ENOENT', 2, name, `Find map "${name}" in object "${this.object}" failed: no such map (known: ${[...this.maps.keys()].join(', ')})`);
    return m;
  }

  /** The program called `name`; BpfError ENOENT when the object has none. */
  program(name: string): BpfProgram {
    checkString('name', name);
    const p = this.programs.get(name);
    if (!p) throw bpfError('program', 'ENOENT', 2, name, `Find program "${name}" in object "${this.object}" failed: no such program (known: ${[...this.programs.keys()].join(', ')})`);
    return p;
  }

  close(): void {
    for (const m of this.maps.values()) m.close();
    for (const p of this.programs.values()) p.close();
  }
}
