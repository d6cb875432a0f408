/**
 * @module
 * The effective feature gates: upstream's defaults (known-feature-gates.ts) with the configured
 * `featureGates` over them. `AllAlpha`/`AllBeta` turn on every alpha/beta gate that is not named
 * explicitly, as component-base's feature gate does.
 */
import { FEATURE_GATES } from './known-feature-gates.ts';

export type FeatureGateState = { name: string; stage: string; enabled: boolean };

/** Every registered gate with its stage and whether it is on, sorted by name. */
export function effectiveFeatureGates(overrides: Readonly<Record<string, boolean>>): FeatureGateState[] {
  const out: FeatureGateState[] = [];
  for (const [name, spec] of FEATURE_GATES) {
    let enabled = spec.default;
    if (spec.stage === 'ALPHA' && overrides.AllAlpha !== undefined) enabled = overrides.AllAlpha;
    if (spec.stage === 'BETA' && overrides.AllBeta !== undefined) enabled = overrides.AllBeta;
    if (overrides[name] !== undefined) enabled = overrides[name];
    out.push({ name, stage: spec.stage, enabled });
  }
  return out;
}

/** A lookup `gate -> enabled` over the effective gates; unknown gates are off. */
export function featureGateLookup(overrides: Readonly<Record<string, boolean>>): (gate: string) => boolean {
  const on = new Set(effectiveFeatureGates(overrides).filter((g) => g.enabled).map((g) => g.name));
  return (gate) => on.has(gate);
}
