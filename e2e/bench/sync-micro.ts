// Control-plane micro-benchmark of the real pipeline without an apiserver (issue 10, item 6).
// Not a test: it prints numbers; with --json the last line is one JSON object (firstSyncMs,
// changeP50Ms, changeP99Ms, fullRecomputes, heapUsedMiB, rssMiB, cpuMs, variant, ...).
//
//   node e2e/bench/sync-micro.ts --services 10000 --endpoints 10 --changes 200 \
//        [--variant distinct|shared|conflict] [--json]
//
// The pipeline (sync-micro-run.ts: real Reflectors over an in-memory list/watch -> change trackers
// -> compile -> LB state -> real BPF maps) runs the way the agent does: bundled by esbuild (no
// TypeScript loader in the process) and with the agent's V8 flags (src/cli/node-flags.ts) and glibc
// malloc tunables (src/cli/glibc-tunables.ts), so its memory and CPU figures are the agent's. KPB_SYNC_MICRO_SOURCE=1 runs the TypeScript in this
// process instead (for --cpu-prof and heap snapshots).
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { AGENT_V8_FLAGS } from '../../src/cli/node-flags.ts';
import { tunablesToSet } from '../../src/cli/glibc-tunables.ts';

const root = join(import.meta.dirname, '..', '..');
if (process.env.KPB_SYNC_MICRO_SOURCE) {
  await import('./sync-micro-run.ts');
} else {
  const out = join(root, 'build', 'bench', 'sync-micro.mjs');
  mkdirSync(join(root, 'build', 'bench'), { recursive: true });
  const addon = join(root, 'datapath', 'bpf-loader-napi', 'build', 'bpf_loader.node');
  await esbuild.build({
    entryPoints: [join(import.meta.dirname, 'sync-micro-run.ts')], bundle: true, platform: 'node', format: 'esm', outfile: out,
    logLevel: 'warning', external: ['*.node'],
    // As the single binary does (scripts/sea-main.ts): the addon's path is handed over, not found next to the bundle.
    banner: { js: `globalThis[Symbol.for('bpf-loader-napi.addonPath')] = () => ${JSON.stringify(addon)}; import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);` },
  });
  // KPB_AS_BEFORE=1: glibc's default arenas (see sync-micro-run.ts).
  const tunables = process.env.KPB_AS_BEFORE ? null : tunablesToSet(process.env.GLIBC_TUNABLES);
  const r = spawnSync(process.execPath, ['--expose-gc', ...AGENT_V8_FLAGS, out, ...process.argv.slice(2)], {
    // The agent's malloc tunables too (the single binary sets them when it starts: sea-main.ts).
    stdio: 'inherit', env: { ...process.env, KPB_TC_OBJECT: join(root, 'build', 'bpf', 'tc.bpf.o'), ...(tunables !== null ? { GLIBC_TUNABLES: tunables } : {}) },
  });
  process.exit(r.status ?? 1);
}
