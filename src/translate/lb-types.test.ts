import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as lb from './lb-types.ts';

// The header is the one definition; these constants are a mirror, so compare them with it.
const header = readFileSync(new URL('../../datapath/include/lb_structs.h', import.meta.url), 'utf8');

function headerEnum(name: string): number {
  const m = new RegExp(`\\b${name}\\s*=\\s*([^,\\n]+),`).exec(header);
  assert.ok(m, `${name} is defined in lb_structs.h`);
  const expr = m[1].replace(/\/\*.*$/, '').trim();
  const shift = /^1\s*<<\s*(\d+)$/.exec(expr);
  return shift ? 1 << Number(shift[1]) : Number(expr);
}

test('lb-types flag constants match lb_structs.h', () => {
  const names = Object.keys(lb).filter((k) => /^LB_(SVC|BE|SCOPE)_/.test(k));
  assert.ok(names.length >= 17);
  for (const name of names) assert.equal((lb as unknown as Record<string, number>)[name], headerEnum(name), name);
});

test('lb-types field names match lb_structs.h structs', () => {
  const fields = (struct: string) => {
    const m = new RegExp(`struct ${struct} \\{([^}]*)\\}`).exec(header);
    assert.ok(m, struct);
    return [...m[1].matchAll(/^\s*(?:__u8|__u16|__u32|__u64|__be16|__be32)\s+(\w+)/gm)].map((x) => x[1]).sort();
  };
  const rows: [string, object][] = [
    ['lb_service_key', { addr: 0, port: 0, proto: 0, scope: 0 } satisfies Record<keyof lb.LbServiceKey, number>],
    ['lb_service_value', { service_id: 0, backend_count: 0, local_backend_count: 0, flags: 0, affinity_timeout: 0 } satisfies Record<keyof lb.LbServiceValue, number>],
    ['lb_slot_key', { service_id: 0, slot: 0 } satisfies Record<keyof lb.LbSlotKey, number>],
    ['lb_backend', { addr: 0, port: 0, proto: 0, flags: 0, node_addr: 0 } satisfies Record<keyof lb.LbBackend, number>],
    ['lb_rev_nat', { addr: 0, port: 0, pad: 0 } satisfies Record<keyof lb.LbRevNat, number>],
    ['lb_node_addr_key', { addr: 0 } satisfies Record<keyof lb.LbNodeAddrKey, number>],
    ['lb_node_addr_value', { flags: 0 } satisfies Record<keyof lb.LbNodeAddrValue, number>],
    ['lb_src_range_key', { prefixlen: 0, service_id: 0, addr: 0 } satisfies Record<keyof lb.LbSrcRangeKey, number>],
  ];
  for (const [struct, shape] of rows) assert.deepEqual(Object.keys(shape).sort(), fields(struct), struct);
});
