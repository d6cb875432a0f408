// The conntrack map of the versions before issue 12 (testdata/conntrack_v1.bpf.c), pinned and
// filled, migrated by MapMigration with the registered converter into the maps of the built
// tc.bpf.o: each entry lands in the map of its family and kind, readable by the new codecs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BpfObject, type MapSpec } from 'bpf-loader-napi';
import { MapMigration } from './map-migration.ts';
import { DATAPATH_WRITTEN, MAP_CONVERTERS } from './map-converters.ts';
import { LEGACY_CONNTRACK_CONVERTER, convertLegacyEntry } from './convert-conntrack.ts';
import { migrationPinFolder } from './testdata/migration-pin-folder.ts';
import { claimedSnatSlots, encodeSnatSlot } from './snat-slots.ts';

const BUILD = fileURLToPath(new URL('../../build/bpf/', import.meta.url));
const V1 = `${BUILD}conntrack_v1.bpf.o`;
const TC = `${BUILD}tc.bpf.o`;
const mapped = (a: number[]) => Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...a]);
const v6 = (last: number) => Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, last]);
const none = new Uint8Array(16);

test('a pinned kpb_ct of the previous version is converted into kpb_ct4/6 and the slots of kpb_snat4/6', async (t) => {
  const pin = migrationPinFolder(t, 'ctconv', [V1, TC]);

  const old = await BpfObject.open(V1).load({ pinPath: pin });
  // A SNAT reservation (IPv4), its forward entry, an IPv6 DSR forward entry, a local reply entry.
  old.map('kpb_ct').update({ src: mapped([198, 18, 2, 5]), dst: mapped([192, 0, 2, 11]), sport: 8080, dport: 61234, proto: 6 },
    { nat_src: mapped([192, 0, 2, 11]), nat_dst: mapped([192, 0, 2, 100]), nat_sport: 30080, nat_dport: 40000, flags: 4 | 8,
      expires: 0x1_2345_6789n, service_id: 7, backend_id: 9, tunnel_dst: none, tcp_state: 1 });
  old.map('kpb_ct').update({ src: mapped([192, 0, 2, 100]), dst: mapped([192, 0, 2, 11]), sport: 40000, dport: 30080, proto: 6 },
    { nat_src: mapped([192, 0, 2, 11]), nat_dst: mapped([198, 18, 2, 5]), nat_sport: 61234, nat_dport: 8080, flags: 2 | 8,
      expires: 0x1_2345_6789n, service_id: 7, backend_id: 9, tunnel_dst: none, tcp_state: 1 });
  old.map('kpb_ct').update({ src: v6(0x100), dst: v6(0x11), sport: 40001, dport: 30085, proto: 6 },
    { nat_src: v6(0x100), nat_dst: v6(0x11), nat_sport: 40001, nat_dport: 30085, flags: 2 | 16, expires: 5000n,
      service_id: 3, backend_id: 4, tunnel_dst: v6(0x12), tcp_state: 0 });
  old.map('kpb_ct').update({ src: mapped([198, 18, 1, 5]), dst: mapped([192, 0, 2, 100]), sport: 5353, dport: 5000, proto: 17 },
    { nat_src: mapped([192, 0, 2, 11]), nat_dst: mapped([192, 0, 2, 100]), nat_sport: 30054, nat_dport: 5000, flags: 1 | 4,
      expires: 99n, service_id: 1, backend_id: 2, tunnel_dst: none, tcp_state: 0 });
  old.close();

  const o = BpfObject.open(TC);
  const wanted = new Map<string, MapSpec>(o.maps.filter((m) => m.pinByName).map((m) => [m.name, m]));
  o.close();
  const m = MapMigration.plan({ pinPath: pin, wanted, converters: MAP_CONVERTERS, datapathWritten: DATAPATH_WRITTEN });
  t.after(() => m.close());
  assert.deepEqual(m.items.map((i) => [i.name, i.kind]), [['kpb_ct', 'convert']]);
  m.moveAside();
  const tc = await BpfObject.open(TC).load({ pinPath: pin });
  t.after(() => tc.close());
  const [report] = m.copy((name) => tc.map(name));
  assert.equal(report!.copied, 4);
  assert.equal(report!.dropped, 0);

  const snat = claimedSnatSlots(tc.map('kpb_snat4'));
  assert.equal(snat.length, 1, 'the reservation is in a slot of kpb_snat4');
  assert.equal(snat[0]!.key.src, 0xc6120205);
  assert.equal(snat[0]!.key.dport, 61234);
  assert.equal(snat[0]!.index, encodeSnatSlot(tc.map('kpb_snat4'), snat[0]!.key, {}).index, 'in the slot its reply tuple hashes to');
  assert.equal(snat[0]!.v.expires, 0x2345_6789, 'the low 32 bits of jiffies');
  assert.equal(snat[0]!.v.be_gen, 0);
  assert.equal((snat[0]!.v.nh as { ifindex: number }).ifindex, 0, 'no next hop cached yet');
  const ct4 = [...tc.map('kpb_ct4').entries()] as Array<[Record<string, unknown>, Record<string, unknown>]>;
  assert.deepEqual(ct4.map(([k]) => Number(k.dport)).sort((a, b) => a - b), [5000, 30080], 'the forward entry and the local reply entry');
  const ct6 = [...tc.map('kpb_ct6').entries()] as Array<[Record<string, unknown>, Record<string, unknown>]>;
  assert.equal(ct6.length, 1);
  assert.deepEqual(Array.from(ct6[0][1].nat_dst as Uint8Array), Array.from(v6(0x12)), 'a DSR entry keeps its tunnel in nat_dst');
  assert.equal(tc.map('kpb_snat6').info().maxEntries > 0, true);

  for (const r of m.finish((name) => tc.map(name))) assert.equal(r.map, 'kpb_ct');
  assert.equal(existsSync(`${pin}/kpb_ct`), false, 'the old pin is gone');
});

test('the converter accepts only the old layout, and skips entries that mix families', () => {
  const shape = (keySize: number, valueSize: number) => ({ name: 'kpb_ct', type: 'lru_hash', keySize, valueSize, maxEntries: 1, flags: 0 });
  assert.equal(LEGACY_CONNTRACK_CONVERTER.accepts(shape(40, 80)), false, 'without BTF field names it is not ours to guess');
  assert.equal(LEGACY_CONNTRACK_CONVERTER.accepts(shape(16, 80)), false);
  assert.equal(convertLegacyEntry({ src: mapped([1, 2, 3, 4]), dst: v6(1), sport: 1, dport: 2, proto: 6 },
    { nat_src: none, nat_dst: none, nat_sport: 0, nat_dport: 0, flags: 2, expires: 1n, service_id: 1, backend_id: 1, tunnel_dst: none, tcp_state: 0 }), null);
});
