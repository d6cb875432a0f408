/**
 * BpfProgram: a loaded program (one fd): BPF_PROG_TEST_RUN, pin, info.
 * @module
 */
import { native, type Handle } from './binding.ts';
import { checkString, checkUint, invalidParameterError, isBytes } from './errors.ts';

/** Input of one test run. */
export interface TestRunOptions {
  /** Packet bytes (required; may be empty for programs without packet data). */
  data: Uint8Array;
  /** Context in (e.g. struct xdp_md or struct __sk_buff bytes). Optional. */
  ctx?: Uint8Array | undefined;
  /** Runs to average durationNs over. @default 1 */
  repeat?: number | undefined;
  /** Output buffer size; the addon always allows at least input + 4096 bytes. */
  dataSizeOut?: number | undefined;
  /**
   * skb programs: run on a CHECKSUM_COMPLETE skb (skb->csum set over the packet from the network
   * header) and fail with EBADMSG when the program leaves skb->csum wrong (Linux 6.16+).
   * @default false
   */
  checksumComplete?: boolean | undefined;
}

export interface TestRunResult {
  retval: number;
  /** The packet as the program left it. */
  data: Buffer;
  ctx?: Buffer;
  /** Average run time per repetition. */
  durationNs: number;
}

export class BpfProgram {
  readonly name: string;
  readonly type: string;
  readonly section: string;
  /** libbpf's name of the expected attach type, e.g. 'cgroup_inet4_connect'. */
  readonly expectedAttachType: string;
  readonly #h: Handle;
  #closed = false;

  /** @internal Built by Collection and openPinnedProgram. */
  constructor(handle: Handle, spec: { name: string; type?: string; section?: string; expectedAttachType?: string }) {
    this.#h = handle;
    const info = native.progInfo(handle);
    this.name = spec.name || info.name;
    this.type = spec.type ?? info.type;
    this.section = spec.section ?? '';
    this.expectedAttachType = spec.expectedAttachType ?? '';
  }

  /** @internal */
  get handle(): Handle {
    return this.#h;
  }

  get fd(): number {
    return native.fd(this.#h);
  }

  /** Run the program once (or `repeat` times) on a crafted packet, in the kernel. */
  testRun(options: TestRunOptions): TestRunResult {
    if (typeof options !== 'object' || options === null) throw invalidParameterError('options', 'an object', options);
    const { data, ctx, repeat = 1, dataSizeOut, checksumComplete = false } = options;
    if (!isBytes(data)) throw invalidParameterError('data', 'a Buffer or Uint8Array', data);
    if (ctx !== undefined && !isBytes(ctx)) throw invalidParameterError('ctx', 'a Buffer or Uint8Array', ctx);
    checkUint('repeat', repeat, 0xffffffff, 1);
    if (dataSizeOut !== undefined) checkUint('dataSizeOut', dataSizeOut);
    if (typeof checksumComplete !== 'boolean') throw invalidParameterError('checksumComplete', 'a boolean', checksumComplete);
    const r = native.progTestRun(this.#h, data, ctx ?? null, repeat, dataSizeOut ?? null, checksumComplete);
    return r.ctx ? r : { retval: r.retval, data: r.data, durationNs: r.durationNs };
  }

  /**
   * XDP only, BPF_F_TEST_XDP_LIVE_FRAMES: run the program on `repeat` frames made from `data` and
   * really transmit what it sends (XDP_TX/XDP_REDIRECT) or pass up the stack (XDP_PASS). `ctx`
   * (struct xdp_md) names the device the frames arrive on. Frames come from a page pool that is
   * recycled without being re-initialised, so whatever consumes them must restore them (see
   * e2e/bench/forward.ts). Returns the average time per frame, sending included.
   */
  testRunLive(options: { data: Uint8Array; ctx?: Uint8Array | undefined; repeat: number; batchSize?: number | undefined }): { retval: number; durationNs: number } {
    if (typeof options !== 'object' || options === null) throw invalidParameterError('options', 'an object', options);
    const { data, ctx, repeat, batchSize = 0 } = options;
    if (!isBytes(data)) throw invalidParameterError('data', 'a Buffer or Uint8Array', data);
    if (ctx !== undefined && !isBytes(ctx)) throw invalidParameterError('ctx', 'a Buffer or Uint8Array', ctx);
    checkUint('repeat', repeat, 0xffffffff, 1);
    checkUint('batchSize', batchSize, 256);
    return native.progTestRunLive(this.#h, data, ctx ?? null, repeat, batchSize);
  }

  pin(path: string): void {
    checkString('path', path);
    native.progPin(this.#h, path);
  }

  info(): { id: number; type: string; name: string; tag: string } {
    return native.progInfo(this.#h);
  }

  /** Release the fd (attached links keep the program alive). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    native.close(this.#h);
  }
}

/** Open a program pinned in bpffs. */
export function openPinnedProgram(path: string): BpfProgram {
  checkString('path', path);
  return new BpfProgram(native.progOpenPinned(path), { name: '' });
}
