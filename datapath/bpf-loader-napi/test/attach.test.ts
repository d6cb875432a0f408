// Attach, update, pin and detach on real hooks: XDP (native and generic) and tc on a veth inside
// throwaway network namespaces, with UDP traffic showing the programs act on packets; cgroup connect4 on a
// throwaway cgroup, shown to run by a real connect() from a child process placed in it; every
// cgroup sock_addr and post_bind attach type links.
// Addresses: 198.18.0.1/30 <-> 198.18.0.2/30 (veth), 127.0.0.1 (connect4 inside the cgroup).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { BpfObject, CGROUP_ATTACH_TYPES, attachCgroup, openPinnedLink } from '../lib/index.ts';
import { makeCgroup, makeNetns, nodeBin, objectPath, pinDir, requireRoot, run } from './helpers/env.ts';

const childScript = fileURLToPath(new URL('./helpers/netns-attach.ts', import.meta.url));

function runChild(args: string[], timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(args[0], args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.on('error', reject);
    c.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('attachXdp and attachTc act on veth traffic; update, pin, detach', async (t) => {
  requireRoot();
  objectPath('fixture');
  const a = makeNetns('a');
  t.after(a.cleanup);
  const b = makeNetns('b');
  t.after(b.cleanup);
  const pins = pinDir('links');
  t.after(pins.cleanup);
  // Created inside the namespaces: the root namespace never sees these interfaces.
  run('ip', ['-n', a.name, 'link', 'add', 'kpbva', 'type', 'veth', 'peer', 'name', 'kpbvb', 'netns', b.name]);
  run('ip', ['-n', a.name, 'addr', 'add', '198.18.0.1/30', 'dev', 'kpbva']);
  run('ip', ['-n', b.name, 'addr', 'add', '198.18.0.2/30', 'dev', 'kpbvb']);
  run('ip', ['-n', a.name, 'link', 'set', 'kpbva', 'up']);
  run('ip', ['-n', b.name, 'link', 'set', 'kpbvb', 'up']);

  const r = await runChild(['nsenter', `--net=/run/netns/${b.name}`, nodeBin, childScript, a.name, pins.path]);
  assert.equal(r.code, 0, `child failed: ${r.stderr}`);
  const o = JSON.parse(r.stdout);
  assert.equal(o.error, undefined);
  assert.equal(o.trafficBefore, true, 'the veth pair works before any program');

  assert.equal(o.xdpInfo.type, 'xdp');
  assert.match(o.xdpShown, /prog\/xdp id \d+/);
  assert.equal(o.trafficWithDrop, false, 'XDP_DROP (set through rodata) stops traffic');
  assert.ok(o.dropCount > 0);
  assert.equal(o.trafficAfterUpdate, true, 'link update to a passing program restores traffic');
  assert.ok(o.passCount > 0);
  assert.equal(o.xdpProgAfterUpdate, true);
  assert.equal(o.shownAfterCloseOfPinned, true, 'a pinned link survives close()');
  assert.equal(o.shownAfterDetach, false, 'detach() removes even a pinned link');
  assert.match(o.genericShown, /xdpgeneric/);
  assert.equal(o.genericAfterClose, false, 'closing an unpinned link detaches it');

  assert.equal(o.tcInfo.type, 'tc');
  assert.equal(o.tcInfo.priority, 7);
  assert.match(o.tcShown, /tc_mark/);
  assert.equal(o.trafficWithMark, false, 'tc_mark corrupts every arriving packet');
  assert.ok(o.markCount > 0);
  assert.match(o.tcShownAfterUpdate, /tc_ok2/);
  assert.doesNotMatch(o.tcShownAfterUpdate, /tc_mark/);
  assert.equal(o.trafficAfterTcUpdate, true);
  assert.match(o.tcPin, /^EOPNOTSUPP: .*tc/);
  assert.doesNotMatch(o.tcAfterDetach, /tc_ok2|tc_mark/);
  assert.deepEqual(o.xdpQueryNone, { mode: 'none', progId: 0, nativeProgId: 0, genericProgId: 0 });
  assert.equal(o.xdpQueryGeneric.mode, 'generic');
  assert.equal(o.xdpQueryGeneric.progId, o.xdpQueryGenericWant);
  assert.equal(o.xdpQueryGeneric.genericProgId, o.xdpQueryGenericWant);
  assert.equal(o.xdpLinkInfoDetached.attached, false, 'a detached XDP link reports attached: false');
  assert.equal(o.xdpLinkInfoDetached.ifindex, 0);
  assert.equal(o.tcQueryNoQdisc, 0, 'no clsact egress filter yet: 0, not an error');
  assert.equal(o.tcQueryFirst, true, 'tcQuery names the attached program');
  assert.equal(o.tcAttachExisting, 'EEXIST', 'without replace an existing filter is an error');
  assert.equal(o.tcQueryReplaced, true, 'replace swaps the program in place');
  assert.equal(o.tcFiltersAfterReplace, 1, 'replace leaves one filter, not two');
  assert.equal(o.tcDetachFirst, true);
  assert.equal(o.tcDetachAgain, false, 'detaching a missing filter is false, not an error');
  assert.equal(o.tcQueryGone, 0);
  assert.equal(o.tcReplaceCreates, true, 'replace creates the filter when there is none');
  assert.deepEqual(o.bad, {
    ifindex0: 'RangeError:', noSuchIfindex: 'BpfError:ENODEV', priorityTooBig: 'RangeError:',
    handle0: 'RangeError:', direction: 'TypeError:', replaceWithoutHandle: 'RangeError:',
    xdpNoSuchIfindex: 'BpfError:ENODEV',
  });
  assert.match(o.egressShown, /tc_ok2/);
  assert.doesNotMatch(o.egressAfterDetach, /tc_ok2/);
});

/** Child that joins the cgroup, connects to 127.0.0.1:<port>, sends a line and prints the reply. */
const connectChild = `
const fs = require('node:fs'), net = require('node:net');
const [procs, port] = process.argv.slice(1);
fs.writeFileSync(procs, String(process.pid));
const s = net.connect({ host: '127.0.0.1', port: Number(port) }, () => s.write('hello\\n'));
let got = '';
s.on('data', (d) => { got += d; if (got.includes('\\n')) { process.stdout.write(got); s.end(); } });
s.on('error', (e) => { process.stderr.write(e.message); process.exit(3); });
setTimeout(() => process.exit(4), 10000).unref();
`;

function listen(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = createServer((sock) => sock.on('data', () => sock.end('redirected\n')));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((r) => server.close(() => r())),
  })));
}

async function freePort(): Promise<number> {
  const s = await listen();
  await s.close();
  return s.port;
}

test('attachCgroup connect4 rewrites the port of a real connect() in the cgroup', async (t) => {
  requireRoot();
  const cg = makeCgroup('connect4');
  t.after(cg.cleanup);
  const pins = pinDir('cglink');
  t.after(pins.cleanup);
  const coll = await BpfObject.open(objectPath('fixture')).load();
  t.after(() => coll.close());
  const server = await listen();
  t.after(server.close);
  const unused = await freePort();
  coll.map('fx_config').update(0, { from_port: unused, to_port: server.port });

  const link = attachCgroup(coll.program('connect4_redirect'), cg.path); // type from the program: connect4
  t.after(() => link.close());
  assert.equal(link.info().type, 'cgroup');
  const before = (coll.map('fx_percpu').lookup(3) as bigint[]).reduce((a, b) => a + b, 0n);
  const r = await runChild([nodeBin, '-e', connectChild, `${cg.path}/cgroup.procs`, String(unused)], 20_000);
  assert.equal(r.code, 0, `child connect failed: ${r.stderr}`);
  assert.equal(r.stdout, 'redirected\n');
  const after = (coll.map('fx_percpu').lookup(3) as bigint[]).reduce((a, b) => a + b, 0n);
  assert.equal(after - before, 1n);

  // Pinned, the attachment outlives the handle; detached, connects are no longer redirected.
  link.pin(`${pins.path}/connect4`);
  link.close();
  const pinned = openPinnedLink(`${pins.path}/connect4`);
  const info = pinned.info();
  assert.equal(info.attachType, 'cgroup_inet4_connect');
  assert.equal(info.attached, true);
  assert.equal(typeof info.cgroupId, 'bigint');
  assert.equal(info.cgroupId, BigInt(statSync(cg.path, { bigint: true }).ino), 'the cgroup id is the cgroup folder\'s inode');
  pinned.detach();
  assert.deepEqual([pinned.info().attached, pinned.info().cgroupId], [false, 0n], 'a detached link points nowhere');
  pinned.close();
  const r2 = await runChild([nodeBin, '-e', connectChild, `${cg.path}/cgroup.procs`, String(unused)], 20_000);
  assert.equal(r2.code, 3, 'without the program the connect goes to the unused port and is refused');
});

test('attachCgroup links every sock_addr and post_bind attach type', async (t) => {
  requireRoot();
  const cg = makeCgroup('alltypes');
  t.after(cg.cleanup);
  const coll = await BpfObject.open(objectPath('fixture')).load();
  t.after(() => coll.close());
  const byType: Record<string, string> = {
    connect4: 'connect4_redirect', connect6: 'allow_connect6', sendmsg4: 'allow_sendmsg4', sendmsg6: 'allow_sendmsg6',
    recvmsg4: 'allow_recvmsg4', recvmsg6: 'allow_recvmsg6', getpeername4: 'allow_getpeername4',
    getpeername6: 'allow_getpeername6', getsockname4: 'allow_getsockname4', getsockname6: 'allow_getsockname6',
    post_bind4: 'allow_post_bind4', post_bind6: 'allow_post_bind6',
  };
  for (const [type, prog] of Object.entries(byType)) {
    const link = attachCgroup(coll.program(prog), cg.path, type as keyof typeof CGROUP_ATTACH_TYPES);
    try {
      assert.equal(link.info().progId, coll.program(prog).info().id, type);
      const shown = run('bpftool', ['cgroup', 'show', cg.path]);
      assert.match(shown, new RegExp(`${CGROUP_ATTACH_TYPES[type as keyof typeof CGROUP_ATTACH_TYPES].replace('cgroup_', '').replace('inet', '').replace(/^_/, '')}|${type}`), shown);
    } finally {
      link.close();
    }
  }
});
