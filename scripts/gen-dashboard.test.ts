import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dashboardJson } from './gen-dashboard.ts';

test('manifests/grafana-dashboard.json is what scripts/gen-dashboard.ts generates', () => {
  assert.equal(readFileSync(new URL('../manifests/grafana-dashboard.json', import.meta.url), 'utf8'), dashboardJson(), 'regenerate with: node scripts/gen-dashboard.ts');
});

test('every dashboard panel queries Prometheus with the instance variable and a rate interval Grafana fills', () => {
  const d = JSON.parse(dashboardJson()) as { panels: { title: string; targets: { expr: string }[] }[] };
  assert.ok(d.panels.length >= 14);
  for (const p of d.panels) {
    assert.ok(p.targets.length > 0, p.title);
    for (const t of p.targets) {
      assert.match(t.expr, /\$instance/, `${p.title}: ${t.expr}`);
      assert.doesNotMatch(t.expr, /\[\d+[smh]\]/, `${p.title}: fixed range instead of $__rate_interval`);
    }
  }
});
