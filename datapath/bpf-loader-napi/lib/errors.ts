/**
 * BpfError and argument validation.
 *
 * BpfError is the one error class for failures the kernel or libbpf reports; the native addon
 * builds instances of it (it is handed over once by binding.ts). Wrong argument types or values
 * are caught in TypeScript before native code runs and throw TypeError/RangeError instead.
 * @module
 */

/** Fields a BpfError carries besides its message. */
export interface BpfErrorProps {
  /** What was attempted, e.g. 'load', 'map_update', 'attach_xdp'. */
  operation: string;
  /** Positive errno (or a libbpf error number >= 4000). */
  errno: number;
  /** Symbolic errno, e.g. 'ENOENT', 'ENOTSUPP', 'LIBBPF_ERRNO__FORMAT'. */
  code: string;
  /** The map, program, object file or path the operation was about. */
  objectName: string;
  /** libbpf's own log lines for this operation, when it printed any. */
  libbpfMessage?: string | undefined;
  /** The kernel verifier's log when a program load failed. */
  verifierLog?: string | undefined;
}

/** A failure reported by the kernel or libbpf. */
export class BpfError extends Error {
  readonly operation: string;
  readonly errno: number;
  readonly code: string;
  readonly objectName: string;
  readonly libbpfMessage: string | undefined;
  readonly verifierLog: string | undefined;

  constructor(message: string, props: BpfErrorProps) {
    super(message);
    this.name = 'BpfError';
    this.operation = props.operation;
    this.errno = props.errno;
    this.code = props.code;
    this.objectName = props.objectName;
    this.libbpfMessage = props.libbpfMessage ?? undefined;
    this.verifierLog = props.verifierLog ?? undefined;
  }
}

/** A BpfError raised in TypeScript (e.g. an unknown map name), shaped like the native ones. */
export function bpfError(operation: string, code: string, errno: number, objectName: string, message: string): BpfError {
  return new BpfError(message, { operation, errno, code, objectName });
}

function describe(actual: unknown): string {
  if (actual === null) return 'null';
  if (Buffer.isBuffer(actual)) return `Buffer of ${actual.length} bytes`;
  if (typeof actual === 'string') return `'${actual.length > 40 ? actual.slice(0, 40) + '…' : actual}' of type string`;
  if (typeof actual === 'object') return `${(actual as object).constructor?.name ?? 'object'}`;
  return `${String(actual)} of type ${typeof actual}`;
}

/** TypeError in one sentence pattern: what was expected, for which parameter, and what came. */
export function invalidParameterError(name: string, expected: string, actual: unknown): TypeError {
  return new TypeError(`Expected ${expected} for ${name} but received ${describe(actual)}`);
}

export function checkString(name: string, v: unknown): asserts v is string {
  if (typeof v !== 'string' || v.length === 0) throw invalidParameterError(name, 'a non-empty string', v);
}

export function checkUint(name: string, v: unknown, max = 0xffffffff, min = 0): asserts v is number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw invalidParameterError(name, 'an integer', v);
  if (v < min || v > max) throw new RangeError(`Expected ${name} between ${min} and ${max} but received ${v}`);
}

export function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array;
}

/** Wrap a native call so a BpfError's stack points at the caller, not at libuv (async paths). */
export function rethrowAt(err: unknown, callSite: Error): never {
  if (err instanceof Error && callSite.stack) {
    const frames = callSite.stack.split('\n').slice(1).join('\n');
    err.stack = `${err.name}: ${err.message}\n${frames}`;
  }
  throw err;
}
