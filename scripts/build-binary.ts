#!/usr/bin/env node
/**
 * `make binary`: builds build/kube-proxy, ONE executable holding the whole agent (a Node single
 * executable application, https://nodejs.org/api/single-executable-applications.html):
 *
 *  1. esbuild bundles scripts/sea-main.ts (which runs src/cli/kube-proxy.ts) and every dependency
 *     into one CommonJS file: Node 24's SEA runs a CommonJS main script only. ESM's import.meta.url
 *     does not exist in CommonJS, so it is defined as the file URL of the executable (__filename
 *     is process.execPath in a SEA); code in the binary uses it only for createRequire, which
 *     needs an absolute URL, and asset-paths.ts reads the SEA assets instead of the repository.
 *     The bundle carries an inline source map of our own sources (own-source-map.ts) and the
 *     binary runs with --enable-source-maps, so stack traces and the logger's file:line header
 *     name the TypeScript sources, as in a dev checkout, instead of one bundle file.
 *  2. `node --experimental-sea-config` turns the bundle (plus a V8 code cache, for start-up time)
 *     and the assets into a blob. Assets: the three BPF objects and the bpf-loader-napi addon,
 *     which asset-paths.ts extracts at run time (libbpf and dlopen want files).
 *  3. The blob is injected with postject into a stripped copy of the very node binary that made it
 *     (the blob's format and code cache are tied to that build), flipping the SEA fuse. postject's
 *     ELF library prints "Can't find string offset for section name '.note...'" warnings for
 *     node's notes; they are harmless (the smoke test below proves the result runs).
 *  4. The result runs `--version` from / as a smoke test before it replaces build/kube-proxy: a
 *     binary that cannot start fails the build and is not left behind.
 *
 * esbuild is driven through its JS API, which runs the platform package's binary
 * (@esbuild/linux-x64/bin/esbuild) directly, so it works even when npm skipped esbuild's
 * postinstall script (that script only validates and links the binary for the CLI shim).
 *
 * The executable needs only the host's shared libraries the addon links (libbpf.so.1, libelf,
 * zlib) and node's own (glibc, libstdc++, libgcc_s); no repository, node_modules or node install.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { AGENT_V8_FLAGS } from '../src/cli/node-flags.ts';
import postject from 'postject';
import { seaAssetKeys, type BpfObjectName } from '../src/dataplane/asset-paths.ts';
import { appendOwnSourceMap } from './own-source-map.ts';

/** The fuse node checks to know a blob was injected (documented in the SEA guide). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/**
 * Prepended to the bundle: the values `define` substitutes for import.meta in the CommonJS output.
 * There are no module files to resolve in the binary, so import.meta.resolve (yargs calls it only
 * for a parser config's "extends", which kube-proxy's flags never use) throws, saying why.
 */
const BANNER = [
  "const kpb_import_meta_url = require('node:url').pathToFileURL(__filename).href;",
  'const kpb_import_meta_resolve = (specifier) => {',
  '  throw new Error(`import.meta.resolve(${JSON.stringify(specifier)}) is not available in the single binary`);',
  '};',
].join('\n');

const root = fileURLToPath(new URL('..', import.meta.url));
const buildDir = join(root, 'build');
const workDir = join(buildDir, 'sea');
const exe = join(buildDir, 'kube-proxy');

function step(what: string): () => void {
  const start = performance.now();
  process.stdout.write(`>> ${what}\n`);
  return () => process.stdout.write(`   done in ${((performance.now() - start) / 1000).toFixed(1)} s\n`);
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

async function main(): Promise<void> {
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  // The binary embeds the node that builds it; the project targets Node 24 and so does this sea-config.
  if (nodeMajor < 24) throw new Error(`The single binary is built from Node >= 24 (this is ${process.version}); run "make binary NODE=/path/to/node24"`);

  const assets: Record<string, string> = {};
  for (const name of ['sock', 'sock_term', 'tc', 'xdp', 'pod', 'map_count'] as const satisfies BpfObjectName[]) {
    assets[seaAssetKeys.bpfObject(name)] = join(buildDir, 'bpf', `${name}.bpf.o`);
  }
  assets[seaAssetKeys.addon] = join(root, 'datapath', 'bpf-loader-napi', 'build', 'bpf_loader.node');
  const missing = Object.values(assets).filter((p) => !existsSync(p));
  if (missing.length > 0) throw new Error(`Missing build outputs: ${missing.map((p) => relative(root, p)).join(', ')}; run "make build" first`);

  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  const bundle = join(workDir, 'kube-proxy.cjs');

  let done = step(`bundling src/cli/kube-proxy.ts with esbuild ${esbuild.version}`);
  await esbuild.build({
    entryPoints: [join(root, 'scripts', 'sea-main.ts')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${nodeMajor}`,
    define: { 'import.meta.url': 'kpb_import_meta_url', 'import.meta.resolve': 'kpb_import_meta_resolve' },
    banner: { js: BANNER },
    // Licence comments of the bundled packages go to the end of the bundle, kept with the code.
    legalComments: 'eof',
    sourcemap: 'external',
    sourcesContent: false,
    logLevel: 'warning',
    // Other import.meta properties (dirname, filename) would be silently empty in the bundle and
    // point nowhere useful in a SEA anyway, so they fail the build.
    logOverride: { 'empty-import-meta': 'error' },
  });
  appendOwnSourceMap(bundle, root);
  done();
  process.stdout.write(`   ${relative(root, bundle)}: ${mib(statSync(bundle).size)}\n`);

  done = step(`generating the SEA blob with node ${process.version}`);
  const blob = join(workDir, 'sea-prep.blob');
  const seaConfig = join(workDir, 'sea-config.json');
  writeFileSync(seaConfig, `${JSON.stringify({
    // Absolute: the SEA names its main script by this path (so dependencies' stack frames show
    // build/sea/kube-proxy.cjs:<line>), and source maps are only applied to an absolute one.
    main: bundle,
    output: blob,
    // The agent is a daemon; the "experimental feature" warning would only clutter its log.
    disableExperimentalSEAWarning: true,
    useCodeCache: true,
    // The agent's heap limits (src/cli/node-flags.ts) ride in the binary: NODE_OPTIONS is ignored.
    execArgv: ['--enable-source-maps', ...AGENT_V8_FLAGS],
    // A privileged agent must not take Node options from its environment: with the default
    // ("env") NODE_OPTIONS=--require=/x.js would run foreign code as root. Node >= 24.6 honours this.
    execArgvExtension: 'none',
    assets,
  }, null, 2)}\n`);
  // The code cache is made with the agent's V8 flags: V8 rejects a cache made under other flags
  // (--expose-gc changes its flag hash), and the agent would compile its bundle from source.
  execFileSync(process.execPath, [...AGENT_V8_FLAGS, '--experimental-sea-config', seaConfig], { stdio: 'inherit', cwd: workDir });
  done();

  done = step(`injecting the blob into a copy of ${process.execPath}`);
  const tmp = `${exe}.tmp`;
  rmSync(tmp, { force: true });
  // strip drops node's static symbol table and debug info (about 18 MiB); the dynamic symbol
  // table, which the addon links against (napi_*), stays.
  execFileSync('strip', ['-o', tmp, process.execPath], { stdio: 'inherit' });
  chmodSync(tmp, 0o755);
  try {
    await postject.inject(tmp, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: SEA_FUSE });
  } catch (e) {
    rmSync(tmp, { force: true });
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(`Inject the SEA blob into ${process.execPath} failed: ${why} (the node binary must be an official build, which carries the SEA fuse)`, { cause: e });
  }
  done();

  done = step('smoke test: kube-proxy --version, from /');
  // Without NODE_OPTIONS: a developer's options must not make a broken binary pass (or fail).
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  let version: string;
  try {
    version = execFileSync(tmp, ['--version'], { cwd: '/', env, encoding: 'utf8' }).trim();
  } catch (e) {
    rmSync(tmp, { force: true }); // a failed build leaves no binary
    throw new Error(`The built binary does not run: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  // rename, not copy: atomic, and a running build/kube-proxy (an e2e agent) keeps its old inode.
  renameSync(tmp, exe);
  done();
  process.stdout.write(`   ${version}\n>> ${relative(root, exe)}: ${mib(statSync(exe).size)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`build-binary: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
