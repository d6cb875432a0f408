/**
 * Shared test environment: paths of the built test objects, root and bpffs checks, throwaway pin
 * folders, cgroups and network namespaces named `kpb-addon-<pid>-…` so parallel test files and
 * other users of the machine never collide. Every helper returns a cleanup that tolerates partial
 * setup. A missing prerequisite fails the test with the reason; nothing is skipped.
 * @module
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, rmdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const buildDir = fileURLToPath(new URL('../../../../build/bpf/', import.meta.url));

export const prefix = `kpb-addon-${process.pid}`;

/** Path of a test object built by `make bpf`; fails loudly when it is missing. */
export function objectPath(name: 'fixture' | 'bad_verifier'): string {
  const p = `${buildDir}${name}.bpf.o`;
  assert.ok(existsSync(p), `test object ${p} is missing: run "make bpf" in the repository root`);
  return p;
}

export function requireRoot(): void {
  assert.equal(process.getuid?.(), 0, 'these tests load BPF programs and need root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN)');
}

export function run(cmd: string, args: string[], opts: { input?: string } = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000, ...opts });
}

let seq = 0;
/** A fresh folder on bpffs; cleanup removes it and every pin inside. */
export function pinDir(tag: string): { path: string; cleanup: () => void } {
  const mounts = readFileSync('/proc/mounts', 'utf8');
  assert.match(mounts, /^\S+ \/sys\/fs\/bpf bpf /m, 'bpffs is not mounted at /sys/fs/bpf: run "make bpffs"');
  const path = `/sys/fs/bpf/${prefix}-${tag}-${seq++}`;
  mkdirSync(path, { recursive: true });
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Where cgroup v2 is mounted (pure v2 or the hybrid "unified" mount), read from /proc/mounts. */
export function cgroup2Mount(): string {
  const line = readFileSync('/proc/mounts', 'utf8').split('\n').find((l) => l.split(' ')[2] === 'cgroup2');
  assert.ok(line, 'no cgroup2 mount in /proc/mounts: cgroup socket hooks need cgroup v2');
  return line.split(' ')[1];
}

/** A throwaway child cgroup under the cgroup2 mount. cleanup removes it (it must be empty). */
export function makeCgroup(tag: string): { path: string; cleanup: () => void } {
  const path = `${cgroup2Mount()}/${prefix}-${tag}-${seq++}`;
  mkdirSync(path);
  return {
    path,
    cleanup: () => {
      // A child that was just killed can take a moment to leave; retry a bounded number of times.
      for (let i = 0; i < 50 && existsSync(path); i++) {
        try {
          rmdirSync(path);
        } catch {
          execFileSync('sleep', ['0.1']);
        }
      }
    },
  };
}

/** A network namespace; cleanup deletes it (and with it every interface inside). */
export function makeNetns(tag: string): { name: string; cleanup: () => void } {
  const name = `${prefix}-${tag}-${seq++}`;
  run('ip', ['netns', 'add', name]);
  return {
    name,
    cleanup: () => {
      try {
        run('ip', ['netns', 'del', name]);
      } catch {
        /* already gone */
      }
    },
  };
}

/** Node 24 binary running these tests, for child processes. */
export const nodeBin = process.execPath;
