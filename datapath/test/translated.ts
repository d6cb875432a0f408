// Closes the loop between the two halves: a small Kubernetes model goes through the control
// plane's own translate() (src/translate) and is written into the loaded maps by its own diff,
// apply and BTF-codec writer (src/dataplane), in the order the agent uses. Datapath tests that
// use this check what the datapath does with exactly the encoding the agent produces, so a
// disagreement about scopes, flags, wildcards, source ranges or Maglev sizes fails a test.
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import type { BpfMap } from 'bpf-loader-napi';
import { apply } from '../../src/dataplane/apply.ts';
import { BpfLbMaps } from '../../src/dataplane/bpf-map-writer.ts';
import { diff } from '../../src/dataplane/diff.ts';
import { LbIds } from '../../src/dataplane/ids.ts';
import { emptyLbState, type LbServiceKey, type LbServiceValue, type LbState } from '../../src/translate/lb-types.ts';
import { buildModel, renderServices } from '../../src/translate/testing.ts';
import { translate, type TranslateNode, type TranslateOptions } from '../../src/translate/translate.ts';

export { svc, slice } from '../../src/model/testing/fixtures.ts';

export interface Translated {
  wanted: LbState;
  /** renderServices(wanted): one readable line per lb_services entry, for failure messages. */
  lines: string[];
  /** The wanted lb_services entry with this key (addr: 16 bytes, as lb-maps.ts addr16 builds). */
  entry(addr: Uint8Array, port: number, proto: number, scope: number): { key: LbServiceKey; value: LbServiceValue } | undefined;
}

/** translate() the objects for `node` and apply the result to the maps `lookup` returns. */
export function writeTranslated(
  lookup: (name: string) => BpfMap,
  objects: { services: V1Service[]; slices: V1EndpointSlice[] },
  node: TranslateNode,
  options: TranslateOptions = {},
): Translated {
  const ids = new LbIds({ now: () => 0 });
  const r = translate(buildModel(objects.services, objects.slices, node.name), node, options, ids);
  if (r.problems.length) throw new Error(`translate reported problems: ${JSON.stringify(r.problems)}`);
  const maps = new BpfLbMaps((name) => lookup(name), options.maglevTableSize ?? 16381);
  const applied = emptyLbState();
  const res = apply(diff(r.wanted, applied), maps, applied);
  if (!res.ok) throw new Error(`applying the translated state failed: ${JSON.stringify(res.failures)}`);
  const wanted = r.wanted;
  return {
    wanted,
    lines: renderServices(wanted),
    entry(addr, port, proto, scope) {
      for (const e of wanted.lb_services.values()) {
        const k = e.key;
        if (k.port === port && k.proto === proto && k.scope === scope && Buffer.from(k.addr).equals(Buffer.from(addr))) return e;
      }
      return undefined;
    },
  };
}
