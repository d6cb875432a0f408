// BPF_PROG_TEST_RUN fixtures of the pod-side datapath (pod.bpf.o). The runs happen inside a
// namespace of ours, so bpf_fib_lookup consults our routes and neighbours: this file builds the
// topology (pod-env.ts) and runs pod-fixtures.inner.ts inside it, streaming its report. Needs root,
// bpffs and the built objects and addon; fails loudly without them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { runInner } from './inner-run.ts';
import { createPodTopology, POD_OBJ } from './pod-env.ts';
import { TC_OBJ, XDP_OBJ } from './np-env.ts';

test('pod-side fixtures pass inside their own namespace', () => {
  assert.equal(process.getuid?.(), 0, 'the datapath fixtures need root (BPF load, namespaces)');
  for (const f of [POD_OBJ, TC_OBJ, XDP_OBJ]) assert.ok(existsSync(f), `missing ${f}: run "make bpf"`);
  const topo = createPodTopology('podfix');
  try {
    runInner({
      ns: topo.ns.name, inner: new URL('./pod-fixtures.inner.ts', import.meta.url), what: 'fixtures',
      env: { KPB_NETNS: topo.ns.name, KPB_EXT0: String(topo.ext0), KPB_VP1: String(topo.vp1), KPB_VP2: String(topo.vp2) },
    });
  } finally {
    topo.ns.remove();
  }
});
