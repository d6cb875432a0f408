// host: glibc malloc statistics and trim (the agent's malloc trimmer uses them); the release of
// start-up's file pages.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { mallocStats, mallocTrim, netnsCookie, releaseFilePages } from '../lib/index.ts';

test('mallocStats counts what Node allocates with malloc, and mallocTrim answers whether it released pages', () => {
  const before = mallocStats();
  for (const k of ['arenaBytes', 'inUseBytes', 'freeBytes', 'mmapBytes', 'topFreeBytes'] as const) {
    assert.ok(Number.isSafeInteger(before[k]) && before[k] >= 0, `${k} = ${before[k]}`);
  }
  assert.equal(before.inUseBytes + before.freeBytes, before.arenaBytes, 'in use + free make the arenas');
  // 32 KiB ArrayBuffers are malloc'd from the arenas (below glibc's 128 KiB mmap threshold).
  const held = Array.from({ length: 512 }, () => new Uint8Array(32 << 10).fill(7));
  const during = mallocStats();
  // (Other garbage may be freed meanwhile, so the growth is not exact; the held 16 MiB are in use.)
  assert.ok(during.inUseBytes >= 16 << 20, `16 MiB of buffers held, ${during.inUseBytes} bytes in use`);
  assert.equal(during.inUseBytes + during.freeBytes, during.arenaBytes);
  assert.equal(typeof mallocTrim(), 'boolean');
  assert.equal(held.length, 512);
});

test('releaseFilePages unmaps the clean pages of read-only file mappings, and the process runs on', () => {
  const fileKiB = () => Number(/^RssFile:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]);
  const kept = new Uint8Array(1 << 20).fill(0x5a);
  const before = fileKiB();
  const r = releaseFilePages();
  const after = fileKiB();
  // node's own executable is mapped read-only and resident (its text and the V8 snapshot).
  assert.ok(r.mappings > 0 && r.bytes > 4 << 20, `released ${r.mappings} mappings, ${r.bytes} bytes`);
  assert.ok(before - after >= (r.bytes >> 10) / 2, `file-backed RSS ${before} -> ${after} KiB after releasing ${r.bytes >> 10} KiB`);
  // Code and data come back on their next touch: JS, the addon, anonymous memory are intact.
  assert.equal(JSON.parse(JSON.stringify({ a: [1, 2, 3] })).a[2], 3);
  assert.equal(typeof netnsCookie(), 'bigint');
  assert.ok(kept.every((b) => b === 0x5a));
  assert.ok(fileKiB() > 0);
});
