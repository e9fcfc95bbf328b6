/** `resvision eval-coco GT.json RESULTS.json --iou-type bbox|segm [--per-class]`: pycocotools' COCO evaluation. */
import { Command, Option } from 'commander';
import * as fs from 'fs';

import { Coco } from '../../datasets/coco/coco';
import { applyCocoEvalParamOverrides, CocoEval, formatFixedPython, type IouType } from '../../datasets/coco/cocoeval';
import { formatApPercent } from '../../datasets/detection_evaluator';

/** Options of {@link cocoEvalReport}. */
export interface EvalCocoOptions {
  iouType: IouType;
  /** Append the per-category AP table (mean precision over IoU and recall thresholds, area 'all', last maxDets). */
  perClass: boolean;
  /**
   * Overrides of COCOeval's Params with pycocotools' attribute names, e.g. `{"useCats": 0, "maxDets": [1, 10, 50]}`
   * (what a `params.json` holds). Default: pycocotools' defaults.
   */
  params?: Record<string, unknown>;
}

/** The numbers behind a report, at full precision. */
export interface EvalCocoResult {
  iouType: IouType;
  /** `[12]` pycocotools' stats: AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl; -1 where undefined. */
  stats: number[];
  /** Per-category AP (category id -1 when `useCats` is 0), -1 where a category has no ground truth. */
  perCategoryAp: { categoryId: number; ap: number }[];
  /** The overrides applied to the default Params. */
  params: Record<string, unknown>;
  /** The text report (12 lines, optional per-category table). */
  text: string;
  /**
   * Input evaluated as pycocotools evaluates it but probably wrong (annotation id 0 or repeated ids, missing
   * `iscrowd`, an empty results list, boxes of size <= 0 or past the image), one line each, naming the file.
   */
  warnings: string[];
}

/**
 * Evaluates a results file against a ground-truth file and returns the report text: pycocotools' 12 summary lines
 * (exactly as `COCOeval.summarize` prints them), then, with `perClass`, one line per category:
 * `category_id  name  AP %` with AP in percent to 2 decimals as `resvision eval` prints it (`n/a` where the category
 * has no ground truth; `--json` gives the exact fractions).
 * @param gtPath COCO instances JSON.
 * @param resultsPath COCO results JSON (a list of records).
 * @throws on unreadable files or invalid records (the message names the file, record index and field).
 */
export function cocoEvalReport(gtPath: string, resultsPath: string, opts: EvalCocoOptions): string {
  return evaluateCocoFiles(gtPath, resultsPath, opts).text;
}

/**
 * Like {@link cocoEvalReport}, returning the full-precision stats and per-category APs as well as the text.
 * @throws as {@link cocoEvalReport}, and on an invalid Params override (naming the key).
 */
export function evaluateCocoFiles(gtPath: string, resultsPath: string, opts: EvalCocoOptions): EvalCocoResult {
  const gt = Coco.fromFile(gtPath);
  const dt = gt.loadRes(resultsPath);
  const E = new CocoEval(gt, dt, opts.iouType);
  if (opts.params) applyCocoEvalParamOverrides(E.params, opts.params, 'params');
  E.evaluate();
  E.accumulate();
  const { lines, stats } = E.summarize();
  const out = [...lines];
  const rows = E.perCategoryAp();
  if (opts.perClass) {
    const names = rows.map((r) => (r.categoryId === -1 ? '(all)' : String(gt.cats.get(r.categoryId)?.name ?? '')));
    const idW = Math.max('category_id'.length, ...rows.map((r) => String(r.categoryId).length));
    const nameW = Math.max('name'.length, ...names.map((n) => n.length));
    out.push('');
    out.push(`${'category_id'.padStart(idW)}  ${'name'.padEnd(nameW)}  ${'AP %'.padStart(6)}`); // over formatApPercent's 6 columns
    rows.forEach((r, i) => out.push(`${String(r.categoryId).padStart(idW)}  ${names[i].padEnd(nameW)}  ${formatApPercent(r.ap)}`));
  }
  return {
    iouType: opts.iouType,
    stats,
    perCategoryAp: rows.map((r) => ({ categoryId: r.categoryId, ap: r.ap })),
    params: opts.params ?? {},
    text: out.join('\n'),
    warnings: [...gt.warnings, ...dt.warnings],
  };
}

function readParams(file: string): Record<string, unknown> {
  if (!fs.existsSync(file)) throw new Error(`params file not found: ${file}`);
  try {
    const v: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('must be a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
}

/** Adds the `eval-coco` subcommand to `program`. */
export function registerEvalCoco(program: Command): void {
  program
    .command('eval-coco')
    .description("COCO detection evaluation with pycocotools' semantics; prints the 12 summary lines")
    .argument('<gt>', 'ground-truth COCO instances JSON')
    .argument('<results>', 'COCO results JSON (list of {image_id, category_id, bbox|segmentation, score})')
    .addOption(new Option('--iou-type <type>', 'region compared by IoU').choices(['bbox', 'segm']).makeOptionMandatory())
    .option('--per-class', 'also print the AP of every category', false)
    .option('--params <file.json>', 'COCOeval Params overrides with pycocotools names, e.g. {"useCats": 0, "maxDets": [1, 10, 100]}')
    .option('--use-cats <0|1>', 'Params.useCats (0: categories ignored, as in proposal scoring)')
    .option('--max-dets <list>', 'Params.maxDets, comma-separated, e.g. 1,10,100')
    .option('--json', 'print the stats and per-category APs at full precision as JSON (after the text report)')
    .action((gtPath: string, resultsPath: string, opts: { iouType: IouType; perClass: boolean; params?: string; useCats?: string; maxDets?: string; json?: boolean }) => {
      const params: Record<string, unknown> = opts.params ? readParams(opts.params) : {};
      if (opts.useCats !== undefined) {
        if (opts.useCats !== '0' && opts.useCats !== '1') throw new Error(`--use-cats must be 0 or 1, got '${opts.useCats}'`);
        params.useCats = Number(opts.useCats);
      }
      if (opts.maxDets !== undefined) {
        const list = opts.maxDets.split(',').map((v) => Number(v.trim()));
        if (!list.every((v) => Number.isInteger(v) && v > 0)) throw new Error(`--max-dets must be positive integers, got '${opts.maxDets}'`);
        params.maxDets = list;
      }
      const r = evaluateCocoFiles(gtPath, resultsPath, { iouType: opts.iouType, perClass: Boolean(opts.perClass), params });
      for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
      if (Object.keys(params).length > 0) process.stdout.write(`Params overrides: ${JSON.stringify(params)}\n`);
      process.stdout.write(`${r.text}\n`);
      if (opts.json) {
        const { text: _text, warnings: _warnings, ...numbers } = r;
        process.stdout.write(`${JSON.stringify(numbers)}\n`);
      }
    });
}
