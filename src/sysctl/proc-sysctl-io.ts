/**
 * @module
 * SysctlIo on the real files: `/proc/sys/<path>` for sysctls (per network namespace: the agent's
 * own, i.e. the node's), absolute paths (the conntrack hashsize module parameter) as given.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { SysctlIo } from './conntrack-sysctls.ts';

const file = (path: string) => (path.startsWith('/') ? path : `/proc/sys/${path}`);

/** Online CPUs from /sys/devices/system/cpu/online (`0-3,6`), else 1. */
function onlineCpus(): number {
  try {
    const text = readFileSync('/sys/devices/system/cpu/online', 'utf8').trim();
    let n = 0;
    for (const part of text.split(',')) {
      const [a, b] = part.split('-').map(Number);
      n += b === undefined ? 1 : b! - a! + 1;
    }
    return n > 0 ? n : 1;
  } catch {
    return 1;
  }
}

export const procSysctlIo: SysctlIo = {
  read(path) {
    const v = Number.parseInt(readFileSync(file(path), 'utf8').trim(), 10);
    if (!Number.isFinite(v)) throw new Error(`${file(path)} does not hold an integer`);
    return v;
  },
  write(path, value) {
    writeFileSync(file(path), String(value));
  },
  cpus: onlineCpus,
};
