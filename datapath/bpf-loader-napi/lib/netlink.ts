/**
 * The calling thread's network namespace as rtnetlink reports it, with no iproute2: its links and
 * addresses (dumps), and a watcher that reports changes of links, addresses, routes and neighbours.
 *
 * A watcher runs a native thread on its own netlink socket. Events are coalesced: one callback
 * carries every kind of change that arrived since the previous one, so a burst is one call. A
 * watcher never keeps the process alive by itself; close() stops its thread (so do garbage
 * collection of the watcher and the exit of its thread or worker). Neighbour events are reported
 * only when an entry's link-layer address changes or the entry goes, not on reachability refreshes.
 * @module
 */
import { native, type Handle, type NativeNetAddress, type NativeNetEvent, type NativeNetLink } from './binding.ts';
import { invalidParameterError } from './errors.ts';

export type NetLink = NativeNetLink;
export type NetAddress = NativeNetAddress;
export type NetEvent = NativeNetEvent;
export type NetGroup = 'links' | 'addresses' | 'routes' | 'neighbours';

/** RT_SCOPE_* values of an address's scope. */
export const ADDRESS_SCOPE = { universe: 0, site: 200, link: 253, host: 254, nowhere: 255 } as const;

/** Every link of this network namespace (RTM_GETLINK dump). */
export function netLinks(): NetLink[] {
  return native.netLinks();
}

/** Every IPv4 and IPv6 address of this network namespace (RTM_GETADDR dump). */
export function netAddresses(): NetAddress[] {
  return native.netAddresses();
}

/** Deletes the link called `name` from this network namespace; false when there is none. */
export function deleteNetLink(name: string): boolean {
  if (typeof name !== 'string' || name === '' || name.length > 15) throw invalidParameterError('name', 'an interface name of 1 to 15 characters', name);
  return native.netLinkDelete(name);
}

const GROUPS: readonly NetGroup[] = ['links', 'addresses', 'routes', 'neighbours'];

export class NetlinkWatch {
  #h: Handle | null;

  /** @internal */
  constructor(h: Handle) {
    this.#h = h;
  }

  /** Stops the thread and closes the socket; no callback runs afterwards. Idempotent. */
  close(): void {
    if (this.#h === null) return;
    const h = this.#h;
    this.#h = null;
    native.close(h);
  }

  get closed(): boolean {
    return this.#h === null;
  }
}

/**
 * Watches this network namespace (the caller's) for changes in `groups` (default: all four).
 * `onEvent` gets `{ links, addresses, routes, neighbours, lost }`; `lost` means the kernel dropped
 * events (a burst overran the socket), so anything may have changed. An exception thrown by
 * `onEvent` goes to `onError` (default: rethrown as an uncaught exception).
 */
export function watchNetlink(
  onEvent: (ev: NetEvent) => void,
  options: { groups?: readonly NetGroup[]; onError?: (err: unknown) => void } = {},
): NetlinkWatch {
  if (typeof onEvent !== 'function') throw invalidParameterError('onEvent', 'a function', onEvent);
  const groups = options.groups ?? GROUPS;
  if (!Array.isArray(groups) || groups.length === 0 || groups.some((g) => !GROUPS.includes(g))) {
    throw invalidParameterError('groups', `a non-empty array of ${GROUPS.map((g) => `'${g}'`).join(', ')}`, groups);
  }
  const { onError } = options;
  if (onError !== undefined && typeof onError !== 'function') throw invalidParameterError('onError', 'a function', onError);
  let watch: NetlinkWatch | null = null;
  const cb = (ev: NetEvent) => {
    if (watch?.closed) return;
    if (!onError) return onEvent(ev);
    try {
      onEvent(ev);
    } catch (err) {
      onError(err);
    }
  };
  watch = new NetlinkWatch(native.netWatch(cb, [...groups]));
  return watch;
}
