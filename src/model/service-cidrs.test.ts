import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serviceCidrsOf } from './service-cidrs.ts';

test('serviceCidrsOf collects, deduplicates and checks the ranges of every ServiceCIDR', () => {
  const rows = [
    { name: 'kubernetes default, dual-stack', objs: [{ metadata: { name: 'kubernetes' }, spec: { cidrs: ['198.19.0.0/16', '2001:db8:20::/112'] } }], want: ['198.19.0.0/16', '2001:db8:20::/112'], problems: [] },
    {
      name: 'an extra range, a duplicate, host bits cleared',
      objs: [{ metadata: { name: 'a' }, spec: { cidrs: ['198.19.0.0/16'] } }, { metadata: { name: 'b' }, spec: { cidrs: ['198.19.0.1/16', '198.20.0.0/24'] } }],
      want: ['198.19.0.0/16', '198.20.0.0/24'], problems: [],
    },
    {
      name: 'a bad range is reported on its object and field; the rest applies',
      objs: [{ metadata: { name: 'bad' }, spec: { cidrs: ['198.19.0.0/16', 'nope'] } }, { metadata: { name: 'empty' } }],
      want: ['198.19.0.0/16'], problems: ['ServiceCIDR /bad spec.cidrs[1]: invalid CIDR "nope" ignored'],
    },
  ];
  for (const r of rows) {
    const got = serviceCidrsOf(r.objs);
    assert.deepEqual(got.cidrs.map((c) => c.text), r.want, r.name);
    assert.deepEqual(got.problems.map((p) => `${p.object} ${p.field}: ${p.message}`), r.problems, r.name);
  }
});
