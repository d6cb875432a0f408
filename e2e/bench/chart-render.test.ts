import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TopLevelSpec } from 'vega-lite';
import { CHART_FONT, renderChart } from './chart-render.ts';

const spec = (title: string): TopLevelSpec => ({
  title, width: 200, height: 120,
  data: { values: [{ a: 'x', b: 1 }, { a: 'y', b: 3 }] },
  mark: 'bar',
  encoding: { x: { field: 'a', type: 'nominal' }, y: { field: 'b', type: 'quantitative' } },
});

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

test('renderChart: SVG in the chart font, PNG at twice its size, the same bytes every time', async () => {
  const a = await renderChart(spec('Alpha'));
  assert.deepEqual(a.warnings, []);
  assert.match(a.svg, /^<svg /);
  assert.ok(a.svg.includes(`font-family="${CHART_FONT.family}"`), 'text is set in the font resvg is given');
  assert.ok(a.svg.includes('>Alpha</text>'));
  assert.deepEqual(a.png.subarray(0, 8), PNG_SIGNATURE);
  const svgW = Number(/<svg [^>]*width="(\d+)"/.exec(a.svg)![1]);
  const svgH = Number(/<svg [^>]*height="(\d+)"/.exec(a.svg)![1]);
  // IHDR: width and height right after the signature and the chunk header.
  assert.equal(a.png.readUInt32BE(16), svgW * 2);
  assert.equal(a.png.readUInt32BE(20), svgH * 2);
  const again = await renderChart(spec('Alpha'));
  assert.ok(again.png.equals(a.png), 'deterministic: same spec, same PNG bytes');
  // Text reaches the pixels: without a usable font resvg drops text, and both would be equal.
  const b = await renderChart(spec('Omega'));
  assert.ok(!b.png.equals(a.png), 'the title is drawn');
});

test('renderChart reports a spec mistake as a warning', async () => {
  const bad = { ...spec('x'), encoding: { x: { field: 'a', type: 'nominal' }, y: { field: 'b', type: 'quantitative' }, color: { field: 'c', type: 'nominal', scale: { type: 'log' } } } };
  const r = await renderChart(bad as TopLevelSpec);
  assert.ok(r.warnings.length > 0, 'a log scale on a nominal field is reported');
});
