/**
 * COCO detection evaluation (bbox and segm) with pycocotools' API and exact semantics: `new CocoEval(gt, dt,
 * iouType)`, `params`, `evaluate()`, `accumulate()` (`eval.precision`, ...), `summarize()` (`stats` and the 12
 * printed lines). The class holds the state; the work is done by one module per concern:
 *
 * - `cocoeval_params.ts`     `Params`: defaults and overrides;
 * - `cocoeval_evaluate.ts`   `_prepare`, `computeIoU`, `evaluateImg` on columnar typed arrays;
 * - `cocoeval_accumulate.ts` `accumulate`: precision / recall / scores arrays;
 * - `cocoeval_summarize.ts`  `summarize`, and detectron2's per-category AP;
 * - `numpy_compat.ts`        numpy and Python semantics (linspace, stable argsort, means, round-half-even printing).
 *
 * Each intentional difference from pycocotools is fenced in the code by `DIFFERENCE FROM PYCOCOTOOLS` ...
 * `END DIFFERENCE`, saying what differs and why; numbers on valid input are pycocotools' bit for bit.
 *
 * Reference: pycocotools `PythonAPI/pycocotools/cocoeval.py` (classes `COCOeval`, `Params`), pycocotools 2.0.x;
 * detectron2 `evaluation/fast_eval_api.py` (`COCOeval_opt`). No tensor library is imported.
 */

import type { Coco } from './coco';
import { accumulateImages, type CocoEvalAccumulated } from './cocoeval_accumulate';
import { evaluateImages, evaluateImgRecord, type CocoEvalImg, type EvaluatedImages } from './cocoeval_evaluate';
import { defaultCocoEvalParams, type CocoEvalParams, type IouType } from './cocoeval_params';
import { perCategoryAp, summarizeDetection, type CocoEvalSummary } from './cocoeval_summarize';
import { sortedUnique } from './numpy_compat';

export type { CocoEvalAccumulated } from './cocoeval_accumulate';
export type { CocoEvalImg } from './cocoeval_evaluate';
export { applyCocoEvalParamOverrides, defaultCocoEvalParams, type CocoEvalParams, type IouType } from './cocoeval_params';
export type { CocoEvalSummary } from './cocoeval_summarize';
export { formatFixedPython, linspace } from './numpy_compat';

/** COCO evaluation of detections `cocoDt` against ground truth `cocoGt` (pycocotools `COCOeval`). */
export class CocoEval {
  /** Parameters; change them before `evaluate`. */
  params: CocoEvalParams;
  /** Accumulated arrays, set by `accumulate`. */
  eval: CocoEvalAccumulated | null = null;
  /** Summary numbers, set by `summarize`. */
  stats: number[] = [];
  /** Set by `evaluate`. */
  private evaluated: EvaluatedImages | null = null;

  /**
   * @param cocoGt ground truth.
   * @param cocoDt results from `cocoGt.loadRes(...)`.
   * @param iouType 'bbox' or 'segm'.
   * @throws when `iouType` is neither.
   */
  constructor(
    readonly cocoGt: Coco,
    readonly cocoDt: Coco,
    iouType: IouType = 'segm',
  ) {
    if (iouType !== 'bbox' && iouType !== 'segm') throw new Error(`iouType must be 'bbox' or 'segm', got ${JSON.stringify(iouType)}`);
    this.params = defaultCocoEvalParams(iouType);
    this.params.imgIds = sortedUnique(cocoGt.getImgIds());
    this.params.catIds = sortedUnique(cocoGt.getCatIds());
  }

  /**
   * Runs per-image evaluation (pycocotools `evaluate`: `_prepare`, `computeIoU`, `evaluateImg` for every category,
   * area range and image).
   * @throws when `maxDets` or `areaRng` is empty, a ground-truth annotation lacks a field the evaluation needs
   *   (naming its index and id), or a segmentation cannot be converted.
   */
  evaluate(): void {
    const p = this.params;
    p.imgIds = sortedUnique(p.imgIds);
    if (p.useCats) p.catIds = sortedUnique(p.catIds);
    p.maxDets = [...p.maxDets].sort((a, b) => a - b);
    // ---- DIFFERENCE FROM PYCOCOTOOLS: empty maxDets or areaRng is an error ----
    // pycocotools evaluates nothing and fails later with an IndexError in accumulate or summarize.
    if (p.maxDets.length === 0) throw new Error('params.maxDets must not be empty');
    if (p.areaRng.length === 0) throw new Error('params.areaRng must not be empty');
    // ---- END DIFFERENCE ----
    this.evaluated = null;
    this.evaluated = evaluateImages(this.cocoGt, this.cocoDt, p);
    this.eval = null;
  }

  /**
   * The matching of one image and category (pycocotools `evaluateImg`), after `evaluate`.
   * @param imgId an evaluated image id.
   * @param catId an evaluated category id, or -1 when `useCats` is false.
   * @param aRng area range `[lo, hi]`, pixels².
   * @param maxDet maximum detections (at most the largest of `maxDets`).
   * @returns the match record, or null when the image has neither ground truth nor detections (as pycocotools).
   * @throws if `evaluate` has not run or the ids are not evaluated.
   */
  evaluateImg(imgId: number, catId: number, aRng: [number, number], maxDet: number): CocoEvalImg | null {
    const e = this.evaluated;
    if (!e) throw new Error('CocoEval.evaluateImg: run evaluate() first');
    const i = e.imgIds.indexOf(imgId);
    if (i < 0) throw new Error(`CocoEval.evaluateImg: image id ${imgId} is not evaluated`);
    const k = this.params.useCats ? e.catIds.indexOf(catId) : catId === -1 ? 0 : -1;
    if (k < 0) throw new Error(`CocoEval.evaluateImg: category id ${catId} is not evaluated`);
    return evaluateImgRecord(e, k, i, imgId, this.params.useCats ? catId : -1, aRng, maxDet);
  }

  /**
   * Accumulates per-image results into precision `[T,R,K,A,M]`, recall `[T,K,A,M]` and scores `[T,R,K,A,M]`
   * (pycocotools `accumulate`), stored in `this.eval` and returned.
   * @throws if `evaluate` has not run.
   */
  accumulate(): CocoEvalAccumulated {
    if (!this.evaluated) throw new Error('CocoEval.accumulate: run evaluate() first');
    this.eval = accumulateImages(this.evaluated, this.params.recThrs);
    return this.eval;
  }

  /**
   * The 12 summary numbers and pycocotools' 12 printed lines (`summarize` for bbox/segm), e.g.
   * `" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.123"`; sets `stats`.
   * @throws if `accumulate` has not run, or `maxDets` has fewer than 3 entries (pycocotools indexes maxDets[2]).
   */
  summarize(): CocoEvalSummary {
    // ---- DIFFERENCE FROM PYCOCOTOOLS: the lines are returned, not printed ----
    // A library call must not write to stdout; callers (the CLI) print `lines`, which equal pycocotools' output.
    if (!this.eval || !this.evaluated) throw new Error('CocoEval.summarize: run accumulate() first');
    const summary = summarizeDetection(this.eval, this.params, this.evaluated.maxDets);
    // ---- END DIFFERENCE ----
    this.stats = summary.stats;
    return summary;
  }

  /**
   * Per-category AP: for each evaluated category k (in `catIds` order, or the single -1 when `useCats` is false),
   * the mean of `precision[:, :, k, 0, M-1]` (area range index 0, 'all' by default; the largest maxDets) over
   * entries > -1, or -1 where there are none.
   * @throws if `accumulate` has not run.
   */
  perCategoryAp(): { categoryId: number; ap: number }[] {
    if (!this.eval || !this.evaluated) throw new Error('CocoEval.perCategoryAp: run accumulate() first');
    const ids = this.params.useCats ? this.evaluated.catIds : [-1];
    return perCategoryAp(this.eval, ids);
  }
}
