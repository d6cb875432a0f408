import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NetEvent } from 'bpf-loader-napi';
import { HostWatcher } from './host-watcher.ts';
import type { HostDevice } from './host-info.ts';

const ev = (over: Partial<NetEvent>): NetEvent => ({ links: false, addresses: false, routes: false, neighbours: false, lost: false, ...over });

function fixture(opts: { failWatch?: boolean } = {}) {
  let emit: (e: NetEvent) => void = () => {};
  let closed = 0;
  const calls = { devices: 0, routes: 0 };
  let devices: HostDevice[] = [{ name: 'eth0', ifindex: 2, up: true, addresses: ['192.0.2.11'] }];
  const w = new HostWatcher({
    onDevicesChanged: () => calls.devices++,
    onRoutesChanged: () => calls.routes++,
    dump: () => devices.map((d) => ({ ...d })),
    watch: (onEvent) => {
      if (opts.failWatch) throw new Error('socket: EPERM');
      emit = onEvent;
      return { close: () => closed++ };
    },
  });
  return { w, calls, emit: (e: Partial<NetEvent>) => emit(ev(e)), setDevices: (d: HostDevice[]) => (devices = d), closed: () => closed };
}

test('HostWatcher.devices() dumps once and serves the cache until a link or address event', () => {
  const f = fixture();
  assert.equal(f.w.start(), null);
  assert.deepEqual(f.w.devices().map((d) => d.name), ['eth0']);
  f.w.devices();
  assert.equal(f.w.dumps, 1, 'a second sync without events must not dump');
  f.setDevices([{ name: 'eth1', ifindex: 3, up: true, addresses: ['192.0.2.11'] }]);
  f.emit({ addresses: true });
  assert.equal(f.calls.devices, 1);
  assert.deepEqual(f.w.devices().map((d) => d.name), ['eth1']);
  assert.equal(f.w.dumps, 2);
});

test('HostWatcher routes events by kind; "lost" counts as every kind', () => {
  const table: [Partial<NetEvent>, number, number][] = [
    [{ links: true }, 1, 0],
    [{ addresses: true }, 1, 0],
    [{ routes: true }, 0, 1],
    [{ neighbours: true }, 0, 1],
    [{ routes: true, neighbours: true, links: true }, 1, 1],
    [{ lost: true }, 1, 1],
  ];
  for (const [e, devices, routes] of table) {
    const f = fixture();
    f.w.start();
    f.w.devices();
    f.emit(e);
    assert.deepEqual([f.calls.devices, f.calls.routes], [devices, routes], JSON.stringify(e));
    f.w.devices();
    assert.equal(f.w.dumps, devices > 0 ? 2 : 1, `cache after ${JSON.stringify(e)}`);
  }
});

test('HostWatcher without a subscription dumps on every call and says why it has none', () => {
  const f = fixture({ failWatch: true });
  assert.match(f.w.start()?.message ?? '', /EPERM/);
  assert.equal(f.w.watching, false);
  f.w.devices();
  f.w.devices();
  assert.equal(f.w.dumps, 2);
});

test('HostWatcher.stop() closes the subscription once; invalidate() forces a dump', () => {
  const f = fixture();
  f.w.start();
  f.w.devices();
  f.w.invalidate();
  f.w.devices();
  assert.equal(f.w.dumps, 2);
  f.w.stop();
  f.w.stop();
  assert.equal(f.closed(), 1);
});
