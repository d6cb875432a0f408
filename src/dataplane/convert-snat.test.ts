// The SNAT reservations of the versions before the reservation table (testdata/snat_v1.bpf.c:
// hashes keyed by the reply tuple), pinned and filled, migrated by MapMigration with the
// registered converters into the slots of the built tc.bpf.o; and a table re-placed when its size
// changes. Each reservation lands in the slot its tuple hashes to, which the datapath's census
// counts; two that hash to one slot cannot both stay, and the second is reported dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BpfObject, type BpfMap, type Collection, type MapSpec } from 'bpf-loader-napi';
import { MapMigration, type MapShape } from './map-migration.ts';
import { DATAPATH_WRITTEN, MAP_CONVERTERS } from './map-converters.ts';
import { SNAT_CONVERTERS } from './convert-snat.ts';
import { claimedSnatSlots, encodeSnatSlot } from './snat-slots.ts';
import { migrationPinFolder } from './testdata/migration-pin-folder.ts';

const BUILD = fileURLToPath(new URL('../../build/bpf/', import.meta.url));
const V1 = `${BUILD}snat_v1.bpf.o`;
const TC = `${BUILD}tc.bpf.o`;
const v6 = (last: number) => Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, last]);
const mapped = (a: number[]) => Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...a]);

/** tc.bpf.o with SNAT tables of `slots` slots, as the agent sizes them. */
function tcObject(slots: number): BpfObject {
  return BpfObject.open(TC).setRodata({ kpb_snat_slots: slots }).resizeMap('kpb_snat4', slots).resizeMap('kpb_snat6', slots);
}

function wantedOf(slots: number): Map<string, MapSpec> {
  const o = tcObject(slots);
  try {
    return new Map<string, MapSpec>(o.maps.filter((m) => m.pinByName).map((m) => [m.name, m]));
  } finally {
    o.close();
  }
}

const reply4 = (dport: number) => ({ src: 0xc6120205, dst: 0xc000020b, sport: 8080, dport, proto: 6 });
const value = (sport: number) => ({ nat_src: mapped([192, 0, 2, 11]), nat_dst: mapped([192, 0, 2, 100]), nat_sport: 30080, nat_dport: sport, flags: 4 | 8, tcp_state: 1, expires: 0x1234_5678, service_id: 7, backend_id: 9 });

function census(tc: Collection, family: 4 | 6): number {
  const skb = Buffer.alloc(192);
  skb.writeUInt32LE(family, 56); // cb[2]; cb[0], cb[1] 0: the whole table
  return tc.program('kpb_snat_census').testRun({ data: Buffer.alloc(14), ctx: skb }).retval;
}

/** Ports p (from 61000) whose reply tuples take distinct slots of a table of `slots`, and one more that collides with the first. */
function portsFor(to: BpfMap, n: number): { distinct: number[]; collides: number } {
  const seen = new Map<number, number>();
  const distinct: number[] = [];
  let collides = -1;
  for (let p = 61000; p < 65536 && (distinct.length < n || collides < 0); p++) {
    const i = encodeSnatSlot(to, reply4(p), {}).index;
    if (!seen.has(i) && distinct.length < n) {
      seen.set(i, p);
      distinct.push(p);
    } else if (collides < 0 && seen.get(i) === distinct[0]) {
      collides = p;
    }
  }
  assert.ok(collides > 0);
  return { distinct, collides };
}

test('pinned SNAT hash maps of the previous version are converted into the slots of the reservation table', async (t) => {
  const pin = migrationPinFolder(t, 'snatconv', [V1, TC]);
  const SLOTS = 64;
  // Which ports collide depends only on the hash and the size: find them on a scratch table.
  const scratch = await tcObject(SLOTS).load();
  const { distinct, collides } = portsFor(scratch.map('kpb_snat4'), 3);
  scratch.close();

  const old = await BpfObject.open(V1).load({ pinPath: pin });
  for (const p of distinct) old.map('kpb_snat4').update(reply4(p), value(40000 + p - 61000));
  old.map('kpb_snat4').update(reply4(collides), value(50000));
  old.map('kpb_snat6').update({ src: v6(0x5), dst: v6(0x11), sport: 8080, dport: 61999, proto: 17 },
    { ...value(40001), nat_src: v6(0x11), nat_dst: v6(0x100), flags: 4 | 8 });

  const m = MapMigration.plan({ pinPath: pin, wanted: wantedOf(SLOTS), converters: MAP_CONVERTERS, datapathWritten: DATAPATH_WRITTEN });
  t.after(() => m.close());
  assert.deepEqual(m.items.map((i) => [i.name, i.kind]).sort(), [['kpb_snat4', 'convert'], ['kpb_snat6', 'convert']]);
  m.moveAside();
  const tc = await tcObject(SLOTS).load({ pinPath: pin });
  t.after(() => tc.close());
  const reports = new Map(m.copy((name) => tc.map(name)).map((r) => [r.map, r]));
  assert.equal(reports.get('kpb_snat4')!.copied, 3);
  assert.equal(reports.get('kpb_snat4')!.dropped, 1, 'the reservation whose slot an earlier one took is reported dropped');
  assert.equal(reports.get('kpb_snat6')!.copied, 1);

  const slots = claimedSnatSlots(tc.map('kpb_snat4'));
  const kept = slots.map((s) => Number(s.key.dport)).sort();
  // Which of two colliding tuples keeps the slot depends on the old hash map's walk order.
  assert.equal(kept.length, 3);
  assert.deepEqual(kept.filter((p) => p !== distinct[0] && p !== collides), distinct.slice(1));
  assert.equal(kept.filter((p) => p === distinct[0] || p === collides).length, 1, 'one of two colliding tuples keeps the slot');
  for (const s of slots) {
    assert.equal(s.index, encodeSnatSlot(tc.map('kpb_snat4'), s.key, {}).index, 'in the slot its tuple hashes to');
    assert.equal(s.v.nat_dport, s.key.dport === collides ? 50000 : 40000 + Number(s.key.dport) - 61000, 'its value carried over');
    assert.equal(s.v.expires, 0x1234_5678);
  }
  const s6 = claimedSnatSlots(tc.map('kpb_snat6'));
  assert.equal(s6.length, 1);
  assert.deepEqual(Array.from(s6[0]!.v.nat_dst as Uint8Array), Array.from(v6(0x100)));
  assert.equal(census(tc, 4), 3, 'the datapath counts the converted slots');
  assert.equal(census(tc, 6), 1);

  // A reservation the old programs made after the copy is carried by finish(), into a free slot only.
  const late = portsFor(tc.map('kpb_snat4'), 4).distinct.find((p) => !distinct.includes(p) && p !== collides)!;
  const aside = await BpfObject.open(V1).load({ pinPath: `${pin}/migrate` });
  aside.map('kpb_snat4').update(reply4(late), value(45000));
  aside.close();
  const fin = new Map(m.finish((name) => tc.map(name)).map((r) => [r.map, r]));
  assert.equal(fin.get('kpb_snat4')!.late, 1);
  assert.equal(claimedSnatSlots(tc.map('kpb_snat4')).find((s) => s.key.dport === late)?.v.nat_dport, 45000);
  assert.equal(census(tc, 4), 4);
  assert.equal(existsSync(`${pin}/migrate/kpb_snat4`), false, 'the old pin is gone');
});

test('a reservation table of another size (--bpf-map-snat changed) is placed again slot by slot', async (t) => {
  const pin = migrationPinFolder(t, 'snatresize', [TC]);
  const small = await tcObject(64).load({ pinPath: pin });
  const { distinct } = portsFor(small.map('kpb_snat4'), 5);
  for (const p of distinct) {
    const { index, value: v } = encodeSnatSlot(small.map('kpb_snat4'), reply4(p), value(p));
    small.map('kpb_snat4').update(index, v);
  }
  small.close();

  const m = MapMigration.plan({ pinPath: pin, wanted: wantedOf(1024), converters: MAP_CONVERTERS, datapathWritten: DATAPATH_WRITTEN });
  t.after(() => m.close());
  assert.deepEqual(m.items.map((i) => [i.name, i.kind]).sort(), [['kpb_snat4', 'convert'], ['kpb_snat6', 'convert']]);
  m.moveAside();
  const tc = await tcObject(1024).load({ pinPath: pin });
  t.after(() => tc.close());
  const reports = new Map(m.copy((name) => tc.map(name)).map((r) => [r.map, r]));
  assert.equal(reports.get('kpb_snat4')!.copied, 5);
  assert.equal(reports.get('kpb_snat4')!.dropped, 0, 'free slots are not losses');
  assert.equal(reports.get('kpb_snat6')!.copied, 0);
  const slots = claimedSnatSlots(tc.map('kpb_snat4'));
  assert.deepEqual(slots.map((s) => Number(s.key.dport)).sort(), distinct);
  for (const s of slots) assert.equal(s.index, encodeSnatSlot(tc.map('kpb_snat4'), s.key, {}).index);
  assert.equal(census(tc, 4), 5);
  m.finish((name) => tc.map(name));
});

test('the SNAT converters accept the earlier hash maps and slot tables only', () => {
  const conv = SNAT_CONVERTERS[0]!;
  const fields = (names: string[]) => ({ name: 'x', kind: 'struct' as const, size: 0, fields: names.map((n, i) => ({ name: n, kind: 'u32' as const, size: 4, offset: i * 4 })) });
  const shape = (type: string, k?: string[], v?: string[]): MapShape => ({ name: 'kpb_snat4', type, keySize: 16, valueSize: 80, maxEntries: 1, flags: 0, keyLayout: k && fields(k), valueLayout: v && fields(v) });
  const ctValue = ['nat_src', 'nat_dst', 'nat_sport', 'nat_dport', 'flags', 'expires', 'service_id', 'backend_id', 'tcp_state'];
  assert.equal(conv.accepts(shape('hash', ['src', 'dst', 'sport', 'dport', 'proto'], ctValue)), true);
  assert.equal(conv.accepts(shape('array', undefined, ['owner', 'key', 'v'])), true);
  assert.equal(conv.accepts(shape('hash')), false, 'without BTF field names it is not ours to guess');
  assert.equal(conv.accepts(shape('lru_hash', ['src', 'dst', 'sport', 'dport', 'proto'], ctValue)), false);
  assert.throws(() => conv.convert(Buffer.alloc(16), {}), /needs the new maps/);
});
