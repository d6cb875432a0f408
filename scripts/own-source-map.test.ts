// The reduced source map, end to end: a bundle made by esbuild as build-binary.ts makes it (our
// files around a dependency), its map reduced by ownSourceMap, and the stack trace node prints
// with --enable-source-maps. Our frames must name kube-proxy-bpf:///src/<file>.ts at the line of
// the call; the dependency's frame must keep its bundle location, not borrow one of our lines.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { decode } from '@jridgewell/sourcemap-codec';
import * as esbuild from 'esbuild';
import { appendOwnSourceMap, ownSourceMap, SOURCE_SCHEME, type SourceMapV3 } from './own-source-map.ts';

const FIRST = [
  '// first',
  'export function fail(what: string): never {',
  '  const message = `boom: ${what}`;',
  '  throw new Error(message);',
  '}',
  '',
].join('\n');
const DEP = [
  'export function callWith(f) {',
  '  const x = 1;',
  '  return f(x);',
  '}',
  '',
].join('\n');
const APP = [
  "import { fail } from './first.ts';",
  "import { callWith } from 'dep';",
  '',
  'function main(): void {',
  "  callWith(() => fail('here'));",
  '}',
  'main();',
  '',
].join('\n');

/** 1-based line of the first line containing `needle`. */
const lineOf = (text: string, needle: string): number => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

test('the reduced map keeps our files only, one segment per line, and stops at dependency code', async (t) => {
  const root = mkdtempSync(join(tmpdir(), `kpb-sourcemap-${process.pid}-`));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'src'));
  mkdirSync(join(root, 'node_modules', 'dep'), { recursive: true });
  writeFileSync(join(root, 'src', 'first.ts'), FIRST);
  writeFileSync(join(root, 'src', 'app.ts'), APP);
  writeFileSync(join(root, 'node_modules', 'dep', 'package.json'), JSON.stringify({ name: 'dep', type: 'module', main: 'index.js' }));
  writeFileSync(join(root, 'node_modules', 'dep', 'index.js'), DEP);
  const bundle = join(root, 'out', 'bundle.cjs');
  await esbuild.build({
    entryPoints: [join(root, 'src', 'app.ts')], outfile: bundle, bundle: true, platform: 'node', format: 'cjs',
    sourcemap: 'external', sourcesContent: false, logLevel: 'silent',
  });
  const full = JSON.parse(readFileSync(`${bundle}.map`, 'utf8')) as SourceMapV3;
  // Order in the bundle: first.ts, the dependency, app.ts, so the stop segment matters.
  assert.deepEqual(full.sources.map((s) => s.replace(/^(\.\.\/)+/, '')), ['src/first.ts', 'node_modules/dep/index.js', 'src/app.ts']);

  const own = ownSourceMap(full, join(root, 'out'), root);
  assert.deepEqual(own.sources, [`${SOURCE_SCHEME}src/first.ts`, `${SOURCE_SCHEME}src/app.ts`]);
  assert.deepEqual(own.names, []);
  const lines = decode(own.mappings);
  for (const line of lines) assert.ok(line.length <= 1 && (line.length === 0 || line[0][0] === 0), `one segment at column 0: ${JSON.stringify(line)}`);
  assert.ok(lines.some((l) => l.length === 1 && l[0].length === 1), 'a source-less segment where the dependency starts');

  appendOwnSourceMap(bundle, root);
  const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(process.execPath, ['--enable-source-maps', bundle], { timeout: 30_000, encoding: 'utf8' }, (err, _out, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stderr }));
  });
  assert.equal(r.code, 1, r.stderr);
  const frames = r.stderr.split('\n').filter((l) => /^\s+at /.test(l));
  const frame = (fn: string): string => frames.find((f) => f.trim().startsWith(`at ${fn} `)) ?? `no frame of ${fn} in:\n${r.stderr}`;
  assert.match(frame('fail'), new RegExp(`\\(${SOURCE_SCHEME}src/first\\.ts:${lineOf(FIRST, 'throw new Error')}:\\d+\\)$`));
  assert.match(frame('main'), new RegExp(`\\(${SOURCE_SCHEME}src/app\\.ts:${lineOf(APP, 'callWith(() =>')}:\\d+\\)$`));
  // The dependency's frame is the bundle's own location, not the last line of first.ts.
  assert.match(frame('callWith'), /\(\/.*\/out\/bundle\.cjs:\d+:\d+\)$/);
});
