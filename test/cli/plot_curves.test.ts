/**
 * `resvision plot-curves`: the curves read from a hand-written JSONL log (expected points written out by hand from
 * the records), a resumed run's repeated iteration, COCO's -1 and null left out, and the picture: an SVG whose legend
 * names every series, and a PNG rasterized at 144 dpi, i.e. exactly twice the SVG's width and height in pixels.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { buildProgram } from '../../src/cli/main';
import { curvesChart, plotCurves, renderCurvesSvg, resolveMetricsFile, trainingCurves } from '../../src/cli/plot_curves';
import { readJsonl } from '../../src/engine/logger';

/** A detection run's log: two logged windows, an eval with an undefined APs, a checkpoint, then a resume that logs
 * iteration 19 again with other values, and a second eval. */
const LOG = [
  { type: 'train', iteration: 9, epoch: 0, losses: { classification: 1.2, boxRegression: 0.6 }, totalLoss: 1.8, lr: 0.05 },
  { type: 'train', iteration: 19, epoch: 0, losses: { classification: 1.0, boxRegression: 0.5 }, totalLoss: 1.5, lr: 0.1 },
  { type: 'eval', iteration: 19, metrics: { AP: 1.5, AP50: 4.25, APs: -1, vocMAP50: null } },
  { type: 'checkpoint', iteration: 19, file: 'model_0000020.safetensors', reason: 'periodic' },
  { type: 'resume', file: 'model_0000010.safetensors', nextIteration: 10, epoch: 0 },
  { type: 'train', iteration: 19, epoch: 0, losses: { classification: 0.9, boxRegression: 0.45 }, totalLoss: 1.35, lr: 0.1 },
  { type: 'train', iteration: 29, epoch: 1, losses: { classification: 0.7, boxRegression: 0.4 }, totalLoss: 1.1, lr: 0.1 },
  { type: 'eval', iteration: 29, metrics: { AP: 6, AP50: 15.5, APs: -1, vocMAP50: 14 } },
];

/** The error a promise rejects with, or undefined when it resolves. */
async function rejection(p: Promise<unknown>): Promise<Error | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return e as Error;
  }
}

describe('plot-curves', function () {
  this.timeout(60_000);
  let dir: string;
  let runDir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-curves-'));
    runDir = path.join(dir, 'my_run');
    fs.mkdirSync(runDir);
    fs.writeFileSync(path.join(runDir, 'metrics.jsonl'), LOG.map((r) => JSON.stringify(r)).join('\n') + '\n');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('trainingCurves: loss terms and total per iteration, the resumed iteration 19 from the later record; -1 and null left out', () => {
    const c = trainingCurves(readJsonl(path.join(runDir, 'metrics.jsonl')));
    expect(c.losses).to.deep.equal([
      { iteration: 9, series: 'boxRegression', value: 0.6 },
      { iteration: 19, series: 'boxRegression', value: 0.45 },
      { iteration: 29, series: 'boxRegression', value: 0.4 },
      { iteration: 9, series: 'classification', value: 1.2 },
      { iteration: 19, series: 'classification', value: 0.9 },
      { iteration: 29, series: 'classification', value: 0.7 },
      { iteration: 9, series: 'total', value: 1.8 },
      { iteration: 19, series: 'total', value: 1.35 },
      { iteration: 29, series: 'total', value: 1.1 },
    ]);
    expect(c.metrics).to.deep.equal([
      { iteration: 19, series: 'AP', value: 1.5 },
      { iteration: 29, series: 'AP', value: 6 },
      { iteration: 19, series: 'AP50', value: 4.25 },
      { iteration: 29, series: 'AP50', value: 15.5 },
      { iteration: 29, series: 'vocMAP50', value: 14 },
    ]);
  });

  it('trainingCurves: --metrics keeps the named eval keys only', () => {
    const c = trainingCurves(readJsonl(path.join(runDir, 'metrics.jsonl')), { metrics: ['AP50'] });
    expect(c.metrics.map((p) => `${p.series}@${p.iteration}`)).to.deep.equal(['AP50@19', 'AP50@29']);
  });

  it('curvesChart: loss series of one or two logged steps get point marks (a line needs two points), longer ones do not', () => {
    const lossMark = (n: number) => {
      const losses = Array.from({ length: n }, (_, i) => ({ iteration: 10 * i + 9, series: 'total', value: 1 / (i + 1) }));
      return curvesChart({ losses, metrics: [] }).panels[0].markers;
    };
    expect([lossMark(1), lossMark(2), lossMark(3), lossMark(30)]).to.deep.equal([true, true, false, false]);
  });

  it('resolveMetricsFile: a run folder gives its metrics.jsonl, a file itself; a missing path says what to pass', () => {
    expect(resolveMetricsFile(runDir)).to.equal(path.join(runDir, 'metrics.jsonl'));
    expect(resolveMetricsFile(path.join(runDir, 'metrics.jsonl'))).to.equal(path.join(runDir, 'metrics.jsonl'));
    expect(() => resolveMetricsFile(path.join(dir, 'nope'))).to.throw(/nope does not exist: pass a training output folder/);
  });

  it('SVG: both panels, a legend entry per series, the run folder as title', async () => {
    const svg = await renderCurvesSvg(trainingCurves(readJsonl(path.join(runDir, 'metrics.jsonl'))), { title: 'my_run' });
    expect(svg.startsWith('<svg')).to.equal(true);
    for (const text of ['my_run', 'training loss', 'evaluation', 'boxRegression', 'classification', 'total', 'AP', 'AP50', 'vocMAP50', 'iteration', 'percent']) {
      expect(svg, text).to.contain(`>${text}</text>`);
    }
    // Every text in the bundled font (src/engine/fonts.ts), so the PNG looks the same without system fonts.
    expect([...new Set(svg.match(/font-family="[^"]*"/g))]).to.deep.equal(['font-family="DejaVu Sans"']);
  });

  it('CLI: --out curve.png writes a PNG at twice the SVG size, through a temporary file', async () => {
    const out = path.join(dir, 'pics', 'curve.png');
    const lines: string[] = [];
    const w = process.stdout.write.bind(process.stdout);
    (process.stdout as { write: unknown }).write = (c: string) => (lines.push(String(c)), true);
    try {
      await buildProgram().exitOverride().parseAsync(['node', 'resvision', 'plot-curves', runDir, '--out', out]);
    } finally {
      (process.stdout as { write: unknown }).write = w;
    }
    expect(lines.join('')).to.equal(`wrote ${out} (losses: boxRegression, classification, total; eval: AP, AP50, vocMAP50; up to iteration 30, which metrics.jsonl numbers 29)\n`);
    const svg = await renderCurvesSvg(trainingCurves(readJsonl(path.join(runDir, 'metrics.jsonl'))), { title: 'my_run' });
    const width = Number(/<svg[^>]* width="([\d.]+)"/.exec(svg)![1]);
    const height = Number(/<svg[^>]* height="([\d.]+)"/.exec(svg)![1]);
    const meta = await sharp(out).metadata();
    expect([meta.format, meta.width, meta.height]).to.deep.equal(['png', Math.round(2 * width), Math.round(2 * height)]);
    expect(fs.readdirSync(path.dirname(out))).to.deep.equal(['curve.png']);
  });

  it('an .svg output keeps the vector drawing; other extensions and logs without training records are refused', async () => {
    const r = await plotCurves(path.join(runDir, 'metrics.jsonl'), path.join(dir, 'c.svg'), { title: 'x' });
    expect(fs.readFileSync(r.out, 'utf8')).to.match(/^<svg[\s\S]*<\/svg>$/);
    expect((await rejection(plotCurves(runDir, path.join(dir, 'c.jpg'))))?.message).to.equal(
      `--out ${path.join(dir, 'c.jpg')}: the picture must end in .png or .svg`,
    );
    const evalOnly = path.join(dir, 'eval_only.jsonl');
    fs.writeFileSync(evalOnly, JSON.stringify(LOG[2]) + '\n');
    expect((await rejection(plotCurves(evalOnly, path.join(dir, 'e.png'))))?.message).to.equal(`${evalOnly} holds no training record (type "train" with losses): was the run stopped before its first logged step?`);
  });
});
