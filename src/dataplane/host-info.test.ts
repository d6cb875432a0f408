import assert from 'node:assert/strict';
import { test } from 'node:test';
import { devicesForAddresses, ensureBpffs, hostDevices, hostNetnsCookie, kernelHz, type HostDevice } from './host-info.ts';

test('devicesForAddresses picks the devices holding a node IP, loopback excluded, in ifindex order', () => {
  const devices: HostDevice[] = [
    { name: 'lo', ifindex: 1, up: true, addresses: ['127.0.0.1', '192.0.2.11'] },
    { name: 'v-pod', ifindex: 7, up: true, addresses: ['198.18.1.1'] },
    { name: 'eth1', ifindex: 5, up: true, addresses: ['2001:DB8:1::11'] },
    { name: 'eth0', ifindex: 2, up: true, addresses: ['192.0.2.11'] },
  ];
  assert.deepEqual(devicesForAddresses(devices, ['192.0.2.11', '2001:db8:1::11']).map((d) => d.name), ['eth0', 'eth1']);
  assert.deepEqual(devicesForAddresses(devices, []), []);
});

test('kernelHz reads CONFIG_HZ of the running kernel', () => {
  const hz = kernelHz();
  assert.ok(hz === null || [100, 250, 300, 1000].includes(hz), `unexpected CONFIG_HZ ${hz}`);
});

test('ensureBpffs refuses a pin path outside any bpffs that it would not mount', () => {
  assert.throws(() => ensureBpffs('/tmp/kpb-not-bpffs'), /is not on a bpffs mount/);
});

test('hostDevices lists this namespace\'s devices from rtnetlink, without link-local addresses', () => {
  // Read-only: the test's own namespace (the root one when run from make test) is only listed.
  const devices = hostDevices();
  const lo = devices.find((d) => d.name === 'lo');
  assert.ok(lo, 'no loopback device listed');
  assert.equal(lo.ifindex, 1);
  assert.ok(lo.addresses.includes('127.0.0.1'));
  for (const d of devices) {
    assert.ok(d.ifindex > 0 && d.name !== '', JSON.stringify(d));
    assert.ok(!d.addresses.some((a) => a.toLowerCase().startsWith('fe80:')), `${d.name} lists a link-local address`);
  }
});

test('hostNetnsCookie is the namespace cookie (stable, non-zero)', () => {
  const c = hostNetnsCookie();
  assert.equal(typeof c, 'bigint');
  assert.ok(c > 0n);
  assert.equal(hostNetnsCookie(), c);
});
