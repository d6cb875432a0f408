// Line plots rendered into an RGB bitmap and encoded by png.ts: axes with "nice" ticks, tick and
// axis labels in the 5x7 font, one coloured polyline with point markers per series, and a legend.
import { GLYPH_HEIGHT, GLYPH_WIDTH, glyph } from './font.ts';
import { encodePng } from './png.ts';

export type Rgb = readonly [number, number, number];

export class Canvas {
  readonly width: number;
  readonly height: number;
  readonly pixels: Uint8Array;

  constructor(width: number, height: number, bg: Rgb = [255, 255, 255]) {
    this.width = width;
    this.height = height;
    this.pixels = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) this.pixels.set(bg, i * 3);
  }

  set(x: number, y: number, c: Rgb): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.pixels.set(c, (y * this.width + x) * 3);
  }

  get(x: number, y: number): Rgb {
    const i = (y * this.width + x) * 3;
    return [this.pixels[i], this.pixels[i + 1], this.pixels[i + 2]];
  }

  /** Bresenham line, `thick` pixels wide (square pen). */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thick = 1): void {
    x0 = Math.round(x0); y0 = Math.round(y0); x1 = Math.round(x1); y1 = Math.round(y1);
    const dx = Math.abs(x1 - x0);
    const dy = -Math.abs(y1 - y0);
    const sx = x0 < x1 ? 1 : -1;
    const sy = y0 < y1 ? 1 : -1;
    let err = dx + dy;
    const r = Math.floor((thick - 1) / 2);
    for (;;) {
      for (let i = -r; i < thick - r; i++) for (let j = -r; j < thick - r; j++) this.set(x0 + i, y0 + j, c);
      if (x0 === x1 && y0 === y1) break;
      const e2 = 2 * err;
      if (e2 >= dy) { err += dy; x0 += sx; }
      if (e2 <= dx) { err += dx; y0 += sy; }
    }
  }

  rect(x: number, y: number, w: number, h: number, c: Rgb): void {
    for (let i = 0; i < w; i++) for (let j = 0; j < h; j++) this.set(x + i, y + j, c);
  }

  /** Text with its top-left corner at (x, y); `vertical` draws bottom-to-top. Returns its length in px. */
  text(x: number, y: number, s: string, c: Rgb, scale = 1, vertical = false): number {
    let pen = 0;
    for (const ch of s) {
      const rows = glyph(ch);
      for (let row = 0; row < GLYPH_HEIGHT; row++) {
        for (let col = 0; col < GLYPH_WIDTH; col++) {
          if (!(rows[row] & (1 << (GLYPH_WIDTH - 1 - col)))) continue;
          for (let a = 0; a < scale; a++) {
            for (let b = 0; b < scale; b++) {
              const u = pen + col * scale + a;
              const v = row * scale + b;
              if (vertical) this.set(x + v, y - u, c);
              else this.set(x + u, y + v, c);
            }
          }
        }
      }
      pen += (GLYPH_WIDTH + 1) * scale;
    }
    return pen;
  }

  png(): Buffer {
    return encodePng(this.width, this.height, this.pixels);
  }
}

export function textWidth(s: string, scale = 1): number {
  return [...s].length * (GLYPH_WIDTH + 1) * scale;
}

/** About `count` round tick values (1, 2 or 5 times a power of ten) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi === lo) { hi = lo + 1; }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  const out: number[] = [];
  for (let i = first; i <= last; i++) out.push(Number((i * step).toPrecision(12)));
  return out;
}

/** 1234 -> "1.23K" style short labels; below 1 plain decimals (the font has no lower case, so no m/u). */
export function shortNumber(v: number): string {
  const a = Math.abs(v);
  if (a === 0) return '0';
  const units: Array<[number, string]> = [[1e9, 'G'], [1e6, 'M'], [1e3, 'K'], [1, '']];
  for (const [f, u] of units) {
    if (a >= f) {
      const x = v / f;
      return `${Number(x.toPrecision(3))}${u}`;
    }
  }
  return a >= 1e-4 ? String(Number(v.toPrecision(3))) : v.toExponential(1);
}

export interface Series {
  name: string;
  points: ReadonlyArray<readonly [number, number]>;
}

export interface PlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  width?: number;
  height?: number;
  /** Force the y axis to start at 0 (default true). */
  yFromZero?: boolean;
  /** Where the legend goes inside the plot area (default top-left). */
  legend?: 'top-left' | 'bottom-right';
}

export const PALETTE: readonly Rgb[] = [
  [31, 119, 180], [214, 39, 40], [44, 160, 44], [255, 127, 14], [148, 103, 189], [140, 86, 75], [23, 190, 207],
];

export function linePlot(o: PlotOptions): Canvas {
  // (legend placement and clipping are the caller's choice; see PlotOptions)
  const W = o.width ?? 720;
  const H = o.height ?? 440;
  const cv = new Canvas(W, H);
  const black: Rgb = [0, 0, 0];
  const grey: Rgb = [225, 225, 225];
  const left = 70, right = 20, top = 40, bottom = 50;
  const pw = W - left - right, ph = H - top - bottom;
  const pts = o.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  let xmin = Math.min(...pts.map((p) => p[0])), xmax = Math.max(...pts.map((p) => p[0]));
  let ymin = Math.min(...pts.map((p) => p[1])), ymax = Math.max(...pts.map((p) => p[1]));
  if (pts.length === 0) { xmin = 0; xmax = 1; ymin = 0; ymax = 1; }
  if (o.yFromZero ?? true) ymin = Math.min(0, ymin);
  const xt = niceTicks(xmin, xmax);
  const yt = niceTicks(ymin, ymax);
  if (xt.length > 1) { xmin = xt[0]; xmax = xt[xt.length - 1]; }
  if (yt.length > 1) { ymin = yt[0]; ymax = yt[yt.length - 1]; }
  const sx = (x: number): number => left + ((x - xmin) / (xmax - xmin || 1)) * pw;
  const sy = (y: number): number => top + ph - ((y - ymin) / (ymax - ymin || 1)) * ph;

  cv.text(Math.max(4, (W - textWidth(o.title, 2)) / 2), 10, o.title, black, 2);
  for (const t of xt) {
    cv.line(sx(t), top, sx(t), top + ph, grey);
    const s = shortNumber(t);
    cv.text(sx(t) - textWidth(s) / 2, top + ph + 6, s, black);
  }
  for (const t of yt) {
    cv.line(left, sy(t), left + pw, sy(t), grey);
    const s = shortNumber(t);
    cv.text(left - 6 - textWidth(s), sy(t) - 3, s, black);
  }
  cv.line(left, top, left, top + ph, black);
  cv.line(left, top + ph, left + pw, top + ph, black);
  cv.text(left + (pw - textWidth(o.xLabel)) / 2, H - 18, o.xLabel, black);
  cv.text(8, top + (ph + textWidth(o.yLabel)) / 2, o.yLabel, black, 1, true);

  o.series.forEach((s, i) => {
    const c = PALETTE[i % PALETTE.length];
    const p = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    for (let k = 1; k < p.length; k++) cv.line(sx(p[k - 1][0]), sy(p[k - 1][1]), sx(p[k][0]), sy(p[k][1]), c, 2);
    if (p.length <= 40) for (const [x, y] of p) cv.rect(sx(x) - 2, sy(y) - 2, 5, 5, c);
    // legend, top-left inside the plot area
    const bottomRight = o.legend === 'bottom-right';
    const widest = Math.max(...o.series.map((x) => textWidth(x.name)));
    const lx = bottomRight ? left + pw - widest - 34 : left + 10;
    const ly = bottomRight ? top + ph - 8 - (o.series.length - i) * 12 : top + 8 + i * 12;
    cv.rect(lx, ly + 1, 12, 5, c);
    cv.text(lx + 18, ly, s.name, black);
  });
  return cv;
}
