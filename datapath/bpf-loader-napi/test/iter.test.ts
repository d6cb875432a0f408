// Iterators: attachIter on a UDP socket iterator of the fixture, readIter in this process's network
// namespace and, through netnsFd, inside a throwaway one where a child holds a UDP socket on a
// known port (45678, bound in that namespace only).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { test } from 'node:test';
import { BpfError, BpfObject, attachIter } from '../lib/index.ts';
import { makeNetns, nodeBin, objectPath, requireRoot } from './helpers/env.ts';

const PORT = 45678;

function ports(out: Buffer): number[] {
  const list: number[] = [];
  for (let i = 0; i + 2 <= out.length; i += 2) list.push(out.readUInt16LE(i));
  return list;
}

test('attachIter + readIter walk the sockets of the namespace netnsFd names', async (t) => {
  requireRoot();
  const coll = await BpfObject.open(objectPath('fixture')).load();
  t.after(() => coll.close());
  const ns = makeNetns('iter');
  t.after(ns.cleanup);
  const child = spawn('ip', ['netns', 'exec', ns.name, nodeBin, '-e',
    `require('node:dgram').createSocket('udp4').bind(${PORT}, '127.0.0.1', () => console.log('ready')); process.stdin.resume(); process.stdin.on('end', () => process.exit(0));`],
  { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('child did not bind within 10 s')), 10_000);
    child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('ready')) { clearTimeout(timer); resolve(); } });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`child exited ${code}`)); });
  });

  const link = attachIter(coll.program('udp_ports'));
  t.after(() => link.close());
  const fd = openSync(`/run/netns/${ns.name}`, 'r');
  t.after(() => closeSync(fd));
  assert.deepEqual(ports(link.readIter({ netnsFd: fd })), [PORT], 'the one socket of that namespace');
  assert.ok(!ports(link.readIter()).includes(PORT), 'our own namespace does not have it');
  // The caller's thread never left its namespace: a second run in ours still sees ours.
  assert.ok(!ports(link.readIter()).includes(PORT));
});

test('attachIter refuses a program that is no iterator; readIter names a bad namespace fd', async (t) => {
  requireRoot();
  const coll = await BpfObject.open(objectPath('fixture')).load();
  t.after(() => coll.close());
  assert.throws(() => attachIter(coll.program('xdp_swap')), (e: unknown) => e instanceof BpfError && e.code === 'EINVAL');
  const link = attachIter(coll.program('udp_ports'));
  t.after(() => link.close());
  const notNs = openSync('/proc/self/stat', 'r');
  t.after(() => closeSync(notNs));
  assert.throws(() => link.readIter({ netnsFd: notNs }), (e: unknown) => e instanceof BpfError && /enter the network namespace/.test(e.message) && e.code === 'EINVAL');
  assert.throws(() => link.readIter({ netnsFd: -5 }), RangeError);
});
