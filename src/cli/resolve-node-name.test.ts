import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findCgroup2Root } from './find-cgroup2-root.ts';
import { resolveNodeName } from './resolve-node-name.ts';

test('resolveNodeName() prefers the override and normalises like nodeutil.GetHostname', () => {
  assert.equal(resolveNodeName(' Node-A ', 'host'), 'node-a');
  assert.equal(resolveNodeName('', 'Host-1\n'), 'host-1');
  assert.throws(() => resolveNodeName('', '  '), /empty hostname is invalid/);
});

test('findCgroup2Root() finds the cgroup2 mount point in mountinfo', () => {
  const mountinfo = [
    '22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:5 - proc proc rw',
    '30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate',
    '31 25 0:27 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:10 - bpf bpf rw,mode=700',
  ].join('\n');
  assert.equal(findCgroup2Root(mountinfo), '/sys/fs/cgroup');
  assert.equal(findCgroup2Root('22 1 0:21 / /proc rw - proc proc rw'), '');
});
