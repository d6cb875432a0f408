/**
 * Entry point of the single executable (build/kube-proxy, see build-binary.ts); not used in a dev
 * checkout, where src/cli/kube-proxy.ts runs directly.
 *
 * Before the agent's modules load, it tells bpf-loader-napi where the addon is: the copy embedded
 * as a SEA asset, extracted on first use to a private runtime directory (see asset-paths.ts).
 * The agent is imported dynamically so that this runs first: esbuild initialises a dynamically
 * imported module (and everything it imports) only when the import() runs.
 */
import { seaAddonPath } from '../src/dataplane/asset-paths.ts';

// The key binding.ts reads (a registered symbol, so this file need not import binding.ts, which
// would load the addon right away).
(globalThis as Record<symbol, unknown>)[Symbol.for('bpf-loader-napi.addonPath')] = seaAddonPath;

import('../src/cli/kube-proxy.ts').catch((e: unknown) => {
  process.stderr.write(`Error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
