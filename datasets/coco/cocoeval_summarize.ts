/**
 * COCOeval summary: the 12 standard numbers (AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl) and
 * the 12 lines pycocotools prints, and the per-category AP detectron2 reports.
 *
 * Reference: pycocotools `PythonAPI/pycocotools/cocoeval.py` (`COCOeval.summarize`, `_summarizeDets`); detectron2
 * `evaluation/coco_evaluation.py` (`_derive_coco_results`, per-category AP). Means are numpy's (pairwise summation)
 * and numbers print with Python's round-half-even, so lines equal pycocotools' character for character.
 */

import type { CocoEvalAccumulated } from './cocoeval_accumulate';
import type { CocoEvalParams } from './cocoeval_params';
import { formatFixedPython, meanOrMinusOne, padLeft, padRight } from './numpy_compat';

/** The 12 summary numbers and the 12 lines pycocotools prints. */
export interface CocoEvalSummary {
  /** `[12]`: AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl; -1 where undefined. */
  stats: number[];
  lines: string[];
}

/**
 * pycocotools `_summarizeDets` on accumulated arrays, without printing: the 12 numbers and the 12 lines, e.g.
 * `" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.123"`.
 * @param maxDets the sorted maxDets the arrays were accumulated with (`[M]`, at least 3).
 * @throws when `maxDets` has fewer than 3 entries.
 */
export function summarizeDetection(ev: CocoEvalAccumulated, p: CocoEvalParams, maxDets: readonly number[]): CocoEvalSummary {
  // ---- DIFFERENCE FROM PYCOCOTOOLS: fewer than 3 maxDets is an error ----
  // pycocotools' `_summarizeDets` indexes `maxDets[2]` and stops with an IndexError; here the error says why.
  if (maxDets.length < 3) throw new Error(`CocoEval.summarize needs at least 3 maxDets, got [${maxDets.join(', ')}]`);
  // ---- END DIFFERENCE ----
  const [T, R, K, A, M] = ev.counts;
  const lines: string[] = [];
  // values selected by one line, in numpy's C order (a typed buffer: the AP lines select ~10^5 values each)
  let vals = new Float64Array(0);
  const one = (ap: boolean, iouThr: number | null, areaLbl: string, maxDet: number): number => {
    const title = ap ? 'Average Precision' : 'Average Recall';
    const type = ap ? '(AP)' : '(AR)';
    const iouStr =
      iouThr === null
        ? `${formatFixedPython(p.iouThrs[0], 2)}:${formatFixedPython(p.iouThrs[p.iouThrs.length - 1], 2)}`
        : formatFixedPython(iouThr, 2);
    const aind = p.areaRngLbl.map((l, i) => (l === areaLbl ? i : -1)).filter((i) => i >= 0 && i < A);
    const mind = maxDets.map((v, i) => (v === maxDet ? i : -1)).filter((i) => i >= 0);
    const tind = iouThr === null ? [...Array(T).keys()] : p.iouThrs.map((v, i) => (v === iouThr ? i : -1)).filter((i) => i >= 0);
    let n = 0;
    // s[:, :, :, aind, mind] with one area and one maxDet index; numpy pairs aind with mind elementwise
    const pairs = aind.length === mind.length ? aind.map((a, j) => [a, mind[j]]) : aind.length === 1 ? mind.map((m) => [aind[0], m]) : mind.length === 1 ? aind.map((a) => [a, mind[0]]) : [];
    const need = tind.length * (ap ? R : 1) * K * pairs.length;
    if (vals.length < need) vals = new Float64Array(need);
    for (const t of tind) {
      if (ap) {
        for (let r = 0; r < R; r++)
          for (let k = 0; k < K; k++)
            for (const [a, m] of pairs) {
              const v = ev.precision[(((t * R + r) * K + k) * A + a) * M + m];
              if (v > -1) vals[n++] = v;
            }
      } else {
        for (let k = 0; k < K; k++)
          for (const [a, m] of pairs) {
            const v = ev.recall[((t * K + k) * A + a) * M + m];
            if (v > -1) vals[n++] = v;
          }
      }
    }
    const mean = meanOrMinusOne(vals.subarray(0, n));
    lines.push(
      ` ${padRight(title, 18)} ${type} @[ IoU=${padRight(iouStr, 9)} | area=${padLeft(areaLbl, 6)} | maxDets=${padLeft(
        String(maxDet),
        3,
      )} ] = ${formatFixedPython(mean, 3)}`,
    );
    return mean;
  };
  const md = maxDets;
  const stats = [
    one(true, null, 'all', 100),
    one(true, 0.5, 'all', md[2]),
    one(true, 0.75, 'all', md[2]),
    one(true, null, 'small', md[2]),
    one(true, null, 'medium', md[2]),
    one(true, null, 'large', md[2]),
    one(false, null, 'all', md[0]),
    one(false, null, 'all', md[1]),
    one(false, null, 'all', md[2]),
    one(false, null, 'small', md[2]),
    one(false, null, 'medium', md[2]),
    one(false, null, 'large', md[2]),
  ];
  return { stats, lines };
}

/**
 * Per-category AP (detectron2's table): for each category index k, the mean of `precision[:, :, k, 0, M-1]` (area
 * range index 0, 'all' by default; the largest maxDets) over entries > -1, or -1 where there are none.
 * @param categoryIds `[K]` the id reported for each category index (-1 for the single one when `useCats` is false).
 */
export function perCategoryAp(ev: CocoEvalAccumulated, categoryIds: readonly number[]): { categoryId: number; ap: number }[] {
  const [T, R, K, A, M] = ev.counts;
  const out: { categoryId: number; ap: number }[] = [];
  for (let k = 0; k < K; k++) {
    const vals: number[] = [];
    for (let t = 0; t < T; t++)
      for (let r = 0; r < R; r++) {
        const v = ev.precision[(((t * R + r) * K + k) * A + 0) * M + (M - 1)];
        if (v > -1) vals.push(v);
      }
    out.push({ categoryId: categoryIds[k], ap: meanOrMinusOne(vals) });
  }
  return out;
}
