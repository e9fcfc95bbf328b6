/**
 * The SVG line chart: d3's ticks and nice domains on ranges worked out by hand (d3-array `ticks`, d3-scale
 * `linear.nice`), tick labels, where points land in SVG coordinates (the layout's margins derived by hand from the
 * font's advance widths), gaps at missing values, one-point and empty series, escaping, and the errors.
 */
import { expect } from 'chai';
import sharp from 'sharp';
import {
  chartLayout,
  escapeXml,
  formatTicks,
  LineChart,
  linearTicks,
  niceDomain,
  Panel,
  PLOT_HEIGHT,
  PLOT_WIDTH,
  renderLineChartSvg,
  Series,
  textWidth,
} from '../../src/common/svg_chart';

const panel = (series: Series[], markers = false, title = 'p'): Panel => ({ title, xTitle: 'x', yTitle: 'y', legendTitle: 'lt', series, markers });
const chart = (panels: Panel[], title?: string): LineChart => ({ title, panels, fontFamily: 'DejaVu Sans' });
const pts = (...xy: [number, number][]) => xy.map(([x, y]) => ({ x, y }));
/** The `d` of the series' line, or undefined when none was drawn. */
const lineOf = (svg: string, name: string) => new RegExp(`<path class="line" data-series="${name}" d="([^"]*)"`).exec(svg)?.[1];
const pointsOf = (svg: string, name: string) =>
  [...svg.matchAll(new RegExp(`<circle class="point" data-series="${name}" cx="([^"]*)" cy="([^"]*)"`, 'g'))].map((m) => [Number(m[1]), Number(m[2])]);

describe('svg_chart', () => {
  it('linearTicks: steps of 1, 2 or 5 times a power of ten, exact decimals, inclusive ends', () => {
    // 1/10 = 0.1 -> step 0.1, values computed as i / 10 (0.3, not 0.1 * 3 = 0.30000000000000004).
    expect(linearTicks(0, 1, 10)).to.deep.equal([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
    // 300 / 14 = 21.4 = 2.14e1, 2.14 in [sqrt 2, sqrt 10) -> 2e1.
    expect(linearTicks(0, 300, 14)).to.deep.equal(Array.from({ length: 16 }, (_, i) => 20 * i));
    // 22 / 14 = 1.57 -> 2.
    expect(linearTicks(8, 30, 14)).to.deep.equal([8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30]);
    // 2 / 5 = 0.4 = 4e-1, 4 in [sqrt 10, sqrt 50) -> 5e-1.
    expect(linearTicks(-1, 1, 5)).to.deep.equal([-1, -0.5, 0, 0.5, 1]);
    // 89,000 / 5 = 1.78e4 -> 2e4; the ends 1,000 and 90,000 are not multiples of it.
    expect(linearTicks(1000, 90000, 5)).to.deep.equal([20000, 40000, 60000, 80000]);
    expect(linearTicks(1, 0, 5)).to.deep.equal([1, 0.8, 0.6, 0.4, 0.2, 0]);
    expect(linearTicks(3, 3, 5)).to.deep.equal([3]);
    expect(linearTicks(0, NaN, 5)).to.deep.equal([]);
  });

  it('niceDomain: widened to whole steps until the step settles', () => {
    expect(niceDomain(9, 299, 14)).to.deep.equal([0, 300]);
    expect(niceDomain(9, 29, 14)).to.deep.equal([8, 30]);
    // 2.19 / 6 = 0.365 -> step 0.5: [0, 2.5], whose step is 0.5 again.
    expect(niceDomain(0, 2.19, 6)).to.deep.equal([0, 2.5]);
    expect(niceDomain(0.013, 0.987, 10)).to.deep.equal([0, 1]);
    // 0.43 / 6 = 7.17e-2, 7.17 >= sqrt 50 -> step 1e-1: [-0.4, 0.2], whose step 0.6 / 6 is 1e-1 again.
    expect(niceDomain(-0.31, 0.12, 6)).to.deep.equal([-0.4, 0.2]);
    expect(niceDomain(4, 4, 6)).to.deep.equal([4, 4]);
  });

  it('formatTicks: the decimals of the step, thousands separators', () => {
    expect(formatTicks([0, 0.5, 1, 1.5, 2])).to.deep.equal(['0.0', '0.5', '1.0', '1.5', '2.0']);
    expect(formatTicks([0, 20000, 40000])).to.deep.equal(['0', '20,000', '40,000']);
    expect(formatTicks([-0.2, 0, 0.2])).to.deep.equal(['-0.2', '0.0', '0.2']);
    expect(formatTicks([0.01, 0.02, 0.03])).to.deep.equal(['0.01', '0.02', '0.03']);
    expect(formatTicks([-1000000, 0, 1000000])).to.deep.equal(['-1,000,000', '0', '1,000,000']);
  });

  it('textWidth: DejaVu Sans advance widths (2048 units per em)', () => {
    expect(textWidth('0', 2048)).to.equal(1303);
    expect(textWidth('0.0', 10)).to.be.closeTo(((1303 + 651 + 1303) / 2048) * 10, 1e-12);
    expect(textWidth('W', 2048, true)).to.be.closeTo(2025 * 1.1, 1e-9);
  });

  it('points land on the linear scales of the nice domains, inside the plot area', () => {
    const c = chart([panel([{ name: 'a', points: pts([0, 0], [5, 0.5], [10, 1]) }])]);
    const layout = chartLayout(c);
    // x: 10 / 14 -> step 1, domain [0, 10]; y: [0, 1] with 0 included, 1 / 6 -> step 0.2.
    expect(layout.panels[0].xDomain).to.deep.equal([0, 10]);
    expect(layout.panels[0].yDomain).to.deep.equal([0, 1]);
    expect(layout.panels[0].yTicks).to.deep.equal([0, 0.2, 0.4, 0.6, 0.8, 1]);
    // Left margin: padding 12, y title 11 + 6, widest tick label '0.0' (3257/2048 * 10 px), tick 5 + 2.
    // Top: padding 12, panel title 13 + 8. The plot is 560 x 220.
    const left = 12 + 11 + 6 + (3257 / 2048) * 10 + 7;
    expect(layout.panels[0].plot).to.deep.equal({ left, top: 33, width: PLOT_WIDTH, height: PLOT_HEIGHT });
    const svg = renderLineChartSvg(c);
    expect(lineOf(svg, 'a')).to.equal('M51.9,253L331.9,143L611.9,33');
    expect(svg).to.match(new RegExp(`^<svg [^>]*width="${layout.width}" height="${layout.height}"`));
    expect(pointsOf(svg, 'a')).to.deep.equal([]);
  });

  it('panels share the x domain; each has its own y domain', () => {
    const c = chart([
      panel([{ name: 'loss', points: pts([0, 2], [50, 1]) }], false, 'top'),
      panel([{ name: 'AP', points: pts([100, 10], [200, 30]) }], true, 'bottom'),
    ]);
    const layout = chartLayout(c);
    expect(layout.panels.map((p) => p.xDomain)).to.deep.equal([[0, 200], [0, 200]]);
    expect(layout.panels.map((p) => p.yDomain)).to.deep.equal([[0, 2], [0, 30]]);
    const [top, bottom] = layout.panels.map((p) => p.plot);
    expect(bottom.left).to.equal(top.left);
    expect(bottom.top).to.be.greaterThan(top.top + top.height);
    const svg = renderLineChartSvg(c);
    // AP at x = 100 is half way across; y = 10 is a third of the way up from the bottom of [0, 30].
    const x = (v: number) => Math.round((top.left + (v / 200) * PLOT_WIDTH) * 100) / 100;
    const y = (v: number) => Math.round((bottom.top + PLOT_HEIGHT - (v / 30) * PLOT_HEIGHT) * 100) / 100;
    expect(pointsOf(svg, 'AP')).to.deep.equal([[x(100), y(10)], [x(200), y(30)]]);
    expect(lineOf(svg, 'AP')).to.equal(`M${x(100)},${y(10)}L${x(200)},${y(30)}`);
  });

  it('missing values break the line; a lone point gets a dot; a series with no value is named in the legend; no NaN is written', () => {
    const svg = renderLineChartSvg(
      chart([
        panel([
          { name: 'gappy', points: pts([0, 1], [1, 2], [2, NaN], [3, 3], [4, 2]) },
          { name: 'lone', points: pts([2, 1], [Infinity, 1]) },
          { name: 'empty', points: pts([1, NaN], [2, -Infinity]) },
          { name: 'none', points: [] },
        ]),
      ]),
    );
    expect(lineOf(svg, 'gappy')?.match(/M/g)).to.have.length(2);
    expect(lineOf(svg, 'gappy')?.match(/L/g)).to.have.length(2);
    expect(pointsOf(svg, 'gappy')).to.have.length(0);
    expect(pointsOf(svg, 'lone')).to.have.length(1);
    expect(lineOf(svg, 'empty')).to.equal(undefined);
    expect(svg).to.contain('>empty (no finite value)</text>');
    expect(svg).to.contain('>none (no finite value)</text>');
    expect(svg).not.to.match(/NaN|Infinity/);
  });

  it('a single point: one unit of x on each side, y from 0; drawn as a dot', () => {
    const c = chart([panel([{ name: 'total', points: pts([9, 1.5]) }])]);
    expect(chartLayout(c).panels[0].xDomain).to.deep.equal([8, 10]);
    expect(chartLayout(c).panels[0].yDomain).to.deep.equal([0, 1.6]);
    const svg = renderLineChartSvg(c);
    expect(pointsOf(svg, 'total')).to.have.length(1);
    expect(svg).not.to.match(/NaN|Infinity/);
    // Iteration 0 alone: the x domain stays >= 0, and with integerX the ticks are whole iterations.
    const first: LineChart = { ...chart([panel([{ name: 'total', points: pts([0, 0]) }])]), integerX: true };
    expect(chartLayout(first).panels[0]).to.deep.include({ xDomain: [0, 1], yDomain: [0, 1], xTicks: [0, 1] });
  });

  it('x labels that would overlap are thinned to every other tick; gridlines stay at every tick', () => {
    // 0..140,000 in 14 ticks: 40 px apart, narrower than '140,000' (41.4 px) and a 4 px gap.
    const c = chart([panel([{ name: 'a', points: pts([0, 1], [139999, 2]) }])]);
    const layout = chartLayout(c);
    expect(layout.panels[0].xTicks).to.deep.equal(Array.from({ length: 15 }, (_, i) => 10000 * i));
    const svg = renderLineChartSvg(c);
    const xLabels = [...svg.matchAll(/<text [^>]*text-anchor="middle">([\d,]+)<\/text>/g)].map((m) => m[1]);
    expect(xLabels).to.deep.equal(['0', '20,000', '40,000', '60,000', '80,000', '100,000', '120,000', '140,000']);
    expect(/<path d="([^"]*)" stroke="#dddddd"/.exec(svg)![1].match(/V/g)).to.have.length(15);
  });

  it('text and names are XML-escaped; the document is well-formed (sharp parses it)', async () => {
    expect(escapeXml(`<a href="x">'&'</a>`)).to.equal('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    const c = chart([panel([{ name: `a<b & 'c'`, points: pts([0, 1], [1, 2]) }], true, 'x < y & "z"')], '</svg><script>');
    const svg = renderLineChartSvg(c);
    expect(svg).to.contain('>&lt;/svg&gt;&lt;script&gt;</text>');
    expect(svg).to.contain('>x &lt; y &amp; &quot;z&quot;</text>');
    expect(svg).to.contain(`data-series="a&lt;b &amp; &#39;c&#39;"`);
    expect(svg).not.to.contain('<script');
    const meta = await sharp(Buffer.from(svg)).metadata();
    expect([meta.format, meta.width]).to.deep.equal(['svg', chartLayout(c).width]);
  });

  it('a chart with nothing to draw is refused with a message saying what is missing', () => {
    expect(() => renderLineChartSvg(chart([]))).to.throw('line chart: no panel to draw');
    expect(() => renderLineChartSvg(chart([panel([])]))).to.throw('line chart: panel "p" has no series');
    expect(() => renderLineChartSvg(chart([panel([{ name: 'a', points: pts([0, NaN]) }], false, 'loss')]))).to.throw(
      'line chart: no finite point in "loss" (every value is missing, NaN or infinite)',
    );
  });
});
