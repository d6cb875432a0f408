/**
 * Loads the native addon (build/bpf_loader.node) and hands it the BpfError class.
 * The addon is a plain shared object built by `make addon`; its functions work on opaque handles
 * and Buffers, and every argument has been validated by the facade before it gets here.
 * @module
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BpfError } from './errors.ts';
import type { Layout } from './codec.ts';

/** An opaque native handle (an N-API external tagged with its kind). */
export type Handle = { readonly __kpbHandle: unique symbol };

/** glibc's mallinfo2() over all arenas, in bytes (host.ts mallocStats). */
export interface MallocStats {
  /** Taken from the kernel (brk and mmap'd arenas) for small chunks. */
  arenaBytes: number;
  inUseBytes: number;
  /** Free chunks inside arenaBytes: resident until trimmed if they were touched. */
  freeBytes: number;
  /** Large chunks, each its own mmap (returned on free). */
  mmapBytes: number;
  /** Free at the top of the main arena (what a plain free() trim would release). */
  topFreeBytes: number;
}

export interface NativeMapSpec {
  name: string;
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  pinByName: boolean;
  internal: boolean;
  keyLayout?: Layout;
  valueLayout?: Layout;
  innerMap?: NativeMapSpec;
}

export interface NativeProgramSpec {
  name: string;
  section: string;
  type: string;
  expectedAttachType: string;
}

export interface NativeVariableSpec {
  name: string;
  section: string;
  mapName: string;
  offset: number;
  size: number;
  layout?: Layout;
}

export interface NativeMapInfo {
  id: number;
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
  valueBufferSize: number;
}

export interface NativeNetLink {
  ifindex: number;
  name: string;
  flags: number;
  up: boolean;
  lowerUp: boolean;
  kind: string;
  mtu: number;
  master: number;
  mac: string;
  type: number;
}

export interface NativeNetAddress {
  ifindex: number;
  family: 'IPv4' | 'IPv6';
  address: string;
  prefixLen: number;
  scope: number;
  flags: number;
}

export interface NativeNetEvent {
  links: boolean;
  addresses: boolean;
  routes: boolean;
  neighbours: boolean;
  lost: boolean;
}

export interface Native {
  init(errorClass: typeof BpfError): void;
  close(h: Handle): void;
  fd(h: Handle): number;
  numPossibleCpus(): number;
  objectOpen(source: string | Uint8Array, name: string | null): Handle;
  objectDescribe(h: Handle): { name: string; maps: NativeMapSpec[]; programs: NativeProgramSpec[]; variables: NativeVariableSpec[] };
  objectSetVariable(h: Handle, mapName: string, offset: number, bytes: Uint8Array): void;
  objectResizeMap(h: Handle, name: string, maxEntries: number): void;
  objectLoad(h: Handle, pinPath: string | null, logLevel: number): Promise<{ maps: { name: string; handle: Handle }[]; programs: { name: string; handle: Handle }[]; log?: string }>;
  mapCreate(type: string, keySize: number, valueSize: number, maxEntries: number, flags: number, name: string | null, innerMap: Handle | null): Handle;
  mapOpenPinned(path: string): Handle;
  mapInfo(h: Handle): NativeMapInfo;
  mapOpenById(id: number): Handle;
  mapBtfLayouts(h: Handle): { key?: Layout; value?: Layout };
  mapLookup(h: Handle, key: Uint8Array): Buffer | undefined;
  mapUpdate(h: Handle, key: Uint8Array, value: Uint8Array, flags: number): void;
  mapDelete(h: Handle, key: Uint8Array): boolean;
  mapNextKey(h: Handle, key: Uint8Array | null): Buffer | undefined;
  mapUpdateBatch(h: Handle, keys: Uint8Array, values: Uint8Array, flags: number): number;
  mapDeleteBatch(h: Handle, keys: Uint8Array): number;
  mapLookupBatch(h: Handle): { keys: Buffer; values: Buffer; count: number };
  mapLookupBatchChunk(h: Handle, token: Buffer | null, max: number): { keys: Buffer; values: Buffer; count: number; token: Buffer | null };
  mapPin(h: Handle, path: string): void;
  progOpenPinned(path: string): Handle;
  progInfo(h: Handle): { id: number; type: string; name: string; tag: string };
  progTestRun(h: Handle, data: Uint8Array, ctx: Uint8Array | null, repeat: number, dataSizeOut: number | null, checksumComplete: boolean | null): { retval: number; data: Buffer; ctx?: Buffer; durationNs: number };
  progTestRunLive(h: Handle, data: Uint8Array, ctx: Uint8Array | null, repeat: number, batchSize: number): { retval: number; durationNs: number };
  progPin(h: Handle, path: string): void;
  attachXdp(prog: Handle, ifindex: number, mode: string): Handle;
  attachTc(prog: Handle, ifindex: number, direction: string, handle: number, priority: number, replace: boolean): Handle;
  attachCgroup(prog: Handle, cgroupPath: string, attachType: string): Handle;
  linkUpdate(link: Handle, prog: Handle): void;
  linkPin(link: Handle, path: string): void;
  linkDetach(link: Handle): void;
  linkOpenPinned(path: string): Handle;
  linkInfo(link: Handle): Record<string, string | number | bigint | boolean>;
  attachIter(prog: Handle): Handle;
  iterRead(link: Handle, netnsFd: number): Buffer;
  tcQuery(ifindex: number, direction: string, handle: number, priority: number): number;
  tcDetach(ifindex: number, direction: string, handle: number, priority: number): boolean;
  xdpQuery(ifindex: number): { mode: string; progId: number; nativeProgId: number; genericProgId: number };
  netLinks(): NativeNetLink[];
  netAddresses(): NativeNetAddress[];
  netWatch(callback: (ev: NativeNetEvent) => void, groups: string[]): Handle;
  netLinkDelete(name: string): boolean;
  netnsCookie(): bigint;
  mountBpffs(path: string, mode: number): void;
  mallocStats(): MallocStats;
  mallocTrim(): boolean;
  releaseFilePages(): { mappings: number; bytes: number };
  probeProgramType(name: string): boolean;
  probeMapType(name: string): boolean;
  probeHelper(programType: string, helper: string): boolean;
}

/**
 * Hook for a host that carries its own copy of the addon: the single binary (scripts/sea-main.ts)
 * sets a function under this key before this module loads; it returns the path of the addon
 * extracted from the executable. A function, not a path, so nothing is extracted unless the addon
 * is actually loaded (--help and --version never load it).
 */
const addonPathHook = (globalThis as Record<symbol, unknown>)[Symbol.for('bpf-loader-napi.addonPath')];

/** Path of the built addon. */
export const addonPath = typeof addonPathHook === 'function'
  ? String(addonPathHook())
  : fileURLToPath(new URL('../build/bpf_loader.node', import.meta.url));

function load(): Native {
  if (!existsSync(addonPath)) {
    throw new Error(`Load the bpf-loader-napi addon failed: "${addonPath}" does not exist; run "make addon" in the repository root`);
  }
  try {
    const n = createRequire(import.meta.url)(addonPath) as Native;
    n.init(BpfError);
    return n;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    const hint = /libbpf|libelf|libz/.test(why)
      ? 'install libbpf1, libelf1 and zlib (make setup)'
      : 'rebuild it with "make addon"';
    throw new Error(`Load the bpf-loader-napi addon from "${addonPath}" failed: ${why}; ${hint}`, { cause: err });
  }
}

/** The native functions, loaded once per process (and per worker thread). */
export const native: Native = load();
