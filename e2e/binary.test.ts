// The single binary (build/kube-proxy, what the image ships) as a privileged process sees it:
// nothing from the environment may change which code runs. A NODE_OPTIONS=--require of a file
// that leaves a marker must not run; --version still answers. Its stack traces name our
// TypeScript sources through the embedded source map (scripts/own-source-map.ts): the logger's
// file:line header comes from a stack frame, so it must point at the very line that logs.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AGENT_BINARY } from './cluster/agent.ts';

function runBinary(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(AGENT_BINARY, args, { env, timeout: 30_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('build/kube-proxy ignores NODE_OPTIONS (--require of foreign code does not run)', async (t) => {
  assert.ok(existsSync(AGENT_BINARY), `${AGENT_BINARY} is missing: run "make binary"`);
  const dir = mkdtempSync(join(tmpdir(), `kpb-binary-${process.pid}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const marker = join(dir, 'ran');
  const inject = join(dir, 'inject.cjs');
  writeFileSync(inject, `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'injected');\n`);

  // The same file does run under a plain node: the check below can fail.
  const control = await new Promise<number>((resolve) => {
    execFile(process.execPath, ['-e', '0'], { env: { ...process.env, NODE_OPTIONS: `--require=${inject}` }, timeout: 30_000 }, (err) => resolve(err ? 1 : 0));
  });
  assert.equal(control, 0);
  assert.ok(existsSync(marker), 'control: NODE_OPTIONS --require runs under node');
  rmSync(marker);

  const r = await runBinary(['--version'], { ...process.env, NODE_OPTIONS: `--require=${inject} --max-old-space-size=1` });
  assert.equal(r.code, 0, `kube-proxy --version failed: ${r.stderr}`);
  assert.match(r.stdout, /^Kubernetes v\d+\.\d+\.\d+/m);
  assert.equal(existsSync(marker), false, 'NODE_OPTIONS --require ran inside the binary');
});

test('build/kube-proxy names src/...ts:line in its stack frames (the klog header of a log call)', async (t) => {
  assert.ok(existsSync(AGENT_BINARY), `${AGENT_BINARY} is missing: run "make binary"`);
  const dir = mkdtempSync(join(tmpdir(), `kpb-binary-${process.pid}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const r = await runBinary(['--write-config-to', join(dir, 'config.yaml')], env);
  assert.equal(r.code, 0, r.stderr);
  const m = /^I\d{4} [\d:.]+ +\d+ ([^\s:]+):(\d+)\] "Wrote configuration"/m.exec(r.stderr);
  assert.ok(m, `no klog line "Wrote configuration" with a file:line header in:\n${r.stderr}`);
  const [, file, line] = m;
  assert.match(file, /\.ts$/, 'the frame names a TypeScript source, not the bundle');
  const root = join(import.meta.dirname, '..');
  const matches = readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' }).filter((p) => p.split('/').pop() === file);
  assert.equal(matches.length, 1, `exactly one src/**/${file}: ${matches.join(', ')}`);
  const text = readFileSync(join(root, 'src', matches[0]), 'utf8').split('\n')[Number(line) - 1] ?? '';
  assert.match(text, /logger\.info\('Wrote configuration'/, `src/${matches[0]}:${line} is the call that logged`);
});
