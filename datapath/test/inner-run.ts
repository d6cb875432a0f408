// Runs a `node --test` file inside a network namespace of ours and streams its report: the shared
// step of the BPF_PROG_TEST_RUN fixtures, the property test and the traffic test, whose runs must
// happen in the namespace so that bpf_fib_lookup, attach and pins are its own.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

export interface InnerRun {
  /** The namespace to run in. */
  ns: string;
  /** The inner test file (`new URL('./x.inner.ts', import.meta.url)`). */
  inner: URL;
  /** Extra environment for the inner run (KPB_* topology facts). */
  env: Record<string, string>;
  /** What ran, for the failure message ("fixtures", "the property run"). */
  what: string;
  timeoutMs?: number;
  maxBuffer?: number;
}

/** Run it; fails the calling test unless the inner run exits 0 having passed at least one test. */
export function runInner(o: InnerRun): void {
  // A fresh test runner, not a child of ours: drop the variable node:test uses to spot one.
  const { NODE_TEST_CONTEXT: _ctx, ...env } = process.env;
  // `ip netns exec` mounts a fresh /sys in a private mount namespace, which hides bpffs; mount a
  // private bpffs instance there for the run's pins (it goes away with the process).
  const r = spawnSync('ip', ['netns', 'exec', o.ns, 'sh', '-c', 'mount -t bpf bpf /sys/fs/bpf && exec "$@"', 'sh',
    process.execPath, '--test', '--test-reporter=spec', o.inner.pathname], {
    encoding: 'utf8', timeout: o.timeoutMs ?? 300_000, maxBuffer: o.maxBuffer ?? 16 << 20,
    env: { ...env, ...o.env },
  });
  process.stdout.write(r.stdout ?? '');
  process.stderr.write(r.stderr ?? '');
  assert.equal(r.status, 0, `${o.what} failed inside ${o.ns} (status ${r.status}, signal ${r.signal}${r.error ? `, ${r.error.message}` : ''})`);
  assert.match(r.stdout ?? '', /ℹ pass [1-9]/, `the inner run of ${o.what} executed tests`);
}
