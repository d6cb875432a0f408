import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tunablesToSet } from './glibc-tunables.ts';

test('tunablesToSet adds what is missing and keeps what an operator set', () => {
  const cases: [string | undefined, string | null][] = [
    [undefined, 'glibc.malloc.arena_max=1'],
    ['', 'glibc.malloc.arena_max=1'],
    ['glibc.malloc.arena_max=1', null],
    // An operator's value wins.
    ['glibc.malloc.arena_max=4', null],
    ['glibc.malloc.tcache_count=0', 'glibc.malloc.tcache_count=0:glibc.malloc.arena_max=1'],
    ['glibc.malloc.tcache_count=0:glibc.malloc.arena_max=2', null],
  ];
  for (const [current, want] of cases) assert.equal(tunablesToSet(current), want, String(current));
  assert.equal(tunablesToSet(undefined, ['a.b=1', 'c.d=2']), 'a.b=1:c.d=2');
  assert.equal(tunablesToSet('c.d=3', ['a.b=1', 'c.d=2']), 'c.d=3:a.b=1');
});
