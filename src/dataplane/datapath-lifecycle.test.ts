import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Registry } from 'prom-client';
import { createLogger } from '../log/logger.ts';
import { DatapathLifecycle } from './datapath-lifecycle.ts';
import type { HostDevice } from './host-info.ts';
import type { Repair } from './repair-datapath.ts';

const ETH0: HostDevice = { name: 'eth0', ifindex: 2, up: true, addresses: ['192.0.2.11'] };

function fixture(opts: { attachFails?: boolean; repairs?: Repair[]; repairErrors?: Error[]; noWatch?: boolean } = {}) {
  const events: string[] = [];
  const now = { t: 0 };
  let devices = [ETH0];
  const registry = new Registry();
  const repairs = new Counter({ name: 'repairs_total', help: 'h', labelNames: ['hook'] as const, registers: [registry] });
  const syncErrors = new Counter({ name: 'sync_errors_total', help: 'h', labelNames: ['ip_family', 'op'] as const, registers: [registry] });
  const lines: string[] = [];
  const lc = new DatapathLifecycle({
    dp: {
      devicesFor: (ips, all = []) => all.filter((d) => d.addresses.some((a) => ips.includes(a))),
      attachDevices: (ips, all = []) => {
        if (opts.attachFails) throw new Error('attach tc on eth0: EPERM');
        events.push(`attach ${all.filter((d) => d.addresses.some((a) => ips.includes(a))).map((d) => `${d.name}#${d.ifindex}`).join(',')}`);
        return [];
      },
      finishMigration: () => void events.push('finish migration'),
      repair: () => {
        events.push('repair');
        return { repairs: opts.repairs ?? [], errors: opts.repairErrors ?? [] };
      },
    },
    logger: createLogger({ err: { write: (l) => lines.push(l) }, verbosity: 4 }),
    metrics: { repairs, syncErrors },
    syncPeriodMs: 30_000,
    now: () => now.t,
    onDevicesChanged: () => events.push('devices changed'),
    onRoutesChanged: () => events.push('next hops'),
    handleStaleRules: async () => void events.push('stale rules'),
    watcher: { start: () => (opts.noWatch ? new Error('socket: EPERM') : null), stop: () => {}, devices: () => devices, invalidate: () => events.push('invalidate') },
  });
  lc.start();
  events.length = 0; // start() invalidates next hops once (tested below)
  return { lc, events, now, lines, registry, setDevices: (d: HostDevice[]) => (devices = d) };
}

test('DatapathLifecycle removes stale rules only after the devices are attached and a sync succeeded', async () => {
  const f = fixture();
  // Node not known yet: nothing attached, so a successful map sync must not remove the rules.
  assert.equal(f.lc.beforeSync(null).ok, true);
  await f.lc.afterSync(true);
  assert.deepEqual(f.events, []);
  f.lc.beforeSync(['192.0.2.11']);
  await f.lc.afterSync(false); // the maps failed: not yet
  assert.deepEqual(f.events, ['attach eth0#2']);
  f.lc.beforeSync(['192.0.2.11']);
  await f.lc.afterSync(true);
  await f.lc.afterSync(true);
  assert.deepEqual(f.events, ['attach eth0#2', 'finish migration', 'stale rules'], 'attached once; the migration finished and the rules handled once');
});

test('DatapathLifecycle re-attaches when the node\'s device set changes, not otherwise', () => {
  const f = fixture();
  f.lc.beforeSync(['192.0.2.11']);
  f.lc.beforeSync(['192.0.2.11']);
  f.setDevices([{ ...ETH0, ifindex: 9 }]); // eth0 recreated
  f.lc.beforeSync(['192.0.2.11']);
  assert.deepEqual(f.events, ['attach eth0#2', 'attach eth0#9']);
});

test('DatapathLifecycle keeps stale rules while attaching fails, and says why', async () => {
  const f = fixture({ attachFails: true });
  assert.equal(f.lc.beforeSync(['192.0.2.11']).ok, false);
  await f.lc.afterSync(true);
  assert.deepEqual(f.events, []);
  assert.match(f.lines.join(''), /Cannot attach the north-south datapath.*EPERM/);
  assert.match(await f.registry.metrics(), /sync_errors_total\{ip_family="",op="attach"\} 1/);
});

test('DatapathLifecycle repairs once per sync period after attaching, logs and counts each repair by hook', async () => {
  const f = fixture({ repairs: [{ hook: 'tc', what: 'tc ingress on eth0', why: 'the filter was removed' }, { hook: 'cgroup', what: 'socket program x', why: 'the link was detached' }] });
  f.lc.beforeSync(['192.0.2.11']);
  f.now.t = 29_999;
  f.lc.beforeSync(['192.0.2.11']);
  assert.deepEqual(f.events, ['attach eth0#2'], 'no repair pass before a sync period passed');
  f.now.t = 30_000;
  assert.equal(f.lc.beforeSync(['192.0.2.11']).ok, true);
  f.now.t = 45_000;
  f.lc.beforeSync(['192.0.2.11']);
  assert.deepEqual(f.events, ['attach eth0#2', 'invalidate', 'repair']);
  const text = await f.registry.metrics();
  assert.match(text, /repairs_total\{hook="tc"\} 1/);
  assert.match(text, /repairs_total\{hook="cgroup"\} 1/);
  assert.match(text, /repairs_total\{hook="xdp"\} 0/, 'every hook has a series from the start');
  assert.match(f.lines.join(''), /"Repaired the datapath" hook="tc" what="tc ingress on eth0" why="the filter was removed"/);
});

test('DatapathLifecycle fails the sync when a repair fails', () => {
  const f = fixture({ repairErrors: [new Error('cannot repair socket program x: ENOENT')] });
  f.lc.beforeSync(['192.0.2.11']);
  f.now.t = 30_000;
  assert.equal(f.lc.beforeSync(['192.0.2.11']).ok, false);
  assert.match(f.lines.join(''), /Cannot repair the datapath.*ENOENT/);
});

test('DatapathLifecycle without a netlink subscription invalidates next hops at every sync, and says so once', () => {
  const f = fixture({ noWatch: true });
  f.lc.beforeSync(null);
  f.lc.beforeSync(null);
  assert.deepEqual(f.events, ['next hops', 'next hops']);
  assert.match(f.lines.join(''), /Cannot watch the host's devices, addresses, routes and neighbours.*EPERM/);
  const watched = fixture();
  watched.lc.beforeSync(null);
  assert.deepEqual(watched.events, [], 'with a subscription only route and neighbour events invalidate next hops');
  watched.lc.start();
  assert.deepEqual(watched.events, ['next hops'], 'start() invalidates what was cached while no agent listened');
});
