/**
 * @module
 * Facts about the host the datapath needs before loading: the kernel's CONFIG_HZ (affinity and
 * conntrack timeouts are in jiffies), the cookie of the network namespace that counts as "the
 * node", bpffs being mounted at the pin folder, and the node's devices and addresses (`ip -j`).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';

/** Runs a command and returns its stdout; the error names the command and its stderr. */
export function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr || e.message).trim()}`);
  }
}

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
 * NodePorts, bind protection); 0 means the initial namespace. The agent's own namespace is the
 * node's (hostNetwork, or the e2e nodes), so its cookie is right everywhere; Node cannot call
 * getsockopt(SO_NETNS_COOKIE), so python3 does. Without python3, 0 is right when we are in the
 * initial namespace (same /proc/1/ns/net); otherwise `warn` says what stays limited.
 */
export function hostNetnsCookie(warn: (msg: string, kv: Record<string, unknown>) => void): bigint {
  const py = 'import socket;s=socket.socket();print(int.from_bytes(s.getsockopt(socket.SOL_SOCKET,71,8),"little"))';
  let pyErr: string;
  try {
    return BigInt(run('python3', ['-c', py]).trim());
  } catch (err) {
    pyErr = (err as Error).message;
  }
  try {
    if (readlinkSync('/proc/self/ns/net') === readlinkSync('/proc/1/ns/net')) return 0n;
  } catch {
    // /proc/1 unreadable (a restricted container): assume the initial namespace, and say so.
  }
  warn('Cannot read the netns cookie of the agent\'s namespace; 127.0.0.1 NodePorts and NodePort bind protection assume the initial namespace', { err: pyErr });
  return 0n;
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
 * Makes sure `pinPath` lies on a bpffs and exists. When no bpffs holds it, mounts one on
 * /sys/fs/bpf (pinning elsewhere is the administrator's choice and must already be bpffs).
 * Returns what was done, for the log.
 */
export function ensureBpffs(pinPath: string): string | null {
  let action: string | null = null;
  const under = (m: string) => pinPath === m || pinPath.startsWith(m.endsWith('/') ? m : `${m}/`);
  if (!bpffsMounts().some(under)) {
    if (!under('/sys/fs/bpf')) throw new Error(`pin path ${pinPath} is not on a bpffs mount and is not under /sys/fs/bpf`);
    mkdirSync('/sys/fs/bpf', { recursive: true });
    run('mount', ['-t', 'bpf', 'bpf', '/sys/fs/bpf']);
    action = 'mounted bpffs on /sys/fs/bpf';
  }
  mkdirSync(pinPath, { recursive: true });
  mkdirSync(`${pinPath}/links`, { recursive: true });
  mkdirSync(`${pinPath}/progs`, { recursive: true });
  return action;
}

/** `kind`: the link type of virtual devices (`veth`, `bridge`...), '' for hardware. */
export type HostDevice = { name: string; ifindex: number; addresses: string[]; up: boolean; kind?: string };

/** Devices of the agent's network namespace with their global addresses (`ip -j -d addr`). */
export function hostDevices(): HostDevice[] {
  const out = JSON.parse(run('ip', ['-j', '-d', 'addr', 'show'])) as {
    ifname: string;
    ifindex: number;
    flags?: string[];
    linkinfo?: { info_kind?: string };
    addr_info?: { local?: string; scope?: string }[];
  }[];
  return out.map((d) => ({
    name: d.ifname,
    ifindex: d.ifindex,
    up: (d.flags ?? []).includes('UP'),
    kind: d.linkinfo?.info_kind ?? '',
    addresses: (d.addr_info ?? []).filter((a) => a.local && a.scope !== 'link').map((a) => a.local!),
  }));
}

/** The devices holding any of `ips` (the node's addresses), in ifindex order, loopback excluded. */
export function devicesForAddresses(devices: HostDevice[], ips: string[]): HostDevice[] {
  const want = new Set(ips.map((a) => a.toLowerCase()));
  return devices.filter((d) => d.name !== 'lo' && d.addresses.some((a) => want.has(a.toLowerCase()))).sort((a, b) => a.ifindex - b.ifindex);
}
