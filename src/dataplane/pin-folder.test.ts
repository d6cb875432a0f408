// securePinFolder and checkPin on a real bpffs (a throwaway folder under /sys/fs/bpf, whose root
// the Makefile mounts 1777) and its permission cases, made with chown/chmod as an intruder would.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, lstatSync, mkdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { test } from 'node:test';
import { createMap } from 'bpf-loader-napi';
import { checkPin, PinTrustError, securePinFolder } from './pin-folder.ts';

const NOBODY = 65534;
let seq = 0;

function sandbox(t: { after: (fn: () => void) => void }): string {
  assert.equal(process.getuid?.(), 0, 'pin folder tests need root (chown, bpffs)');
  const dir = `/sys/fs/bpf/kpb-pinfolder-${process.pid}-${seq++}`;
  mkdirSync(dir, { mode: 0o700 });
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const mode = (p: string) => lstatSync(p).mode & 0o7777;

test('securePinFolder creates the pin folder and its subfolders 0700, owned by root', (t) => {
  const root = sandbox(t);
  const pin = `${root}/a/kube-proxy-bpf`;
  const actions = securePinFolder(pin, root);
  for (const p of [`${root}/a`, pin, `${pin}/links`, `${pin}/migrate`]) {
    assert.equal(mode(p), 0o700, p);
    assert.equal(statSync(p).uid, 0, p);
  }
  assert.equal(actions.length, 4);
  assert.deepEqual(securePinFolder(pin, root), [], 'a second call finds everything right');
});

test('securePinFolder tightens a root-owned 0755 folder (an older agent\'s) to 0700', (t) => {
  const root = sandbox(t);
  const pin = `${root}/kpb`;
  mkdirSync(pin, { mode: 0o755 });
  chmodSync(pin, 0o755);
  const actions = securePinFolder(pin, root);
  assert.ok(actions.some((a) => a.startsWith(`tightened ${pin} from 755`)), actions.join('; '));
  assert.equal(mode(pin), 0o700);
});

test('securePinFolder refuses what others own or may write, naming the path and how to recover', (t) => {
  const cases: [string, (pin: string) => void, RegExp][] = [
    ['links owned by another user', (pin) => { mkdirSync(`${pin}/links`, { mode: 0o700 }); chownSync(`${pin}/links`, NOBODY, NOBODY); }, /links" for BPF pins: it belongs to another user \(owner uid 65534.*rm -r/],
    ['a world-writable pin folder', (pin) => chmodSync(pin, 0o777), /others may write into it \(owner uid 0, gid 0, mode 0777\)/],
    ['a group-writable subfolder', (pin) => { mkdirSync(`${pin}/migrate`); chmodSync(`${pin}/migrate`, 0o770); }, /migrate" for BPF pins: others may write into it/],
    ['a symlink as subfolder', (pin) => symlinkSync('/tmp', `${pin}/links`), /links" for BPF pins: it is a symbolic link/],
  ];
  for (const [name, setup, want] of cases) {
    const root = sandbox(t);
    const pin = `${root}/kpb`;
    mkdirSync(pin, { mode: 0o700 });
    setup(pin);
    assert.throws(() => securePinFolder(pin, root), (e: unknown) => e instanceof PinTrustError && want.test(e.message), name);
  }
});

test('securePinFolder accepts a sticky world-writable parent (bpffs mounted without mode=) but not a plain one', (t) => {
  const root = sandbox(t);
  const parent = `${root}/shared`;
  mkdirSync(parent);
  chmodSync(parent, 0o1777);
  assert.doesNotThrow(() => securePinFolder(`${parent}/kpb`, root));
  chmodSync(parent, 0o777);
  assert.throws(() => securePinFolder(`${parent}/kpb2`, root), /others may write into a parent of the pin folder and it is not sticky/);
  chmodSync(parent, 0o755);
  chownSync(parent, NOBODY, NOBODY);
  assert.throws(() => securePinFolder(`${parent}/kpb3`, root), /a parent of the pin folder belongs to another user/);
  assert.throws(() => securePinFolder('/tmp/elsewhere', root), /is not under the bpffs mount/);
});

test('checkPin accepts our pins, says false for none, and refuses others\' or writable ones', (t) => {
  const root = sandbox(t);
  const m = createMap({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1 });
  t.after(() => m.close());
  m.pin(`${root}/ours`);
  assert.equal(checkPin(`${root}/ours`), true);
  assert.equal(checkPin(`${root}/none`), false);
  m.pin(`${root}/theirs`);
  chownSync(`${root}/theirs`, NOBODY, NOBODY);
  assert.throws(() => checkPin(`${root}/theirs`), /the pin belongs to another user/);
  m.pin(`${root}/open`);
  chmodSync(`${root}/open`, 0o622);
  assert.throws(() => checkPin(`${root}/open`), /others may write the pin/);
  mkdirSync(`${root}/dir`);
  assert.throws(() => checkPin(`${root}/dir`), /a folder is where a pin belongs/);
  symlinkSync(`${root}/ours`, `${root}/link`);
  assert.throws(() => checkPin(`${root}/link`), /symbolic link/);
});
