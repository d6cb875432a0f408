// host: glibc malloc statistics and trim (the agent's malloc trimmer uses them).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mallocStats, mallocTrim } from '../lib/index.ts';

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
