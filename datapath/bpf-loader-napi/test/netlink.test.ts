// netLinks, netAddresses, deleteNetLink, netnsCookie and watchNetlink against the kernel, each inside a throwaway
// network namespace (a child process entered with nsenter, so nothing reads or changes the root
// namespace). Addresses: 198.18.5.0/24, 198.18.6.0/24 and 2001:db8:5::/64 on veth devices (the kernel here has no dummy driver).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { netnsCookie } from '../lib/index.ts';
import { makeNetns, nodeBin, requireRoot } from './helpers/env.ts';

const child = fileURLToPath(new URL('./helpers/netns-netlink.ts', import.meta.url));

function inNetns(ns: string, scenario: string, timeoutMs = 60_000): Promise<{ code: number | null; out: Record<string, any>; stderr: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const c = spawn('nsenter', [`--net=/run/netns/${ns}`, nodeBin, child, scenario], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.on('error', reject);
    c.on('close', (code) => {
      clearTimeout(timer);
      let out: Record<string, unknown> = {};
      try {
        out = JSON.parse(stdout);
      } catch {
        out = { unparsed: stdout };
      }
      resolve({ code, out, stderr, ms: performance.now() - started });
    });
  });
}

test('netLinks() and netAddresses() list what `ip -j -d addr show` lists; netnsCookie() is per namespace', async (t) => {
  requireRoot();
  const ns = makeNetns('dump');
  t.after(ns.cleanup);
  const r = await inNetns(ns.name, 'dump');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.out.error, undefined);
  assert.deepEqual(r.out.ours, r.out.ip);
  assert.deepEqual(r.out.families, ['IPv4', 'IPv6']);
  const kpbd0 = r.out.ours.find((d: { name: string }) => d.name === 'kpbd0');
  assert.equal(kpbd0.kind, 'veth');
  assert.ok(kpbd0.addrs.includes('2001:db8:5::1/64 global'));
  assert.deepEqual([r.out.deleted, r.out.deletedAgain, r.out.leftAfterDelete, r.out.deleteEmpty], [true, false, 0, 'TypeError']);
  assert.equal(r.out.cookie, r.out.cookieAgain);
  assert.notEqual(r.out.cookie, String(netnsCookie()), 'another namespace has another cookie');
  const again = await inNetns(ns.name, 'dump');
  assert.match(again.out.error ?? '', /File exists/, 'the devices are still there: a second dump child fails to recreate them');
});

test('watchNetlink() reports link, address, route and neighbour changes, coalesces bursts, and stops on close()', async (t) => {
  requireRoot();
  const ns = makeNetns('watch');
  t.after(ns.cleanup);
  const r = await inNetns(ns.name, 'watch', 120_000);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.out.error, undefined);
  for (const k of ['link', 'address', 'route', 'neighbour', 'neighbourMacChange', 'neighbourGone']) assert.equal(r.out[k], true, `no event for ${k}`);
  assert.equal(r.out.neighbourRefresh, false, 'a neighbour state change that keeps its MAC is not an event');
  assert.equal(r.out.burstSawAddresses, true);
  assert.ok(r.out.burstCallbacks < 50, `50 address changes gave ${r.out.burstCallbacks} callbacks: not coalesced`);
  assert.equal(r.out.linksOnlyIgnoresAddresses, true, 'a links-only watcher got an address event');
  assert.equal(r.out.linksOnlySeesLinks, true);
  assert.equal(r.out.onError, 'callback failed');
  assert.equal(r.out.eventsAfterClose, 0, 'callbacks ran after close()');
});

test('an open watcher does not keep the process alive; a worker exiting with one open leaves the process healthy', async (t) => {
  requireRoot();
  const ns = makeNetns('idle');
  t.after(ns.cleanup);
  const idle = await inNetns(ns.name, 'idle', 20_000);
  assert.equal(idle.code, 0, `the process did not end by itself (killed after 20 s?): ${idle.stderr}`);
  assert.equal(idle.out.started, true);
  assert.ok(idle.ms < 15_000, `took ${idle.ms} ms to exit`);
  const w = await inNetns(ns.name, 'worker', 30_000);
  assert.equal(w.code, 0, w.stderr);
  assert.equal(w.out.error, undefined);
  assert.equal(w.out.workerSaid, 'watching');
  assert.equal(w.out.mainAlive, true);
});
