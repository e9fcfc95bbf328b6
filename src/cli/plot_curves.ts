/**
 * `resvision plot-curves RUN_DIR_OR_JSONL --out curve.png`: training curves from a run's JSON Lines log
 * (`<outputDir>/metrics.jsonl`, written by the trainer, see `src/engine/logger.ts`): every loss term and the total
 * loss against the iteration, and below them the evaluation metrics logged during training (detection AP, AP50, ...;
 * segmentation mIoU, aAcc, mAcc; classification top-1 / top-5), all in percent.
 *
 * The chart is drawn as SVG text by src/common/svg_chart.ts (no browser, no canvas); sharp (librsvg) rasterizes the
 * SVG to PNG. An `.svg` output keeps the vector drawing. Text is set in the bundled DejaVu Sans (src/engine/fonts.ts),
 * so the PNG needs no system font.
 */
import { Command } from 'commander';
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomicSync } from '../common/atomic_write';
import { LineChart, Panel, renderLineChartSvg, Series } from '../common/svg_chart';
import { BUNDLED_FONT_FAMILY, useBundledFont } from '../engine/fonts';
import { LogRecord, readJsonl } from '../engine/logger';

/** One point of a curve. */
export interface CurvePoint {
  /** The iteration as logged: 0-based index of the last step of the logged window. */
  iteration: number;
  /** Curve name: a loss term (`classification`, `boxRegression`, ..., `total`) or an eval metric key (`AP`, `mIoUPercent`). */
  series: string;
  value: number;
}

/** The curves found in a log. */
export interface TrainingCurves {
  /** Loss terms of `type: 'train'` records (`losses.<term>`) and their sum (`total`, from `totalLoss`). */
  losses: CurvePoint[];
  /** Numeric metrics of `type: 'eval'` records, percent; undefined values (`null`, COCO's -1) are left out. */
  metrics: CurvePoint[];
}

/** Options of {@link trainingCurves}. */
export interface TrainingCurvesOptions {
  /** Eval metric keys to keep (e.g. `['AP', 'AP50']`); default: every numeric key found. */
  metrics?: readonly string[];
}

/**
 * The `metrics.jsonl` file of a run folder, or the file itself.
 * @param runDirOrJsonl a training output folder (`train.outputDir`) or a `.jsonl` file.
 * @throws Error saying what to pass when neither exists.
 */
export function resolveMetricsFile(runDirOrJsonl: string): string {
  if (!fs.existsSync(runDirOrJsonl)) {
    throw new Error(`${runDirOrJsonl} does not exist: pass a training output folder (train.outputDir, e.g. runs/quickstart) or its metrics.jsonl`);
  }
  if (fs.statSync(runDirOrJsonl).isDirectory()) {
    const file = path.join(runDirOrJsonl, 'metrics.jsonl');
    if (!fs.existsSync(file)) {
      throw new Error(`${runDirOrJsonl} holds no metrics.jsonl: pass the output folder of a \`resvision train\` run (train.outputDir) or a .jsonl file`);
    }
    return file;
  }
  return runDirOrJsonl;
}

/**
 * Extract the loss and evaluation curves from training log records. When a resumed run logged an iteration again,
 * the last record of that iteration wins (the resumed run is the one that continued).
 * @param records from `readJsonl` (records of other types, such as `checkpoint` or `resume`, are ignored).
 * @returns points sorted by series, then iteration.
 */
export function trainingCurves(records: readonly LogRecord[], opts: TrainingCurvesOptions = {}): TrainingCurves {
  const losses = new Map<string, CurvePoint>();
  const metrics = new Map<string, CurvePoint>();
  const put = (into: Map<string, CurvePoint>, iteration: number, series: string, value: unknown) => {
    if (typeof value !== 'number' || !Number.isFinite(value)) return;
    into.set(`${series}\u0000${iteration}`, { iteration, series, value });
  };
  for (const r of records) {
    const iteration = r.iteration;
    if (typeof iteration !== 'number') continue;
    if (r.type === 'train') {
      const terms = r.losses;
      if (terms && typeof terms === 'object') {
        for (const [k, v] of Object.entries(terms as Record<string, unknown>)) put(losses, iteration, k, v);
      }
      put(losses, iteration, 'total', r.totalLoss);
    } else if (r.type === 'eval') {
      const m = r.metrics;
      if (!m || typeof m !== 'object') continue;
      for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
        if (opts.metrics && !opts.metrics.includes(k)) continue;
        // COCOeval reports -1 for an undefined value (no ground truth in that area range).
        if (typeof v === 'number' && v < 0) continue;
        put(metrics, iteration, k, v);
      }
    }
  }
  const sorted = (m: Map<string, CurvePoint>) =>
    [...m.values()].sort((a, b) => (a.series < b.series ? -1 : a.series > b.series ? 1 : a.iteration - b.iteration));
  return { losses: sorted(losses), metrics: sorted(metrics) };
}

/**
 * The chart: losses against the iteration, and the eval metrics below when there are any (percent), over one shared
 * x axis; one series per loss term or metric, in the order of {@link trainingCurves}.
 */
export function curvesChart(curves: TrainingCurves, opts: { title?: string } = {}): LineChart {
  const series = (points: CurvePoint[]): Series[] => {
    const bySeries = new Map<string, { x: number; y: number }[]>();
    for (const p of points) {
      if (!bySeries.has(p.series)) bySeries.set(p.series, []);
      bySeries.get(p.series)!.push({ x: p.iteration, y: p.value });
    }
    return [...bySeries].map(([name, pts]) => ({ name, points: pts }));
  };
  const losses = series(curves.losses);
  // Loss curves get dots only when a series is too short to draw a line (a run of one or two logged steps).
  const panels: Panel[] = [
    { title: 'training loss', xTitle: 'iteration', yTitle: 'loss', legendTitle: 'loss term', series: losses, markers: losses.some((s) => s.points.length < 3) },
  ];
  if (curves.metrics.length > 0) {
    panels.push({ title: 'evaluation', xTitle: 'iteration', yTitle: 'percent', legendTitle: 'metric', series: series(curves.metrics), markers: true });
  }
  return { title: opts.title, panels, fontFamily: BUNDLED_FONT_FAMILY, integerX: true };
}

/**
 * Render curves to an SVG document (see {@link curvesChart}).
 * @returns the SVG text.
 */
export function renderCurvesSvg(curves: TrainingCurves, opts: { title?: string } = {}): string {
  return renderLineChartSvg(curvesChart(curves, opts));
}

/** What {@link plotCurves} wrote. */
export interface PlotCurvesResult {
  /** The log read. */
  source: string;
  /** The picture written. */
  out: string;
  lossSeries: string[];
  metricSeries: string[];
  /** Last logged iteration, 0-based as in the log (the index of the step: 19 after 20 steps). */
  lastIteration: number;
}

/**
 * Read a run's log and write its curves as PNG (rasterized at 2x for sharp text) or SVG, chosen by the extension
 * of `out`; the file is written to a temporary name and renamed.
 * @throws Error naming the file when the log holds no training record, or when `out` is neither .png nor .svg.
 */
export async function plotCurves(
  runDirOrJsonl: string,
  out: string,
  opts: TrainingCurvesOptions & { title?: string } = {},
): Promise<PlotCurvesResult> {
  const ext = path.extname(out).toLowerCase();
  if (ext !== '.png' && ext !== '.svg') throw new Error(`--out ${out}: the picture must end in .png or .svg`);
  const source = resolveMetricsFile(runDirOrJsonl);
  const curves = trainingCurves(readJsonl(source), opts);
  if (curves.losses.length === 0) {
    throw new Error(`${source} holds no training record (type "train" with losses): was the run stopped before its first logged step?`);
  }
  const svg = renderCurvesSvg(curves, { title: opts.title ?? path.basename(path.dirname(path.resolve(source))) });
  if (ext === '.png') useBundledFont();
  const sharp = require('sharp') as typeof import('sharp');
  const data = ext === '.svg' ? Buffer.from(svg) : await sharp(Buffer.from(svg), { density: 144 }).png().toBuffer();
  writeFileAtomicSync(out, data);
  const names = (p: CurvePoint[]) => [...new Set(p.map((c) => c.series))];
  return {
    source,
    out,
    lossSeries: names(curves.losses),
    metricSeries: names(curves.metrics),
    lastIteration: Math.max(...curves.losses.map((c) => c.iteration)),
  };
}

/** Adds the `plot-curves` subcommand to `program`. */
export function registerPlotCurves(program: Command): void {
  program
    .command('plot-curves')
    .description('draw the training curves of a run (losses, and eval AP / mIoU / accuracy when logged) from its metrics.jsonl')
    .argument('<run>', 'training output folder (train.outputDir) or its metrics.jsonl')
    .requiredOption('--out <file>', 'picture to write: .png, or .svg for the vector drawing')
    .option('--metrics <keys>', 'comma-separated eval metrics to draw (e.g. AP,AP50); default: all logged', (v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .option('--title <text>', 'chart title (default: the run folder name)')
    .action(async (run: string, o: { out: string; metrics?: string[]; title?: string }) => {
      const r = await plotCurves(run, o.out, { metrics: o.metrics, title: o.title });
      const evalText = r.metricSeries.length > 0 ? `; eval: ${r.metricSeries.join(', ')}` : '; no eval records';
      // The log counts steps from 0 (detectron2's convention); train counts them from 1, as said here.
      const steps = `up to iteration ${r.lastIteration + 1}, which metrics.jsonl numbers ${r.lastIteration}`;
      process.stdout.write(`wrote ${r.out} (losses: ${r.lossSeries.join(', ')}${evalText}; ${steps})\n`);
    });
}
