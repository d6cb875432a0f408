/**
 * Entry point of the single executable (build/kube-proxy, see build-binary.ts); not used in a dev
 * checkout, where src/cli/kube-proxy.ts runs directly.
 *
 * First it re-executes itself once when glibc's malloc tunables are not set (glibc-tunables.ts).
 * Before the agent's modules load, it tells bpf-loader-napi where the addon is: the copy embedded
 * as a SEA asset, extracted on first use to a private runtime directory (see asset-paths.ts).
 * The agent is imported dynamically so that this runs first: esbuild initialises a dynamically
 * imported module (and everything it imports) only when the import() runs.
 */
import { seaAddonPath } from '../src/dataplane/asset-paths.ts';
import { tunablesToSet } from '../src/cli/glibc-tunables.ts';

// glibc reads its malloc tunables (one arena: glibc-tunables.ts) only at exec: when the inherited
// environment lacks them, become the same program again with them (same pid, arguments, streams).
const tunables = tunablesToSet(process.env.GLIBC_TUNABLES);
// (process.execve is absent only where Node has no execve: not Linux.)
if (tunables !== null && process.execve) {
  process.execve(process.execPath, [process.execPath, ...process.argv.slice(2)], { ...process.env, GLIBC_TUNABLES: tunables });
}

// The key binding.ts reads (a registered symbol, so this file need not import binding.ts, which
// would load the addon right away).
(globalThis as Record<symbol, unknown>)[Symbol.for('bpf-loader-napi.addonPath')] = seaAddonPath;

import('../src/cli/kube-proxy.ts').catch((e: unknown) => {
  process.stderr.write(`Error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
