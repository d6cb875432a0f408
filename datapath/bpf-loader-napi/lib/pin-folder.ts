/**
 * Creating a pin folder safely.
 *
 * Pins only work on a bpffs mount, and `mkdirSync(..., { recursive: true })` never returns when a
 * folder on sysfs refuses mkdir with ENOENT (seen under `ip netns exec`, which mounts a fresh
 * /sys where /sys/fs/bpf is a plain, read-only sysfs folder). So the nearest existing ancestor is
 * checked to be bpffs first, and the missing components are made one at a time.
 * @module
 */
import { mkdirSync, statfsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { bpfError } from './errors.ts';

/** statfs f_type of a bpffs mount (BPF_FS_MAGIC in linux/magic.h). */
const BPF_FS_MAGIC = 0xcafe4a11;

/** Make `pinPath` (and missing parents) on bpffs, or throw a BpfError saying why it cannot be. */
export function ensurePinFolder(pinPath: string): void {
  const missing: string[] = [];
  let dir = resolve(pinPath);
  let fsType: number | undefined;
  for (;;) {
    try {
      fsType = Number(statfsSync(dir).type);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(dir) === dir) throw err;
      missing.unshift(dir);
      dir = dirname(dir);
    }
  }
  if (fsType !== BPF_FS_MAGIC) {
    throw bpfError('load', 'EINVAL', 22, pinPath,
      `Create pin folder "${pinPath}" failed: "${dir}" is not on a bpffs mount (filesystem magic 0x${(fsType >>> 0).toString(16)}); mount bpffs there (mount -t bpf bpf /sys/fs/bpf)`);
  }
  for (const component of missing) {
    try {
      mkdirSync(component);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}
