// The generation maps of the versions before kpb_gens (testdata/gens_v1.bpf.c), pinned and set,
// migrated by MapMigration with the registered converters into the built tc.bpf.o's kpb_gens: each
// generation is one past its old value, and the old pins are gone after finish().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BpfObject, type MapSpec } from 'bpf-loader-napi';
import { MapMigration } from './map-migration.ts';
import { DATAPATH_WRITTEN, MAP_CONVERTERS } from './map-converters.ts';
import { generationConverters } from './convert-generations.ts';
import { migrationPinFolder } from './testdata/migration-pin-folder.ts';

const BUILD = fileURLToPath(new URL('../../build/bpf/', import.meta.url));
const V1 = `${BUILD}gens_v1.bpf.o`;
const TC = `${BUILD}tc.bpf.o`;

test('pinned kpb_nh_gen and kpb_be_gen become kpb_gens, each one past its old value', async (t) => {
  const pin = migrationPinFolder(t, 'genconv', [V1, TC]);

  const old = await BpfObject.open(V1).load({ pinPath: pin });
  old.map('kpb_nh_gen').update(0, 41);
  old.map('kpb_be_gen').update(0, 0xffffffff);
  old.close();

  const o = BpfObject.open(TC);
  const wanted = new Map<string, MapSpec>(o.maps.filter((m) => m.pinByName).map((m) => [m.name, m]));
  o.close();
  const m = MapMigration.plan({ pinPath: pin, wanted, converters: MAP_CONVERTERS, datapathWritten: DATAPATH_WRITTEN });
  t.after(() => m.close());
  assert.deepEqual(m.items.map((i) => [i.name, i.kind]).sort(), [['kpb_be_gen', 'convert'], ['kpb_nh_gen', 'convert']]);
  m.moveAside();
  const tc = await BpfObject.open(TC).load({ pinPath: pin });
  t.after(() => tc.close());
  for (const r of m.copy((name) => tc.map(name))) assert.equal(r.dropped, 0, r.map);
  assert.deepEqual(tc.map('kpb_gens').lookup(0), { nh: 42, be: 0 }, 'be wraps at 2^32');
  m.finish((name) => tc.map(name));
  assert.equal(existsSync(`${pin}/kpb_nh_gen`) || existsSync(`${pin}/migrate/kpb_nh_gen`), false, 'the old pins are gone');
});

test('the generation converters accept only the old single __u32 arrays', () => {
  const [nh] = generationConverters();
  const shape = (valueSize: number, maxEntries = 1) => ({ name: 'kpb_nh_gen', type: 'array', keySize: 4, valueSize, maxEntries, flags: 0 });
  assert.equal(nh!.accepts(shape(4)), true);
  assert.equal(nh!.accepts(shape(8)), false);
  assert.equal(nh!.accepts(shape(4, 2)), false);
  assert.deepEqual(nh!.convert(0, 7), { map: 'kpb_gens', key: 0, value: { nh: 8, be: 0 } });
});
