// What one map operation of the new-flow path costs on this machine, one at a time: the
// programs of mapcost.bpf.c, each timed with BPF_PROG_TEST_RUN at repeat=1 (a fresh key every
// run, as for a new flow; the kernel's duration of that one run is a sample), interleaved in
// blocks so that machine noise hits them alike. Each figure is the median over rounds of the
// round's p50, and the same minus the XDP_PASS floor measured in the same rounds.
//
// Burst: the same at repeat=64 (a fresh key every repetition too), the kernel's average per
// repetition, median of 20 calls: new flows back to back, caches and allocator caches warm, and
// any refill the map's allocator defers (BPF_F_NO_PREALLOC's per-CPU caches refill from an
// irq_work) inside the timed loop, where at repeat=1 it runs between samples, untimed.
//
//   node e2e/bench/mapcost.ts [--rounds 3] [--samples 2000] [--block 20] [--json]
//
// est_least and est_least_array are lower bounds, not operations: the least an established flow
// can cost under this method (parse, one lookup of a hot key, the NodePort rewrite), to set
// xdpEstablishedP50Ns against what any program pays here.
//
// Needs root (BPF); touches no network device. The maps are created at their default capacity
// and never filled beyond rounds x samples entries (a few percent), so no insert evicts.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BpfObject } from 'bpf-loader-napi';
import { quantile } from './stats.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const BURST = 64;

/** Program -> what it does (mapcost.bpf.c). */
export const OPS: Record<string, string> = {
  floor_pass: 'XDP_PASS (the method\'s fixed part)',
  jiffies: 'bpf_jiffies64 (inlined)',
  prandom: 'bpf_get_prandom_u32 (helper call)',
  load_32k: 'random 8-byte load, 32 KiB array (inlined lookup)',
  load_8m: 'random 8-byte load, 8 MiB array (inlined lookup): one cold line',
  load_8m_x2: 'two independent random loads, 8 MiB array',
  hash_miss: 'hash lookup of a fresh key (miss), 262,144 entries',
  lru_miss: 'LRU lookup of a fresh key (miss), 262,144 entries',
  miss_x2: 'two lookup misses in two maps (two helper calls)',
  hash_np_insert: 'hash insert NOEXIST, BPF_F_NO_PREALLOC (kpb_snat4 before the slot table)',
  hash_pre_insert: 'hash insert NOEXIST, preallocated',
  hash_np_miss_insert: 'hash lookup miss, then NOEXIST insert of that key',
  hash_np_collide: 'NOEXIST insert of an existing key (a port collision)',
  lru_insert: 'LRU insert, common LRU list (kpb_ct4 today)',
  lru_pcpu_insert: 'LRU insert, BPF_F_NO_COMMON_LRU',
  slot_claim: 'array slot claim: inlined lookup, compare-and-swap, 80-byte write (kpb_snat4 now, conntrack.h)',
  newflow_hash: 'a SNAT flow\'s map work before the slot table: LRU miss + hash NOEXIST insert + LRU insert',
  newflow_slot: 'the same with the reservation as an array slot claim (now)',
  est_least: 'the least an established flow costs: direct-access parse, one hot LRU lookup, NodePort rewrite with inline checksums',
  est_least_array: 'the same with the flow in a direct-mapped array (inline hash, key compare, no call)',
};

export interface MapCostRow { op: string; what: string; p50Ns: number; overFloorNs: number; perRound: number[]; burstNs: number; burstOverFloorNs: number }

export async function measureMapCost(o: { rounds: number; samples: number; block: number }): Promise<{ rows: MapCostRow[]; loadavg: [number, number] }> {
  const dir = mkdtempSync(join(tmpdir(), 'kpb-mapcost-'));
  try {
    const objPath = join(dir, 'mapcost.bpf.o');
    execFileSync('clang', ['-O2', '-g', '-Wall', '-Werror', '-target', 'bpf', '-D__TARGET_ARCH_x86', `-I${join(ROOT, 'build', 'include')}`,
      '-c', join(import.meta.dirname, 'mapcost.bpf.c'), '-o', objPath]);
    const load0 = loadavg()[0];
    const loaded = await BpfObject.open(objPath).load({});
    try {
      const names = Object.keys(OPS);
      const data = Buffer.alloc(60);
      const per: Record<string, number[][]> = Object.fromEntries(names.map((n) => [n, []]));
      for (let r = 0; r < o.rounds; r++) {
        const ns: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
        for (let i = 0; i < o.samples; i += o.block) {
          for (const n of names) {
            const p = loaded.program(n);
            for (let j = 0; j < o.block; j++) {
              const res = p.testRun({ data: Buffer.from(data) });
              if (res.retval !== 2) throw new Error(`mapcost: ${n} returned ${res.retval} (an operation failed)`);
              ns[n].push(res.durationNs);
            }
          }
        }
        for (const n of names) per[n].push(ns[n]);
      }
      const burst: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
      for (let i = 0; i < 20; i++) {
        for (const n of names) {
          const res = loaded.program(n).testRun({ data: Buffer.from(data), repeat: BURST });
          if (res.retval !== 2) throw new Error(`mapcost: ${n} returned ${res.retval} at repeat=${BURST} (an operation failed)`);
          burst[n].push(res.durationNs);
        }
      }
      const roundP50 = (n: string): number[] => per[n].map((xs) => quantile(xs, 0.5));
      const floors = roundP50('floor_pass');
      const burstFloor = quantile(burst.floor_pass, 0.5);
      const rows = names.map((n) => {
        const p = roundP50(n);
        const b = quantile(burst[n], 0.5);
        return { op: n, what: OPS[n], p50Ns: quantile(p, 0.5), overFloorNs: quantile(p.map((x, i) => x - floors[i]), 0.5), perRound: p,
          burstNs: b, burstOverFloorNs: b - burstFloor };
      });
      return { rows, loadavg: [load0, loadavg()[0]] };
    } finally {
      loaded.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ options: {
    rounds: { type: 'string', default: '3' }, samples: { type: 'string', default: '2000' }, block: { type: 'string', default: '20' },
    json: { type: 'boolean', default: false },
  } });
  if (process.getuid?.() !== 0) throw new Error('mapcost needs root (BPF_PROG_LOAD, BPF_PROG_TEST_RUN)');
  const rounds = Math.max(3, Number(values.rounds));
  const r = await measureMapCost({ rounds, samples: Number(values.samples), block: Number(values.block) });
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...r, rounds, samples: Number(values.samples) })}\n`);
  } else {
    process.stdout.write('| operation | repeat=1 p50 ns | over floor | per round | burst ns | over floor | what |\n|---|---|---|---|---|---|---|\n');
    for (const x of r.rows) {
      process.stdout.write(`| ${x.op} | ${x.p50Ns} | ${x.overFloorNs} | ${x.perRound.join(', ')} | ${Math.round(x.burstNs)} | ${Math.round(x.burstOverFloorNs)} | ${x.what} |\n`);
    }
    process.stdout.write(`\nload average ${r.loadavg[0].toFixed(2)} -> ${r.loadavg[1].toFixed(2)}; repeat=1, median over ${rounds} rounds of each round's p50; ${values.samples} runs per operation per round, interleaved in blocks of ${values.block}; burst: repeat=${BURST}, median of 20\n`);
  }
}
