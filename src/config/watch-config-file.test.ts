import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchConfigFile } from './watch-config-file.ts';

function waitForChange(path: string, act: () => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`No change reported for ${path}`)), 5000);
    watchConfigFile(path, (event) => {
      clearTimeout(timer);
      resolve(event);
    }, reject);
    act();
  });
}

test('watchConfigFile() reports a write and a rename of the config file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kpb-watch-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'config.conf');
  writeFileSync(path, 'a: 1\n');
  assert.equal(await waitForChange(path, () => appendFileSync(path, 'b: 2\n')), 'change');
  assert.equal(await waitForChange(path, () => renameSync(path, join(dir, 'moved.conf'))), 'rename');
});
