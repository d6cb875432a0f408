// The report from results: targets judged on figures found by name (issues 10 and 12), tables
// that show fields no code names, a results folder written and read back, and latest/ merging.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderMarkdown, writeResults } from './output.ts';
import { fixtureResults } from './results-fixture.ts';
import { mergeResults, readResults, type Results } from './results.ts';
import { targets } from './targets.ts';

const verdict = (r: Results, name: string) => {
  const v = targets(r).verdicts.find((x) => x.name === name);
  assert.ok(v, `target "${name}" in ${targets(r).verdicts.map((x) => x.name).join(' / ')}`);
  return v;
};

test('targets of issues 10 and 12 are judged from the named figures', () => {
  const r = fixtureResults();
  assert.equal(verdict(r, 'XDP established flow, repeat=1 p50').status, 'met'); // 140 <= 150
  assert.equal(verdict(r, 'tc established flow, repeat=1 p50').status, 'missed'); // 300 > 250
  assert.match(verdict(r, 'tc established flow, repeat=1 p50').detail, /over by 20%/);
  assert.equal(verdict(r, 'XDP established flow, warm').status, 'met');
  const nft = verdict(r, 'Live frames, ours XDP vs kube-proxy nftables: at least 5x fewer ns/packet');
  assert.equal(nft.status, 'met'); // 250 / 1420 = 0.176 <= 0.2
  assert.equal(nft.reference, 1420);
  assert.equal(verdict(r, 'sync-micro shared, 10k x 10: first full programming').status, 'missed'); // 2100 > 2000
  assert.equal(verdict(r, 'sync-micro distinct, 10k x 10: first full programming').status, 'met');
  assert.equal(verdict(r, 'sync-micro conflict, 10k x 10: full recomputes').status, 'met');
  assert.ok(!targets(r).verdicts.some((v) => v.name.startsWith('sync-micro distinct, 1 x')), 'only the 10k x 10 runs are judged');
  // Control: every "ours" row against nftables at the largest scale.
  assert.equal(verdict(r, 'ours vs kube-proxy nftables: change p99 (goal: a tenth) at 10000 services').status, 'met'); // 72 / 960 = 0.075
  assert.equal(verdict(r, 'ours (shared) vs kube-proxy nftables: RSS at 10000 services').status, 'met');
  assert.match(verdict(r, 'ours vs kube-proxy iptables: RSS at 10000 services').detail, /5000 services: no first sync/);
});

test('a target with nothing measured says why; a note explains a verdict', () => {
  const r: Results = { ...fixtureResults(), forward: undefined, syncMicro: { status: 'not run', reason: 'needs root (BPF maps)' } };
  r.targetNotes = { 'tc established flow, repeat=1 p50': 'the fragment tracking lookup adds 40 ns (ablation)' };
  const fwd = verdict(r, 'Live frames, ours XDP vs kube-proxy iptables: at least 5x fewer ns/packet');
  assert.equal(fwd.status, 'not measured');
  assert.match(fwd.detail, /forward part not run/);
  // A part's own reason for a missing contender.
  const f = fixtureResults();
  const fw = f.forward as unknown as Record<string, unknown>;
  delete fw.iptablesNsPerPkt;
  fw.notRun = { iptables: 'kube-proxy binary missing' };
  assert.match(verdict(f, 'Live frames, ours XDP vs kube-proxy iptables: at least 5x fewer ns/packet').detail, /iptables: kube-proxy binary missing/);
  assert.match(verdict(r, 'sync-micro every variant, 10k x 10: change p99').detail, /needs root/);
  assert.match(verdict(r, 'tc established flow, repeat=1 p50').detail, /over by 20%\. the fragment tracking lookup adds 40 ns/);
});

test('the Markdown shows every figure, its rounds and the charts', () => {
  const r = fixtureResults();
  r.provenance = { control: 'run 2026-11-30T00-00-00-000Z' };
  const md = renderMarkdown(r, targets(r), 'test', ['forward.png', 'sync-micro.png']);
  assert.match(md, /\| `xdpFragmentP50Ns` \| ours XDP \| fragment p50 \| 310 ns \| 300-320 \| 300, 310, 320 \|/);
  assert.match(md, /\| `ciliumNsPerPkt` \| cilium \| — \| 270 ns\/packet \| 260-280 \|/);
  assert.match(md, /kube-proxy nftables \/ oursXdpNsPerPkt: x5\.68/);
  assert.match(md, /- oursXdp: kpb_xdp_ingress generates/);
  assert.match(md, /\| variant \| services \| endpoints \| changes \| firstSyncMs \|.*\| mapBytesMiB \| Rounds \|/);
  assert.match(md, /\| shared \| 10,000 \| 10 \| 200 \| 2,100 \(1,890-2,520\) \|/);
  assert.match(md, /!\[sync-micro\]\(sync-micro\.png\)/);
  assert.match(md, /- control: run 2026-11-30T00-00-00-000Z/);
  assert.match(md, /\| ours \(shared\) \| 1000 \|.*median of 2 rounds \|/);
});

test('writeResults writes the JSON, the report and a PNG per chart, and removes stale PNGs', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), `kpb-bench-out-${process.pid}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'stale.png'), 'x');
  const r = fixtureResults();
  (r.progcost as unknown as Record<string, unknown>).xdpNewP50Ns = Number.NaN;
  const written = await writeResults(r, dir, 'test');
  assert.equal(existsSync(join(dir, 'stale.png')), false);
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.png')).sort(), [...written].sort());
  assert.ok(written.includes('sync-micro.png') && written.includes('forward.png'));
  assert.deepEqual(r.errors, []);
  const back = readResults(join(dir, 'results.json'));
  assert.ok(Number.isNaN((back.progcost as unknown as Record<string, number>).xdpNewP50Ns), 'NaN survives the JSON');
  assert.deepEqual(back.syncMicro, r.syncMicro);
});

test('mergeResults keeps the parts a run did not measure, saying from which run', () => {
  const old = { ...fixtureResults(), provenance: { control: 'run A' } };
  const run: Results = { ...fixtureResults(), control: undefined, syncMicro: undefined, clusterip: undefined, targetNotes: { x: 'y' } };
  const m = mergeResults(old, run, 'run B');
  assert.equal(m.control, old.control);
  assert.equal(m.syncMicro, old.syncMicro);
  assert.equal(m.progcost, run.progcost);
  assert.deepEqual(m.provenance, { forward: 'run B', progcost: 'run B', clusterip: `run of ${old.startedAt}`, control: 'run A', syncMicro: `run of ${old.startedAt}` });
  assert.deepEqual(m.targetNotes, { x: 'y' });
  m.errors.push('z');
  assert.deepEqual(run.errors, []);
  assert.deepEqual(mergeResults(undefined, run, 'run B').provenance, { forward: 'run B', progcost: 'run B' });
});
