// Re-renders a results folder from its results.json (the Markdown report and the charts), e.g.
// after a chart or report change, or after adding targetNotes by hand:
//   node e2e/bench/render.ts [e2e/bench/latest | <folder> | <folder>/results.json]
import { statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { writeResults } from './output.ts';
import { readResults } from './results.ts';

const arg = process.argv[2] ?? join(import.meta.dirname, 'latest');
const file = statSync(arg).isDirectory() ? join(arg, 'results.json') : arg;
const dir = dirname(file);
const r = readResults(file);
const title = basename(dir) === 'latest' ? `latest (${r.startedAt})` : basename(dir);
const pngs = await writeResults(r, dir, title);
process.stdout.write(`${dir}: results.md${pngs.length ? `, ${pngs.join(', ')}` : ''}\n`);
