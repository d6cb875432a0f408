import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../log/logger.ts';
import type { Problem } from '../model/problem.ts';
import { ProblemLog } from './problem-log.ts';

test('ProblemLog counts per version with enumerated reasons and logs one line per object per minute', () => {
  let now = 0;
  const lines: string[] = [];
  const counts = new Map<string, number>();
  const log = new ProblemLog({
    logger: createLogger({ err: { write: (l: string) => lines.push(l) }, withSource: false }),
    count: (kind, reason) => counts.set(`${kind}/${reason}`, (counts.get(`${kind}/${reason}`) ?? 0) + 1),
    now: () => now,
  });
  const bad = (i: number): Problem => ({ object: 'EndpointSlice default/web-x', field: `endpoints[${i}].addresses[0]`, reason: 'invalid_ip', message: `invalid IP address "x${i}"; endpoint ignored` });
  const problems = Array.from({ length: 1000 }, (_, i) => bad(i));
  log.object(problems, '1');
  log.object(problems, '1'); // a resync repeats the version
  for (let v = 2; v < 50; v++) log.object(problems, String(v)); // rewritten in a loop
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /moreProblems=999/);
  assert.deepEqual([...counts], [['EndpointSlice/invalid_ip', 49_000]], 'labels are the kind and the enumerated reason only');
  now += 60_000;
  log.object(problems, '50');
  assert.equal(lines.length, 2);
  assert.match(lines[1]!, /suppressedLines=48/);
  log.deleted('EndpointSlice default/web-x');
  log.object(problems, '50');
  assert.equal(lines.length, 3, 'a new object of that name is reported at once');
});
