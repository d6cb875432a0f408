/**
 * Child process for attach.test.ts, started as `nsenter --net=/run/netns/<ns> node netns-attach.ts
 * <peerNs> <pinDir>`: netlink and XDP attach act on the calling thread's namespace, so the whole
 * scenario runs inside the test's namespace. (nsenter, not `ip netns exec`, because the latter
 * mounts a fresh /sys and so hides bpffs at /sys/fs/bpf, where the links are pinned.) It prints one JSON object of observations for the parent to
 * assert on, and always detaches what it attached.
 * Topology: <peerNs> kpbva 198.18.0.1/30 <-> kpbvb 198.18.0.2/30 (this namespace).
 * @module
 */
import { execFile, execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { rmSync } from 'node:fs';
import { BpfError, BpfObject, attachTc, attachXdp, openPinnedLink, tcDetach, tcQuery, xdpQuery, type Link } from '../../lib/index.ts';

const [peerNs, pinPath] = process.argv.slice(2);
const out: Record<string, unknown> = {};
const sh = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
// Traffic check without ping (not installed everywhere): the peer namespace sends UDP datagrams
// to 198.18.0.2 for about a second; any one arriving at our socket means the path works.
const sender = `
const s = require('node:dgram').createSocket('udp4');
let n = 0;
const t = setInterval(() => { s.send('x', Number(process.argv[1]), '198.18.0.2'); if (++n === 12) { clearInterval(t); s.close(); } }, 80);
`;
async function trafficOk(): Promise<boolean> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '198.18.0.2', () => r()));
  let got = false;
  sock.on('message', () => (got = true));
  await new Promise<void>((r) => {
    execFile('ip', ['netns', 'exec', peerNs, process.execPath, '-e', sender, String(sock.address().port)], { timeout: 10_000 }, () => r());
  });
  await new Promise((r) => setTimeout(r, 100));
  sock.close();
  return got;
}

const coll = await BpfObject.open(new URL('../../../../build/bpf/fixture.bpf.o', import.meta.url).pathname)
  .setRodata({ xdp_verdict: 1 /* XDP_DROP */ })
  .load();
const counter = (slot: number) => (coll.map('fx_percpu').lookup(slot) as bigint[]).reduce((a, b) => a + b, 0n);
// /sys still shows the root namespace here; netlink answers for this one.
const ifindex = Number(JSON.parse(sh('ip', '-j', 'link', 'show', 'dev', 'kpbvb'))[0].ifindex);
const links: Link[] = [];
try {
  out.trafficBefore = await trafficOk();

  // XDP, native mode, through a bpf_link.
  const xdp = attachXdp(coll.program('xdp_swap'), ifindex, { mode: 'native' });
  links.push(xdp);
  out.xdpInfo = xdp.info();
  out.xdpShown = sh('ip', '-d', 'link', 'show', 'dev', 'kpbvb');
  out.trafficWithDrop = await trafficOk();
  out.dropCount = Number(counter(0));
  xdp.update(coll.program('xdp_pass2'));
  out.trafficAfterUpdate = await trafficOk();
  out.passCount = Number(counter(2));
  out.xdpProgAfterUpdate = xdp.info().progId === coll.program('xdp_pass2').info().id;
  xdp.pin(`${pinPath}/xdp_link`);
  xdp.close();
  out.shownAfterCloseOfPinned = sh('ip', 'link', 'show', 'dev', 'kpbvb').includes('xdp');
  const again = openPinnedLink(`${pinPath}/xdp_link`);
  links.push(again);
  again.detach();
  out.shownAfterDetach = sh('ip', 'link', 'show', 'dev', 'kpbvb').includes('xdp');
  again.close();
  rmSync(`${pinPath}/xdp_link`);

  // XDP, generic mode: closing the only fd of an unpinned link detaches it.
  out.xdpQueryNone = xdpQuery(ifindex);
  const gen = attachXdp(coll.program('xdp_pass2'), ifindex, { mode: 'generic' });
  links.push(gen);
  out.genericShown = sh('ip', 'link', 'show', 'dev', 'kpbvb');
  out.xdpQueryGeneric = xdpQuery(ifindex);
  out.xdpQueryGenericWant = coll.program('xdp_pass2').info().id;
  gen.detach();
  out.xdpLinkInfoDetached = gen.info();
  gen.close();
  out.genericAfterClose = sh('ip', 'link', 'show', 'dev', 'kpbvb').includes('xdp');

  // tc ingress: tc_mark breaks the IP header of everything arriving, tc_ok2 lets it through.
  const tc = attachTc(coll.program('tc_mark'), ifindex, { direction: 'ingress', priority: 7 });
  links.push(tc);
  out.tcInfo = tc.info();
  out.tcShown = sh('tc', 'filter', 'show', 'dev', 'kpbvb', 'ingress');
  out.trafficWithMark = await trafficOk();
  out.markCount = Number(counter(1));
  tc.update(coll.program('tc_ok2'));
  out.tcShownAfterUpdate = sh('tc', 'filter', 'show', 'dev', 'kpbvb', 'ingress');
  out.trafficAfterTcUpdate = await trafficOk();
  try {
    tc.pin(`${pinPath}/tc_link`);
    out.tcPin = 'pinned';
  } catch (e) {
    out.tcPin = e instanceof BpfError ? `${e.code}: ${e.message}` : String(e);
  }
  tc.detach();
  out.tcAfterDetach = sh('tc', 'filter', 'show', 'dev', 'kpbvb', 'ingress');
  tc.close();

  // Query, replace in place and detach a filter by (handle, priority), with no link handle.
  const f = { ifindex, direction: 'ingress' as const, handle: 0x4b50, priority: 0x4b50 };
  out.tcQueryNoQdisc = tcQuery({ ...f, direction: 'egress' });
  const first = attachTc(coll.program('tc_ok2'), ifindex, { direction: 'ingress', handle: f.handle, priority: f.priority });
  first.close(); // a tc filter stays after close()
  out.tcQueryFirst = tcQuery(f) === coll.program('tc_ok2').info().id;
  try {
    attachTc(coll.program('tc_mark'), ifindex, { direction: 'ingress', handle: f.handle, priority: f.priority }).close();
    out.tcAttachExisting = 'attached';
  } catch (e) {
    out.tcAttachExisting = e instanceof BpfError ? e.code : String(e);
  }
  const replaced = attachTc(coll.program('tc_mark'), ifindex, { direction: 'ingress', handle: f.handle, priority: f.priority, replace: true });
  replaced.close();
  out.tcQueryReplaced = tcQuery(f) === coll.program('tc_mark').info().id;
  out.tcFiltersAfterReplace = sh('tc', 'filter', 'show', 'dev', 'kpbvb', 'ingress').split('\n').filter((l) => l.includes('handle 0x4b50')).length;
  out.tcDetachFirst = tcDetach(f);
  out.tcDetachAgain = tcDetach(f);
  out.tcQueryGone = tcQuery(f);
  const created = attachTc(coll.program('tc_ok2'), ifindex, { direction: 'ingress', handle: f.handle, priority: f.priority, replace: true });
  created.close();
  out.tcReplaceCreates = tcQuery(f) === coll.program('tc_ok2').info().id;
  tcDetach(f);
  const bad: Record<string, string> = {};
  const tryBad = (name: string, fn: () => unknown) => {
    try {
      fn();
      bad[name] = 'no error';
    } catch (e) {
      bad[name] = `${(e as Error).name}:${(e as { code?: string }).code ?? ''}`;
    }
  };
  tryBad('ifindex0', () => tcQuery({ ...f, ifindex: 0 }));
  tryBad('noSuchIfindex', () => tcQuery({ ...f, ifindex: 0x7ffffff0 }));
  tryBad('priorityTooBig', () => tcDetach({ ...f, priority: 0x10000 }));
  tryBad('handle0', () => tcQuery({ ...f, handle: 0 }));
  tryBad('direction', () => tcQuery({ ...f, direction: 'sideways' as 'ingress' }));
  tryBad('replaceWithoutHandle', () => attachTc(coll.program('tc_ok2'), ifindex, { direction: 'ingress', replace: true }));
  tryBad('xdpNoSuchIfindex', () => xdpQuery(0x7ffffff0));
  out.bad = bad;

  const egress = attachTc(coll.program('tc_ok2'), ifindex, { direction: 'egress' });
  links.push(egress);
  out.egressShown = sh('tc', 'filter', 'show', 'dev', 'kpbvb', 'egress');
  egress.detach();
  out.egressAfterDetach = sh('tc', 'filter', 'show', 'dev', 'kpbvb', 'egress');
  egress.close();
} catch (e) {
  out.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
} finally {
  for (const l of links) {
    try {
      l.detach();
    } catch {
      /* already detached or closed */
    }
    l.close();
  }
  coll.close();
}
process.stdout.write(JSON.stringify(out));
