// Re-renders the Markdown and PNGs of an existing results JSON: node e2e/bench/render.ts <file.json>
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { renderMarkdown, renderPlots, targets } from './output.ts';
import type { Results } from './run.ts';

const file = process.argv[2];
if (!file) throw new Error('usage: node e2e/bench/render.ts <results.json>');
const r = JSON.parse(readFileSync(file, 'utf8'), (_k, v: unknown) => (v === null ? Number.NaN : v)) as Results;
const stamp = basename(file, '.json');
writeFileSync(join(dirname(file), `${stamp}.md`), renderMarkdown(r, targets(r), stamp));
process.stdout.write(`${renderPlots(r, dirname(file), stamp).join('\n')}\n`);
