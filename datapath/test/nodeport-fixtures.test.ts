// BPF_PROG_TEST_RUN fixtures of the north-south datapath (xdp.bpf.o, tc.bpf.o). The runs must
// happen inside a namespace of ours, so bpf_fib_lookup consults our routes: this file builds the
// topology (np-topology.ts) and runs nodeport-fixtures.inner.ts inside it, streaming its report.
// Needs root, bpffs and the built objects and addon; fails loudly without them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createFixtureTopology } from './np-topology.ts';
import { XDP_OBJ, TC_OBJ } from './np-env.ts';

test('north-south fixtures pass inside their own namespace', () => {
  assert.equal(process.getuid?.(), 0, 'the datapath fixtures need root (BPF load, namespaces)');
  for (const f of [XDP_OBJ, TC_OBJ]) assert.ok(existsSync(f), `missing ${f}: run "make bpf"`);
  const topo = createFixtureTopology('npfix');
  try {
    const inner = new URL('./nodeport-fixtures.inner.ts', import.meta.url).pathname;
    // A fresh test runner, not a child of ours: drop the variable node:test uses to spot one.
    const { NODE_TEST_CONTEXT: _ctx, ...env } = process.env;
    // `ip netns exec` mounts a fresh /sys in a private mount namespace, which hides bpffs; mount a
    // private bpffs instance there for the run's pins (it goes away with the process).
    const r = spawnSync('ip', ['netns', 'exec', topo.ns.name, 'sh', '-c', 'mount -t bpf bpf /sys/fs/bpf && exec "$@"', 'sh',
      process.execPath, '--test', '--test-reporter=spec', inner], {
      encoding: 'utf8', timeout: 300_000,
      env: { ...env, KPB_NETNS: topo.ns.name, KPB_EXT0: String(topo.ext0), KPB_EXT1: String(topo.ext1), KPB_NOX0: String(topo.nox0) },
    });
    process.stdout.write(r.stdout ?? '');
    process.stderr.write(r.stderr ?? '');
    assert.equal(r.status, 0, `fixtures failed inside ${topo.ns.name} (status ${r.status}, signal ${r.signal})`);
    assert.match(r.stdout ?? '', /ℹ pass [1-9]/, 'the inner run executed fixtures');
  } finally {
    topo.ns.remove();
  }
});
