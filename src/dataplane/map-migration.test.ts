// MapMigration against the kernel: migrate_v1.bpf.o's pinned maps, filled with entries, migrated
// to migrate_v2.bpf.o (a copy for a grown map, a conversion by field name, a registered converter
// that splits a map, map-in-map inner maps carried over, an orphan removed, a map adopted as is),
// late writes of the "old programs" picked up by finish(), a refusal for migrate_v3.bpf.o, and a
// migration cut short at either point picked up by the next plan(). Pins live in a throwaway
// folder under /sys/fs/bpf; no program is attached.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { BpfObject, createMap, openMapById, openPinnedMap, type BpfMap, type Collection, type MapSpec } from 'bpf-loader-napi';
import { MapMigration, MigrationError, type MapConverter } from './map-migration.ts';
import { securePinFolder } from './pin-folder.ts';

const BUILD = fileURLToPath(new URL('../../build/bpf/', import.meta.url));
const obj = (v: 1 | 2 | 3) => `${BUILD}migrate_v${v}.bpf.o`;
let seq = 0;

function pinFolder(t: { after: (fn: () => void) => void }): string {
  assert.equal(process.getuid?.(), 0, 'map migration tests need root (BPF maps, bpffs)');
  for (const v of [1, 2, 3] as const) assert.ok(existsSync(obj(v)), `${obj(v)} is missing: run "make bpf"`);
  const path = `/sys/fs/bpf/kpb-migrate-${process.pid}-${seq++}`;
  t.after(() => rmSync(path, { recursive: true, force: true }));
  securePinFolder(path, '/sys/fs/bpf');
  return path;
}

async function load(v: 1 | 2 | 3, pinPath: string): Promise<Collection> {
  return BpfObject.open(obj(v)).load({ pinPath });
}

function wantedOf(v: 1 | 2 | 3): Map<string, MapSpec> {
  const o = BpfObject.open(obj(v));
  try {
    return new Map(o.maps.filter((m) => m.pinByName).map((m) => [m.name, m]));
  } finally {
    o.close();
  }
}

const key = (n: number) => ({ addr: 0xc0000200 + n, port: 8000 + n, proto: 6 });

/** v1's mg_pair (u64) split into v2's mg_lo and mg_hi (u32 each). */
const splitPair: MapConverter = {
  from: 'mg_pair', to: ['mg_lo', 'mg_hi'], describe: 'split into low and high halves',
  accepts: (old) => old.keySize === 4 && old.valueSize === 8,
  convert: (k, v) => [
    { map: 'mg_lo', key: k, value: Number(BigInt(v as bigint) & 0xffffffffn) },
    { map: 'mg_hi', key: k, value: Number(BigInt(v as bigint) >> 32n) },
  ],
};

/** Fills v1's maps; returns the inner map ids stored in mg_outer. */
function fill(v1: Collection): number[] {
  for (let i = 1; i <= 3; i++) v1.map('mg_ct').update(key(i), { seen: BigInt(i) * 1000n, backend: 10 + i });
  for (let i = 0; i < 10; i++) v1.map('mg_rev').update(i, i * 7);
  for (let i = 1; i <= 3; i++) v1.map('mg_pair').update(i, (BigInt(i) << 32n) | BigInt(i + 100));
  v1.map('mg_cnt').update(2, 5n);
  v1.map('mg_gone').update(1, 1);
  const ids: number[] = [];
  for (let i = 1; i <= 2; i++) {
    const inner = createMap({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 4 });
    inner.update(Buffer.from([1, 0, 0, 0]), Buffer.from([i * 11, 0, 0, 0]));
    v1.map('mg_outer').update(i, inner.fd);
    ids.push(inner.info().id);
    inner.close();
  }
  return ids;
}

test('MapMigration copies, converts and splits pinned maps into a new version, then picks up late writes and removes the old pins', async (t) => {
  const pin = pinFolder(t);
  const v1 = await load(1, pin);
  t.after(() => v1.close());
  const innerIds = fill(v1);
  const cntId = v1.map('mg_cnt').info().id;

  const m = MapMigration.plan({ pinPath: pin, wanted: wantedOf(2), converters: [splitPair], datapathWritten: new Set(['mg_ct']) });
  t.after(() => m.close());
  assert.deepEqual(m.items.map((i) => [i.name, i.kind]).sort(), [
    ['mg_ct', 'by-name'], ['mg_gone', 'orphan'], ['mg_jump', 'replace'], ['mg_outer', 'copy'], ['mg_pair', 'convert'], ['mg_rev', 'copy'],
  ]);
  assert.match(m.items.find((i) => i.name === 'mg_rev')!.why, /max entries 16 -> 256/);
  assert.match(m.items.find((i) => i.name === 'mg_ct')!.why, /value size 16 -> 24/);
  m.moveAside();
  assert.deepEqual(readdirSync(`${pin}/migrate`).sort(), ['mg_ct', 'mg_jump', 'mg_outer', 'mg_pair', 'mg_rev']);

  const v2 = await load(2, pin);
  t.after(() => v2.close());
  const reports = m.copy((name) => v2.map(name));
  const by = Object.fromEntries(reports.map((r) => [r.map, r]));
  assert.deepEqual([by.mg_ct!.copied, by.mg_rev!.copied, by.mg_pair!.copied, by.mg_outer!.copied], [3, 10, 6, 2]);
  assert.deepEqual(by.mg_pair!.into.sort(), ['mg_hi', 'mg_lo']);
  for (const r of reports) assert.equal(r.dropped, 0, r.map);
  assert.equal(by.mg_jump, undefined, 'a program array is not copied');
  // The new array holds the new version's program; the old one still serves the old programs.
  assert.equal(v2.map('mg_jump').info().maxEntries, 4);
  assert.equal(v2.map('mg_jump').lookup(Buffer.alloc(4))!.readUInt32LE(0), v2.program('mg_tail').info().id);
  assert.equal(openPinnedMap(`${pin}/migrate/mg_jump`).lookup(Buffer.alloc(4))!.readUInt32LE(0), v1.program('mg_tail').info().id);

  // By field name: the reordered fields keep their values, the new ones start at zero.
  assert.deepEqual(v2.map('mg_ct').lookup(key(2)), { backend: 12, flags: 0, seen: 2000n, extra: 0n });
  assert.equal(v2.map('mg_rev').info().maxEntries, 256);
  assert.equal(v2.map('mg_rev').lookup(9), 63);
  assert.deepEqual([v2.map('mg_lo').lookup(3), v2.map('mg_hi').lookup(3)], [103, 3]);
  assert.equal(v2.map('mg_cnt').info().id, cntId, 'an unchanged map is adopted, not copied');
  assert.equal(v2.map('mg_outer').info().maxEntries, 32);
  assert.deepEqual([v2.map('mg_outer').lookup(1), v2.map('mg_outer').lookup(2)], innerIds, 'the same inner maps, carried over by id');
  const inner = openMapById(v2.map('mg_outer').lookup(2) as number);
  assert.equal(inner.lookup(Buffer.from([1, 0, 0, 0]))!.readUInt32LE(0), 22);
  inner.close();

  // The old programs still run until theirs are replaced: they add a flow and the agent a key.
  v1.map('mg_ct').update(key(4), { seen: 4000n, backend: 14 });
  v1.map('mg_ct').update(key(1), { seen: 1n, backend: 99 }); // older than what the new map has
  v1.map('mg_rev').update(12, 84);
  const done = m.finish((name) => v2.map(name));
  assert.equal(done.find((d) => d.map === 'mg_ct')!.late, 1);
  assert.equal(done.find((d) => d.map === 'mg_rev')!.late, 0, 'agent-written maps are not copied again');
  assert.deepEqual(v2.map('mg_ct').lookup(key(4)), { backend: 14, flags: 0, seen: 4000n, extra: 0n });
  assert.equal((v2.map('mg_ct').lookup(key(1)) as { backend: number }).backend, 11, 'a late copy never overwrites the new map');
  assert.equal(v2.map('mg_rev').lookup(12), undefined);
  assert.deepEqual(readdirSync(`${pin}/migrate`), []);
  assert.equal(existsSync(`${pin}/mg_gone`), false, 'the orphan is removed');
  assert.equal(existsSync(`${pin}/mg_pair`), false);

  // Done: a restart of the same version adopts everything.
  const again = MapMigration.plan({ pinPath: pin, wanted: wantedOf(2), converters: [splitPair], datapathWritten: new Set() });
  assert.deepEqual(again.items, []);
});

test('MapMigration refuses what it cannot convert, naming each map and why, before touching anything', async (t) => {
  const pin = pinFolder(t);
  const v1 = await load(1, pin);
  fill(v1);
  v1.close();
  const before = readdirSync(pin).sort();
  assert.throws(
    () => MapMigration.plan({ pinPath: pin, wanted: wantedOf(3), converters: [], datapathWritten: new Set() }),
    (e: unknown) => e instanceof MigrationError
      && /pinned map "mg_ct" at \S+ differs \(key size 8 -> 12\) and cannot be converted: the key layout changed, and no converter for it is registered/.test(e.message)
      && /pinned map "mg_rev" .* cannot be converted: the map type changed \(hash -> lru_hash\)/.test(e.message)
      && /Remove those pins/.test(e.message),
  );
  assert.deepEqual(readdirSync(pin).sort(), before);
  assert.deepEqual(readdirSync(`${pin}/migrate`), []);
});

test('MapMigration picks up a migration cut short, before the load (pins restored) and after it (copied again)', async (t) => {
  const pin = pinFolder(t);
  const v1 = await load(1, pin);
  t.after(() => v1.close());
  fill(v1);
  const wanted = wantedOf(2);
  const plan = () => MapMigration.plan({ pinPath: pin, wanted, converters: [splitPair], datapathWritten: new Set(['mg_ct']) });

  // Stopped right after moveAside(): the next start puts the pins back and plans the same.
  const first = plan();
  first.moveAside();
  first.close();
  assert.equal(existsSync(`${pin}/mg_rev`), false);
  const second = plan();
  assert.equal(existsSync(`${pin}/mg_rev`), true, 'a pin whose new map was never made is restored');
  assert.deepEqual(second.items.map((i) => i.name).sort(), ['mg_ct', 'mg_gone', 'mg_jump', 'mg_outer', 'mg_pair', 'mg_rev']);
  second.moveAside();
  const v2 = await load(2, pin);
  t.after(() => v2.close());
  second.copy((name) => v2.map(name));
  second.close();

  // Stopped after the copy, before finish(): the next start finds the old pins in migrate/,
  // copies them again (only what the new maps lack), and finishes.
  const stray = openPinnedMap(`${pin}/migrate/mg_rev`);
  stray.update(Buffer.from([15, 0, 0, 0]), Buffer.from([1, 0, 0, 0]));
  stray.close();
  v2.map('mg_rev').update(9, 1000);
  const third = plan();
  assert.ok(third.items.filter((i) => i.kind !== 'orphan').every((i) => i.resumed), JSON.stringify(third.items));
  third.copy((name) => v2.map(name));
  assert.equal(v2.map('mg_rev').lookup(15), 1, 'a missing entry is copied');
  assert.equal(v2.map('mg_rev').lookup(9), 1000, 'an entry of the new map is kept');
  third.finish((name) => v2.map(name));
  assert.deepEqual(readdirSync(`${pin}/migrate`), []);
  assert.equal(existsSync(`${pin}/mg_gone`), false);
});

test('MapMigration checks pins before opening them', async (t) => {
  const pin = pinFolder(t);
  const m: BpfMap = createMap({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 1 });
  m.pin(`${pin}/mg_rev`);
  m.close();
  const { chownSync } = await import('node:fs');
  chownSync(`${pin}/mg_rev`, 65534, 65534);
  assert.throws(() => MapMigration.plan({ pinPath: pin, wanted: wantedOf(2), converters: [], datapathWritten: new Set() }), /mg_rev" for BPF pins: the pin belongs to another user/);
});
