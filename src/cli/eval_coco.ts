/** `resvision eval-coco GT.json RESULTS.json --iou-type bbox|segm [--per-class]`: pycocotools' COCO evaluation. */
import { Command, Option } from 'commander';

import { Coco } from '../../datasets/coco/coco';
import { CocoEval, formatFixedPython, type IouType } from '../../datasets/coco/cocoeval';

/** Options of {@link cocoEvalReport}. */
export interface EvalCocoOptions {
  iouType: IouType;
  /** Append the per-category AP table (mean precision over IoU and recall thresholds, area 'all', last maxDets). */
  perClass: boolean;
}

/**
 * Evaluates a results file against a ground-truth file and returns the report text: pycocotools' 12 summary lines
 * (exactly as `COCOeval.summarize` prints them), then, with `perClass`, one line per category:
 * `category_id  name  AP` with AP to 3 decimals (-1.000 where the category has no ground truth).
 * @param gtPath COCO instances JSON.
 * @param resultsPath COCO results JSON (a list of records).
 * @throws on unreadable files or invalid records (the message names the file, record index and field).
 */
export function cocoEvalReport(gtPath: string, resultsPath: string, opts: EvalCocoOptions): string {
  const gt = Coco.fromFile(gtPath);
  const dt = gt.loadRes(resultsPath);
  const E = new CocoEval(gt, dt, opts.iouType);
  E.evaluate();
  E.accumulate();
  const { lines } = E.summarize();
  const out = [...lines];
  if (opts.perClass) {
    const rows = E.perCategoryAp();
    const names = rows.map((r) => (r.categoryId === -1 ? '(all)' : String(gt.cats.get(r.categoryId)?.name ?? '')));
    const idW = Math.max('category_id'.length, ...rows.map((r) => String(r.categoryId).length));
    const nameW = Math.max('name'.length, ...names.map((n) => n.length));
    out.push('');
    out.push(`${'category_id'.padStart(idW)}  ${'name'.padEnd(nameW)}  AP`);
    rows.forEach((r, i) => out.push(`${String(r.categoryId).padStart(idW)}  ${names[i].padEnd(nameW)}  ${formatFixedPython(r.ap, 3)}`));
  }
  return out.join('\n');
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
    .action((gtPath: string, resultsPath: string, opts: { iouType: IouType; perClass: boolean }) => {
      process.stdout.write(`${cocoEvalReport(gtPath, resultsPath, { iouType: opts.iouType, perClass: Boolean(opts.perClass) })}\n`);
    });
}
