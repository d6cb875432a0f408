/**
 * @module
 * Facts about the host the datapath needs before loading: the kernel's CONFIG_HZ (affinity and
 * conntrack timeouts are in jiffies), the cookie of the network namespace that counts as "the
 * node", bpffs being mounted at the pin folder, and the node's devices and addresses. All of it
 * comes from files, rtnetlink and syscalls through bpf-loader-napi: the agent spawns no `ip`,
 * `tc`, `mount` or python (the image has none of them), and a dump costs well under a millisecond.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { ADDRESS_SCOPE, mountBpffs, netAddresses, netLinks, netnsCookie } from 'bpf-loader-napi';

/** CONFIG_HZ from /proc/config.gz or /boot/config-$(uname -r); null when neither says. */
export function kernelHz(): number | null {
  const sources: [string, () => string][] = [
    ['/proc/config.gz', () => gunzipSync(readFileSync('/proc/config.gz')).toString()],
    [`/boot/config-${release()}`, () => readFileSync(`/boot/config-${release()}`, 'utf8')],
  ];
  for (const [path, read] of sources) {
    if (!existsSync(path)) continue;
    try {
      const m = /^CONFIG_HZ=(\d+)$/m.exec(read());
      if (m) return Number(m[1]);
    } catch {
      // unreadable: try the next source
    }
  }
  return null;
}

/**
 * The cookie the socket programs compare with for "the node's own namespace" (127.0.0.1
 * NodePorts, bind protection). The agent's own namespace is the node's (hostNetwork, or the e2e
 * nodes), so its cookie is right everywhere; read with getsockopt(SO_NETNS_COOKIE) in the addon.
 */
export function hostNetnsCookie(): bigint {
  return netnsCookie();
}

/** The mount points of bpffs, from /proc/self/mounts. */
function bpffsMounts(): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[2] === 'bpf')
    .map((f) => f[1]!);
}

/**
 * Makes sure `pinPath` lies on a bpffs. When no bpffs holds it, mounts one on /sys/fs/bpf with
 * mode=0700 (pinning elsewhere is the administrator's choice and must already be bpffs). Returns
 * the mount point that holds `pinPath` (the deepest one) and whether it was mounted just now.
 * The folders themselves are made by securePinFolder (pin-folder.ts), which checks their owner.
 */
export function ensureBpffs(pinPath: string): { root: string; mounted: boolean } {
  const under = (m: string) => pinPath === m || pinPath.startsWith(m.endsWith('/') ? m : `${m}/`);
  const holding = bpffsMounts().filter(under).sort((a, b) => b.length - a.length);
  if (holding.length > 0) return { root: holding[0]!, mounted: false };
  if (!under('/sys/fs/bpf')) throw new Error(`pin path ${pinPath} is not on a bpffs mount and is not under /sys/fs/bpf`);
  mkdirSync('/sys/fs/bpf', { recursive: true });
  // mode=0700: the root of a bpffs mounted without it is 1777, where anyone may create pins and
  // folders (issue 11: a user pre-created our links folder and removed the pins in it).
  mountBpffs('/sys/fs/bpf', { mode: 0o700 });
  return { root: '/sys/fs/bpf', mounted: true };
}

/**
 * `kind`: the link type of virtual devices (`veth`, `bridge`...), '' for hardware. `linkType`: the
 * ARPHRD_* hardware type (1: Ethernet). `master`: ifindex of the bridge or bond it is enslaved to, 0
 * when none.
 */
export type HostDevice = { name: string; ifindex: number; addresses: string[]; up: boolean; kind?: string; linkType?: number; master?: number };

/** Devices of the agent's network namespace with their addresses other than link-local (rtnetlink dumps). */
export function hostDevices(): HostDevice[] {
  const byIndex = new Map<number, string[]>();
  for (const a of netAddresses()) {
    if (a.scope === ADDRESS_SCOPE.link) continue;
    let list = byIndex.get(a.ifindex);
    if (!list) byIndex.set(a.ifindex, (list = []));
    list.push(a.address);
  }
  return netLinks().map((l) => ({ name: l.name, ifindex: l.ifindex, up: l.up, kind: l.kind, linkType: l.type, master: l.master, addresses: byIndex.get(l.ifindex) ?? [] }));
}

/** The devices holding any of `ips` (the node's addresses), in ifindex order, loopback excluded. */
export function devicesForAddresses(devices: HostDevice[], ips: string[]): HostDevice[] {
  const want = new Set(ips.map((a) => a.toLowerCase()));
  return devices.filter((d) => d.name !== 'lo' && d.addresses.some((a) => want.has(a.toLowerCase()))).sort((a, b) => a.ifindex - b.ifindex);
}
