/**
 * @module
 * `kube-proxy inspect services|backends|conntrack|counters|config` (our addition, like
 * `cilium bpf lb list`): reads the pinned maps of a running agent and prints tables, or JSON with
 * `-o json`. Keys and values are decoded through the codecs the BPF objects' BTF gives, so the
 * output follows layout changes of the C headers. Read-only: nothing is written to the maps.
 *
 *   kube-proxy inspect services  [--bpf-pin-path=P] [-o json]
 *   kube-proxy inspect backends  [--bpf-pin-path=P] [-o json]
 *   kube-proxy inspect conntrack [--bpf-pin-path=P] [-o json] [--address=IP] [--port=N]
 *   kube-proxy inspect counters  [--bpf-pin-path=P] [-o json] [--all]
 *   kube-proxy inspect config    [--bpf-pin-path=P] [-o json]
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BpfObject, openPinnedMap, type BpfMap, type MapSpec } from 'bpf-loader-napi';
import { bpfObjectPath } from '../dataplane/asset-paths.ts';
import { kernelHz } from '../dataplane/host-info.ts';
import { readPacketCounters } from '../dataplane/read-counters.ts';
import { formatTable } from '../inspect/format-table.ts';
import { claimedSnatSlots, isSnatSlotTable } from '../dataplane/snat-slots.ts';
import { addrText, backendRow, conntrackMatches, conntrackRow, hostPort, serviceRows, type Decoded } from '../inspect/lb-state-rows.ts';
import { parseIp } from '../model/ip.ts';

const DEFAULT_PIN_PATH = '/sys/fs/bpf/kube-proxy-bpf';
const CONNTRACK_MAPS = ['kpb_ct', 'kpb_ct4', 'kpb_ct6', 'kpb_snat4', 'kpb_snat6', 'kpb_pod_ct4', 'kpb_pod_ct6'];
const WHAT = ['services', 'backends', 'conntrack', 'counters', 'config'] as const;
type What = (typeof WHAT)[number];

export type InspectIo = { out: { write(s: string): unknown }; err: { write(s: string): unknown } };

type Args = { what: What; pinPath: string; json: boolean; address?: string; port?: number; all: boolean };

const USAGE = `Usage:
  kube-proxy inspect services|backends|conntrack|counters|config [flags]

Reads the pinned BPF maps of the agent running on this node.

Flags:
      --bpf-pin-path string   bpffs folder of the agent's pins (default "${DEFAULT_PIN_PATH}")
  -o, --output string         table or json (default "table")
      --address string        conntrack: only entries with this address (either end, before or after NAT)
      --port int              conntrack: only entries with this port
      --all                   counters: also the counters that are zero
`;

/** Parses the arguments after `inspect`; a string is a usage error. */
export function parseInspectArgs(argv: readonly string[]): Args | string {
  const [what, ...rest] = argv;
  if (what === undefined || what === '-h' || what === '--help') return 'missing what to inspect';
  if (!(WHAT as readonly string[]).includes(what)) return `unknown inspect target ${JSON.stringify(what)}: want one of ${WHAT.join(', ')}`;
  const args: Args = { what: what as What, pinPath: DEFAULT_PIN_PATH, json: false, all: false };
  for (let i = 0; i < rest.length; i++) {
    const tok = rest[i]!;
    const eq = tok.indexOf('=');
    const name = (eq < 0 ? tok : tok.slice(0, eq)).replace(/^--?/, '').replace(/_/g, '-');
    const value = (): string | undefined => (eq >= 0 ? tok.slice(eq + 1) : rest[++i]);
    if (name === 'all') {
      args.all = true;
      continue;
    }
    const v = value();
    if (v === undefined) return `flag needs an argument: ${tok}`;
    if (name === 'bpf-pin-path') args.pinPath = v;
    else if (name === 'o' || name === 'output') {
      if (v !== 'json' && v !== 'table') return `invalid argument ${JSON.stringify(v)} for "-o, --output" flag: want table or json`;
      args.json = v === 'json';
    } else if (name === 'address') {
      const ip = parseIp(v);
      if (!ip) return `invalid argument ${JSON.stringify(v)} for "--address" flag: not an IP address`;
      args.address = ip.text;
    } else if (name === 'port') {
      if (!/^\d+$/.test(v) || Number(v) > 65535) return `invalid argument ${JSON.stringify(v)} for "--port" flag: not a port`;
      args.port = Number(v);
    } else return `unknown flag: ${tok}`;
  }
  return args;
}

/** Runs `kube-proxy inspect ...`; returns the exit code. */
export async function runInspect(argv: readonly string[], io: InspectIo): Promise<number> {
  const args = parseInspectArgs(argv);
  if (typeof args === 'string') {
    io.err.write(`Error: ${args}\n${USAGE}`);
    return argv[0] === '-h' || argv[0] === '--help' ? 0 : 1;
  }
  if (!existsSync(join(args.pinPath, 'lb_services'))) {
    io.err.write(`Error: no kube-proxy-bpf pins in ${args.pinPath} (is the agent running here, with this --bpf-pin-path?)\n`);
    return 1;
  }
  try {
    const maps = new PinnedMaps(args.pinPath);
    try {
      io.out.write(render(args, maps));
    } finally {
      maps.close();
    }
    return 0;
  } catch (err) {
    io.err.write(`Error: cannot read the pinned maps in ${args.pinPath}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

/** The agent's pinned maps, opened with the layouts of the embedded objects' BTF. */
class PinnedMaps {
  readonly #pinPath: string;
  readonly #specs = new Map<string, MapSpec>();
  readonly #open = new Map<string, BpfMap>();

  constructor(pinPath: string) {
    this.#pinPath = pinPath;
    for (const name of ['sock', 'tc'] as const) {
      const obj = BpfObject.open(bpfObjectPath(name), { name });
      try {
        for (const m of obj.maps) if (!this.#specs.has(m.name)) this.#specs.set(m.name, m);
      } finally {
        obj.close();
      }
    }
  }

  /** The pinned map `name`, or undefined when it is not pinned (an older or newer agent). */
  get(name: string): BpfMap | undefined {
    if (this.#open.has(name)) return this.#open.get(name);
    const path = join(this.#pinPath, name);
    if (!existsSync(path)) return undefined;
    const spec = this.#specs.get(name);
    const m = openPinnedMap(path, { keyLayout: spec?.keyLayout, valueLayout: spec?.valueLayout });
    this.#open.set(name, m);
    return m;
  }

  /** Every map pinned directly in the folder. */
  all(): { name: string; map: BpfMap }[] {
    const out: { name: string; map: BpfMap }[] = [];
    for (const name of readdirSync(this.#pinPath).sort()) {
      try {
        const m = this.get(name);
        if (m) out.push({ name, map: m });
      } catch {
        // a link or program pin, or a subfolder: not a map
      }
    }
    return out;
  }

  close(): void {
    for (const m of this.#open.values()) m.close();
  }
}

const entries = (m: BpfMap | undefined): [Decoded, Decoded][] => (m ? ([...m.entries()] as [Decoded, Decoded][]) : []);

function render(args: Args, maps: PinnedMaps): string {
  const json = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x), 2) + '\n';
  switch (args.what) {
    case 'services': {
      const slots = new Map<string, number>();
      for (const [k, v] of entries(maps.get('lb_slots'))) slots.set(`${Number(k.service_id)}/${Number(k.slot)}`, Number(v));
      const backends = new Map<number, Decoded>(entries(maps.get('lb_backends')).map(([k, v]) => [Number(k), v]));
      const rows = serviceRows(entries(maps.get('lb_services')), slots, backends);
      if (args.json) return json(rows);
      return formatTable(['FRONTEND', 'PROTO', 'SCOPE', 'ID', 'FLAGS', 'BACKENDS'], rows.map((r) => [
        hostPort(r.frontend.address, r.frontend.port), r.frontend.protocol, r.frontend.scope, String(r.serviceId), r.flags.join(',') || '-',
        r.backends.length === 0 ? `none (count ${r.backendCount})` : r.backends.map((b) => ('missing' in b ? `#${b.id}(missing)` : `${hostPort(b.address, b.port)}(${b.state}${b.local ? ',local' : ''})`)).join(' '),
      ]));
    }
    case 'backends': {
      const rows = entries(maps.get('lb_backends')).map(([k, v]) => backendRow(Number(k), v)).sort((a, b) => a.id - b.id);
      if (args.json) return json(rows);
      return formatTable(['ID', 'ADDRESS', 'PROTO', 'STATE', 'LOCAL', 'NODE'], rows.map((r) => [
        String(r.id), hostPort(r.address, r.port), r.protocol, r.state, r.local ? 'yes' : 'no', r.nodeAddress || '-',
      ]));
    }
    case 'conntrack': {
      const hz = kernelHz() ?? 250;
      const now = currentJiffies();
      // One LRU map in earlier datapaths; per family, with SNAT reservations apart, in later ones;
      // the reservations in the claimed slots of their table in this one.
      const ctEntries = (m: BpfMap | undefined): [Decoded, Decoded][] =>
        (m && isSnatSlotTable(m) ? claimedSnatSlots(m).map((s) => [s.key, s.v] as [Decoded, Decoded]) : entries(m));
      const rows = CONNTRACK_MAPS.flatMap((name) => ctEntries(maps.get(name)))
        .map(([k, v]) => conntrackRow(k, v, now, hz)).filter((r) => conntrackMatches(r, args.address, args.port));
      if (args.json) return json(rows);
      return formatTable(['PROTO', 'SOURCE', 'DESTINATION', 'NAT SOURCE', 'NAT DESTINATION', 'FLAGS', 'STATE', 'SVC', 'BACKEND', 'EXPIRES'], rows.map((r) => [
        r.protocol, r.source, r.destination, r.natSource, r.natDestination, r.flags.join(',') || '-', r.tcpState || '-',
        String(r.serviceId), String(r.backendId), r.expiresInSeconds === null ? '?' : r.expiresInSeconds < 0 ? 'expired' : `${Math.round(r.expiresInSeconds)}s`,
      ]));
    }
    case 'counters': {
      const snap = readPacketCounters({ npCounters: maps.get('kpb_np_counters'), podCounters: maps.get('kpb_pod_counters'), sockStats: maps.get('lb_sock_stats') });
      const rows = [
        ...snap.verdicts.map((v) => ({ hook: v.hook, kind: 'verdict', name: v.verdict, packets: v.packets })),
        ...snap.reasons.map((r) => ({ hook: r.hook, kind: 'reason', name: r.reason, packets: r.packets })),
      ].filter((r) => args.all || r.packets > 0);
      if (args.json) return json(rows);
      return formatTable(['HOOK', 'KIND', 'NAME', 'PACKETS'], rows.map((r) => [r.hook, r.kind, r.name, String(r.packets)]));
    }
    case 'config': {
      const list = maps.all().map(({ name, map }) => {
        const info = map.info();
        let count = 0;
        for (const _ of map.keys({ raw: true })) count++;
        return { map: name, type: info.type, keySize: info.keySize, valueSize: info.valueSize, entries: count, maxEntries: info.maxEntries };
      });
      const nodeAddrs = entries(maps.get('lb_node_addrs')).map(([k]) => addrText((k.addr ?? k) as ArrayLike<number>)).sort();
      if (args.json) return json({ pinPath: args.pinPath, maps: list, nodeAddresses: nodeAddrs });
      return `pin path: ${args.pinPath}\nnode addresses: ${nodeAddrs.join(' ') || '-'}\n\n` + formatTable(['MAP', 'TYPE', 'KEY', 'VALUE', 'ENTRIES', 'MAX', 'FILL'], list.map((m) => [
        m.map, m.type, String(m.keySize), String(m.valueSize), String(m.entries), String(m.maxEntries),
        m.maxEntries > 0 && !m.type.includes('array') ? `${((100 * m.entries) / m.maxEntries).toFixed(1)}%` : '-',
      ]));
    }
  }
}

/** The kernel's jiffies (what bpf_jiffies64 returns), from /proc/timer_list; null when unreadable. */
function currentJiffies(): bigint | null {
  try {
    const m = /^jiffies: (\d+)$/m.exec(readFileSync('/proc/timer_list', 'utf8'));
    return m ? BigInt(m[1]!) : null;
  } catch {
    return null;
  }
}
