import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bpfObjectPath, materializeAsset, seaAddonPath, type BpfObjectName } from './asset-paths.ts';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const EM_BPF = 247;

// The dev checkout: the objects `make bpf` built (test-unit depends on build, so they must exist).
for (const name of ['sock', 'tc', 'xdp'] as const) {
  test(`bpfObjectPath("${name}") is the repository's build/bpf/${name}.bpf.o, a BPF ELF object`, () => {
    const path = bpfObjectPath(name);
    assert.equal(path, join(repo, 'build', 'bpf', `${name}.bpf.o`));
    const head = readFileSync(path).subarray(0, 20);
    assert.deepEqual([...head.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], 'ELF magic');
    assert.equal(head.readUInt16LE(18), EM_BPF, 'e_machine is EM_BPF');
  });
}

test('bpfObjectPath rejects a name that is not one of ours', () => {
  assert.throws(() => bpfObjectPath('../../etc/passwd' as BpfObjectName), /Unknown BPF object/);
});

test('seaAddonPath refuses outside the single executable', () => {
  assert.throws(() => seaAddonPath(), /only available inside the single executable/);
});

function scratch(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'kpb-asset-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('materializeAsset writes once into a new 0700 directory and reuses the file', (t) => {
  const base = scratch(t);
  const dir = join(base, 'run', 'kube-proxy-bpf');
  const bytes = new TextEncoder().encode('object one');
  const path = materializeAsset(bytes, 'tc.bpf.o', [dir]);
  assert.match(path, new RegExp(`^${dir}/[0-9a-f]{16}-tc\\.bpf\\.o$`));
  assert.equal(readFileSync(path, 'utf8'), 'object one');
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  const before = statSync(path);
  assert.equal(materializeAsset(bytes, 'tc.bpf.o', [dir]), path);
  assert.equal(statSync(path).ino, before.ino, 'same content: the file is reused, not rewritten');
  // Another release's object gets its own name; no temp files are left behind.
  const other = materializeAsset(new TextEncoder().encode('object two'), 'tc.bpf.o', [dir]);
  assert.notEqual(other, path);
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('.')), []);
});

test('materializeAsset replaces a file whose content does not match its hash', (t) => {
  const dir = join(scratch(t), 'assets');
  const bytes = new TextEncoder().encode('the real addon');
  const path = materializeAsset(bytes, 'bpf_loader.node', [dir]);
  chmodSync(path, 0o600);
  writeFileSync(path, 'tampered');
  assert.equal(materializeAsset(bytes, 'bpf_loader.node', [dir]), path);
  assert.equal(readFileSync(path, 'utf8'), 'the real addon');
});

test('materializeAsset skips directories others can write or that are symlinks, and says why when none is usable', (t) => {
  const base = scratch(t);
  const open = join(base, 'open');
  mkdirSync(open, { mode: 0o777 });
  chmodSync(open, 0o777); // mkdir's mode is filtered by the umask
  const link = join(base, 'link');
  symlinkSync(open, link);
  const good = join(base, 'good');
  const bytes = new TextEncoder().encode('x');
  assert.equal(materializeAsset(bytes, 'xdp.bpf.o', [open, link, good]).startsWith(`${good}/`), true);
  assert.throws(() => materializeAsset(bytes, 'xdp.bpf.o', [open, link]), (e: Error) => {
    assert.match(e.message, /Extract the embedded xdp\.bpf\.o failed/);
    assert.match(e.message, /open" is a directory with owner uid \d+, mode 777/);
    assert.match(e.message, /link" is a symlink/);
    return true;
  });
});
