/**
 * Child process for netlink.test.ts, started as `nsenter --net=/run/netns/<ns> node netns-netlink.ts
 * <scenario>`, so every dump and watch sees only the test's namespace. Prints one JSON object of
 * observations. Scenarios:
 * - dump: dummy devices with addresses, compared with `ip -j -d addr show`;
 * - watch: each kind of change arrives as its event; nothing arrives after close();
 * - idle: a watcher that is never closed must not keep the process alive (the parent times it);
 * - worker: a worker thread exits with its watcher open; the process goes on and exits cleanly.
 * Addresses: 198.18.5.0/24 and 2001:db8:5::/64 on veth devices (the kernel here has no dummy driver).
 * @module
 */
import { execFileSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { deleteNetLink, netAddresses, netLinks, netnsCookie, watchNetlink, type NetEvent } from '../../lib/index.ts';

const sh = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8', timeout: 20_000 });
const scenario = process.argv[2];
const out: Record<string, unknown> = {};

async function dump(): Promise<void> {
  sh('link', 'add', 'kpbd0', 'type', 'veth', 'peer', 'name', 'kpbd0p');
  sh('link', 'add', 'kpbd1', 'type', 'veth', 'peer', 'name', 'kpbd1p');
  sh('link', 'set', 'kpbd0', 'up');
  sh('link', 'set', 'lo', 'up');
  sh('addr', 'add', '198.18.5.1/24', 'dev', 'kpbd0');
  sh('addr', 'add', '198.18.5.9/32', 'dev', 'kpbd0');
  sh('addr', 'add', '2001:db8:5::1/64', 'dev', 'kpbd0', 'nodad');
  sh('addr', 'add', '198.18.6.1/24', 'dev', 'kpbd1');
  const ip = JSON.parse(sh('-j', '-d', 'addr', 'show')) as {
    ifname: string; ifindex: number; flags: string[]; mtu: number; address?: string; linkinfo?: { info_kind?: string };
    addr_info: { family: string; local: string; prefixlen: number; scope: string }[];
  }[];
  out.ip = ip.map((d) => ({
    ifindex: d.ifindex, name: d.ifname, up: d.flags.includes('UP'), kind: d.linkinfo?.info_kind ?? '', mtu: d.mtu, mac: d.address ?? '',
    addrs: d.addr_info.map((a) => `${a.local}/${a.prefixlen} ${a.scope}`).sort(),
  }));
  const addrs = netAddresses();
  const scopeName = (s: number) => ({ 0: 'global', 200: 'site', 253: 'link', 254: 'host' } as Record<number, string>)[s] ?? String(s);
  out.ours = netLinks().map((l) => ({
    ifindex: l.ifindex, name: l.name, up: l.up, kind: l.kind, mtu: l.mtu, mac: l.mac,
    addrs: addrs.filter((a) => a.ifindex === l.ifindex).map((a) => `${a.address}/${a.prefixLen} ${scopeName(a.scope)}`).sort(),
  }));
  out.families = [...new Set(addrs.map((a) => a.family))].sort();
  // Delete by name: the veth pair goes (both ends); a second delete finds nothing.
  sh('link', 'add', 'kpbdel0', 'type', 'veth', 'peer', 'name', 'kpbdel0p');
  out.deleted = deleteNetLink('kpbdel0');
  out.deletedAgain = deleteNetLink('kpbdel0');
  out.leftAfterDelete = netLinks().filter((l) => l.name.startsWith('kpbdel')).length;
  try {
    deleteNetLink('');
    out.deleteEmpty = 'no error';
  } catch (e) {
    out.deleteEmpty = (e as Error).name;
  }
  out.cookie = String(netnsCookie());
  out.cookieAgain = String(netnsCookie());
}

/** Runs `change` and waits (bounded) for an event with `flag` set; returns whether it came. */
async function expectEvent(events: NetEvent[], flag: keyof NetEvent, change: () => void): Promise<boolean> {
  events.length = 0;
  change();
  for (let i = 0; i < 50; i++) {
    if (events.some((e) => e[flag])) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

async function watch(): Promise<void> {
  const events: NetEvent[] = [];
  const w = watchNetlink((ev) => events.push(ev));
  sh('link', 'add', 'kpbw0', 'type', 'veth', 'peer', 'name', 'kpbw0p');
  await new Promise((r) => setTimeout(r, 200));
  out.link = await expectEvent(events, 'links', () => sh('link', 'set', 'kpbw0', 'up'));
  out.address = await expectEvent(events, 'addresses', () => sh('addr', 'add', '198.18.5.1/24', 'dev', 'kpbw0'));
  out.route = await expectEvent(events, 'routes', () => sh('route', 'add', '198.18.7.0/24', 'via', '198.18.5.2', 'dev', 'kpbw0'));
  out.neighbour = await expectEvent(events, 'neighbours', () => sh('neigh', 'add', '198.18.5.2', 'lladdr', '02:00:00:00:00:01', 'dev', 'kpbw0', 'nud', 'permanent'));
  out.neighbourMacChange = await expectEvent(events, 'neighbours', () => sh('neigh', 'replace', '198.18.5.2', 'lladdr', '02:00:00:00:00:02', 'dev', 'kpbw0', 'nud', 'permanent'));
  out.neighbourGone = await expectEvent(events, 'neighbours', () => sh('neigh', 'del', '198.18.5.2', 'dev', 'kpbw0'));
  // Same address, same MAC: a refresh, not a change of next hop.
  sh('neigh', 'add', '198.18.5.3', 'lladdr', '02:00:00:00:00:03', 'dev', 'kpbw0', 'nud', 'reachable');
  await new Promise((r) => setTimeout(r, 300));
  events.length = 0;
  sh('neigh', 'change', '198.18.5.3', 'lladdr', '02:00:00:00:00:03', 'dev', 'kpbw0', 'nud', 'stale');
  await new Promise((r) => setTimeout(r, 500));
  out.neighbourRefresh = events.some((e) => e.neighbours);
  // A burst is coalesced: many changes, few callbacks.
  events.length = 0;
  for (let i = 10; i < 60; i++) sh('addr', 'add', `198.18.5.${i}/32`, 'dev', 'kpbw0');
  await new Promise((r) => setTimeout(r, 500));
  out.burstCallbacks = events.length;
  out.burstSawAddresses = events.some((e) => e.addresses);
  // Only the groups asked for.
  const onlyLinks: NetEvent[] = [];
  const w2 = watchNetlink((ev) => onlyLinks.push(ev), { groups: ['links'] });
  sh('addr', 'add', '198.18.5.200/32', 'dev', 'kpbw0');
  out.linksOnlyIgnoresAddresses = !(await expectEvent(onlyLinks, 'addresses', () => {}));
  out.linksOnlySeesLinks = await expectEvent(onlyLinks, 'links', () => sh('link', 'set', 'kpbw0', 'down'));
  w2.close();
  // Errors thrown by the callback go to onError.
  const errors: unknown[] = [];
  const w3 = watchNetlink(() => { throw new Error('callback failed'); }, { groups: ['links'], onError: (e) => errors.push(e) });
  sh('link', 'set', 'kpbw0', 'up');
  for (let i = 0; i < 50 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  out.onError = errors.map((e) => (e as Error).message)[0] ?? null;
  w3.close();

  w.close();
  w.close(); // idempotent
  events.length = 0;
  sh('link', 'add', 'kpbw1', 'type', 'veth', 'peer', 'name', 'kpbw1p');
  sh('link', 'set', 'kpbw1', 'up');
  await new Promise((r) => setTimeout(r, 500));
  out.eventsAfterClose = events.length;
}

function idle(): void {
  // Never closed and never unreferenced by us: the process must still end on its own.
  watchNetlink(() => {});
  out.started = true;
}

async function worker(): Promise<void> {
  const code = `
    const { watchNetlink } = await import(${JSON.stringify(new URL('../../lib/index.ts', import.meta.url).href)});
    watchNetlink(() => {});
    const { parentPort } = await import('node:worker_threads');
    parentPort.postMessage('watching');
  `;
  const w = new Worker(code, { eval: true, type: 'module' } as ConstructorParameters<typeof Worker>[1]);
  // The worker may end on its own right after its message (its watcher does not keep it alive),
  // so the exit is awaited from the start.
  const exited = new Promise((resolve) => w.once('exit', resolve));
  const msg = await new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  out.workerSaid = msg;
  void w.terminate();
  out.workerExit = await exited;
  // The worker's watcher is gone with its environment; the namespace still changes freely.
  sh('link', 'add', 'kpbw2', 'type', 'veth', 'peer', 'name', 'kpbw2p');
  await new Promise((r) => setTimeout(r, 200));
  out.mainAlive = true;
}

const scenarios: Record<string, () => void | Promise<void>> = { dump, watch, idle, worker };
try {
  const fn = scenarios[scenario ?? ''];
  if (!fn) throw new Error(`unknown scenario ${scenario}`);
  await fn();
} catch (e) {
  out.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}
process.stdout.write(JSON.stringify(out));
