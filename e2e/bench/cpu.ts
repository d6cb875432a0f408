// CPU accounting from /proc: machine-wide per-state jiffies (/proc/stat) and one process's
// utime/stime (/proc/<pid>/stat) and RSS (/proc/<pid>/status). Namespaces share the CPUs, so the
// machine-wide figures include everything else running on the host; the benchmark says so.
import { readFileSync } from 'node:fs';

export const CLK_TCK = 100; // USER_HZ on every Linux architecture we run on

export interface CpuTimes {
  user: number; nice: number; system: number; idle: number; iowait: number; irq: number; softirq: number; steal: number;
}

/** Jiffies per state for the whole machine ("cpu") or one CPU ("cpu0"). */
export function parseProcStat(text: string): Map<string, CpuTimes> {
  const out = new Map<string, CpuTimes>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (!f[0]?.startsWith('cpu')) continue;
    const n = f.slice(1).map(Number);
    out.set(f[0], { user: n[0], nice: n[1], system: n[2], idle: n[3], iowait: n[4], irq: n[5], softirq: n[6], steal: n[7] ?? 0 });
  }
  return out;
}

export function readCpuTimes(): Map<string, CpuTimes> {
  return parseProcStat(readFileSync('/proc/stat', 'utf8'));
}

/** Seconds spent per state between two snapshots of the same CPU line. */
export function cpuDelta(a: CpuTimes, b: CpuTimes): CpuTimes {
  const d = {} as CpuTimes;
  for (const k of Object.keys(a) as Array<keyof CpuTimes>) d[k] = (b[k] - a[k]) / CLK_TCK;
  return d;
}

export interface ProcUsage {
  /** user + system CPU seconds so far (the process and its reaped children are not summed). */
  cpuSeconds: number;
  rssBytes: number;
}

/** utime+stime from /proc/<pid>/stat (fields 14 and 15, counted after the ")" of comm). */
export function parsePidStat(text: string): number {
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime is field 14 -> rest[11], stime field 15 -> rest[12]
  return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
}

export function parseRss(statusText: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(statusText);
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

export function procUsage(pid: number): ProcUsage {
  return {
    cpuSeconds: parsePidStat(readFileSync(`/proc/${pid}/stat`, 'utf8')),
    rssBytes: parseRss(readFileSync(`/proc/${pid}/status`, 'utf8')),
  };
}
