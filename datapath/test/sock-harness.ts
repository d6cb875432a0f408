// Throwaway environment for the socket-LB tests: a network namespace playing "the node" (addresses
// on its loopback, backend servers inside it), a second one playing a pod, a cgroup v2 child with
// every sock program attached, and maps pinned in a private bpffs folder. Everything carries the
// prefix kpb-sock-<pid> and is removed by close(), also after a failed setup. Needs root, bpffs,
// cgroup v2, iproute2 and python3 (SO_NETNS_COOKIE): a missing piece
// fails the setup with a message naming it.
import { spawn, execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, rmdirSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { BpfObject, attachCgroup } from 'bpf-loader-napi';
import type { Collection, Link, RodataValue } from 'bpf-loader-napi';
import { LbMaps } from './lb-maps.ts';
import type { Job, Outcome } from './sock-client.ts';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
export const SOCK_OBJECT = here('../../build/bpf/sock.bpf.o');
const CLIENT = here('./sock-client.ts');
const SERVER = here('./sock-server.ts');

export interface Listener { ip: string; port: number; hold?: boolean }

/** Addresses of the node<->pod veth pair. */
export const POD_LINK = { node4: '198.18.1.1', pod4: '198.18.1.2', node6: '2001:db8:1::1', pod6: '2001:db8:1::2' } as const;

export interface SockEnvOptions {
  /** Suffix keeping names unique when one process builds several environments. */
  tag: string;
  /** Addresses put on the node namespace's loopback. */
  addresses: string[];
  /** TCP+UDP servers answering with their identity. */
  listeners: Listener[];
  /** More load-time constants of sock.bpf.o (e.g. lb_host_netns_only). */
  rodata?: Record<string, RodataValue>;
}

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}

/** The cgroup v2 mount point, from /proc/mounts (hybrid hosts mount it at .../unified). */
export function cgroup2Mount(): string {
  const line = readFileSync('/proc/mounts', 'utf8').split('\n').find((l) => l.split(' ')[2] === 'cgroup2');
  if (!line) throw new Error('cgroup v2 is not mounted (no cgroup2 line in /proc/mounts): socket LB cannot attach');
  return line.split(' ')[1];
}

/** CONFIG_HZ of the running kernel, for lb_kernel_hz (affinity timeouts are in jiffies). */
export function kernelHz(): number {
  const sources: [string, () => string][] = [
    ['/proc/config.gz', () => gunzipSync(readFileSync('/proc/config.gz')).toString()],
    [`/boot/config-${release()}`, () => readFileSync(`/boot/config-${release()}`, 'utf8')],
  ];
  for (const [path, read] of sources) {
    if (!existsSync(path)) continue;
    const m = /^CONFIG_HZ=(\d+)$/m.exec(read());
    if (m) return Number(m[1]);
  }
  throw new Error(`CONFIG_HZ not found in /proc/config.gz or /boot/config-${release()}: cannot convert affinity timeouts to jiffies`);
}

/** The netns cookie of a namespace (getsockopt SO_NETNS_COOKIE = 71, Linux >= 5.14). Node has no
 * getsockopt, so a python3 one-liner reads it inside the namespace. */
export function netnsCookie(ns: string): bigint {
  const py = 'import socket;s=socket.socket();print(int.from_bytes(s.getsockopt(socket.SOL_SOCKET,71,8),"little"))';
  try {
    return BigInt(sh('ip', ['netns', 'exec', ns, 'python3', '-c', py]).trim());
  } catch (err) {
    throw new Error(`netns cookie of ${ns} unreadable (python3 with SO_NETNS_COOKIE is needed to tell the test's "node" netns to the programs): ${(err as Error).message}`);
  }
}

export class SockEnv {
  readonly id: string;
  readonly ns: string;
  readonly podNs: string;
  readonly cgroup: string;
  readonly pinDir: string;
  maps!: LbMaps;
  /** Netns cookies of the node and pod namespaces. */
  nodeCookie = 0n;
  podCookie = 0n;
  private coll: Collection | undefined;
  private links: Link[] = [];
  private server: ChildProcess | undefined;
  private undo: (() => void)[] = [];

  constructor(tag: string) {
    this.id = `kpb-sock-${process.pid}-${tag}`;
    this.ns = this.id;
    this.podNs = `${this.id}-pod`;
    this.cgroup = `${cgroup2Mount()}/${this.id}`;
    this.pinDir = `/sys/fs/bpf/${this.id}`;
  }

  static async create(opts: SockEnvOptions): Promise<SockEnv> {
    const env = new SockEnv(opts.tag);
    try {
      await env.setup(opts);
    } catch (err) {
      await env.close();
      throw err;
    }
    return env;
  }

  private async setup(opts: SockEnvOptions): Promise<void> {
    if (process.getuid?.() !== 0) throw new Error('socket-LB tests need root (netns, cgroup, bpf)');
    if (!existsSync(SOCK_OBJECT)) throw new Error(`${SOCK_OBJECT} is missing: run make bpf`);

    for (const ns of [this.ns, this.podNs]) {
      sh('ip', ['netns', 'add', ns]);
      this.undo.push(() => sh('ip', ['netns', 'del', ns]));
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    // The pod reaches the node namespace over a veth pair created inside the test namespaces.
    sh('ip', ['-n', this.ns, 'link', 'add', 'vnode', 'type', 'veth', 'peer', 'name', 'vpod', 'netns', this.podNs]);
    sh('ip', ['-n', this.ns, 'addr', 'add', `${POD_LINK.node4}/24`, 'dev', 'vnode']);
    sh('ip', ['-n', this.ns, 'addr', 'add', `${POD_LINK.node6}/64`, 'dev', 'vnode', 'nodad']);
    sh('ip', ['-n', this.podNs, 'addr', 'add', `${POD_LINK.pod4}/24`, 'dev', 'vpod']);
    sh('ip', ['-n', this.podNs, 'addr', 'add', `${POD_LINK.pod6}/64`, 'dev', 'vpod', 'nodad']);
    sh('ip', ['-n', this.ns, 'link', 'set', 'vnode', 'up']);
    sh('ip', ['-n', this.podNs, 'link', 'set', 'vpod', 'up']);
    sh('ip', ['-n', this.podNs, 'route', 'add', 'default', 'via', POD_LINK.node4]);
    sh('ip', ['-n', this.podNs, '-6', 'route', 'add', 'default', 'via', POD_LINK.node6]);
    for (const a of opts.addresses) {
      const v6 = a.includes(':');
      sh('ip', ['-n', this.ns, 'addr', 'add', `${a}/${v6 ? 128 : 32}`, 'dev', 'lo', ...(v6 ? ['nodad'] : [])]);
    }

    mkdirSync(this.cgroup);
    this.undo.push(() => this.removeCgroup());
    mkdirSync(this.pinDir);
    this.undo.push(() => rmSync(this.pinDir, { recursive: true, force: true }));

    const obj = BpfObject.open(SOCK_OBJECT);
    this.nodeCookie = netnsCookie(this.ns);
    this.podCookie = netnsCookie(this.podNs);
    obj.setRodata({ lb_kernel_hz: kernelHz(), lb_host_netns_cookie: this.nodeCookie, ...opts.rodata });
    this.coll = await obj.load({ pinPath: this.pinDir });
    this.maps = new LbMaps(this.coll);
    for (const spec of obj.programs) {
      this.links.push(attachCgroup(this.coll.program(spec.name), this.cgroup));
    }

    await this.startServer(opts.listeners);
  }

  private startServer(listeners: Listener[]): Promise<void> {
    const child = spawn('ip', ['netns', 'exec', this.ns, process.execPath, SERVER, JSON.stringify(listeners)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.server = child;
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`backend server in ${this.ns} not ready after 10 s: ${stderr}`)), 10_000);
      child.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) { clearTimeout(timer); resolve(); }
      });
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`backend server exited (${code}): ${stderr}`)); });
    });
  }

  /** Run a batch of client jobs in one Node process inside the test cgroup and the given netns.
   * The shell joins the cgroup before `ip netns exec` (which remounts /sys, hiding the cgroup
   * tree), and the exec'd client inherits the membership. At each 'pause' job onPause runs (e.g.
   * to change maps while the client holds sockets), then the client resumes. */
  run(jobs: Job[], netns: string = this.ns, onPause?: () => void | Promise<void>): Promise<Outcome[][]> {
    const script = 'echo $$ > "$1/cgroup.procs" && exec ip netns exec "$2" "$3" "$4"';
    const child = spawn('sh', ['-c', script, 'sh', this.cgroup, netns, process.execPath, CLIENT], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let failure: Error | undefined;
    child.stderr.on('data', (d) => { stderr += d; });
    child.stdout.on('data', (d) => {
      stdout += d;
      while (stdout.startsWith('pause\n')) {
        stdout = stdout.slice('pause\n'.length);
        Promise.resolve()
          .then(() => {
            if (!onPause) throw new Error('client paused but the test gave no onPause');
            return onPause();
          })
          .catch((err: Error) => { failure ??= err; })
          .finally(() => child.stdin.write('go\n'));
      }
    });
    child.stdin.on('error', () => { /* the client died: its exit code and stderr tell why */ });
    child.stdin.write(`${JSON.stringify(jobs)}\n`);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`client batch timed out after 120 s: ${stderr}`)); }, 120_000);
      child.once('exit', (code) => {
        clearTimeout(timer);
        child.stdin.destroy();
        if (failure) reject(failure);
        else if (code !== 0) reject(new Error(`client batch exited ${code}: ${stderr}`));
        else resolve(JSON.parse(stdout) as Outcome[][]);
      });
    });
  }

  private removeCgroup(): void {
    // The clients have exited when run() resolved; an exiting task can keep the cgroup busy for
    // a moment, so retry a bounded number of times.
    for (let i = 0; i < 50; i++) {
      try {
        rmdirSync(this.cgroup);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        if (i === 49) throw new Error(`cannot remove cgroup ${this.cgroup}: ${(err as Error).message}`);
        execFileSync('sleep', ['0.1']);
      }
    }
  }

  async close(): Promise<void> {
    const errors: unknown[] = [];
    if (this.server && this.server.exitCode === null) {
      const exited = new Promise((resolve) => this.server!.once('exit', resolve));
      this.server.stdin!.end();
      const t = setTimeout(() => this.server!.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(t);
    }
    for (const link of this.links) {
      try { link.detach(); link.close(); } catch (err) { errors.push(err); }
    }
    this.links = [];
    try { this.coll?.close(); } catch (err) { errors.push(err); }
    for (const undo of this.undo.reverse()) {
      try { undo(); } catch (err) { errors.push(err); }
    }
    this.undo = [];
    if (errors.length) throw new AggregateError(errors, `cleanup of ${this.id} incomplete`);
  }
}
