import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, formatHeader, formatMessage } from './logger.ts';

const fixed = new Date(2026, 10, 25, 19, 2, 3, 123);

function capture(opts: Parameters<typeof createLogger>[0] = {}) {
  const lines: string[] = [];
  const outLines: string[] = [];
  const log = createLogger({ now: () => fixed, pid: 12345, err: { write: (l) => lines.push(l) }, ...opts,
    ...(opts.out ? { out: { write: (l: string) => outLines.push(l) } } : {}) });
  return { log, lines, outLines };
}

test('formatHeader() matches klog: letter, MMDD, time with microseconds, pid in 7 columns, source', () => {
  assert.equal(formatHeader('I', fixed, 12345, 'x.ts:42'), 'I1125 19:02:03.123000   12345 x.ts:42] ');
  assert.equal(formatHeader('E', new Date(2026, 0, 2, 3, 4, 5, 6), 1, 'a.ts:1'), 'E0102 03:04:05.006000       1 a.ts:1] ');
});

test('formatMessage() quotes the message and string values, leaves numbers bare', () => {
  const table: [string, Record<string, unknown>, string][] = [
    ['Starting', {}, '"Starting"'],
    ['Syncing', { count: 3, ok: true, node: 'node-a' }, '"Syncing" count=3 ok=true node="node-a"'],
    ['Failed', { err: new Error('boom') }, '"Failed" err="boom"'],
    ['Wrapped', { err: new Error('The full sync failed', { cause: new Error('spawn ip ENOENT', { cause: 'exit 127' }) }) }, '"Wrapped" err="The full sync failed: spawn ip ENOENT: exit 127"'],
    ['Quoted cause', { err: new Error('cannot load tc: Bad', { cause: new Error('Bad') }) }, '"Quoted cause" err="cannot load tc: Bad"'],
    ['Multi', { text: 'a\nb\n' }, '"Multi" text=<\n\ta\n\tb\n >'],
    ['Nil', { v: null, l: ['x', 1] }, '"Nil" v=<nil> l=["x",1]'],
  ];
  for (const [msg, kv, want] of table) assert.equal(formatMessage(msg, kv), want);
});

test('logger writes I/W/E lines with the caller location', () => {
  const { log, lines } = capture();
  log.info('hello', { a: 'b' });
  log.warning('careful');
  log.error('failed', { err: new Error('x'), svc: 'ns/name' });
  assert.match(lines[0], /^I1125 19:02:03\.123000   12345 logger\.test\.ts:\d+\] "hello" a="b"\n$/);
  assert.match(lines[1], /^W1125 .* "careful"\n$/);
  assert.match(lines[2], /^E1125 .* "failed" err="x" svc="ns\/name"\n$/);
});

test('logger.v() gates info lines on verbosity and vmodule', () => {
  const { log, lines } = capture({ verbosity: 1 });
  log.v(1).info('one');
  log.v(2).info('two');
  assert.equal(log.v(2).enabled, false);
  log.setVerbosity(4);
  log.v(2).info('now');
  assert.deepEqual(lines.map((l) => l.split('] ')[1]), ['"one"\n', '"now"\n']);

  const vm = capture({ verbosity: 0, vmodule: [{ filePattern: 'logger.te*', verbosity: 3 }] });
  vm.log.v(3).info('by vmodule');
  vm.log.v(4).info('dropped');
  assert.equal(vm.lines.length, 1);
});

test('logger.with() binds key/values and split streams route info lines to out', () => {
  const { log, lines, outLines } = capture({ out: { write: () => 0 } });
  log.with({ node: 'n1' }).info('bound');
  log.error('bad');
  assert.equal(outLines.length, 1);
  assert.match(outLines[0], /"bound" node="n1"/);
  assert.equal(lines.length, 1);
});

test('logger.fatal() logs F and exits with 255', () => {
  let code = -1;
  const { log, lines } = capture({
    withSource: false,
    exit: ((c: number) => {
      code = c;
      throw new Error('exited');
    }) as (c: number) => never,
  });
  assert.throws(() => log.fatal('dead'), /exited/);
  assert.equal(code, 255);
  assert.match(lines[0], /^F1125 .*\] "dead"\n$/);
});

test('logger with format json writes component-base\'s JSON lines: ts in ms, caller, msg, v for info, err first for errors', () => {
  const { log, lines } = capture({ format: 'json' });
  log.info('hello', { a: 'b', n: 1 });
  log.v(0).info('zero');
  log.error('failed', { err: new Error('x'), svc: 'ns/name' });
  const [info, zero, err] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(info!.ts, fixed.getTime());
  assert.match(String(info!.caller), /^logger\.test\.ts:\d+$/);
  assert.deepEqual(Object.keys(info!), ['ts', 'caller', 'msg', 'v', 'a', 'n']);
  assert.deepEqual([info!.msg, info!.v, info!.a, info!.n], ['hello', 0, 'b', 1]);
  assert.equal(zero!.v, 0);
  assert.deepEqual(Object.keys(err!), ['ts', 'caller', 'msg', 'err', 'svc']);
  assert.equal(err!.err, 'x');
});
