// Stack use of every entry point of a BPF object, at build time (issue 12, "stack headroom").
//
//   node scripts/bpf-stack.ts <object.o> [--limit 400]
//
// The verifier allows 512 bytes for the deepest chain of BPF-to-BPF calls (callbacks of bpf_loop
// and bpf_for_each_map_elem count as calls), each frame rounded up to 32 bytes. We compute the
// same from what the compiler knows: each function's frame from clang's -fstack-usage file
// (<object>.su, written beside the object), the call graph from the object's pseudo calls and
// function-pointer loads (llvm-objdump -d -r). Prints one line per entry point with its deepest
// chain, and exits 1 when one exceeds the limit, so the build fails with room still left.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

export interface Fn { name: string; section: string; start: number; size: number; global: boolean }
export interface StackReport { entry: string; bytes: number; chain: string[] }

/** Function symbols: `llvm-objdump -t` lines like "0000000000000010 l     F .text	00000000000000a0 name". */
export function parseSymbols(text: string): Fn[] {
  const out: Fn[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)\s+(\S)\s+F\s+(\S+)\s+([0-9a-f]+)\s+(\S+)$/.exec(line.trim());
    if (m) out.push({ name: m[5], section: m[3], start: parseInt(m[1], 16), size: parseInt(m[4], 16), global: m[2] === 'g' });
  }
  return out;
}

/** Frame sizes from clang's .su file: "file:line:col:name<TAB>bytes<TAB>static". */
export function parseStackUsage(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [where, bytes] = line.split('\t');
    if (!where || bytes === undefined) continue;
    const name = where.slice(where.lastIndexOf(':') + 1);
    out.set(name, Math.max(out.get(name) ?? 0, Number(bytes)));
  }
  return out;
}

/**
 * Caller -> callees from `llvm-objdump -d -r` output. A pseudo call is opcode 0x85 with src_reg 1
 * (raw bytes "85 10"): its target is (imm + 1) instructions after itself, or, with a relocation
 * against a symbol, (imm + 1) instructions after that symbol. A function pointer (bpf_loop's
 * callback) is an ld_imm64 with a relocation to a function, or to a code section plus imm bytes.
 */
export function parseCalls(text: string, fns: Fn[]): Map<string, Set<string>> {
  const bySection = new Map<string, Fn[]>();
  for (const f of fns) bySection.set(f.section, [...(bySection.get(f.section) ?? []), f]);
  const at = (section: string, off: number): Fn | undefined => (bySection.get(section) ?? []).find((f) => off >= f.start && off < f.start + f.size);
  const symbol = (name: string): { section: string; off: number } | undefined => {
    if (name.startsWith('.')) return { section: name, off: 0 };
    const f = fns.find((x) => x.name === name);
    return f ? { section: f.section, off: f.start } : undefined;
  };
  const calls = new Map<string, Set<string>>();
  const add = (from: Fn | undefined, to: Fn | undefined) => {
    if (!from || !to) return;
    if (!calls.has(from.name)) calls.set(from.name, new Set());
    calls.get(from.name)!.add(to.name);
  };
  let section = '';
  let pending: { from: Fn | undefined; imm: number; kind: 'call' | 'func'; off: number } | null = null;
  const flush = () => {
    if (pending?.kind === 'call') add(pending.from, at(section, pending.off + (pending.imm + 1) * 8));
    pending = null;
  };
  for (const line of text.split('\n')) {
    const sec = /^Disassembly of section (\S+):/.exec(line);
    if (sec) { flush(); section = sec[1]; continue; }
    const reloc = /^\s+[0-9a-f]+:\s+(R_BPF_\S+)\s+(\S+)/.exec(line);
    if (reloc && pending) {
      const s = symbol(reloc[2]);
      if (s) {
        const target = pending.kind === 'call'
          ? at(s.section, s.off + (pending.imm + 1) * 8)
          : at(s.section, s.off + pending.imm);
        add(pending.from, target);
      }
      pending = null;
      continue;
    }
    const insn = /^\s*([0-9a-f]+):\s+((?:[0-9a-f]{2}[ \t])+)/.exec(line);
    if (!insn) continue;
    flush();
    const off = parseInt(insn[1], 10) * 8;
    const bytes = insn[2].trim().split(/\s+/).map((b) => parseInt(b, 16));
    if (bytes.length < 8) continue;
    const imm = Buffer.from(bytes.slice(4, 8)).readInt32LE(0);
    if (bytes[0] === 0x85 && (bytes[1] >> 4) === 1) pending = { from: at(section, off), imm, kind: 'call', off };
    // ld_imm64: libbpf marks a function address (src_reg 4) only at load; here it is any
    // 64-bit immediate relocated against code (maps are relocated against their own symbols).
    else if (bytes[0] === 0x18) pending = { from: at(section, off), imm, kind: 'func', off };
  }
  flush();
  return calls;
}

/** Deepest chain from each entry point (a global function in a non-.text section). */
export function stackReport(fns: Fn[], frames: Map<string, number>, calls: Map<string, Set<string>>): StackReport[] {
  const round = (n: number) => Math.ceil(Math.max(n, 1) / 32) * 32;
  const memo = new Map<string, { bytes: number; chain: string[] }>();
  const deepest = (name: string, seen: Set<string>): { bytes: number; chain: string[] } => {
    const hit = memo.get(name);
    if (hit) return hit;
    if (seen.has(name)) throw new Error(`recursion through ${name}: BPF has none`);
    seen.add(name);
    let best = { bytes: 0, chain: [] as string[] };
    for (const c of calls.get(name) ?? []) {
      const d = deepest(c, seen);
      if (d.bytes > best.bytes) best = d;
    }
    seen.delete(name);
    const own = round(frames.get(name) ?? 0);
    const r = { bytes: own + best.bytes, chain: [`${name} ${own}`, ...best.chain] };
    memo.set(name, r);
    return r;
  };
  return fns.filter((f) => f.global && f.section !== '.text').map((f) => ({ entry: f.name, ...deepest(f.name, new Set()) }));
}

export function analyze(object: string): StackReport[] {
  const su = object.replace(/\.o$/, '.su');
  if (!existsSync(su)) throw new Error(`${su} is missing: compile ${basename(object)} with -fstack-usage`);
  const fns = parseSymbols(execFileSync('llvm-objdump', ['-t', object], { encoding: 'utf8' }));
  const dis = execFileSync('llvm-objdump', ['-d', '-r', object], { encoding: 'utf8', maxBuffer: 256 << 20 });
  return stackReport(fns, parseStackUsage(readFileSync(su, 'utf8')), parseCalls(dis, fns));
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { limit: { type: 'string', default: '400' } } });
  const limit = Number(values.limit);
  let failed = false;
  for (const object of positionals) {
    for (const r of analyze(object)) {
      const over = r.bytes > limit;
      failed ||= over;
      process.stdout.write(`stack ${basename(object)} ${r.entry}: ${r.bytes} bytes (limit ${limit}${over ? ', EXCEEDED' : ''}): ${r.chain.join(' -> ')}\n`);
    }
  }
  if (failed) {
    process.stderr.write(`BPF stack use above ${limit} bytes: move locals to per-CPU scratch or split the frame\n`);
    process.exit(1);
  }
}
