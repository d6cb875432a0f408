// The packet counter maps of the versions before one slot per reason (testdata/counters_v1.bpf.c),
// pinned and filled, migrated by MapMigration with the registered converters into the maps of the
// built tc.bpf.o and pod.bpf.o: every total the agent reads (per hook, verdict and reason) is the
// same before and after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BpfObject, type MapSpec } from 'bpf-loader-napi';
import { MapMigration } from './map-migration.ts';
import { DATAPATH_WRITTEN, MAP_CONVERTERS } from './map-converters.ts';
import { counterSlotsConverter } from './convert-counters.ts';
import { readPacketCounters } from './read-counters.ts';
import { migrationPinFolder } from './testdata/migration-pin-folder.ts';

const BUILD = fileURLToPath(new URL('../../build/bpf/', import.meta.url));
const V1 = `${BUILD}counters_v1.bpf.o`;
const TC = `${BUILD}tc.bpf.o`;
const POD = `${BUILD}pod.bpf.o`;

/** What readPacketCounters gave, as "hook verdict|reason packets" lines without zeros. */
const totals = (snap: ReturnType<typeof readPacketCounters>): string[] => [
  ...snap.verdicts.filter((v) => v.packets).map((v) => `${v.hook} ${v.verdict} ${v.packets}`),
  ...snap.reasons.filter((r) => r.packets).map((r) => `${r.hook} ${r.reason} ${r.packets}`),
].sort();

test('pinned counters of the previous layout become one slot per reason, every total unchanged', async (t) => {
  const pin = migrationPinFolder(t, 'cntconv', [V1, TC, POD]);

  const old = await BpfObject.open(V1).load({ pinPath: pin });
  const np = old.map('kpb_np_counters');
  const pod = old.map('kpb_pod_counters');
  const cpus = (np.lookup(0) as unknown[]).length;
  const on = (cpu: number, n: number) => Array.from({ length: cpus }, (_, i) => (i === cpu ? n : 0));
  // xdp (hook 0) on CPU 0: 7 TX (remote_fwd 5, reply_fwd 2), 3 pass (to_tc); on the last CPU 4 drops (malformed).
  np.update(2, on(0, 7));
  np.update(0, on(0, 3));
  np.update(4 + 10, on(0, 5));
  np.update(4 + 11, on(0, 2));
  np.update(4 + 13, on(0, 3));
  np.update(1, on(cpus - 1, 4));
  np.update(4 + 4, on(cpus - 1, 4));
  // tc egress (hook 2): 6 passed, reply_local.
  np.update(64, on(0, 6));
  np.update(64 + 4 + 12, on(0, 6));
  // pod egress (hook 1 of 40): 2 passed as not_pod (a pod's own reason), 1 redirect hairpin on ingress.
  pod.update(40, on(0, 2));
  pod.update(40 + 32 + 1, on(0, 2));
  pod.update(3, on(0, 1));
  pod.update(32, on(0, 1));
  const before = totals(readOldCounters(np, pod));
  old.close();

  const wanted = new Map<string, MapSpec>();
  for (const f of [TC, POD]) {
    const o = BpfObject.open(f);
    for (const m of o.maps.filter((x) => x.pinByName)) wanted.set(m.name, m);
    o.close();
  }
  const m = MapMigration.plan({ pinPath: pin, wanted, converters: MAP_CONVERTERS, datapathWritten: DATAPATH_WRITTEN });
  t.after(() => m.close());
  assert.deepEqual(m.items.map((i) => [i.name, i.kind]).sort(), [['kpb_np_counters', 'convert'], ['kpb_pod_counters', 'convert']]);
  m.moveAside();
  const tc = await BpfObject.open(TC).load({ pinPath: pin });
  t.after(() => tc.close());
  const podObj = await BpfObject.open(POD).load({ pinPath: pin });
  t.after(() => podObj.close());
  for (const r of m.copy((name) => (name === 'kpb_pod_counters' ? podObj.map(name) : tc.map(name)))) assert.equal(r.dropped, 0, `${r.map}: nothing dropped`);

  const after = totals(readPacketCounters({ npCounters: tc.map('kpb_np_counters'), podCounters: podObj.map('kpb_pod_counters') }));
  assert.deepEqual(after, before);
  assert.ok(after.includes('xdp tx 7') && after.includes('xdp remote_fwd 5') && after.includes('pod_egress not_pod 2'), after.join('; '));
  // Each reason's packets went to verdicts of its own CPU: the last CPU's drops stay malformed.
  const slot = tc.map('kpb_np_counters').lookup(4 + 4) as { packets: Array<number | bigint> }[];
  assert.deepEqual(slot[cpus - 1]!.packets.map(Number), [0, 4, 0, 0]);
  m.finish((name) => (name === 'kpb_pod_counters' ? podObj.map(name) : tc.map(name)));
  assert.equal(existsSync(`${pin}/migrate/kpb_np_counters`), false, 'the old pin is gone');
});

/** The old layout's totals, read the way the previous read-counters.ts did. */
function readOldCounters(np: { lookup(k: number): unknown }, pod: { lookup(k: number): unknown }): ReturnType<typeof readPacketCounters> {
  const sum = (per: unknown) => (per as Array<number | bigint>).reduce<number>((n, v) => n + Number(v), 0);
  const VERDICTS = ['pass', 'drop', 'tx', 'redirect'];
  const REASONS = ['not_ip', 'not_service', 'unsupp_l4', 'fragment', 'malformed', 'src_range', 'no_backend', 'snat_exhausted', 'ct_full',
    'local_dnat', 'remote_fwd', 'reply_fwd', 'reply_local', 'to_tc', 'fib_fail', 'rst_sent', 'icmp_sent', 'icmp_xlate',
    'dsr_encap', 'dsr_decap', 'dsr_reply', 'frag_needed', 'ttl', 'error', 'vip_unknown_port', 'no_local_backend', 'snat_map_full', 'sent_by_us'];
  const verdicts: { hook: string; verdict: string; packets: number }[] = [];
  const reasons: { hook: string; reason: string; packets: number }[] = [];
  ['xdp', 'tc_ingress', 'tc_egress'].forEach((hook, h) => {
    VERDICTS.forEach((verdict, i) => verdicts.push({ hook, verdict, packets: sum(np.lookup(h * 32 + i)) }));
    REASONS.forEach((reason, i) => reasons.push({ hook, reason, packets: sum(np.lookup(h * 32 + 4 + i)) }));
  });
  ['pod_ingress', 'pod_egress'].forEach((hook, h) => {
    VERDICTS.forEach((verdict, i) => verdicts.push({ hook, verdict, packets: sum(pod.lookup(h * 40 + i)) }));
    REASONS.forEach((reason, i) => reasons.push({ hook, reason, packets: sum(pod.lookup(h * 40 + 4 + i)) }));
    ['hairpin', 'not_pod', 'unallocated', 'bad_scope'].forEach((reason, i) => reasons.push({ hook, reason, packets: sum(pod.lookup(h * 40 + 32 + i)) }));
  });
  return { verdicts, reasons };
}

test('the counter converter accepts only the old layout and spreads a reason over the verdicts left', () => {
  const c = counterSlotsConverter('kpb_np_counters', 32);
  const shape = (valueSize: number, maxEntries = 96) => ({ name: 'kpb_np_counters', type: 'percpu_array', keySize: 4, valueSize, maxEntries, flags: 0 });
  assert.equal(c.accepts(shape(8)), true);
  assert.equal(c.accepts(shape(32)), false, 'the new layout is not converted');
  assert.equal(c.accepts(shape(8, 50)), false, 'not whole hooks of 32');
  // hook 1, one CPU: 3 pass, 2 drop; reasons 4 (not_service) then 1 (malformed) then 1 more than counted.
  for (const [k, n] of [[32, 3], [33, 2], [34, 0], [35, 0]] as const) c.convert(k, [n]);
  assert.deepEqual(c.convert(32 + 5, [4]), { map: 'kpb_np_counters', key: 37, value: [{ packets: [3, 1, 0, 0] }] });
  assert.deepEqual(c.convert(32 + 8, [1]), { map: 'kpb_np_counters', key: 40, value: [{ packets: [0, 1, 0, 0] }] });
  assert.deepEqual(c.convert(32 + 9, [1]), { map: 'kpb_np_counters', key: 41, value: [{ packets: [1, 0, 0, 0] }] }, 'more than the verdicts counted: kept, as passed');
});
