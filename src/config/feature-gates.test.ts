import { test } from 'node:test';
import assert from 'node:assert/strict';
import { effectiveFeatureGates, featureGateLookup } from './feature-gates.ts';

test('effectiveFeatureGates() lists upstream\'s 254 gates with their defaults', () => {
  const gates = effectiveFeatureGates({});
  assert.equal(gates.length, 254);
  assert.deepEqual(gates.find((g) => g.name === 'LoggingBetaOptions'), { name: 'LoggingBetaOptions', stage: 'BETA', enabled: true });
  assert.deepEqual(gates.find((g) => g.name === 'LoggingAlphaOptions'), { name: 'LoggingAlphaOptions', stage: 'ALPHA', enabled: false });
});

test('featureGateLookup() applies explicit gates over AllAlpha/AllBeta over defaults', () => {
  const table: [Record<string, boolean>, string, boolean][] = [
    [{}, 'LoggingAlphaOptions', false],
    [{ LoggingAlphaOptions: true }, 'LoggingAlphaOptions', true],
    [{ AllAlpha: true }, 'LoggingAlphaOptions', true],
    [{ AllAlpha: true, LoggingAlphaOptions: false }, 'LoggingAlphaOptions', false],
    [{ AllBeta: false }, 'LoggingBetaOptions', false],
    [{}, 'NoSuchGate', false],
  ];
  for (const [overrides, gate, want] of table) assert.equal(featureGateLookup(overrides)(gate), want, `${JSON.stringify(overrides)} ${gate}`);
});
