import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { listNetworkNamespaces } from './list-network-namespaces.ts';

test('listNetworkNamespaces gives each namespace once, our own first', () => {
  const all = listNetworkNamespaces();
  assert.equal(all[0], '/proc/self/ns/net');
  const ids = all.map((p) => { const s = statSync(p, { bigint: true }); return `${s.dev}:${s.ino}`; });
  assert.equal(new Set(ids).size, ids.length, 'no namespace twice');
  // This process and its parent's namespace are the same one: listed once.
  assert.ok(!all.includes(`/proc/${process.pid}/ns/net`));
});

test('listNetworkNamespaces skips mount-directory entries that are no namespace', () => {
  const all = listNetworkNamespaces({ mountDirs: ['/etc'] });
  assert.ok(!all.some((p) => p.startsWith('/etc/')), all.filter((p) => p.startsWith('/etc/')).join(','));
});
