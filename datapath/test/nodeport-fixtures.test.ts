// BPF_PROG_TEST_RUN fixtures of the north-south datapath (xdp.bpf.o, tc.bpf.o). The runs must
// happen inside a namespace of ours, so bpf_fib_lookup consults our routes: this file builds the
// topology (np-topology.ts) and runs nodeport-fixtures.inner.ts inside it, streaming its report.
// Needs root, bpffs and the built objects and addon; fails loudly without them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { runInner } from './inner-run.ts';
import { createFixtureTopology } from './np-topology.ts';
import { XDP_OBJ, TC_OBJ } from './np-env.ts';

test('north-south fixtures pass inside their own namespace', () => {
  assert.equal(process.getuid?.(), 0, 'the datapath fixtures need root (BPF load, namespaces)');
  for (const f of [XDP_OBJ, TC_OBJ]) assert.ok(existsSync(f), `missing ${f}: run "make bpf"`);
  const topo = createFixtureTopology('npfix');
  try {
    runInner({
      ns: topo.ns.name, inner: new URL('./nodeport-fixtures.inner.ts', import.meta.url), what: 'fixtures',
      env: { KPB_NETNS: topo.ns.name, KPB_EXT0: String(topo.ext0), KPB_EXT1: String(topo.ext1), KPB_NOX0: String(topo.nox0) },
    });
  } finally {
    topo.ns.remove();
  }
});
