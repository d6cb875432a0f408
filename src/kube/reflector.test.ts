import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Timers } from '../health/clock.ts';
import { ApiStatusError, type ListOptions, type ListPage, type ListWatch, type WatchEvent, type WatchOptions } from './list-watch.ts';
import { Reflector, ReflectorError, objectKey } from './reflector.ts';

interface Obj { metadata: { name: string; namespace?: string; resourceVersion: string }; v?: number }
const obj = (name: string, rv: string, v = 0): Obj => ({ metadata: { name, namespace: 'ns', resourceVersion: rv }, v });

interface FakeWatch {
  options: WatchOptions;
  emit(ev: WatchEvent<Obj>): void;
  end(): void;
  fail(err: Error): void;
  aborted: boolean;
}

/** A scripted transport: lists answer from `listFn`, watches are driven by the test. */
class FakeListWatch implements ListWatch<Obj> {
  lists: ListOptions[] = [];
  watches: FakeWatch[] = [];
  listFn: (o: ListOptions) => ListPage<Obj> | 'hang' = () => ({ items: [], resourceVersion: '1' });

  async list(options: ListOptions, signal: AbortSignal): Promise<ListPage<Obj>> {
    this.lists.push(options);
    const page = this.listFn(options);
    if (page !== 'hang') return page;
    // A list that only ends when the reflector gives up on it.
    return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
  }

  watch(options: WatchOptions, onEvent: (e: WatchEvent<Obj>) => void, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const w: FakeWatch = { options, emit: onEvent, end: resolve, fail: reject, aborted: false };
      signal.addEventListener('abort', () => { w.aborted = true; resolve(); });
      this.watches.push(w);
    });
  }

  /** Wait until the reflector has opened watch number `n` (1-based). */
  async watchNo(n: number): Promise<FakeWatch> {
    for (let i = 0; i < 1000 && this.watches.length < n; i++) await new Promise((r) => setImmediate(r));
    assert.ok(this.watches.length >= n, `watch #${n} was opened`);
    return this.watches[n - 1];
  }
}

function manualTimers() {
  const pending: Array<{ fn: () => void; ms: number }> = [];
  const timers: Timers = {
    setTimeout: (fn, ms) => { const h = { fn, ms }; pending.push(h); return h; },
    clearTimeout: (h) => { const i = pending.indexOf(h as never); if (i >= 0) pending.splice(i, 1); },
  };
  const fire = async (ms?: number) => {
    await settle();
    const due = pending.filter((p) => ms === undefined || p.ms === ms);
    for (const p of due) { pending.splice(pending.indexOf(p), 1); p.fn(); }
    await settle();
  };
  return { timers, pending, fire };
}

const settle = async () => { for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r)); };

function setup(extra: { resyncPeriodMs?: number; throwOn?: string } = {}) {
  const lw = new FakeListWatch();
  const clock = { t: 1_000_000, now: () => clock.t };
  const { timers, pending, fire } = manualTimers();
  const updates: string[] = [];
  const errors: ReflectorError[] = [];
  let synced = 0;
  const r = new Reflector<Obj>({
    resource: 'services', listWatch: lw, labelSelector: '!a,!b', clock, timers, random: () => 0,
    resyncPeriodMs: extra.resyncPeriodMs,
    handler: {
      onUpdate: (prev, cur) => {
        const name = (cur ?? prev)?.metadata.name;
        if (name === extra.throwOn) throw new Error(`handler failed on ${name}`);
        updates.push(`${prev ? `${prev.metadata.name}@${prev.metadata.resourceVersion}` : '-'} -> ${cur ? `${cur.metadata.name}@${cur.metadata.resourceVersion}` : '-'}`);
      },
      onSynced: () => { synced++; },
    },
    onError: (e) => errors.push(e),
  });
  return { lw, clock, timers, pending, fire, updates, errors, r, synced: () => synced };
}

test('Reflector lists in pages from resourceVersion "0", syncs once, then watches with bookmarks', async () => {
  const s = setup();
  s.lw.listFn = (o) => o.continue
    ? { items: [obj('b', '5')], resourceVersion: '10' }
    : { items: [obj('a', '4')], resourceVersion: '10', continue: 'tok' };
  s.r.start();
  const w = await s.lw.watchNo(1);
  assert.deepEqual(s.lw.lists, [
    { labelSelector: '!a,!b', fieldSelector: undefined, limit: 500, resourceVersion: '0' },
    { labelSelector: '!a,!b', fieldSelector: undefined, limit: 500, continue: 'tok' },
  ]);
  assert.deepEqual(s.updates, ['- -> a@4', '- -> b@5']);
  assert.equal(s.synced(), 1);
  assert.equal(s.r.hasSynced(), true);
  assert.deepEqual(w.options, { labelSelector: '!a,!b', fieldSelector: undefined, resourceVersion: '10', allowWatchBookmarks: true, timeoutSeconds: 300 });
  await s.r.stop();
  assert.equal(w.aborted, true);
});

test('Reflector turns watch events into update(prev, cur) and re-watches from the newest version', async () => {
  const s = setup();
  s.lw.listFn = () => ({ items: [obj('a', '4')], resourceVersion: '10' });
  s.r.start();
  const w1 = await s.lw.watchNo(1);
  s.updates.length = 0;
  w1.emit({ type: 'ADDED', object: obj('c', '11') });
  w1.emit({ type: 'MODIFIED', object: obj('a', '12') });
  w1.emit({ type: 'DELETED', object: obj('c', '13') });
  w1.emit({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '20' } } });
  assert.deepEqual(s.updates, ['- -> c@11', 'a@4 -> a@12', 'c@11 -> -']);
  assert.equal(s.r.resourceVersion(), '20');
  assert.deepEqual(s.r.items().map(objectKey), ['ns/a']);
  s.clock.t += 300_000;
  w1.end(); // the server's timeoutSeconds ran out
  const w2 = await s.lw.watchNo(2);
  assert.equal(w2.options.resourceVersion, '20');
  assert.equal(s.lw.lists.length, 1, 'a normal end does not re-list');
  assert.equal(s.errors.length, 0);
  await s.r.stop();
});

test('Reflector re-lists with a consistent read on 410 Gone and delivers what changed meanwhile', async () => {
  const s = setup();
  s.lw.listFn = () => ({ items: [obj('a', '4'), obj('b', '5')], resourceVersion: '10' });
  s.r.start();
  const w1 = await s.lw.watchNo(1);
  s.updates.length = 0;
  s.lw.listFn = () => ({ items: [obj('a', '30'), obj('d', '31')], resourceVersion: '40' });
  w1.emit({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 10 (25)' } });
  const w2 = await s.lw.watchNo(2);
  assert.equal(w1.aborted, true, 'the failed watch is closed');
  assert.deepEqual(s.lw.lists[1], { labelSelector: '!a,!b', fieldSelector: undefined, limit: 500, resourceVersion: '' });
  assert.deepEqual(s.updates, ['a@4 -> a@30', '- -> d@31', 'b@5 -> -']);
  assert.equal(w2.options.resourceVersion, '40');
  assert.equal(s.synced(), 1, 'onSynced is called only once');
  assert.equal(s.pending.length, 0, 'no backoff for a 410');
  await s.r.stop();
});

test('Reflector re-lists when the watch request itself answers 410', async () => {
  const s = setup();
  s.r.start();
  const w1 = await s.lw.watchNo(1);
  w1.fail(new ApiStatusError('watch services: gone', 410, 'Gone'));
  await s.lw.watchNo(2);
  assert.equal(s.lw.lists.length, 2);
  assert.equal(s.lw.lists[1].resourceVersion, '');
  await s.r.stop();
});

test('Reflector backs off on watch failures and resumes from the same version', async () => {
  const s = setup();
  s.r.start();
  const w1 = await s.lw.watchNo(1);
  w1.fail(new Error('connect ECONNREFUSED 192.0.2.10:6443'));
  await settle();
  assert.equal(s.errors.length, 1);
  assert.equal(s.errors[0].phase, 'watch');
  assert.match(s.errors[0].message, /^watch services: connect ECONNREFUSED/);
  assert.deepEqual(s.pending.map((p) => p.ms), [800]);
  assert.equal(s.lw.watches.length, 1, 'waits before retrying');
  s.clock.t += 800;
  await s.fire(800);
  const w2 = await s.lw.watchNo(2);
  assert.equal(w2.options.resourceVersion, '1');
  w2.fail(new Error('connection reset'));
  await settle();
  assert.deepEqual(s.pending.map((p) => p.ms), [1600], 'the wait doubles');
  assert.equal(s.lw.lists.length, 1, 'no re-list for a network failure');
  await s.r.stop();
  assert.equal(s.pending.length, 0, 'stop cancels the pending retry');
});

test('Reflector treats a watch that ends at once without events as a failure', async () => {
  const s = setup();
  s.r.start();
  const w1 = await s.lw.watchNo(1);
  w1.end();
  await settle();
  assert.equal(s.errors.length, 1);
  assert.match(s.errors[0].message, /ended at once without events/);
  assert.deepEqual(s.pending.map((p) => p.ms), [800]);
  await s.r.stop();
});

test('Reflector retries a failed list with backoff and syncs only after success', async () => {
  const s = setup();
  let fail = true;
  s.lw.listFn = () => {
    if (fail) throw new ApiStatusError('list services: forbidden', 403, 'Forbidden');
    return { items: [obj('a', '2')], resourceVersion: '3' };
  };
  s.r.start();
  await settle();
  assert.equal(s.synced(), 0);
  assert.equal(s.errors[0].phase, 'list');
  assert.deepEqual(s.pending.map((p) => p.ms), [800]);
  fail = false;
  await s.fire(800);
  await s.lw.watchNo(1);
  assert.equal(s.synced(), 1);
  assert.deepEqual(s.updates, ['- -> a@2']);
  await s.r.stop();
});

test('Reflector re-delivers every cached object each resync period', async () => {
  const s = setup({ resyncPeriodMs: 900_000 });
  s.lw.listFn = () => ({ items: [obj('a', '4'), obj('b', '5')], resourceVersion: '10' });
  s.r.start();
  await s.lw.watchNo(1);
  s.updates.length = 0;
  assert.deepEqual(s.pending.map((p) => p.ms), [900_000]);
  await s.fire(900_000);
  assert.deepEqual(s.updates, ['a@4 -> a@4', 'b@5 -> b@5']);
  assert.deepEqual(s.pending.map((p) => p.ms), [900_000], 'the next resync is scheduled');
  await s.r.stop();
  assert.equal(s.pending.length, 0);
});

test('Reflector reports a failing handler and keeps delivering', async () => {
  const s = setup({ throwOn: 'bad' });
  s.lw.listFn = () => ({ items: [obj('bad', '1'), obj('good', '2')], resourceVersion: '3' });
  s.r.start();
  await s.lw.watchNo(1);
  assert.deepEqual(s.updates, ['- -> good@2']);
  assert.equal(s.errors.length, 1);
  assert.equal(s.errors[0].phase, 'handler');
  assert.deepEqual(s.r.items().map(objectKey).sort(), ['ns/bad', 'ns/good'], 'the cache still holds the object');
  await s.r.stop();
});

test('objectKey keys namespaced and cluster-scoped objects', () => {
  assert.equal(objectKey({ metadata: { namespace: 'ns', name: 'a' } }), 'ns/a');
  assert.equal(objectKey({ metadata: { name: 'node-a' } }), 'node-a');
});

test('Reflector re-lists consistently at once when a continue token expires mid-list', async () => {
  const s = setup();
  let calls = 0;
  s.lw.listFn = (o) => {
    calls++;
    if (calls === 1) return { items: [obj('a', '4')], resourceVersion: '10', continue: 'tok' };
    if (calls === 2) throw new ApiStatusError('list services: continue too old', 410, 'Expired');
    assert.equal(o.resourceVersion, '', 'the retry is a consistent read');
    return { items: [obj('a', '4'), obj('b', '5')], resourceVersion: '12' };
  };
  s.r.start();
  const w = await s.lw.watchNo(1);
  assert.equal(s.lw.lists.length, 3);
  // Pages are delivered as they arrive (a whole list is never held): the broken list's first
  // page was, and the retry delivers it again, unchanged, with the rest.
  assert.deepEqual(s.updates, ['- -> a@4', 'a@4 -> a@4', '- -> b@5']);
  assert.equal(s.synced(), 1, 'synced once, after the whole list');
  assert.equal(w.options.resourceVersion, '12');
  assert.equal(s.errors.length, 1);
  assert.equal(s.errors[0].phase, 'list');
  await s.r.stop();
});

test('Reflector stop aborts a list in flight and never syncs', async () => {
  const s = setup();
  s.lw.listFn = () => 'hang';
  s.r.start();
  await settle();
  assert.equal(s.lw.lists.length, 1);
  await s.r.stop();
  assert.equal(s.synced(), 0);
  assert.equal(s.lw.watches.length, 0);
  assert.equal(s.errors.length, 0, 'stopping is not an error');
  assert.throws(() => s.r.start(), /already started/);
});

test('Reflector with cacheAs keeps the reduced form: prev carries it, cur the whole object', async () => {
  const lw = new FakeListWatch();
  const { timers } = manualTimers();
  const seen: string[] = [];
  const r = new Reflector<Obj>({
    resource: 'endpointslices', listWatch: lw, clock: { now: () => 0 }, timers, random: () => 0,
    cacheAs: (o) => ({ metadata: o.metadata }),
    handler: { onUpdate: (prev, cur) => seen.push(`${prev?.v ?? '-'} -> ${cur?.v ?? '-'}`), onSynced: () => {} },
  });
  lw.listFn = () => ({ items: [obj('a', '4', 7)], resourceVersion: '10' });
  r.start();
  const w = await lw.watchNo(1);
  w.emit({ type: 'MODIFIED', object: obj('a', '11', 8) });
  w.emit({ type: 'DELETED', object: obj('a', '12', 8) });
  assert.deepEqual(seen, ['- -> 7', '- -> 8', '- -> -']);
  await r.stop();
});
