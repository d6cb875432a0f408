// Per-run cgroups and bpffs pin folders. Each node gets its own cgroup (the agent attaches its
// socket programs there; processes "on" the node and in its pods are placed in it) and its own
// pin folder, so two agents and the machine itself never share BPF state. Everything lives under
// one folder named after the run (kpb-e2e-<pid>), which also lets a later run find and remove
// what a killed run left behind.
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './run.ts';
import type { Teardown } from './teardown.ts';

export const BPFFS = '/sys/fs/bpf';
// Run ids of this harness's users: the e2e tests (kpb-e2e-<pid>) and the benchmarks (kpb-bench-<pid>).
const RUN_RE = /^kpb-(?:e2e|bench)-(\d+)(?:-\d+)?$/;

/** The cgroup2 mount point, read from /proc/mounts (its location differs between distributions). */
export function findCgroup2Mount(): string {
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n');
  for (const line of mounts) {
    const [, mountPoint, fsType] = line.split(' ');
    if (fsType === 'cgroup2' && mountPoint !== undefined) return mountPoint;
  }
  throw new Error('no cgroup2 filesystem in /proc/mounts: the node cgroups for the BPF socket programs need cgroup v2');
}

function requireBpffs(): void {
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n');
  if (!mounts.some((l) => l.split(' ')[1] === BPFFS && l.split(' ')[2] === 'bpf')) {
    throw new Error(`${BPFFS} is not a bpffs mount: run \`make bpffs\` (as root) before the e2e tests`);
  }
}

/**
 * Kills every process in `dir` and its children (cgroup.kill, Linux 5.14+), then removes the tree.
 * Synchronous so it also works from a signal handler; the wait is a few ms in practice.
 */
function removeCgroupTree(dir: string): void {
  if (!existsSync(dir)) return;
  writeFileSync(join(dir, 'cgroup.kill'), '1');
  // cgroup.kill is asynchronous; a populated cgroup cannot be removed, so wait until it empties.
  const deadline = Date.now() + 10_000;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  while (/populated 1/.test(readFileSync(join(dir, 'cgroup.events'), 'utf8'))) {
    if (Date.now() > deadline) throw new Error(`cgroup ${dir} still has processes 10 s after cgroup.kill`);
    Atomics.wait(nap, 0, 0, 20);
  }
  const rmTree = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) rmTree(join(d, e.name));
    }
    rmdirSync(d);
  };
  rmTree(dir);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes namespaces, cgroups and pin folders of earlier runs whose process is gone (a run killed
 * with SIGKILL cannot clean up after itself). Runs of live processes are left alone.
 */
export async function sweepStaleRuns(): Promise<string[]> {
  const removed: string[] = [];
  const stale = (name: string): boolean => {
    const m = RUN_RE.exec(name);
    return m !== null && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]));
  };
  const cgroupRoot = findCgroup2Mount();
  for (const name of readdirSync(cgroupRoot)) {
    if (stale(name)) {
      removeCgroupTree(join(cgroupRoot, name));
      removed.push(join(cgroupRoot, name));
    }
  }
  if (existsSync('/run/netns')) {
    for (const ns of readdirSync('/run/netns')) {
      const m = /^(kpb-(?:e2e|bench)-\d+(?:-\d+)?)-/.exec(ns);
      if (m && stale(m[1]!)) {
        await run(['ip', 'netns', 'del', ns], { allowFailure: true });
        removed.push(`netns ${ns}`);
      }
    }
  }
  if (existsSync(BPFFS)) {
    for (const name of readdirSync(BPFFS)) {
      if (stale(name)) {
        rmSync(join(BPFFS, name), { recursive: true, force: true });
        removed.push(join(BPFFS, name));
      }
    }
  }
  // Run folders (PKI, etcd data, logs) are named <runId>-XXXXXX by mkdtemp.
  for (const name of readdirSync(tmpdir())) {
    const m = /^(kpb-(?:e2e|bench)-\d+(?:-\d+)?)-[A-Za-z0-9]{6}$/.exec(name);
    if (m && stale(m[1]!)) {
      rmSync(join(tmpdir(), name), { recursive: true, force: true });
      removed.push(join(tmpdir(), name));
    }
  }
  return removed;
}

export interface Sandbox {
  runId: string;
  /** <cgroup2>/<runId>: parent of every cgroup of this run. */
  cgroupRoot: string;
  /** /sys/fs/bpf/<runId>: parent of every pin folder of this run. */
  pinRoot: string;
  /** Creates (once) and returns <cgroupRoot>/<name>. */
  cgroup(name: string): string;
  /** Creates (once) and returns <pinRoot>/<name>. */
  pinPath(name: string): string;
}

export function createSandbox(runId: string, teardown: Teardown): Sandbox {
  requireBpffs();
  const cgroupRoot = join(findCgroup2Mount(), runId);
  const pinRoot = join(BPFFS, runId);
  mkdirSync(cgroupRoot);
  const removeCgroups = (): void => removeCgroupTree(cgroupRoot);
  teardown.add(`cgroup ${cgroupRoot}`, removeCgroups, removeCgroups);
  mkdirSync(pinRoot);
  const removePins = (): void => rmSync(pinRoot, { recursive: true, force: true });
  teardown.add(`pin folder ${pinRoot}`, removePins, removePins);
  const sub = (root: string) => (name: string): string => {
    const dir = join(root, name);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) mkdirSync(dir);
    return dir;
  };
  return { runId, cgroupRoot, pinRoot, cgroup: sub(cgroupRoot), pinPath: sub(pinRoot) };
}
