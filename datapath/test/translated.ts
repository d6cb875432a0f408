// Closes the loop between the two halves: a small Kubernetes model goes through the control
// plane's own compile and LB state (src/translate, src/dataplane) and is written into the loaded
// maps by its own flush, in the order the agent uses. Datapath tests that use this check what the
// datapath does with exactly the encoding the agent produces, so a disagreement about scopes,
// flags, wildcards, source ranges or Maglev sizes fails a test.
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import type { BpfMap } from 'bpf-loader-napi';
import { BpfLbMapIo } from '../../src/dataplane/bpf-map-writer.ts';
import { LbIds } from '../../src/dataplane/ids.ts';
import { LbProgrammer } from '../../src/dataplane/lb-programmer.ts';
import { buildModel, capacity, renderServices } from '../../src/dataplane/testing/lb-harness.ts';
import type { CompileNode, CompileOptions } from '../../src/translate/compile-port.ts';
import type { LbBackend, LbMapName, LbServiceKey, LbServiceValue } from '../../src/translate/lb-types.ts';

export { svc, slice } from '../../src/model/testing/fixtures.ts';

export interface Translated {
  /** renderServices of the maps: one readable line per lb_services entry, for failure messages. */
  lines: string[];
  /** The lb_services entry with this key (addr: 16 bytes, as lb-maps.ts addr16 builds). */
  entry(addr: Uint8Array, port: number, proto: number, scope: number): { key: LbServiceKey; value: LbServiceValue } | undefined;
  /** The Maglev table swapped in for a service id. */
  maglevTable(serviceId: number): Uint32Array | undefined;
  backend(id: number): LbBackend | undefined;
}

/** Compiles the objects for `node` and programs the maps `lookup` returns. */
export function writeTranslated(
  lookup: (name: string) => BpfMap,
  objects: { services: V1Service[]; slices: V1EndpointSlice[] },
  node: CompileNode,
  options: CompileOptions & { maglevTableSize?: number } = {},
): Translated {
  const io = new BpfLbMapIo((name: LbMapName) => lookup(name), options.maglevTableSize ?? 16381);
  const codec = io.codec();
  const problems: string[] = [];
  const p = new LbProgrammer({ io, codec, ids: new LbIds({ now: () => 0 }), capacity: capacity(), maglevTableSize: options.maglevTableSize ?? 16381, onProblem: (x) => problems.push(JSON.stringify(x)) });
  const model = buildModel(objects.services, objects.slices, node.name);
  p.configure(node, options);
  const r = p.program(model.services, model.endpoints, [], 'full');
  if (problems.length) throw new Error(`the compile reported problems: ${problems.join(', ')}`);
  if (!r.ok) throw new Error(`programming the maps failed: ${JSON.stringify(r.failures)}`);
  return {
    lines: renderServices(io, codec),
    entry(addr, port, proto, scope) {
      const key = { addr, port, proto, scope };
      const value = lookup('lb_services').lookup(key) as LbServiceValue | undefined;
      return value ? { key, value } : undefined;
    },
    maglevTable: (id) => io.maglevTable(id),
    backend: (id) => lookup('lb_backends').lookup(id) as LbBackend | undefined,
  };
}
