// A long-running process placed in a network namespace and, optionally, a cgroup: how etcd, the
// apiserver, echo servers and agents run. The shell joins the cgroup and then execs nsenter, which
// joins the network namespace and execs the program (neither forks), so the pid we hold is the
// program's own pid, and it is in the cgroup before its first instruction. nsenter rather than
// `ip netns exec`: the latter remounts /sys in a private mount namespace, which hides bpffs and
// the cgroup2 mount from the agent, whereas a hostNetwork DaemonSet pod sees the host's (see
// `sysfsScratch` for a sysfs of the namespace's own that keeps those mounts).
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { run, type RunOptions, type RunResult } from './run.ts';

export interface Placement {
  /** Network namespace name (as under /run/netns). */
  netns: string;
  /** cgroup v2 directory to join before exec, or undefined to stay in the caller's cgroup. */
  cgroup?: string;
  /**
   * An empty folder used as a scratch mount point. When set, the program also gets a private
   * mount namespace with a sysfs of its own network namespace (so /sys/class/net lists the
   * node's devices, as in a hostNetwork pod) while keeping the host's bpffs and cgroup mounts.
   */
  sysfsScratch?: string;
}

export interface ProcOptions {
  /** Human name used in errors ("etcd", "echo a-pod1"). */
  name: string;
  /** File that receives stdout and stderr, for post-mortem reading. */
  logFile?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

const TAIL_LIMIT = 64 * 1024;

/** argv that runs `argv` inside `place` (used for one-shot commands too). */
// Runs in the new mount namespace: keeps bpffs and the cgroup tree by bind-mounting them aside,
// mounts a sysfs that belongs to the current network namespace over /sys, and moves them back.
// Propagation is made private first, so nothing here reaches the host's mount table.
const OWN_SYSFS = [
  'set -e', 'mount --make-rprivate /', 'mkdir -p "$1/bpf" "$1/cgroup"',
  'mount --rbind /sys/fs/bpf "$1/bpf"', 'mount --rbind /sys/fs/cgroup "$1/cgroup"',
  'mount -t sysfs sysfs /sys', 'mount --move "$1/bpf" /sys/fs/bpf', 'mount --move "$1/cgroup" /sys/fs/cgroup',
  'shift', 'exec "$@"',
].join('\n');

export function placedArgv(place: Placement, argv: readonly string[]): string[] {
  const program = place.sysfsScratch === undefined
    ? [...argv]
    : ['unshare', '--mount', '--', 'sh', '-c', OWN_SYSFS, 'sh', place.sysfsScratch, ...argv];
  const enter = ['nsenter', `--net=/run/netns/${place.netns}`, '--', ...program];
  return place.cgroup === undefined
    ? enter
    : ['sh', '-c', 'echo $$ > "$1" && shift && exec "$@"', 'sh', `${place.cgroup}/cgroup.procs`, ...enter];
}

export class Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #output = '';
  #log: WriteStream | undefined;
  #listeners = new Set<() => void>();
  #done = false;

  constructor(place: Placement, argv: readonly string[], opts: ProcOptions) {
    this.name = opts.name;
    const [cmd, ...args] = placedArgv(place, argv);
    this.#log = opts.logFile === undefined ? undefined : createWriteStream(opts.logFile, { flags: 'a' });
    this.child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd });
    const take = (d: Buffer): void => {
      this.#log?.write(d);
      this.#output += d.toString('utf8');
      if (this.#output.length > TAIL_LIMIT) this.#output = this.#output.slice(-TAIL_LIMIT);
      for (const l of this.#listeners) l();
    };
    this.child.stdout!.on('data', take);
    this.child.stderr!.on('data', take);
    this.exited = new Promise((resolve) => {
      this.child.on('error', (err) => {
        this.#output += `\n[spawn error: ${err.message}]`;
      });
      this.child.on('close', (code, signal) => {
        this.#done = true;
        this.#log?.end();
        for (const l of this.#listeners) l();
        resolve({ code, signal });
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return !this.#done;
  }

  /** The last 64 KiB of combined stdout and stderr. */
  get output(): string {
    return this.#output;
  }

  /** Resolves with the first match of `re` in the output; rejects on exit or timeout. */
  waitFor(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const m = this.#output.match(re);
        if (m) {
          cleanup();
          resolve(m);
        } else if (this.#done) {
          cleanup();
          reject(new Error(`${this.name} exited before printing ${re}; output tail:\n${this.#output.slice(-4000)}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.name} did not print ${re} within ${timeoutMs} ms; output tail:\n${this.#output.slice(-4000)}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.#listeners.delete(check);
      };
      this.#listeners.add(check);
      check();
    });
  }

  /** SIGKILL now, without waiting (signal-time teardown; the cgroup removal waits for the exit). */
  kill(): void {
    if (!this.#done) this.child.kill('SIGKILL');
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.#done) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Runs a short command inside `place` to completion (see run.ts for the options). */
export function runIn(place: Placement, argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(placedArgv(place, argv), opts);
}
