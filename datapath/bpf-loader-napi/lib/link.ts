/**
 * Attachments. XDP and cgroup attachments are kernel bpf_links: close() of the last fd detaches
 * unless pinned, update() swaps the program atomically. tc attachments are filters on a clsact
 * qdisc: they stay on the device until detach() (also after close() and process exit), update()
 * replaces the filter in place, and pin() throws BpfError EOPNOTSUPP.
 * @module
 */
import { native, type Handle } from './binding.ts';
import { bpfError, checkString, checkUint, invalidParameterError } from './errors.ts';
import { BpfProgram } from './program.ts';

/** Short cgroup hook names and libbpf's attach type names. */
export const CGROUP_ATTACH_TYPES = {
  connect4: 'cgroup_inet4_connect',
  connect6: 'cgroup_inet6_connect',
  sendmsg4: 'cgroup_udp4_sendmsg',
  sendmsg6: 'cgroup_udp6_sendmsg',
  recvmsg4: 'cgroup_udp4_recvmsg',
  recvmsg6: 'cgroup_udp6_recvmsg',
  getpeername4: 'cgroup_inet4_getpeername',
  getpeername6: 'cgroup_inet6_getpeername',
  getsockname4: 'cgroup_inet4_getsockname',
  getsockname6: 'cgroup_inet6_getsockname',
  post_bind4: 'cgroup_inet4_post_bind',
  post_bind6: 'cgroup_inet6_post_bind',
  bind4: 'cgroup_inet4_bind',
  bind6: 'cgroup_inet6_bind',
  sock_create: 'cgroup_inet_sock_create',
  sock_release: 'cgroup_inet_sock_release',
} as const;
export type CgroupAttachType = keyof typeof CGROUP_ATTACH_TYPES | (typeof CGROUP_ATTACH_TYPES)[keyof typeof CGROUP_ATTACH_TYPES];
const LIBBPF_CGROUP_TYPES = new Set<string>(Object.values(CGROUP_ATTACH_TYPES));

export class Link {
  readonly #h: Handle;
  readonly kind: 'bpf_link' | 'tc';
  #closed = false;

  /** @internal */
  constructor(handle: Handle, kind: 'bpf_link' | 'tc') {
    this.#h = handle;
    this.kind = kind;
  }

  get fd(): number {
    return native.fd(this.#h);
  }

  /** Replace the attached program (atomically for bpf_links). */
  update(program: BpfProgram): void {
    if (!(program instanceof BpfProgram)) throw invalidParameterError('program', 'a BpfProgram', program);
    native.linkUpdate(this.#h, program.handle);
  }

  /** Pin so the attachment survives this process (bpf_links only). */
  pin(path: string): void {
    checkString('path', path);
    native.linkPin(this.#h, path);
  }

  /** Remove the attachment now, even when pinned. The handle stays open until close(). */
  detach(): void {
    native.linkDetach(this.#h);
  }

  /**
   * The kernel's view: `{ id, type, progId }`, plus `ifindex` (XDP) or `cgroupId` and `attachType`
   * (cgroup), and `attached`, false once someone detached the link (it then points nowhere).
   * A tc attachment gives `{ type: 'tc', progId, ifindex, direction, handle, priority }`.
   */
  info(): Record<string, string | number | bigint | boolean> {
    return native.linkInfo(this.#h);
  }

  /**
   * Runs an iterator link (attachIter) once: creates an instance, reads it to the end and returns
   * what the program wrote (bpf_seq_write). Socket iterators walk the sockets of one network
   * namespace: by default the caller's, or the one `netnsFd` (an open /proc/<pid>/ns/net or
   * /run/netns/<name>) names, entered by a short-lived thread only for creating the instance.
   */
  readIter(options: { netnsFd?: number } = {}): Buffer {
    const netnsFd = options.netnsFd ?? -1;
    if (netnsFd !== -1) checkUint('netnsFd', netnsFd, 0x7fffffff);
    return native.iterRead(this.#h, netnsFd);
  }

  /** Release the handle (see the module doc for what that means per kind). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    native.close(this.#h);
  }
}

function checkProgram(program: unknown, want: string[], op: string): asserts program is BpfProgram {
  if (!(program instanceof BpfProgram)) throw invalidParameterError('program', 'a BpfProgram', program);
  if (program.type && !want.includes(program.type)) {
    throw bpfError(op, 'EINVAL', 22, program.name, `Attach program "${program.name}" failed: its type is ${program.type}, expected ${want.join(' or ')}`);
  }
}

/** A bpf_link for an iterator program (SEC("iter/...")); run it with Link.readIter. */
export function attachIter(program: BpfProgram): Link {
  checkProgram(program, ['tracing'], 'attach_iter');
  return new Link(native.attachIter(program.handle), 'bpf_link');
}

/** Attach an XDP program to an interface through a bpf_link. */
export function attachXdp(program: BpfProgram, ifindex: number, options: { mode?: 'native' | 'generic' } = {}): Link {
  checkProgram(program, ['xdp'], 'attach_xdp');
  checkUint('ifindex', ifindex, 0x7fffffff, 1);
  const mode = options.mode ?? 'native';
  if (mode !== 'native' && mode !== 'generic') throw invalidParameterError('mode', "'native' or 'generic'", mode);
  return new Link(native.attachXdp(program.handle, ifindex, mode), 'bpf_link');
}

export type TcDirection = 'ingress' | 'egress';

/**
 * Attach a tc (sched_cls) program on the clsact qdisc (created when missing). With `replace` (which
 * needs `handle` and `priority`) a filter already there gets the program in place, without a gap;
 * without it such a filter is an EEXIST error.
 */
export function attachTc(
  program: BpfProgram,
  ifindex: number,
  options: { direction: TcDirection; handle?: number; priority?: number; replace?: boolean },
): Link {
  checkProgram(program, ['sched_cls', 'sched_act'], 'attach_tc');
  checkUint('ifindex', ifindex, 0x7fffffff, 1);
  if (typeof options !== 'object' || options === null) throw invalidParameterError('options', 'an object with direction', options);
  const { direction, handle = 0, priority = 0, replace = false } = options;
  if (direction !== 'ingress' && direction !== 'egress') throw invalidParameterError('direction', "'ingress' or 'egress'", direction);
  checkUint('handle', handle);
  checkUint('priority', priority, 0xffff);
  if (typeof replace !== 'boolean') throw invalidParameterError('replace', 'a boolean', replace);
  if (replace && (handle === 0 || priority === 0)) throw new RangeError('attachTc with replace needs a non-zero handle and priority (they name the filter to replace)');
  return new Link(native.attachTc(program.handle, ifindex, direction, handle, priority, replace), 'tc');
}

/** The filter a (handle, priority) pair names on a device's clsact hook. */
export type TcFilterId = { ifindex: number; direction: TcDirection; handle: number; priority: number };

function checkFilter(f: TcFilterId): void {
  if (typeof f !== 'object' || f === null) throw invalidParameterError('filter', 'an object with ifindex, direction, handle and priority', f);
  checkUint('ifindex', f.ifindex, 0x7fffffff, 1);
  if (f.direction !== 'ingress' && f.direction !== 'egress') throw invalidParameterError('direction', "'ingress' or 'egress'", f.direction);
  checkUint('handle', f.handle, 0xffffffff, 1);
  checkUint('priority', f.priority, 0xffff, 1);
}

/** Id of the program in the tc filter `f`, or 0 when there is no such filter (or no clsact qdisc). */
export function tcQuery(f: TcFilterId): number {
  checkFilter(f);
  return native.tcQuery(f.ifindex, f.direction, f.handle, f.priority);
}

/** Removes the tc filter `f` (ours or anyone's); false when there was none. */
export function tcDetach(f: TcFilterId): boolean {
  checkFilter(f);
  return native.tcDetach(f.ifindex, f.direction, f.handle, f.priority);
}

export type XdpState = { mode: 'none' | 'native' | 'generic' | 'offload' | 'multi'; progId: number; nativeProgId: number; genericProgId: number };

/** What XDP program an interface runs, however it was attached (link, netlink, another tool). */
export function xdpQuery(ifindex: number): XdpState {
  checkUint('ifindex', ifindex, 0x7fffffff, 1);
  return native.xdpQuery(ifindex) as XdpState;
}

/** Attach a cgroup program through a bpf_link; the type defaults to the program's expected one. */
export function attachCgroup(program: BpfProgram, cgroupPath: string, attachType?: CgroupAttachType): Link {
  if (!(program instanceof BpfProgram)) throw invalidParameterError('program', 'a BpfProgram', program);
  checkString('cgroupPath', cgroupPath);
  const requested: string = attachType ?? program.expectedAttachType;
  const type = (CGROUP_ATTACH_TYPES as Record<string, string>)[requested] ?? requested;
  if (!LIBBPF_CGROUP_TYPES.has(type)) {
    throw invalidParameterError('attachType', `one of ${Object.keys(CGROUP_ATTACH_TYPES).join(', ')}`, requested);
  }
  return new Link(native.attachCgroup(program.handle, cgroupPath, type), 'bpf_link');
}

/** Open a bpf_link pinned in bpffs (e.g. to update or detach it after a restart). */
export function openPinnedLink(path: string): Link {
  checkString('path', path);
  return new Link(native.linkOpenPinned(path), 'bpf_link');
}
