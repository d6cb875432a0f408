// Renders a Vega-Lite chart headlessly: vega-lite compiles the spec to Vega, Vega's headless view
// draws it as SVG, and resvg (its renderer ships inside @resvg/resvg-js) rasterises that to PNG.
// Text needs a font: DejaVu Sans from Debian's fonts-dejavu-core (in the Makefile's apt list),
// given to resvg as the only fonts, system fonts not loaded, so a chart renders the same pixels on
// every machine with that package. Vega lays text out with its width estimate (no canvas package
// is installed), which depends on the text only.
import { existsSync } from 'node:fs';
import { Resvg } from '@resvg/resvg-js';
import { logger, parse, View, Warn } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

const FONT_DIR = '/usr/share/fonts/truetype/dejavu';
export const CHART_FONT = {
  family: 'DejaVu Sans',
  files: [`${FONT_DIR}/DejaVuSans.ttf`, `${FONT_DIR}/DejaVuSans-Bold.ttf`],
} as const;

/** Chart-wide look shared by every bench chart: the font resvg has, readable sizes, white paper. */
export const CHART_CONFIG = {
  font: CHART_FONT.family,
  background: 'white',
  padding: 8,
  title: { fontSize: 15, anchor: 'start', subtitleFontSize: 12, subtitleColor: '#555' },
  axis: { labelFontSize: 12, titleFontSize: 13, titleFontWeight: 'normal', gridColor: '#e6e6e6' },
  legend: { labelFontSize: 12, titleFontSize: 12, labelLimit: 320 },
  view: { stroke: '#ccc' },
} as const;

export interface RenderedChart {
  svg: string;
  png: Buffer;
  /** Vega-Lite's and Vega's warnings and errors (a spec mistake, e.g. a field with no data). */
  warnings: string[];
}

/** `spec` as SVG and as a PNG at `scale` times its size (2: sharp on high-density screens). */
export async function renderChart(spec: TopLevelSpec, scale = 2): Promise<RenderedChart> {
  const missing = CHART_FONT.files.filter((f) => !existsSync(f));
  if (missing.length) throw new Error(`Cannot render charts: font ${missing.join(', ')} missing (Debian package fonts-dejavu-core; make apt installs it)`);
  const warnings: string[] = [];
  const log = logger(Warn, undefined, (_method, level, input) => warnings.push(`${level} ${input.map(String).join(' ')}`));
  const vg = compile({ ...spec, config: { ...CHART_CONFIG, ...spec.config } } as TopLevelSpec, { logger: log }).spec;
  const view = new View(parse(vg), { renderer: 'none', logger: log });
  let svg: string;
  try {
    svg = await view.toSVG();
  } finally {
    view.finalize();
  }
  const resvg = new Resvg(svg, {
    font: { loadSystemFonts: false, fontFiles: [...CHART_FONT.files], defaultFontFamily: CHART_FONT.family },
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
  });
  return { svg, png: resvg.render().asPng(), warnings };
}
