// PodAttachments (pod-attachments.ts) against the kernel: a throwaway namespace with an uplink
// (eth0, the node IP), pod interfaces (p-a, p-b), a bridge with a port (br0, p-c) and an L3 device
// (tun0); the scenario runs inside it (testdata/pod-attachments.inner.ts). Needs root, bpffs,
// iproute2 and the built pod.bpf.o; everything is removed even on failure.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { test } from 'node:test';

const NS = `kpb-podatt-${process.pid}`;
/** Holds the other ends of the veth pairs (this kernel has no dummy devices). */
const PEERS = `kpb-podatt-${process.pid}-peers`;
const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

test('pod-side programs follow the pods\' interfaces (inside a namespace)', () => {
  assert.equal(process.getuid?.(), 0, 'needs root (netns, tc, bpf)');
  ip('netns', 'add', NS);
  ip('netns', 'add', PEERS);
  try {
    const n = (...args: string[]) => ip('-n', NS, ...args);
    const veth = (name: string, i: number) => n('link', 'add', name, 'type', 'veth', 'peer', 'name', `x${i}`, 'netns', PEERS);
    veth('eth0', 0);
    n('addr', 'add', '192.0.2.11/24', 'dev', 'eth0');
    ['p-a', 'p-b', 'p-c'].forEach((d, i) => veth(d, i + 1));
    n('link', 'add', 'br0', 'type', 'bridge');
    n('link', 'set', 'p-c', 'master', 'br0');
    n('tuntap', 'add', 'tun0', 'mode', 'tun');
    const inner = new URL('./testdata/pod-attachments.inner.ts', import.meta.url).pathname;
    const { NODE_TEST_CONTEXT: _ctx, ...env } = process.env;
    const r = spawnSync('ip', ['netns', 'exec', NS, 'sh', '-c', 'mount -t bpf bpf /sys/fs/bpf && exec "$@"', 'sh',
      process.execPath, '--test', '--test-reporter=spec', inner], { encoding: 'utf8', timeout: 120_000, env: { ...env, KPB_POD_NETNS: NS } });
    process.stdout.write(r.stdout ?? '');
    process.stderr.write(r.stderr ?? '');
    assert.equal(r.status, 0, `the scenario failed inside ${NS}`);
    assert.match(r.stdout ?? '', /ℹ pass [1-9]/);
  } finally {
    ip('netns', 'del', NS);
    ip('netns', 'del', PEERS);
  }
});
