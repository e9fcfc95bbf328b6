/**
 * `resvision plot-curves RUN_DIR_OR_JSONL --out curve.png`: training curves from a run's JSON Lines log
 * (`<outputDir>/metrics.jsonl`, written by the trainer, see `src/engine/logger.ts`): every loss term and the total
 * loss against the iteration, and below them the evaluation metrics logged during training (detection AP, AP50, ...;
 * segmentation mIoU, aAcc, mAcc; classification top-1 / top-5), all in percent.
 *
 * The chart is a Vega-Lite specification (Satyanarayan et al. 2017, https://vega.github.io/vega-lite/) compiled and
 * rendered to SVG by Vega without a browser or canvas; sharp (librsvg) rasterizes the SVG to PNG. An `.svg` output
 * keeps the vector drawing. Text is set in the bundled DejaVu Sans (src/engine/fonts.ts), so the PNG needs no system font.
 */
import { Command } from 'commander';
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomicSync } from '../common/atomic_write';
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
 * The Vega-Lite specification of the chart: losses against the iteration, and the eval metrics below when there
 * are any. Plain JSON: it can be pasted into the Vega editor as it is.
 */
export function curvesSpec(curves: TrainingCurves, opts: { title?: string } = {}): Record<string, unknown> {
  const panel = (values: CurvePoint[], title: string, yTitle: string, legend: string, points: boolean) => ({
    title,
    width: 560,
    height: 220,
    data: { values },
    mark: { type: 'line', point: points, strokeWidth: 1.5 },
    encoding: {
      x: { field: 'iteration', type: 'quantitative', title: 'iteration' },
      y: { field: 'value', type: 'quantitative', title: yTitle },
      color: { field: 'series', type: 'nominal', title: legend },
    },
  });
  // Loss curves get point marks only when a series is too short to draw a line (a run of one or two logged steps).
  const lossCounts = new Map<string, number>();
  for (const p of curves.losses) lossCounts.set(p.series, (lossCounts.get(p.series) ?? 0) + 1);
  const shortLosses = [...lossCounts.values()].some((n) => n < 3);
  const panels = [panel(curves.losses, 'training loss', 'loss', 'loss term', shortLosses)];
  if (curves.metrics.length > 0) panels.push(panel(curves.metrics, 'evaluation', 'percent', 'metric', true));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(opts.title ? { title: opts.title } : {}),
    background: 'white',
    padding: 12,
    vconcat: panels,
    resolve: { scale: { color: 'independent', x: 'shared' } },
    config: { font: BUNDLED_FONT_FAMILY },
  };
}

/**
 * Render curves to an SVG document with Vega-Lite and Vega (no browser, no canvas).
 * @returns the SVG text.
 */
export async function renderCurvesSvg(curves: TrainingCurves, opts: { title?: string } = {}): Promise<string> {
  // Both packages are ES modules: imported dynamically from this CommonJS module.
  const vl = await import('vega-lite');
  const vega = await import('vega');
  const compiled = vl.compile(curvesSpec(curves, opts) as unknown as Parameters<typeof vl.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** What {@link plotCurves} wrote. */
export interface PlotCurvesResult {
  /** The log read. */
  source: string;
  /** The picture written. */
  out: string;
  lossSeries: string[];
  metricSeries: string[];
  /** Last logged iteration. */
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
  const svg = await renderCurvesSvg(curves, { title: opts.title ?? path.basename(path.dirname(path.resolve(source))) });
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
      process.stdout.write(`wrote ${r.out} (losses: ${r.lossSeries.join(', ')}${evalText}; up to iteration ${r.lastIteration})\n`);
    });
}
