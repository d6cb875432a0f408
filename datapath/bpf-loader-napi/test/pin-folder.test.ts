import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BpfError } from '../lib/index.ts';
import { ensurePinFolder } from '../lib/pin-folder.ts';
import { pinDir, requireRoot } from './helpers/env.ts';

const cases: { name: string; path: () => { path: string; cleanup: () => void }; ok: boolean }[] = [
  { name: 'nested folders on bpffs are created', ok: true, path: () => {
    const d = pinDir('pinfolder');
    return { path: join(d.path, 'a', 'b', 'c'), cleanup: d.cleanup };
  } },
  { name: 'a folder on tmpfs/ext4 is refused', ok: false, path: () => {
    const d = mkdtempSync(join(tmpdir(), 'kpb-addon-pinfolder-'));
    return { path: join(d, 'x', 'y'), cleanup: () => rmSync(d, { recursive: true, force: true }) };
  } },
];

for (const c of cases) {
  test(c.name, () => {
    requireRoot();
    const { path, cleanup } = c.path();
    try {
      if (c.ok) {
        ensurePinFolder(path);
        assert.ok(existsSync(path));
      } else {
        assert.throws(() => ensurePinFolder(path), (e: unknown) => e instanceof BpfError && e.code === 'EINVAL' && /not on a bpffs mount/.test(e.message));
        assert.equal(existsSync(path), false, 'nothing is created off bpffs');
      }
    } finally {
      cleanup();
    }
  });
}

// `ip netns exec` mounts a fresh sysfs (a new sysfs needs its own network namespace, hence --net), where mkdir under /sys/fs/bpf fails with ENOENT; Node's
// recursive mkdir never returns there. The refusal must come back at once instead.
test('a pin folder under a bare sysfs /sys/fs/bpf is refused, not hung', () => {
  requireRoot();
  const helper = fileURLToPath(new URL('../lib/pin-folder.ts', import.meta.url));
  const script = `import('${helper}').then(m => { try { m.ensurePinFolder('/sys/fs/bpf/kpb-addon-${process.pid}/x'); console.log('created'); } catch (e) { console.log(e.code + ': ' + e.message); } })`;
  const out = execFileSync('unshare', ['--mount', '--net', '--propagation', 'private', 'sh', '-c',
    `mount -t sysfs sysfs /sys && exec "${process.execPath}" --input-type=module -e "${script}"`], { encoding: 'utf8', timeout: 20_000 });
  assert.match(out, /^EINVAL: .*not on a bpffs mount/);
});
