// The bench's chart types as Vega-Lite specs (rendered by chart-render.ts): grouped bars with the
// spread of rounds, lines over a scale, CDFs, and side-by-side panels. Each contender has one
// colour on every chart (CONTENDER_COLOURS; an unlisted name gets a spare colour picked by its
// name, so it too is the same everywhere). A continuous axis turns logarithmic when its values
// span a decade or more.
import type { TopLevelSpec } from 'vega-lite';

type Spec = Record<string, unknown>;

/** Contender -> colour, in legend order: ours (blues, greens, purples), upstream (orange, red), baselines (greys). */
export const CONTENDER_COLOURS: ReadonlyArray<readonly [string, string]> = [
  ['ours', '#4c78a8'],
  ['ours XDP', '#1d4f91'],
  ['ours tc', '#72b7b2'],
  ['ours (socket LB)', '#54a24b'],
  ['ours (distinct)', '#6fa8dc'],
  ['ours (shared)', '#8e6cc0'],
  ['ours (conflict)', '#c05fa0'],
  ['kube-proxy nftables', '#f58518'],
  ['kube-proxy iptables', '#d62728'],
  // The control part's shared-address rows: lighter shades of their contender, listed so no two
  // share a spare colour by hash (ours' and nftables' did).
  ['ours (shared addresses)', '#9ecae9'],
  ['kube-proxy nftables (shared addresses)', '#ffbf79'],
  ['kube-proxy iptables (shared addresses)', '#ff9d98'],
  ['routing (no NAT)', '#79706e'],
  ['pod IP (direct)', '#9d755d'],
  ['XDP_TX floor', '#8c8c8c'],
  ['XDP_PASS floor', '#bab0ac'],
];
const SPARE = ['#eeca3b', '#ff9da6', '#439894', '#b6992d', '#d67195', '#83bcb6', '#e377c2', '#bcbd22'];
const KNOWN = new Map(CONTENDER_COLOURS);

export function contenderColour(name: string): string {
  const known = KNOWN.get(name);
  if (known) return known;
  let h = 0;
  for (const c of name) h = (h * 31 + c.codePointAt(0)!) >>> 0;
  return SPARE[h % SPARE.length];
}

/** The contenders of a chart in legend order (listed ones first, then others in order of appearance). */
export function contenderOrder(names: Iterable<string>): string[] {
  const present = [...new Set(names)];
  const rank = (n: string): number => {
    const i = CONTENDER_COLOURS.findIndex(([k]) => k === n);
    return i < 0 ? CONTENDER_COLOURS.length + present.indexOf(n) : i;
  };
  return present.sort((a, b) => rank(a) - rank(b));
}

function colour(contenders: Iterable<string>, title: string | null = null): Spec {
  const domain = contenderOrder(contenders);
  return { field: 'contender', type: 'nominal', title, sort: domain, scale: { domain, range: domain.map(contenderColour) } };
}

/** Whether positive values span at least a decade (then a log scale reads better). */
export function spansDecade(values: Iterable<number>): boolean {
  const v = [...values].filter((x) => Number.isFinite(x) && x > 0);
  return v.length >= 2 && Math.max(...v) / Math.min(...v) >= 10;
}

const small = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 3 });
const large = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
/** A figure for a label: whole numbers from 100 up, else 3 significant digits (1,252; 97; 0.803). */
export const label = (v: number): string => (Math.abs(v) >= 100 ? large : small).format(v);
const axisTitle = (t: string, log: boolean): string => (log ? `${t} (log scale)` : t);

const title = (text: string, subtitle?: string): Spec => (subtitle ? { text, subtitle } : { text });
const finite = (v: number | undefined): v is number => v !== undefined && Number.isFinite(v);

export interface BarDatum {
  /** The group on the x axis; when every bar has the same one, the contenders are the x axis. */
  category: string;
  contender: string;
  y: number;
  /** min and max over rounds (a whisker), when there were several. */
  lo?: number;
  hi?: number;
  /** A goal drawn as a dashed tick across the bar (an upper or lower bound in the y unit). */
  target?: number;
}

export interface BarOptions {
  title: string;
  subtitle?: string;
  yTitle: string;
  xTitle?: string | null;
  data: BarDatum[];
  width?: number;
  height?: number;
  /** Force a scale type; by default log when the values span a decade. */
  log?: boolean;
}

/** Grouped bars with value labels, min-max whiskers and target ticks. */
export function barPanel(o: BarOptions): Spec {
  const grouped = new Set(o.data.map((d) => d.category)).size > 1;
  const values = o.data.map((d) => ({ ...d, top: Math.max(d.y, finite(d.hi) ? d.hi : d.y), label: label(d.y) }));
  const all = o.data.flatMap((d) => [d.y, d.lo ?? d.y, d.hi ?? d.y, d.target ?? d.y]).filter((v) => Number.isFinite(v) && v > 0);
  const log = o.log ?? spansDecade(all);
  // A log axis from the power of ten below the smallest value (bars grow from there), with room
  // above the tallest bar for its label.
  const yScale = log
    ? { type: 'log', nice: false, domain: [10 ** Math.floor(Math.log10(Math.min(...all))), Math.max(...all) * 1.6] }
    : { type: 'linear', zero: true, ...(all.length ? {} : { domain: [0, 1] }) };
  const y = (field: string, extra: Spec = {}): Spec => ({ field, type: 'quantitative', ...extra });
  const order = contenderOrder(o.data.map((d) => d.contender));
  return {
    title: title(o.title, o.subtitle),
    width: o.width ?? (grouped ? 120 * new Set(o.data.map((d) => d.category)).size + 40 * order.length : 70 * order.length + 60),
    height: o.height ?? 300,
    data: { values },
    encoding: {
      x: grouped
        ? { field: 'category', type: 'nominal', sort: null, title: o.xTitle ?? null, axis: { labelAngle: 0, labelLimit: 220 } }
        : { field: 'contender', type: 'nominal', sort: order, title: o.xTitle ?? null, axis: { labelAngle: -20, labelLimit: 220 } },
      ...(grouped ? { xOffset: { field: 'contender', type: 'nominal', sort: order } } : {}),
    },
    // Only the bars take the contender's colour: whiskers, labels and target ticks stay dark.
    layer: [
      { mark: { type: 'bar' }, encoding: { y: y('y', { title: axisTitle(o.yTitle, log), stack: null, scale: yScale }), color: colour(o.data.map((d) => d.contender)) } },
      ...(o.data.some((d) => finite(d.lo) && finite(d.hi))
        ? [{ transform: [{ filter: 'isValid(datum.lo) && isValid(datum.hi)' }], mark: { type: 'rule', color: '#222', strokeWidth: 1.5 }, encoding: { y: y('lo'), y2: { field: 'hi' } } }]
        : []),
      { mark: { type: 'text', dy: -7, fontSize: 11, color: '#222' }, encoding: { y: y('top'), text: { field: 'label' } } },
      ...(o.data.some((d) => finite(d.target))
        ? [{ transform: [{ filter: 'isValid(datum.target)' }], mark: { type: 'tick', color: '#000', thickness: 3 }, encoding: { y: y('target') } }]
        : []),
    ],
  };
}

export interface LineDatum {
  contender: string;
  x: number;
  y: number;
  lo?: number;
  hi?: number;
  /** A second split drawn as the line's dash (e.g. p50 / p99). */
  series?: string;
}

export interface LineOptions {
  title: string;
  subtitle?: string;
  xTitle: string;
  yTitle: string;
  data: LineDatum[];
  /** Label the x axis at exactly the measured x values (a scale sweep). */
  xTicksAtData?: boolean;
  /** Step lines starting at 0 on y (an empirical CDF). */
  cdf?: boolean;
  width?: number;
  height?: number;
}

/** Lines with points per contender (dash per series), min-max whiskers; log axes where values span a decade. */
export function linePanel(o: LineOptions): Spec {
  const xs = o.data.map((d) => d.x);
  const logX = spansDecade(xs);
  const logY = !o.cdf && spansDecade(o.data.flatMap((d) => [d.y, d.lo ?? d.y, d.hi ?? d.y]));
  const series = o.data.some((d) => d.series !== undefined);
  const ticks = o.xTicksAtData ? [...new Set(xs)].sort((a, b) => a - b) : undefined;
  return {
    title: title(o.title, o.subtitle),
    width: o.width ?? 420,
    height: o.height ?? 280,
    data: { values: o.data },
    encoding: {
      x: {
        field: 'x', type: 'quantitative', title: axisTitle(o.xTitle, logX),
        scale: logX ? { type: 'log', nice: false, padding: 14 } : { type: 'linear', zero: false, padding: o.cdf ? 0 : 14 },
        axis: ticks ? { values: ticks, format: ',d', labelFlush: false } : { format: '~s' },
      },
      color: colour(o.data.map((d) => d.contender)),
    },
    layer: [
      {
        mark: o.cdf ? { type: 'line', interpolate: 'step-after', strokeWidth: 2 } : { type: 'line', strokeWidth: 2 },
        encoding: {
          y: { field: 'y', type: 'quantitative', title: axisTitle(o.yTitle, logY), scale: o.cdf ? { domain: [0, 1] } : logY ? { type: 'log' } : { type: 'linear', zero: true } },
          ...(series ? { strokeDash: { field: 'series', type: 'nominal', title: null, scale: { range: [[1, 0], [6, 4], [2, 2], [8, 3, 2, 3]] },
            legend: { symbolType: 'stroke', symbolSize: 500, symbolStrokeWidth: 2, symbolStrokeColor: '#333' } } } : {}),
        },
      },
      // Points in their own layer, so that the dash legend shows dashes, not dots.
      ...(o.cdf ? [] : [{ mark: { type: 'point', filled: true, size: 55, opacity: 1 }, encoding: { y: { field: 'y', type: 'quantitative' } } }]),
      ...(o.data.some((d) => finite(d.lo) && finite(d.hi))
        ? [{
          transform: [{ filter: 'isValid(datum.lo) && isValid(datum.hi)' }],
          mark: { type: 'rule', strokeWidth: 1.5 },
          encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } },
        }]
        : []),
    ],
  };
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** One panel as a chart. */
export function chart(panel: Spec): TopLevelSpec {
  return { $schema: SCHEMA, ...panel } as unknown as TopLevelSpec;
}

/** Panels side by side under one title and one legend: each panel's colour scale gets the union domain. */
export function panels(o: { title: string; subtitle?: string; panels: Spec[]; columns?: number }): TopLevelSpec {
  const colourOf = (p: Spec): Spec | undefined => (p.encoding as Spec | undefined)?.color as Spec | undefined;
  const all = o.panels.flatMap((p) => ((colourOf(p)?.scale as Spec | undefined)?.domain as string[] | undefined) ?? []);
  const shared = colour(all);
  return {
    $schema: SCHEMA,
    title: { ...title(o.title, o.subtitle), fontSize: 16 },
    concat: o.panels.map((p) => (colourOf(p) ? { ...p, encoding: { ...(p.encoding as Spec), color: shared } } : p)),
    columns: o.columns ?? o.panels.length,
    resolve: { scale: { color: 'shared', y: 'independent' } },
  } as unknown as TopLevelSpec;
}
