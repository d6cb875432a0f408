import assert from 'node:assert/strict';
import { test } from 'node:test';
import { figures, parseFigureName, roundsOf, spread } from './figures.ts';

test('parseFigureName: contender, measure and unit from the field name', () => {
  const cases: Array<[string, ReturnType<typeof parseFigureName>]> = [
    ['xdpEstablishedP50Ns', { contender: 'ours XDP', measure: 'established p50', unit: 'ns' }],
    ['tcNewP50Ns', { contender: 'ours tc', measure: 'new p50', unit: 'ns' }],
    ['floorP50Ns', { contender: 'XDP_PASS floor', measure: 'p50', unit: 'ns' }],
    ['floorWarmNs', { contender: 'XDP_PASS floor', measure: 'warm', unit: 'ns' }],
    ['xdpEstablishedWarmNs', { contender: 'ours XDP', measure: 'established warm', unit: 'ns' }],
    ['xdpTxFloorNsPerPkt', { contender: 'XDP_TX floor', measure: '', unit: 'ns/packet' }],
    ['oursXdpNsPerPkt', { contender: 'ours XDP', measure: '', unit: 'ns/packet' }],
    ['oursTcNsPerPkt', { contender: 'ours tc', measure: '', unit: 'ns/packet' }],
    ['nftablesNsPerPkt', { contender: 'kube-proxy nftables', measure: '', unit: 'ns/packet' }],
    ['iptablesNsPerPkt', { contender: 'kube-proxy iptables', measure: '', unit: 'ns/packet' }],
    // Not a listed contender: its first word.
    ['ciliumNsPerPkt', { contender: 'cilium', measure: '', unit: 'ns/packet' }],
    // "tc" only at a word boundary.
    ['tcpRetransMs', { contender: 'tcp', measure: 'retrans', unit: 'ms' }],
    // No unit: not a figure.
    ['samples', undefined],
    ['rounds', undefined],
    ['Ns', undefined],
  ];
  for (const [field, want] of cases) assert.deepEqual(parseFigureName(field), want, field);
});

test('figures: numeric fields with a unit, with their rounds from perRound or rounds', () => {
  const p = {
    status: 'ok', samples: 100, oursXdpNsPerPkt: 250, nftablesNsPerPkt: Number.NaN, label: 'x',
    perRound: [{ oursXdpNsPerPkt: 230 }, { oursXdpNsPerPkt: 300 }, { oursXdpNsPerPkt: 250 }],
  };
  const f = figures(p);
  assert.deepEqual(f, [{ field: 'oursXdpNsPerPkt', contender: 'ours XDP', measure: '', unit: 'ns/packet', value: 250, rounds: [230, 300, 250] }]);
  assert.deepEqual(spread(f[0]), { lo: 230, hi: 300 });
  assert.equal(spread({ rounds: [1] }), undefined);
  assert.equal(roundsOf({ rounds: 3 }).length, 0, 'a count of rounds is not the rounds');
  assert.equal(roundsOf({ rounds: [{ a: 1 }] }).length, 1);
  assert.deepEqual(figures({ status: 'not run', reason: 'x' }), []);
  assert.deepEqual(figures([{ oursXdpNsPerPkt: 1 }]), []);
  assert.deepEqual(figures({ aMs: 1, bNs: 2 }, /Ns$/).map((x) => x.field), ['bNs']);
});
