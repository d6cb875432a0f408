// Property test of the north-south datapath: thousands of random flows through XDP and tc with
// BPF_PROG_TEST_RUN (nodeport-property.inner.ts). Runs inside a namespace of ours for the FIB, like
// the fixtures. KPB_PROP_SEED=<n> replays a run; KPB_PROP_FLOWS=<n> changes the count (default
// 10000). Needs root, bpffs and the built objects; fails loudly without them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { runInner } from './inner-run.ts';
import { createFixtureTopology } from './np-topology.ts';
import { XDP_OBJ, TC_OBJ } from './np-env.ts';

test('random flows through XDP and tc: valid checksums, replies restore the tuple, malformed input never translated', () => {
  assert.equal(process.getuid?.(), 0, 'the property test needs root (BPF load, namespaces)');
  for (const f of [XDP_OBJ, TC_OBJ]) assert.ok(existsSync(f), `missing ${f}: run "make bpf"`);
  const topo = createFixtureTopology('npprop');
  try {
    // Clients come from whole prefixes behind a router on ext0, so any random address routes.
    topo.ns.ip('neigh', 'replace', '192.0.2.1', 'lladdr', '02:00:00:00:00:01', 'dev', 'ext0', 'nud', 'permanent');
    topo.ns.ip('-6', 'neigh', 'replace', '2001:db8:1::1', 'lladdr', '02:00:00:00:00:01', 'dev', 'ext0', 'nud', 'permanent');
    topo.ns.ip('route', 'add', '198.19.128.0/17', 'via', '192.0.2.1', 'dev', 'ext0');
    topo.ns.ip('-6', 'route', 'add', '2001:db8:99::/48', 'via', '2001:db8:1::1', 'dev', 'ext0');
    runInner({
      ns: topo.ns.name, inner: new URL('./nodeport-property.inner.ts', import.meta.url),
      what: 'the property run (its seed is printed above)', timeoutMs: 900_000, maxBuffer: 64 << 20,
      env: { KPB_NETNS: topo.ns.name, KPB_EXT0: String(topo.ext0), KPB_EXT1: String(topo.ext1) },
    });
  } finally {
    topo.ns.remove();
  }
});
