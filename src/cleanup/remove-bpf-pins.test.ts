/*
 * Pins real BPF maps in a private bpffs instance mounted on a temporary directory (each bpffs
 * mount is its own instance), so the machine's /sys/fs/bpf is never touched. Needs root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeBpfPins } from './remove-bpf-pins.ts';

test('removeBpfPins() unpins every object under the pin path, nested directories included', (t) => {
  assert.equal(process.getuid?.(), 0, 'this test needs root to mount bpffs and create maps');
  const mnt = mkdtempSync(join(tmpdir(), 'kpb-bpffs-'));
  execFileSync('mount', ['-t', 'bpf', 'bpf', mnt]);
  t.after(() => {
    execFileSync('umount', [mnt]);
    rmdirSync(mnt);
  });
  const pinPath = join(mnt, 'kube-proxy-bpf');
  mkdirSync(join(pinPath, 'links'), { recursive: true });
  const mapCreate = (path: string, name: string) =>
    execFileSync('bpftool', ['map', 'create', path, 'type', 'hash', 'key', '4', 'value', '4', 'entries', '8', 'name', name]);
  mapCreate(join(pinPath, 'lb_services'), 'lb_services');
  mapCreate(join(pinPath, 'links', 'kpb_ct'), 'kpb_ct');
  mapCreate(join(mnt, 'other_owner'), 'other_owner');

  const removed = removeBpfPins(pinPath);
  assert.deepEqual(removed.sort(), [pinPath, join(pinPath, 'lb_services'), join(pinPath, 'links'), join(pinPath, 'links', 'kpb_ct')].sort());
  assert.equal(existsSync(pinPath), false);
  // A fresh bpffs also holds the kernel's maps.debug/progs.debug iterators; they and our neighbour stay.
  assert.ok(readdirSync(mnt).includes('other_owner'), 'pins outside the pin path stay');
  assert.deepEqual(removeBpfPins(pinPath), [], 'a missing pin path is nothing to do');
});
