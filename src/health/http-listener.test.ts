import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { startHttpListener } from './http-listener.ts';
import type { Timers } from './clock.ts';

/** Timers that only fire when the test says so. */
function manualTimers() {
  const pending: Array<{ fn: () => void; ms: number }> = [];
  const timers: Timers = {
    setTimeout: (fn, ms) => { const h = { fn, ms }; pending.push(h); return h; },
    clearTimeout: (h) => { const i = pending.indexOf(h as never); if (i >= 0) pending.splice(i, 1); },
  };
  return { timers, pending, fire: () => pending.splice(0).forEach((p) => p.fn()) };
}

const hello = (_req: unknown, res: import('node:http').ServerResponse) => res.end('hello');

test('startHttpListener serves on the bind address and closes', async () => {
  const { timers } = manualTimers();
  const l = startHttpListener({ name: 'test server', address: { host: '127.0.0.1', port: 0 }, handler: hello, timers });
  const addr = await l.listening;
  const r = await request(`http://127.0.0.1:${addr.port}/`);
  assert.equal(await r.body.text(), 'hello');
  await l.close();
  await assert.rejects(request(`http://127.0.0.1:${addr.port}/`), /ECONNREFUSED/);
});

test('startHttpListener retries a busy port every retryMs until it is free', async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as AddressInfo).port;
  const { timers, pending, fire } = manualTimers();
  const errors: Error[] = [];
  const l = startHttpListener({ name: 'healthz server', address: { host: '127.0.0.1', port }, handler: hello, timers, onBindError: (e) => errors.push(e) });
  await new Promise((r) => setImmediate(r));
  while (errors.length === 0) await new Promise((r) => setTimeout(r, 5));
  assert.match(errors[0].message, new RegExp(`Cannot start healthz server on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
  assert.equal(pending.length, 1);
  assert.equal(pending[0].ms, 5000);
  await new Promise<void>((r) => blocker.close(() => r()));
  fire();
  const addr = await l.listening;
  assert.equal(addr.port, port);
  const r = await request(`http://127.0.0.1:${port}/`);
  assert.equal(await r.body.text(), 'hello');
  await l.close();
});

test('startHttpListener with hardFail rejects on the first bind failure', async (t) => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  t.after(() => blocker.close());
  const port = (blocker.address() as AddressInfo).port;
  const { timers, pending } = manualTimers();
  const l = startHttpListener({ name: 'metrics server', address: { host: '127.0.0.1', port }, handler: hello, timers, hardFail: true });
  await assert.rejects(l.listening, /Cannot start metrics server on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
  assert.equal(pending.length, 0, 'no retry scheduled');
  await l.close();
});
