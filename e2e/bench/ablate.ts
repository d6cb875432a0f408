// Where our programs' per-packet time goes: ablation builds (datapath/include/ablate.h), each
// timed like the real objects in progcost.ts (repeat=1 on a fresh frame, p50; warm repeat=200),
// all loaded at once and interleaved in small blocks (ablate.inner.ts), so that machine noise hits
// every variant alike. A component's cost is the full build's figure minus the figure of the
// build without it.
//
//   node e2e/bench/ablate.ts [--variants full,count,...] [--rounds 3] [--samples 4000] [--block 20] [--json]
//   node e2e/bench/ablate.ts --objects old=/dir/a,new=/dir/b [...]
//
// --objects times already built objects (a folder with xdp.bpf.o and tc.bpf.o each, e.g. main's
// build/bpf copied aside and a branch's) against each other the same interleaved way: the fair
// A/B of a change, on a VM whose speed shifts by a third within seconds.
//
// Ablated objects are built into a temporary folder, never into build/, and are never a working
// datapath; this is a measurement, not a benchmark part of `make bench` and not a test.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createFixtureTopology, MAC } from '../../datapath/test/np-topology.ts';
import type { AblateInnerConfig, AblateRound } from './ablate.inner.ts';
import { quantile } from './stats.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** ablate.h's switches, by name. */
const ABL = {
  count: 1 << 0, ctMemo: 1 << 1, fastMiss: 1 << 2, tail: 1 << 3, snatInsert: 1 << 4, ctInsert: 1 << 5,
  zero: 1 << 6, fibMemo: 1 << 7, svcMemo: 1 << 8, nat: 1 << 9, gen: 1 << 10, parseLen: 1 << 11,
} as const;

/** Variant name -> what it leaves out (the mask of -DKPB_ABLATE) and what it says. */
export const VARIANTS: Record<string, { mask: number; what: string }> = {
  full: { mask: 0, what: 'the shipped code' },
  count: { mask: ABL.count, what: 'per-CPU verdict and reason counters' },
  ctMemo: { mask: ABL.ctMemo, what: 'lean path conntrack lookup (LRU, 16-byte key) of a known flow' },
  gen: { mask: ABL.gen, what: 'generation reads (kpb_gens)' },
  nat: { mask: ABL.nat, what: 'header rewrite: addresses, ports, TTL, checksums' },
  fastMiss: { mask: ABL.fastMiss, what: 'new flow: the lean path attempt (its parse and conntrack miss)' },
  tail: { mask: ABL.tail, what: 'new flow: tail call to the general path (called directly instead)' },
  snatInsert: { mask: ABL.snatInsert, what: 'new flow: SNAT reservation slot claim (array slot, compare-and-swap)' },
  ctInsert: { mask: ABL.ctInsert, what: 'new flow: conntrack insert(s) (LRU)' },
  zero: { mask: ABL.zero, what: 'new flow: zeroing the scratch entries' },
  fibMemo: { mask: ABL.fibMemo, what: 'new flow: next-hop cache lookup (kpb_nh_cache)' },
  svcMemo: { mask: ABL.svcMemo, what: 'new flow: service lookups and backend selection' },
  parseLen: { mask: ABL.parseLen, what: 'new flow: bpf_xdp_get_buff_len in the parser (XDP)' },
  allNew: {
    mask: ABL.count | ABL.fastMiss | ABL.tail | ABL.snatInsert | ABL.ctInsert | ABL.zero | ABL.fibMemo | ABL.svcMemo | ABL.nat | ABL.parseLen,
    what: 'new flow: every switch above at once (what is left: parse, control flow, memory the path touches)',
  },
};

/** Figures, as progcost.ts names them, from the inner's cases. */
const CASES: ReadonlyArray<readonly [string, string]> = [
  ['floorP50Ns', 'floor'], ['tcPassFloorP50Ns', 'tcFloor'], ['xdpEstablishedP50Ns', 'xdpEstablished'], ['xdpNewP50Ns', 'xdpNew'],
  ['tcEstablishedP50Ns', 'tcEstablished'], ['tcNewP50Ns', 'tcNew'], ['xdpEstablishedWarmNs', 'xdpEstablishedWarm'], ['tcEstablishedWarmNs', 'tcEstablishedWarm'],
  ['xdpSnatReplyP50Ns', 'xdpSnatReply'], ['tcSnatReplyP50Ns', 'tcSnatReply'],
];

function build(dir: string, mask: number): void {
  mkdirSync(dir, { recursive: true });
  for (const o of ['xdp', 'tc']) {
    execFileSync('clang', ['-O2', '-g', '-Wall', '-Werror', '-fno-strict-aliasing', '-target', 'bpf', '-D__TARGET_ARCH_x86',
      `-I${join(ROOT, 'datapath', 'include')}`, `-I${join(ROOT, 'build', 'include')}`, `-DKPB_ABLATE=${mask}`,
      '-c', join(ROOT, 'datapath', 'bpf', `${o}.bpf.c`), '-o', join(dir, `${o}.bpf.o`)], { stdio: 'inherit' });
  }
}

export interface AblationRow {
  variant: string; what: string; mask: number;
  /** Median over rounds of each round's p50 (warm: median), by progcost field name. */
  figures: Record<string, number>;
  perRound: Array<Record<string, number>>;
}

export async function ablate(o: { variants: string[]; rounds: number; samples: number; block: number; objects?: Record<string, string>; log?: (m: string) => void }): Promise<{ rows: AblationRow[]; loadavg: number[] }> {
  const work = mkdtempSync(join(tmpdir(), 'kpb-ablate-'));
  const topo = createFixtureTopology('abl');
  const dirOf = (n: string): string => o.objects?.[n] ?? join(work, n);
  try {
    for (const n of o.variants) if (!o.objects?.[n]) build(join(work, n), VARIANTS[n].mask);
    const passObj = join(work, 'xdp-pass.bpf.o');
    const tcPassObj = join(work, 'tc-pass.bpf.o');
    execFileSync('clang', ['-O2', '-target', 'bpf', '-c', join(import.meta.dirname, 'xdp-pass.bpf.c'), '-o', passObj]);
    execFileSync('clang', ['-O2', '-target', 'bpf', '-c', join(import.meta.dirname, 'tc-pass.bpf.c'), '-o', tcPassObj]);
    topo.ns.ip('route', 'add', '203.0.113.0/24', 'via', '192.0.2.12', 'dev', 'ext0');
    // One spare device per variant (and one for the floor): each XDP program attached, so the
    // dispatcher calls every one of them directly.
    const spare = (name: string): number => {
      topo.ns.ip('link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`);
      topo.ns.ip('link', 'set', name, 'up');
      return topo.ns.ifindex(name);
    };
    const cfg: AblateInnerConfig = {
      ifindex: topo.ext0, passObj, tcPassObj, passSpare: spare('abfl'),
      variants: o.variants.map((n, i) => ({ name: n, dir: dirOf(n), spare: spare(`ab${i}`) })),
      nodeIp: '192.0.2.11', clientIp: '192.0.2.100', backendIp: '198.18.2.5', extIp: '203.0.113.10', clientMac: MAC.client, nodeMac: MAC.ext0,
      samples: o.samples, block: o.block, rounds: o.rounds,
    };
    const load0 = loadavg()[0];
    const out = execFileSync('ip', ['netns', 'exec', topo.ns.name, 'sh', '-c', 'mount -t bpf bpf /sys/fs/bpf && exec "$@"', 'sh',
      process.execPath, join(import.meta.dirname, 'ablate.inner.ts'), JSON.stringify(cfg)], { encoding: 'utf8', maxBuffer: 1 << 28, timeout: 3_600_000 });
    const { rounds } = JSON.parse(out.trim().split('\n').pop()!) as { rounds: AblateRound[] };
    const rows: AblationRow[] = o.variants.map((n) => {
      const perRound = rounds.map((r) => Object.fromEntries(CASES.map(([field, c]) => {
        const xs = c === 'floor' || c === 'tcFloor' ? r[c].pass : r[c][n];
        return [field, quantile(xs, 0.5)];
      })));
      return {
        variant: n, what: VARIANTS[n]?.what ?? `objects in ${dirOf(n)}`, mask: VARIANTS[n]?.mask ?? -1, perRound,
        figures: Object.fromEntries(CASES.map(([field]) => [field, quantile(perRound.map((x) => x[field]).filter(Number.isFinite), 0.5)])),
      };
    });
    return { rows, loadavg: [load0, loadavg()[0]] };
  } finally {
    topo.ns.remove();
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ options: {
    variants: { type: 'string', default: Object.keys(VARIANTS).join(',') },
    rounds: { type: 'string', default: '3' }, samples: { type: 'string', default: '4000' }, block: { type: 'string', default: '20' },
    json: { type: 'boolean', default: false }, objects: { type: 'string' },
  } });
  const objects = values.objects === undefined ? undefined : Object.fromEntries(values.objects.split(',').map((s) => {
    const i = s.indexOf('=');
    if (i <= 0) throw new Error(`--objects "${s}": expected name=folder`);
    return [s.slice(0, i).trim(), s.slice(i + 1).trim()];
  }));
  const names = objects ? Object.keys(objects) : values.variants.split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) if (!objects && !VARIANTS[n]) throw new Error(`unknown variant "${n}" (known: ${Object.keys(VARIANTS).join(', ')})`);
  if (!objects && !names.includes('full')) names.unshift('full');
  const r = await ablate({ variants: names, rounds: Number(values.rounds), samples: Number(values.samples), block: Number(values.block), objects });
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...r, rounds: Number(values.rounds), samples: Number(values.samples) })}\n`);
  } else {
    const full = r.rows.find((x) => x.variant === 'full') ?? r.rows[0]!;
    const fields = CASES.map(([f]) => f);
    const cell = (row: AblationRow, f: string) => {
      const v = Math.round(row.figures[f]);
      if (!Number.isFinite(row.figures[f])) return '—';
      const d = Math.round(row.figures[f] - full.figures[f]);
      return row === full || f.startsWith('floor') || f.startsWith('tcPassFloor') ? String(v) : `${v} (${d >= 0 ? '+' : ''}${d})`;
    };
    process.stdout.write(`| variant | ${fields.join(' | ')} | left out |\n|---|${fields.map(() => '---').join('|')}|---|\n`);
    for (const row of r.rows) process.stdout.write(`| ${row.variant} | ${fields.map((f) => cell(row, f)).join(' | ')} | ${row.what} |\n`);
    process.stdout.write(`\nload average ${r.loadavg[0].toFixed(2)} -> ${r.loadavg[1].toFixed(2)}; median over ${values.rounds} rounds of each round's p50; ${values.samples} samples per variant and case per round, interleaved in blocks of ${values.block}\n`);
  }
}
