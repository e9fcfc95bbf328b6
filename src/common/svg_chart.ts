/**
 * Line charts as SVG text, one or more panels stacked vertically over a shared x axis: each panel has a title,
 * linear axes with "nice" ticks and gridlines, one coloured line per series and a legend on its right. No DOM, no
 * canvas: the SVG is a string, and sharp (librsvg) rasterizes it where a PNG is wanted.
 *
 * Scales follow Vega-Lite's defaults for a quantitative line chart, so the pictures read like the Vega-Lite charts
 * resvision drew before: the y domain includes 0, the x domain does not; the number of ticks asked for is
 * ceil(axis length / 40 px) (Vega-Lite's `config.axis` tick count); series colours are Tableau 10 (Vega's default
 * categorical scheme). Domains are widened to whole tick steps ("nice"), so every axis ends on a labelled tick.
 * Tick values and nice domains are d3's algorithm (d3-array `ticks`/`tickIncrement`, d3-scale `linear.nice`,
 * https://github.com/d3/d3-array/blob/main/src/ticks.js): the step is 1, 2 or 5 times a power of ten, the multiple
 * chosen by comparing the raw step with the geometric means sqrt(2), sqrt(10), sqrt(50), a form of Heckbert's
 * "nice numbers" (Graphics Gems, 1990).
 *
 * Coordinates are SVG user units, y down; sharp draws one unit as one pixel at its default density (72 dpi), two at 144.
 */

/** One curve: points in data coordinates, drawn in the given order. */
export interface Series {
  /** Legend label. */
  name: string;
  /**
   * Points; a point with a non-finite x or y is left out and breaks the line there (a gap), as d3's `line.defined`.
   */
  points: readonly { x: number; y: number }[];
}

/** One chart panel: its own y axis and legend; the x axis is shared by all panels of a chart. */
export interface Panel {
  title: string;
  xTitle: string;
  yTitle: string;
  legendTitle: string;
  series: readonly Series[];
  /** Draw a dot at every point (series of a few points, evaluations). Without it only isolated points get a dot. */
  markers: boolean;
}

/** What {@link renderLineChartSvg} draws. */
export interface LineChart {
  /** Drawn at the top left, above the panels. */
  title?: string;
  panels: readonly Panel[];
  /** SVG `font-family` of every text (one family name, e.g. the bundled font's). */
  fontFamily: string;
  /** x values are counts (iterations): ticks at whole numbers only. */
  integerX?: boolean;
}

/** An axis-aligned rectangle in SVG user units. */
export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Where a panel is drawn and how data maps onto it. */
export interface PanelLayout {
  /** The plotting area (inside the axes). */
  plot: Rect;
  /** Nice x and y domains, [low, high]. */
  xDomain: [number, number];
  yDomain: [number, number];
  xTicks: number[];
  yTicks: number[];
}

/** The whole picture's size and each panel's layout. */
export interface ChartLayout {
  width: number;
  height: number;
  panels: PanelLayout[];
}

/** Size of each panel's plotting area, Vega-Lite's 560 x 220 of the earlier chart. */
export const PLOT_WIDTH = 560;
export const PLOT_HEIGHT = 220;

const PAD = 12;
const FONT = { title: 13, panelTitle: 13, axisTitle: 11, label: 10, legendTitle: 11, legendLabel: 10 };
const TICK = 5;
const PANEL_GAP = 24;
const LEGEND_GAP = 18;
const LEGEND_ROW = 16;
/** Vega's `tableau10` scheme. */
const COLOURS = ['#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac'];
const GRID = '#dddddd';
const AXIS = '#888888';

const E10 = Math.sqrt(50);
const E5 = Math.sqrt(10);
const E2 = Math.sqrt(2);

/**
 * d3-array's `tickSpec`: ticks are `i * inc` for i in [i1, i2] when inc > 0, `i / -inc` when inc < 0 (dividing by an
 * integer keeps 0.3 from becoming 0.30000000000000004).
 */
function tickSpec(start: number, stop: number, count: number): [number, number, number] {
  const step = (stop - start) / Math.max(0, count);
  const power = Math.floor(Math.log10(step));
  const error = step / Math.pow(10, power);
  const factor = error >= E10 ? 10 : error >= E5 ? 5 : error >= E2 ? 2 : 1;
  let i1: number;
  let i2: number;
  let inc: number;
  if (power < 0) {
    inc = Math.pow(10, -power) / factor;
    i1 = Math.round(start * inc);
    i2 = Math.round(stop * inc);
    if (i1 / inc < start) ++i1;
    if (i2 / inc > stop) --i2;
    inc = -inc;
  } else {
    inc = Math.pow(10, power) * factor;
    i1 = Math.round(start / inc);
    i2 = Math.round(stop / inc);
    if (i1 * inc < start) ++i1;
    if (i2 * inc > stop) --i2;
  }
  if (i2 < i1 && count >= 0.5 && count < 2) return tickSpec(start, stop, count * 2);
  return [i1, i2, inc];
}

/**
 * Tick values between `lo` and `hi` (inclusive), about `count` of them, at 1, 2 or 5 times a power of ten
 * (d3-array `ticks`).
 * @returns ascending values; `[lo]` when lo == hi; `[]` when either is not finite or count <= 0.
 */
export function linearTicks(lo: number, hi: number, count: number): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(count > 0)) return [];
  if (lo === hi) return [lo];
  const [a, b] = lo < hi ? [lo, hi] : [hi, lo];
  const [i1, i2, inc] = tickSpec(a, b, count);
  if (!(i2 >= i1)) return [];
  const ticks = Array.from({ length: i2 - i1 + 1 }, (_, i) => (inc < 0 ? (i1 + i) / -inc : (i1 + i) * inc));
  return lo < hi ? ticks : ticks.reverse();
}

/** The tick step d3 would use for this range: > 0 a step, < 0 the reciprocal of a step, 0 or NaN for none. */
function tickIncrement(lo: number, hi: number, count: number): number {
  return tickSpec(lo, hi, count)[2];
}

/**
 * Widen [lo, hi] outwards to whole multiples of its tick step, so the axis starts and ends on a tick (d3-scale
 * `linear.nice`: repeated until the step stops changing; a domain whose step does not settle in 10 rounds, possible
 * only for a count below 2, is returned as it was).
 * @param lo must be <= hi; equal values are returned as they are.
 */
export function niceDomain(lo: number, hi: number, count: number): [number, number] {
  let start = lo;
  let stop = hi;
  let previous: number | undefined;
  for (let iter = 0; iter < 10 && start < stop; iter++) {
    const step = tickIncrement(start, stop, count);
    if (step === previous) return [start, stop];
    if (step > 0) {
      start = Math.floor(start / step) * step;
      stop = Math.ceil(stop / step) * step;
    } else if (step < 0) {
      start = Math.ceil(start * step) / step;
      stop = Math.floor(stop * step) / step;
    } else {
      break;
    }
    previous = step;
  }
  return [lo, hi];
}

/**
 * Tick labels with as many decimals as the tick step needs and thousands separators (d3-format's `,f` with d3's
 * `precisionFixed(step)`, what a d3 linear scale's `tickFormat` gives): 0.0, 0.5, 1.0; 0, 20, 40; 1,000, 2,000.
 */
export function formatTicks(ticks: readonly number[]): string[] {
  if (ticks.length === 0) return [];
  const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : Math.abs(ticks[0]);
  // 1e-9 keeps a step of 0.1 stored as 0.09999... at one decimal.
  const decimals = step > 0 ? Math.max(0, -Math.floor(Math.log10(step) + 1e-9)) : 0;
  return ticks.map((t) => {
    const text = (Math.abs(t) < step * 1e-9 ? 0 : t).toFixed(decimals);
    const [int, frac] = text.split('.');
    const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    return frac === undefined ? grouped : `${grouped}.${frac}`;
  });
}

/** Escape text for an SVG text node or a double-quoted attribute. */
export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/**
 * Advance widths of DejaVu Sans (fonts/DejaVuSans.ttf, 2048 units per em) for ASCII 32..126, read from the font's
 * `hmtx` table with scripts/font_widths.mjs. Used to size margins and legends; nothing is clipped by them.
 */
const DEJAVU_ADVANCE = [
  651, 821, 942, 1716, 1303, 1946, 1597, 563, 799, 799, 1024, 1716, 651, 739, 651, 690, 1303, 1303, 1303, 1303, 1303,
  1303, 1303, 1303, 1303, 1303, 690, 690, 1716, 1716, 1716, 1087, 2048, 1401, 1405, 1430, 1577, 1294, 1178, 1587,
  1540, 604, 604, 1343, 1141, 1767, 1532, 1612, 1235, 1612, 1423, 1300, 1251, 1499, 1401, 2025, 1403, 1251, 1403,
  799, 690, 799, 1716, 1024, 1024, 1255, 1300, 1126, 1300, 1260, 721, 1300, 1298, 569, 569, 1186, 569, 1995, 1298,
  1253, 1300, 1300, 842, 1067, 803, 1298, 1212, 1675, 1212, 1212, 1075, 1303, 690, 1303, 1716,
];

/**
 * Width of `text` set in DejaVu Sans at `fontSize` px. Other characters count as a digit's width; bold (synthesized
 * or DejaVu Sans Bold) is taken as 10% wider, an estimate that errs wide.
 */
export function textWidth(text: string, fontSize: number, bold = false): number {
  let units = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0) as number;
    units += c >= 32 && c < 127 ? DEJAVU_ADVANCE[c - 32] : 1303;
  }
  return (units / 2048) * fontSize * (bold ? 1.1 : 1);
}

/** Finite points of a series, split where a point is missing. */
function runs(series: Series): { x: number; y: number }[][] {
  const out: { x: number; y: number }[][] = [[]];
  for (const p of series.points) {
    if (Number.isFinite(p.x) && Number.isFinite(p.y)) out[out.length - 1].push(p);
    else if (out[out.length - 1].length > 0) out.push([]);
  }
  return out.filter((r) => r.length > 0);
}

/** [min, max] of the finite values, or undefined when there are none. */
function extent(values: Iterable<number>): [number, number] | undefined {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : undefined;
}

/**
 * A nice domain for data spanning [lo, hi]. A single value v gets one unit on each side (a thousandth of v if
 * larger) without crossing 0, so data >= 0 (iterations, losses) keeps a domain >= 0; 0 alone gets [0, 1].
 */
function domainFor(lo: number, hi: number, count: number): [number, number] {
  if (lo !== hi) return niceDomain(lo, hi, count);
  const pad = Math.max(1, Math.abs(lo) / 1000);
  if (lo > 0) return niceDomain(Math.max(0, lo - pad), lo + pad, count);
  if (lo < 0) return niceDomain(lo - pad, Math.min(0, lo + pad), count);
  return [0, 1];
}

/** Number of ticks asked for along an axis of this length (Vega-Lite: one per 40 px). */
function tickCount(length: number): number {
  return Math.ceil(length / 40);
}

/**
 * Lay the chart out: picture size, each panel's plotting area, domains and ticks. The x domain is shared by all
 * panels (the extent of every finite point); each panel's y domain spans its own points and 0.
 * @throws Error when the chart has no panel, a panel has no series, or no panel holds a finite point.
 */
export function chartLayout(chart: LineChart): ChartLayout {
  if (chart.panels.length === 0) throw new Error('line chart: no panel to draw');
  for (const p of chart.panels) {
    if (p.series.length === 0) throw new Error(`line chart: panel "${p.title}" has no series`);
  }
  const finite = (p: Panel) => p.series.flatMap(runs).flat();
  const xExtent = extent(chart.panels.flatMap(finite).map((q) => q.x));
  if (!xExtent) {
    throw new Error(`line chart: no finite point in ${chart.panels.map((p) => `"${p.title}"`).join(', ')} (every value is missing, NaN or infinite)`);
  }
  const xDomain = domainFor(xExtent[0], xExtent[1], tickCount(PLOT_WIDTH));
  const xTicks = linearTicks(xDomain[0], xDomain[1], tickCount(PLOT_WIDTH)).filter((t) => !chart.integerX || Number.isInteger(t));
  const ys = chart.panels.map((p) => {
    const e = extent(finite(p).map((q) => q.y)) ?? [0, 0];
    const yDomain = domainFor(Math.min(0, e[0]), Math.max(0, e[1]), tickCount(PLOT_HEIGHT));
    return { yDomain, yTicks: linearTicks(yDomain[0], yDomain[1], tickCount(PLOT_HEIGHT)) };
  });
  // Left margin: the y title (rotated), then the widest y tick label, then the ticks; the same for every panel so
  // the plots line up under the shared x axis.
  const labelWidth = Math.max(...ys.flatMap((y) => formatTicks(y.yTicks).map((t) => textWidth(t, FONT.label))));
  const left = PAD + FONT.axisTitle + 6 + labelWidth + TICK + 2;
  let top = PAD + (chart.title ? FONT.title + 8 : 0);
  const panels: PanelLayout[] = [];
  for (const y of ys) {
    top += FONT.panelTitle + 8;
    panels.push({ plot: { left, top, width: PLOT_WIDTH, height: PLOT_HEIGHT }, xDomain, xTicks, ...y });
    top += PLOT_HEIGHT + TICK + 2 + FONT.label + 6 + FONT.axisTitle + PANEL_GAP;
  }
  const legendWidth = Math.max(
    ...chart.panels.map((p) =>
      Math.max(textWidth(p.legendTitle, FONT.legendTitle, true), ...p.series.map((s) => 20 + textWidth(legendLabel(s), FONT.legendLabel))),
    ),
  );
  const width = Math.max(left + PLOT_WIDTH + LEGEND_GAP + legendWidth, PAD + textWidth(chart.title ?? '', FONT.title, true)) + PAD;
  return { width: Math.ceil(width), height: Math.ceil(top - PANEL_GAP + PAD), panels };
}

/** A series' legend label; one with nothing to draw says so. */
function legendLabel(s: Series): string {
  return runs(s).length === 0 ? `${s.name} (no finite value)` : s.name;
}

/** A coordinate as SVG text: 2 decimals, never NaN (a bug upstream if it were). */
function num(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`line chart: non-finite coordinate ${v}`);
  return String(Math.round(v * 100) / 100);
}

/** Maps data values in `domain` linearly onto [r0, r1]. */
function scale(domain: [number, number], r0: number, r1: number): (v: number) => number {
  const [d0, d1] = domain;
  return (v) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0);
}

/**
 * Draw a line chart as a standalone SVG document (white background; every text in `chart.fontFamily`). Each series
 * is a `<path class="line" data-series="NAME">` (with one `M` per unbroken run of points) and, where dots are drawn,
 * `<circle class="point" data-series="NAME">` elements; `chartLayout(chart)` gives the scales they were drawn with.
 * Series past the tenth reuse the colours.
 * @throws Error as {@link chartLayout}.
 */
export function renderLineChartSvg(chart: LineChart): string {
  const layout = chartLayout(chart);
  const { width, height } = layout;
  const font = escapeXml(chart.fontFamily);
  const text = (x: number, y: number, size: number, s: string, extra = '') =>
    `<text x="${num(x)}" y="${num(y)}" font-size="${size}"${extra}>${escapeXml(s)}</text>`;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${font}">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ];
  if (chart.title) out.push(text(PAD, PAD + FONT.title, FONT.title, chart.title, ' font-weight="bold"'));
  chart.panels.forEach((panel, k) => {
    const { plot, xDomain, yDomain, xTicks, yTicks } = layout.panels[k];
    const right = plot.left + plot.width;
    const bottom = plot.top + plot.height;
    const sx = scale(xDomain, plot.left, right);
    const sy = scale(yDomain, bottom, plot.top);
    out.push(text(plot.left + plot.width / 2, plot.top - 8, FONT.panelTitle, panel.title, ' font-weight="bold" text-anchor="middle"'));
    // Gridlines, then the frame, then axes with ticks and labels.
    const grid = [
      ...xTicks.map((t) => `M${num(sx(t))},${num(plot.top)}V${num(bottom)}`),
      ...yTicks.map((t) => `M${num(plot.left)},${num(sy(t))}H${num(right)}`),
    ];
    out.push(`<path d="${grid.join('')}" stroke="${GRID}" stroke-width="1" fill="none"/>`);
    out.push(`<rect x="${num(plot.left)}" y="${num(plot.top)}" width="${plot.width}" height="${plot.height}" stroke="${GRID}" fill="none"/>`);
    const ticks = [
      `M${num(plot.left)},${num(bottom)}H${num(right)}`,
      `M${num(plot.left)},${num(plot.top)}V${num(bottom)}`,
      ...xTicks.map((t) => `M${num(sx(t))},${num(bottom)}v${TICK}`),
      ...yTicks.map((t) => `M${num(plot.left)},${num(sy(t))}h${-TICK}`),
    ];
    out.push(`<path d="${ticks.join('')}" stroke="${AXIS}" stroke-width="1" fill="none"/>`);
    const xLabelBase = bottom + TICK + 2 + FONT.label;
    const xLabels = formatTicks(xTicks);
    // Labels that would touch their neighbours are thinned to every k-th tick (Vega's "parity" label overlap).
    const spacing = xTicks.length > 1 ? Math.abs(sx(xTicks[1]) - sx(xTicks[0])) : Infinity;
    const every = Math.ceil((Math.max(...xLabels.map((s) => textWidth(s, FONT.label))) + 4) / spacing);
    xLabels.forEach((s, i) => {
      if (i % every === 0) out.push(text(sx(xTicks[i]), xLabelBase, FONT.label, s, ' text-anchor="middle"'));
    });
    formatTicks(yTicks).forEach((s, i) =>
      out.push(text(plot.left - TICK - 2, sy(yTicks[i]) + FONT.label * 0.35, FONT.label, s, ' text-anchor="end"')),
    );
    out.push(text(plot.left + plot.width / 2, xLabelBase + 6 + FONT.axisTitle, FONT.axisTitle, panel.xTitle, ' font-weight="bold" text-anchor="middle"'));
    const yTitleX = PAD + FONT.axisTitle;
    const yTitleY = plot.top + plot.height / 2;
    out.push(
      text(yTitleX, yTitleY, FONT.axisTitle, panel.yTitle, ` font-weight="bold" text-anchor="middle" transform="rotate(-90 ${num(yTitleX)} ${num(yTitleY)})"`),
    );
    // Series, then the legend.
    const legendX = right + LEGEND_GAP;
    out.push(text(legendX, plot.top + FONT.legendTitle, FONT.legendTitle, panel.legendTitle, ' font-weight="bold"'));
    panel.series.forEach((s, i) => {
      const colour = COLOURS[i % COLOURS.length];
      const name = escapeXml(s.name);
      const parts = runs(s);
      if (parts.length > 0) {
        const d = parts.map((r) => r.map((p, j) => `${j === 0 ? 'M' : 'L'}${num(sx(p.x))},${num(sy(p.y))}`).join('')).join('');
        out.push(`<path class="line" data-series="${name}" d="${d}" stroke="${colour}" stroke-width="1.5" fill="none" stroke-linejoin="round" stroke-linecap="round"/>`);
        for (const p of parts.flatMap((r) => (panel.markers || r.length === 1 ? r : []))) {
          out.push(`<circle class="point" data-series="${name}" cx="${num(sx(p.x))}" cy="${num(sy(p.y))}" r="2.5" fill="${colour}"/>`);
        }
      }
      const rowY = plot.top + FONT.legendTitle + 6 + LEGEND_ROW * i + LEGEND_ROW / 2;
      out.push(`<path d="M${num(legendX)},${num(rowY)}h15" stroke="${colour}" stroke-width="2"/>`);
      if (panel.markers) out.push(`<circle cx="${num(legendX + 7.5)}" cy="${num(rowY)}" r="3.5" fill="${colour}"/>`);
      out.push(text(legendX + 20, rowY + FONT.legendLabel * 0.35, FONT.legendLabel, legendLabel(s)));
    });
  });
  out.push('</svg>');
  return out.join('\n');
}
