/**
 * @module
 * Trust in the pin folder (issue 11 item 3). Whoever can write into the folder holding our pins
 * can remove a link pin (detaching a socket program whose only holder it was), plant a map of their
 * own for us to adopt, or swap one pin for another. So, before anything is adopted:
 * - every folder between the bpffs mount and the pin folder is owned by root (our uid) and not
 *   writable by others, unless it is sticky (a bpffs root mounted without mode= is 1777: others
 *   may add entries there but never remove or rename ours);
 * - the pin folder and its subfolders are created 0700; one that exists must be a directory (not
 *   a symlink) owned by us. One of ours that others cannot write into but whose mode is looser
 *   than 0700 (0755 from an older agent) is tightened to 0700: nobody else could have put anything
 *   in it, so that repair is safe. Another owner, or group/world write, is refused: we cannot know
 *   what was planted, and the error says how to recover;
 * - each pin (map or link) is checked the same way before it is opened (checkPin).
 */
import { chmodSync, lstatSync, mkdirSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** The subfolders the agent uses under its pin folder. */
export const PIN_SUBFOLDERS = ['links', 'migrate'] as const;

const S_ISVTX = 0o1000;

function expectedUid(): number {
  return process.geteuid?.() ?? 0;
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function describe(st: Stats): string {
  return `owner uid ${st.uid}, gid ${st.gid}, mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}`;
}

export class PinTrustError extends Error {
  readonly path: string;
  constructor(path: string, why: string) {
    super(`Refuse to use "${path}" for BPF pins: ${why}`);
    this.name = 'PinTrustError';
    this.path = path;
  }
}

/** Checks an existing folder of ours; returns 'tightened' when its mode was repaired to 0700. */
function checkOwnFolder(path: string, st: Stats, uid: number): 'ok' | 'tightened' {
  const recover = `remove it (rm -r "${path}") and restart the agent, which recreates it with mode 0700`;
  if (st.isSymbolicLink()) throw new PinTrustError(path, `it is a symbolic link; ${recover}`);
  if (!st.isDirectory()) throw new PinTrustError(path, `it is not a directory; ${recover}`);
  if (st.uid !== uid) throw new PinTrustError(path, `it belongs to another user (${describe(st)}, expected uid ${uid}); ${recover}`);
  if (st.mode & 0o022) throw new PinTrustError(path, `others may write into it (${describe(st)}); ${recover}`);
  if ((st.mode & 0o7777) === 0o700) return 'ok';
  chmodSync(path, 0o700);
  return 'tightened';
}

/** Creates `path` with mode 0700, or checks the one that is there. */
function ensureOwnFolder(path: string, uid: number, actions: string[]): void {
  try {
    mkdirSync(path, { mode: 0o700 });
    actions.push(`created ${path} (0700)`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  // Checked even when just made: a racing creator makes mkdir fail, never succeed for them.
  const st = lstatSync(path);
  if (checkOwnFolder(path, st, uid) === 'tightened') actions.push(`tightened ${path} from ${(st.mode & 0o7777).toString(8)} to 0700`);
}

/**
 * Makes the pin folder tree trustworthy: checks the folders from `bpffsRoot` (the mount point that
 * holds `pinPath`) down to it, creates what is missing with mode 0700, and checks or repairs the
 * pin folder and its subfolders. Returns what it did; throws PinTrustError when it must refuse.
 */
export function securePinFolder(pinPath: string, bpffsRoot: string): string[] {
  const uid = expectedUid();
  const actions: string[] = [];
  const target = resolve(pinPath);
  const root = resolve(bpffsRoot);
  if (target !== root && !target.startsWith(root === '/' ? '/' : `${root}/`)) throw new Error(`pin path ${pinPath} is not under the bpffs mount ${bpffsRoot}`);
  const chain: string[] = [];
  for (let p = target; ; p = dirname(p)) {
    chain.unshift(p);
    if (p === root || dirname(p) === p) break;
  }
  for (const folder of chain.slice(0, -1)) {
    const st = lstatOrNull(folder);
    if (st === null) {
      ensureOwnFolder(folder, uid, actions);
      continue;
    }
    if (st.isSymbolicLink() || !st.isDirectory()) throw new PinTrustError(folder, 'it is not a directory (a parent of the pin folder)');
    const writableByOthers = (st.mode & 0o022) !== 0;
    if (st.uid !== uid && st.uid !== 0) throw new PinTrustError(folder, `a parent of the pin folder belongs to another user (${describe(st)})`);
    if (writableByOthers && !(st.mode & S_ISVTX)) {
      throw new PinTrustError(folder, `others may write into a parent of the pin folder and it is not sticky (${describe(st)}); mount bpffs with mode=0700 or make it 1777`);
    }
  }
  ensureOwnFolder(target, uid, actions);
  for (const sub of PIN_SUBFOLDERS) ensureOwnFolder(`${target}/${sub}`, uid, actions);
  return actions;
}

/**
 * Checks a pin before it is opened and adopted: it exists as a plain pin (not a symlink or a
 * folder), is ours, and nobody else may write it. Returns false when there is no pin.
 */
export function checkPin(path: string): boolean {
  const st = lstatOrNull(path);
  if (st === null) return false;
  const uid = expectedUid();
  const recover = `remove it (rm "${path}") if it is not the agent's; the agent then creates its own`;
  if (st.isSymbolicLink()) throw new PinTrustError(path, `the pin is a symbolic link; ${recover}`);
  if (st.isDirectory()) throw new PinTrustError(path, `a folder is where a pin belongs; ${recover}`);
  if (st.uid !== uid) throw new PinTrustError(path, `the pin belongs to another user (${describe(st)}, expected uid ${uid}); ${recover}`);
  if (st.mode & 0o022) throw new PinTrustError(path, `others may write the pin (${describe(st)}); ${recover}`);
  return true;
}
