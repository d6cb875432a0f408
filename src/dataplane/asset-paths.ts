/**
 * @module
 * Where the agent finds its compiled BPF objects (and, in the single binary, the native addon).
 *
 * In a dev checkout they are the files `make build` produced: `<repo>/build/bpf/<name>.bpf.o`.
 * In the single executable (`make binary`, a Node SEA) they are SEA assets; the loader wants a
 * file (libbpf opens the object, dlopen maps the addon), so each asset is written once to a
 * private directory and its path returned.
 *
 * The extracted files are named by their content hash and checked against it before reuse, so a
 * restart (or a second process, e.g. `--cleanup` next to a running agent) reuses them, a different
 * release never picks up another release's file, and a killed process leaves nothing that grows:
 * at most one copy per release. The directory must be owned by us and closed to others (0700);
 * otherwise another user could swap the object or addon we are about to load as root.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as sea from 'node:sea';

export type BpfObjectName = 'sock' | 'sock_term' | 'tc' | 'xdp' | 'pod' | 'map_count';

const BPF_OBJECT_NAMES: readonly string[] = ['sock', 'sock_term', 'tc', 'xdp', 'pod', 'map_count'] satisfies BpfObjectName[];

/** SEA asset keys, shared with scripts/build-binary.ts which embeds them under these names. */
export const seaAssetKeys = {
  bpfObject: (name: BpfObjectName) => `bpf/${name}.bpf.o`,
  addon: 'bpf_loader.node',
} as const;

/** Paths already resolved in this process: extraction (hash, write) happens once per asset. */
const resolved = new Map<string, string>();

/** Path of the compiled BPF object `name` (sock, tc or xdp), ready to be opened by BpfObject.open. */
export function bpfObjectPath(name: BpfObjectName): string {
  // Callers outside TypeScript (or with a value from a flag) get a clear error, not a missing file.
  if (!BPF_OBJECT_NAMES.includes(name)) throw new Error(`Unknown BPF object "${String(name)}"; expected one of ${BPF_OBJECT_NAMES.join(', ')}`);
  if (sea.isSea()) return seaAssetPath(seaAssetKeys.bpfObject(name), `${name}.bpf.o`);
  const path = fileURLToPath(new URL(`../../build/bpf/${name}.bpf.o`, import.meta.url));
  if (!existsSync(path)) throw new Error(`BPF object "${path}" does not exist; run "make bpf" in the repository root`);
  return path;
}

/**
 * Path of the native addon inside the single binary (extracted from its SEA asset).
 * Only meaningful in the SEA; a dev checkout loads datapath/bpf-loader-napi/build/bpf_loader.node.
 */
export function seaAddonPath(): string {
  if (!sea.isSea()) throw new Error('seaAddonPath() is only available inside the single executable');
  return seaAssetPath(seaAssetKeys.addon, 'bpf_loader.node');
}

function seaAssetPath(key: string, fileName: string): string {
  let path = resolved.get(key);
  if (path === undefined) {
    // getRawAsset returns the bytes in the executable's memory without copying them.
    path = materializeAsset(new Uint8Array(sea.getRawAsset(key)), fileName, runtimeDirCandidates());
    resolved.set(key, path);
  }
  return path;
}

/**
 * Where extracted assets go, best first: /run is the conventional place for a root daemon's
 * runtime files (tmpfs, cleared at boot); the temp dir (TMPDIR) covers non-root runs and a
 * read-only /run. The uid in the temp-dir name keeps users from colliding in a shared /tmp.
 */
export function runtimeDirCandidates(): string[] {
  const uid = process.getuid?.() ?? 0;
  return [...(uid === 0 ? ['/run/kube-proxy-bpf'] : []), join(tmpdir(), `kube-proxy-bpf-${uid}`)];
}

/**
 * Writes `bytes` to `<dir>/<sha256 prefix>-<fileName>` in the first usable private directory of
 * `candidates` (creating it 0700) and returns the path. An existing file is reused only if its
 * content has the same hash; otherwise it is replaced atomically (write to a temp name, rename),
 * which also makes concurrent extraction by two processes safe.
 */
export function materializeAsset(bytes: Uint8Array, fileName: string, candidates: string[]): string {
  const digest = createHash('sha256').update(bytes).digest('hex');
  const failures: string[] = [];
  for (const dir of candidates) {
    try {
      ensurePrivateDir(dir);
    } catch (e) {
      failures.push(e instanceof Error ? e.message : String(e));
      continue;
    }
    const target = join(dir, `${digest.slice(0, 16)}-${fileName}`);
    if (sameContent(target, digest)) return target;
    const tmp = join(dir, `.${fileName}.${process.pid}.${randomBytes(4).toString('hex')}`);
    try {
      // 0500: readable and mappable by us only; never rewritten in place (a mapped addon would
      // change under the running process), only replaced by rename.
      writeFileSync(tmp, bytes, { mode: 0o500, flag: 'wx' });
      renameSync(tmp, target);
      return target;
    } catch (e) {
      rmSync(tmp, { force: true });
      failures.push(`Write "${target}" failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  throw new Error(`Extract the embedded ${fileName} failed: ${failures.join('; ')}`);
}

function sameContent(path: string, digest: string): boolean {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex') === digest;
  } catch {
    return false; // missing or unreadable: write it again
  }
}

/** Creates `dir` (0700) if needed and checks that it is a real directory owned by us and closed to others. */
function ensurePrivateDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new Error(`Create "${dir}" failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  // lstat, not stat: a symlink planted at this name must not redirect us elsewhere.
  const st = lstatSync(dir);
  const uid = process.getuid?.() ?? 0;
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) {
    const what = st.isSymbolicLink() ? 'a symlink' : st.isDirectory() ? `a directory with owner uid ${st.uid}, mode ${(st.mode & 0o777).toString(8)}` : 'not a directory';
    throw new Error(`"${dir}" is ${what}; it must be a directory owned by uid ${uid} with mode 0700 (remove it to let it be recreated)`);
  }
}
