// The bench charts from results: which charts exist, log scales where values span a decade,
// min-max whiskers from the rounds, one colour per contender on every chart, and figures no code
// names (the fixture's xdpFragmentP50Ns, ciliumNsPerPkt, mapBytesMiB, "ours (shared)") drawn too.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderChart } from './chart-render.ts';
import { CONTENDER_COLOURS, contenderColour, contenderOrder, spansDecade } from './chart-specs.ts';
import { benchCharts, type BenchChart } from './charts.ts';
import { fixtureResults } from './results-fixture.ts';
import { readResults } from './results.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Every unit view of a chart (concat panels, layers) with its data, its encodings merged down. */
function views(spec: Obj, inherited: Obj = {}, data?: Obj[]): Array<{ enc: Obj; mark: unknown; data: Obj[] }> {
  const d = (spec.data?.values as Obj[] | undefined) ?? data ?? [];
  if (spec.concat) return (spec.concat as Obj[]).flatMap((p) => views(p, {}, d));
  const enc = { ...inherited, ...spec.encoding };
  if (spec.layer) return (spec.layer as Obj[]).flatMap((l) => views(l, enc, d));
  return [{ enc, mark: spec.mark, data: d }];
}
const byName = (charts: BenchChart[], name: string): Obj => {
  const c = charts.find((x) => x.name === name);
  assert.ok(c, `chart ${name} among ${charts.map((x) => x.name).join(', ')}`);
  return c.spec as Obj;
};
const dataOf = (spec: Obj): Obj[] => views(spec).flatMap((v) => v.data);

test('every part gives its charts, and each renders without a Vega-Lite or Vega warning', async () => {
  const charts = benchCharts(fixtureResults());
  assert.deepEqual(charts.map((c) => c.name),
    ['forward', 'progcost', 'progcost-warm', 'progcost-cdf', 'clusterip', 'crr-cdf', 'first-sync', 'change-latency', 'rss', 'cpu', 'sync-micro']);
  for (const c of charts) {
    const r = await renderChart(c.spec);
    assert.deepEqual(r.warnings, [], c.name);
    assert.ok(r.png.length > 1000, c.name);
  }
});

test('log scales where values span a decade: control rows at 1k-10k Services', () => {
  assert.equal(spansDecade([1000, 5000, 10_000]), true);
  assert.equal(spansDecade([190, 1500]), false);
  const charts = benchCharts(fixtureResults());
  for (const name of ['first-sync', 'change-latency', 'rss', 'cpu']) {
    const v = views(byName(charts, name));
    assert.equal(v[0].enc.x.scale.type, 'log', `${name}: Services on a log axis`);
    assert.match(v[0].enc.x.title, /log scale/);
    assert.deepEqual(v[0].enc.x.axis.values, [1000, 5000, 10_000], `${name}: ticks at the measured scales`);
    assert.equal(v[0].enc.y.scale.type, 'log', `${name}: values from x1 to x80 on a log axis`);
  }
  // 185-1,530 ns/packet: less than a decade, linear from zero.
  assert.equal(views(byName(charts, 'forward'))[0].enc.y.scale.type, 'linear');
  // 79-470 ns... plus the warm floor at 10: the warm chart spans a decade.
  assert.equal(views(byName(charts, 'progcost-warm'))[0].enc.y.scale.type, 'log');
});

test('whiskers are the min-max of the rounds', () => {
  const charts = benchCharts(fixtureResults());
  const fwd = dataOf(byName(charts, 'forward')).find((d) => d.contender === 'ours XDP')!;
  assert.deepEqual([fwd.y, fwd.lo, fwd.hi], [250, 230, 300]);
  const est = dataOf(byName(charts, 'progcost')).find((d) => d.contender === 'ours XDP' && d.category === 'established')!;
  assert.deepEqual([est.y, est.lo, est.hi, est.target], [140, 130, 170, 150]);
  const shared = dataOf(byName(charts, 'first-sync')).find((d) => d.contender === 'ours (shared)' && d.x === 1000)!;
  assert.deepEqual([shared.lo, shared.hi], [0.5, 0.65]);
  const micro = dataOf(byName(charts, 'sync-micro')).find((d) => d.contender === 'ours (shared)' && d.y === 2100)!;
  assert.deepEqual([micro.lo, micro.hi, micro.target], [2100 * 0.9, 2100 * 1.2, 2000]);
  const crr = dataOf(byName(charts, 'clusterip')).find((d) => d.category === 'crr' && d.contender === 'ours (socket LB)')!;
  assert.deepEqual([crr.lo, crr.hi], [8500, 8700]);
  // Each whisker layer draws lo..hi.
  const rules = views(byName(charts, 'forward')).filter((v) => (v.mark as Obj).type === 'rule');
  assert.equal(rules.length, 1);
  assert.deepEqual([rules[0].enc.y.field, rules[0].enc.y2.field], ['lo', 'hi']);
});

test('one colour per contender, the same on every chart', () => {
  const seen = new Map<string, string>();
  const charts = [...benchCharts(fixtureResults()), ...benchCharts(readResults(new URL('./testdata/results-2026-11-25.json', import.meta.url).pathname))];
  for (const c of charts) {
    for (const v of views(c.spec as Obj)) {
      const colour = v.enc.color;
      if (!colour) continue;
      assert.equal(colour.field, 'contender', c.name);
      const { domain, range } = colour.scale as { domain: string[]; range: string[] };
      assert.equal(domain.length, range.length);
      const present = new Set(v.data.map((d) => d.contender as string));
      for (const name of present) assert.ok(domain.includes(name), `${c.name}: ${name} in the colour domain`);
      domain.forEach((name, i) => {
        assert.equal(range[i], contenderColour(name), `${c.name}: ${name}`);
        assert.equal(seen.get(name) ?? range[i], range[i], `${name} has one colour`);
        seen.set(name, range[i]);
      });
    }
  }
  for (const name of ['ours XDP', 'ours tc', 'kube-proxy nftables', 'kube-proxy iptables', 'ours', 'ours (shared)', 'cilium']) assert.ok(seen.has(name), name);
  assert.equal(new Set(CONTENDER_COLOURS.map(([, c]) => c)).size, CONTENDER_COLOURS.length, 'listed contenders have distinct colours');
  assert.equal(contenderColour('someone new'), contenderColour('someone new'));
  // Every row the control part writes has its own listed colour (a hash of unlisted names can collide).
  for (const c of ['ours', 'kube-proxy nftables', 'kube-proxy iptables']) {
    for (const name of [c, `${c} (shared addresses)`]) assert.ok(CONTENDER_COLOURS.some(([k]) => k === name), `${name} has a listed colour`);
  }
  assert.deepEqual(contenderOrder(['zz', 'kube-proxy iptables', 'ours']), ['ours', 'kube-proxy iptables', 'zz']);
});

test('figures no code names are drawn: a new progcost field, a new contender, a new sync-micro field, a new control row', () => {
  const charts = benchCharts(fixtureResults());
  assert.ok(dataOf(byName(charts, 'progcost')).some((d) => d.contender === 'ours XDP' && d.category === 'fragment' && d.y === 310));
  assert.ok(dataOf(byName(charts, 'forward')).some((d) => d.contender === 'cilium' && d.y === 270));
  const micro = byName(charts, 'sync-micro');
  const titles = (micro.concat as Obj[]).map((p) => p.title.text);
  assert.deepEqual(titles, ['First sync', 'Change p50', 'Change p99', 'Full recomputes', 'Heap used', 'RSS', 'CPU', 'Map bytes']);
  assert.ok(dataOf(byName(charts, 'rss')).some((d) => d.contender === 'ours (shared)' && d.x === 10_000));
  // Not-run scales are left out, not drawn as zero.
  assert.ok(!dataOf(byName(charts, 'rss')).some((d) => d.contender === 'kube-proxy iptables' && d.x === 5000));
});

test('a results file from before issues 10 and 12 still gives its charts', () => {
  const charts = benchCharts(readResults(new URL('./testdata/results-2026-11-25.json', import.meta.url).pathname));
  for (const name of ['pps', 'progcost', 'clusterip', 'first-sync', 'change-latency', 'rss', 'cpu']) byName(charts, name);
  const p = dataOf(byName(charts, 'progcost'));
  assert.ok(p.some((d) => d.contender === 'ours XDP' && d.category === 'established' && d.target === 150));
});
