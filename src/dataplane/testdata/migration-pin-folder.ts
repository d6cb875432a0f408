// The setting every pinned-map migration test needs: root, the built objects it loads, and a
// private pin folder under /sys/fs/bpf that is removed when the test ends, even when it fails.
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { securePinFolder } from '../pin-folder.ts';

/** Checks root and `objects`, makes /sys/fs/bpf/kpb-<name>-<pid> and returns its path. */
export function migrationPinFolder(t: TestContext, name: string, objects: readonly string[]): string {
  assert.equal(process.getuid?.(), 0, 'the migration test needs root (BPF maps, bpffs)');
  for (const f of objects) assert.ok(existsSync(f), `${f} is missing: run "make bpf"`);
  const pin = `/sys/fs/bpf/kpb-${name}-${process.pid}`;
  t.after(() => rmSync(pin, { recursive: true, force: true }));
  securePinFolder(pin, '/sys/fs/bpf');
  return pin;
}
