// Datapath against the real kernel, in a throwaway network namespace (two devices: a veth pair end
// where native XDP attaches, and a bridge where it cannot, so tc alone serves it), a cgroup
// child and a private pin folder. Each "agent lifetime" runs datapath-run.ts inside the namespace,
// as the agent does; the test then inspects the kernel with bpftool. Needs root, bpffs, cgroup v2,
// iproute2 and bpftool; a missing piece fails the test. Everything is removed even on failure.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openPinnedMap } from 'bpf-loader-napi';

const ID = `kpb-dp-${process.pid}`;
const RUN = join(import.meta.dirname, 'testdata', 'datapath-run.ts');
const PIN = `/sys/fs/bpf/${ID}`;
const cg2 = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')).find((f) => f[2] === 'cgroup2')?.[1];
const CGROUP = `${cg2}/${ID}`;

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr || e.message).trim()} ${e.stdout ?? ''}`);
  }
}

type Report = {
  seeded: { services: string[]; backends: string[] };
  attachments: { device: string; xdp: string; xdpFallbackReason: string; tc: string }[];
  ops: number; repaired: number; ok: boolean; services: number;
  /** [map, entries, maxEntries] of the SNAT reservation tables in /metrics, and two sweeps' frees. */
  snat: [string, number, number][]; swept: number[];
  xdpFallback: { device: string; reason: string; fallback: boolean }[];
  sabotage?: { repairs: string[]; errors: string[]; secondRepairs: number; tcIngressBack: boolean };
};

function lifetime(xdp: string, devices = ['ext0', 'dum0'], mode?: 'sabotage', conntrack?: number): Report {
  const opts = JSON.stringify({ pinPath: PIN, cgroupPath: CGROUP, xdp, devices, nodeIP: '192.0.2.11', ...(conntrack ? { conntrack } : {}) });
  const out = sh('nsenter', [`--net=/run/netns/${ID}`, process.execPath, RUN, opts, ...(mode ? [mode] : [])]);
  return JSON.parse(out.trim().split('\n').pop()!) as Report;
}

type NetShow = { xdp: { id: number }[]; tc: { id: number; kind: string }[] };
// bpftool prints nothing for a device without any BPF attachment.
const netShow = (dev: string): NetShow => {
  const out = sh('nsenter', [`--net=/run/netns/${ID}`, 'bpftool', '-j', 'net', 'show', 'dev', dev]).trim();
  return out === '' ? { xdp: [], tc: [] } : (JSON.parse(out) as NetShow[])[0]!;
};
const cgroupProgs = () => JSON.parse(sh('bpftool', ['-j', 'cgroup', 'show', CGROUP]).trim() || '[]') as { id: number; name: string }[];

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

// A run killed outright (SIGKILL, a test-runner timeout) cannot run after(); remove what such runs
// left so the machine does not collect namespaces, pins and cgroups.
function sweepDeadRuns(): void {
  const dead = (name: string) => {
    const m = /^kpb-dp-(\d+)$/.exec(name);
    return m !== null && Number(m[1]) !== process.pid && !alive(Number(m[1]));
  };
  const netns = sh('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0] ?? '');
  for (const name of netns.filter(dead)) sh('ip', ['netns', 'del', name]);
  for (const name of readdirSync('/sys/fs/bpf').filter(dead)) rmSync(`/sys/fs/bpf/${name}`, { recursive: true, force: true });
  for (const name of readdirSync(cg2!).filter(dead)) rmdirSync(`${cg2}/${name}`);
}

before(() => {
  if (process.getuid?.() !== 0) throw new Error('datapath tests need root');
  if (!cg2) throw new Error('cgroup v2 is not mounted: the socket programs cannot attach');
  sweepDeadRuns();
  sh('ip', ['netns', 'add', ID]);
  sh('ip', ['-n', ID, 'link', 'add', 'ext0', 'type', 'veth', 'peer', 'name', 'ext0p']);
  sh('ip', ['-n', ID, 'link', 'add', 'dum0', 'type', 'bridge']);
  sh('ip', ['-n', ID, 'addr', 'add', '192.0.2.11/24', 'dev', 'ext0']);
  for (const d of ['ext0', 'ext0p', 'dum0']) sh('ip', ['-n', ID, 'link', 'set', d, 'up']);
  mkdirSync(CGROUP);
});

after(() => {
  const errors: unknown[] = [];
  for (const undo of [
    () => existsSync(PIN) && sh('nsenter', [`--net=/run/netns/${ID}`, process.execPath, RUN, JSON.stringify({ pinPath: PIN }), 'cleanup']),
    () => rmSync(PIN, { recursive: true, force: true }),
    () => sh('ip', ['netns', 'del', ID]),
    () => existsSync(CGROUP) && rmdirSync(CGROUP),
  ]) {
    try {
      undo();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length) throw new AggregateError(errors, `cleanup of ${ID} incomplete`);
});

test('first start attaches everything and pins it; a restart adopts maps, ids and links; cleanup removes it all', () => {
  const first = lifetime('native');
  assert.equal(first.ok, true);
  assert.ok(first.ops > 0 && first.services > 0);
  assert.deepEqual(first.attachments.map((a) => [a.device, a.tc, a.xdp]), [['ext0', 'attached', 'native'], ['dum0', 'attached', 'off']]);
  // The bridge has no native XDP: tc alone, reported as a fallback with the errno name.
  assert.deepEqual(first.xdpFallback.map((f) => [f.device, f.fallback]), [['ext0', false], ['dum0', true]]);
  assert.notEqual(first.xdpFallback[1]!.reason, 'none');
  // The reservation tables count claimed slots (a census), not their 262,144 slots each.
  assert.deepEqual(first.snat, [['kpb_snat4', 0, 262144], ['kpb_snat6', 0, 262144]]);
  assert.deepEqual(first.swept, [0, 0]);

  const progs1 = cgroupProgs();
  assert.equal(progs1.length, 10, `socket programs on ${CGROUP}: ${JSON.stringify(progs1)}`);
  const ext1 = netShow('ext0');
  assert.equal(ext1.tc.length, 2);
  assert.equal(ext1.xdp.length, 1);
  assert.equal(netShow('dum0').tc.length, 2);

  // The process exited: pins keep maps, links and filters.
  for (const p of ['lb_services', 'kpb_ct4', 'kpb_snat6', 'kpb_gens', 'links/sock-kpb_sock_connect4', 'links/xdp-ext0']) assert.ok(existsSync(`${PIN}/${p}`), `${p} not pinned`);

  const second = lifetime('native');
  assert.deepEqual(second.seeded, { services: [], backends: [] });
  // Ids adopted and the maps compared with the rebuilt state: they hold exactly what it wants,
  // so nothing is written (established flows keep their ids and entries).
  assert.ok(first.repaired > 0);
  assert.equal(second.ops, 0);
  assert.equal(second.repaired, 0);
  assert.deepEqual(second.attachments.map((a) => [a.device, a.tc]), [['ext0', 'replaced'], ['dum0', 'replaced']]);
  const progs2 = cgroupProgs();
  assert.equal(progs2.length, 10, 'a restart must update the cgroup links, not add to them');
  assert.notDeepEqual(progs2.map((p) => p.id).sort(), progs1.map((p) => p.id).sort(), 'the programs were not replaced');
  const ext2 = netShow('ext0');
  assert.equal(ext2.tc.length, 2);
  assert.equal(ext2.xdp.length, 1);
  assert.notEqual(ext2.xdp[0]!.id, ext1.xdp[0]!.id);

  // Self-repair: what was detached, deleted or swapped comes back, each counted once.
  const third = lifetime('generic', ['ext0', 'dum0'], 'sabotage');
  assert.deepEqual(third.sabotage!.errors, []);
  assert.deepEqual(third.sabotage!.repairs, [
    `cgroup socket program kpb_sock_connect4 on cgroup ${CGROUP}: the link was detached`,
    `link_pin ${PIN}/links/sock-kpb_sock_sendmsg4: the pin was removed`,
    `map_pin ${PIN}/lb_backends: the pin was removed`,
    `map_pin ${PIN}/lb_rev_nat: the pin named another map`,
    'tc tc ingress on ext0: the filter was removed',
    'xdp XDP on ext0: the link was detached',
  ]);
  assert.equal(third.sabotage!.secondRepairs, 0, 'a second pass right after must find nothing to repair');
  assert.equal(third.sabotage!.tcIngressBack, true);
  assert.equal(cgroupProgs().length, 10, 'every socket program is attached again, none twice');
  assert.equal(netShow('ext0').tc.length, 2);
  assert.equal(netShow('ext0').xdp.length, 1);
  for (const p of ['lb_backends', 'lb_rev_nat', 'links/sock-kpb_sock_sendmsg4', 'links/sock-kpb_sock_connect4', 'links/xdp-ext0']) assert.ok(existsSync(`${PIN}/${p}`), `${p} not pinned again`);
  // The repaired pins are the live ones: the next start adopts them and finds its entries.
  const fourth = lifetime('native');
  assert.equal(fourth.ops, 0, 'after the repair a restart found the maps as programmed');

  // A restart with a larger conntrack map migrates it: a flow's entry (written here as the
  // datapath would) and the service entries survive, and the old pin is gone afterwards.
  const ct = openPinnedMap(`${PIN}/kpb_ct4`);
  const ctKey = Buffer.alloc(ct.keySize, 7);
  const ctValue = Buffer.alloc(ct.info().valueSize, 9);
  ct.update(ctKey, ctValue);
  const oldCtId = ct.info().id;
  ct.close();
  const grown = lifetime('native', ['ext0', 'dum0'], undefined, 524288);
  assert.equal(grown.ops, 0, 'the lb maps were kept through the migration');
  const ct2 = openPinnedMap(`${PIN}/kpb_ct4`);
  try {
    assert.notEqual(ct2.info().id, oldCtId, 'kpb_ct4 was not re-created');
    assert.equal(ct2.info().maxEntries, 524288);
    assert.deepEqual(ct2.lookup(ctKey), ctValue, 'the conntrack entry did not survive the migration');
  } finally {
    ct2.close();
  }
  assert.deepEqual(readdirSync(`${PIN}/migrate`), [], 'old pins left behind');

  // XDP turned off on a restart: the pinned XDP link goes.
  lifetime('off');
  assert.equal(netShow('ext0').xdp.length, 0);
  assert.equal(existsSync(`${PIN}/links/xdp-ext0`), false);

  // A device dropped from --bpf-devices loses our filters; the others keep theirs.
  lifetime('native', ['ext0']);
  assert.deepEqual(netShow('dum0').tc, []);
  assert.equal(netShow('ext0').tc.length, 2);
  assert.equal(netShow('ext0').xdp.length, 1);

  sh('nsenter', [`--net=/run/netns/${ID}`, process.execPath, RUN, JSON.stringify({ pinPath: PIN }), 'cleanup']);
  assert.equal(existsSync(PIN), false);
  assert.deepEqual(cgroupProgs(), []);
  for (const d of ['ext0', 'dum0']) assert.deepEqual(netShow(d).tc, [], `tc filters left on ${d}`);
});
