/**
 * COCOeval accumulation: per category, area range, maxDets and IoU threshold, the detections of all images ranked
 * by score, their cumulative true and false positives, recall, and precision interpolated at the recall thresholds.
 *
 * Reference: pycocotools `PythonAPI/pycocotools/cocoeval.py` (`COCOeval.accumulate`). Behaviours kept on purpose
 * because the reference has them:
 * - detections are ranked by score with a stable sort (numpy `mergesort`) over the images in order;
 * - precision at recall thresholds uses `np.searchsorted(rc, recThrs, side='left')` and stays 0 beyond the last
 *   recall reached; the denominator is `tp + fp + np.spacing(1)`;
 * - a matched ground truth whose id is 0 counts as unmatched (`dtm == 0` tests the id; see `dtCode` in evaluate).
 */

import type { EvaluatedImages } from './cocoeval_evaluate';
import { argsortDescStable, NP_SPACING_1 } from './numpy_compat';

/** Output of `accumulate` (pycocotools `COCOeval.eval`). Arrays are flat, C order, -1 where undefined. */
export interface CocoEvalAccumulated {
  /** `[T, R, K, A, M]`. */
  counts: [number, number, number, number, number];
  /** `[T, R, K, A, M]` float64 interpolated precision. */
  precision: Float64Array;
  /** `[T, K, A, M]` float64 maximum recall. */
  recall: Float64Array;
  /** `[T, R, K, A, M]` float64 detection score at each recall threshold. */
  scores: Float64Array;
}

/**
 * pycocotools `accumulate` over the output of `evaluateImages`.
 * @param recThrs `[R]` recall thresholds, fractions 0..1.
 * @returns precision `[T,R,K,A,M]`, recall `[T,K,A,M]` and scores `[T,R,K,A,M]`, -1 where no ground truth counts.
 */
export function accumulateImages(e: EvaluatedImages, recThrs: readonly number[]): CocoEvalAccumulated {
  const T = e.T;
  const R = recThrs.length;
  const K = e.K;
  const A = e.A;
  const M = e.maxDets.length;
  const I = e.I;
  const precision = new Float64Array(T * R * K * A * M).fill(-1);
  const recall = new Float64Array(T * K * A * M).fill(-1);
  const scores = new Float64Array(T * R * K * A * M).fill(-1);
  const nSorted = e.dtSorted.length;
  const EPS = NP_SPACING_1;
  const maxDetLast = e.maxDets[M - 1];

  let tpCum = new Int32Array(0);
  let fpCum = new Int32Array(0);
  let tpPos = new Int32Array(0);
  let tpSufMax = new Float64Array(0);
  for (let k = 0; k < K; k++) {
    // all detection slots of category k over images in order, with their rank within the image
    const q0 = k * I;
    const s0 = e.dtPairStart[q0];
    const s1 = e.dtPairStart[q0 + I];
    const n = s1 - s0;
    const rank = new Int32Array(n);
    for (let i = 0; i < I; i++) {
      const a = e.dtPairStart[q0 + i];
      const b = e.dtPairStart[q0 + i + 1];
      for (let x = a; x < b; x++) rank[x - s0] = x - a;
    }
    const slotScore = new Float64Array(n);
    for (let x = 0; x < n; x++) slotScore[x] = e.dtScore[e.dtSorted[s0 + x]];
    // stable sort by descending score across images (np.argsort(-dtScores, kind='mergesort'))
    const order = new Int32Array(n);
    for (let x = 0; x < n; x++) order[x] = x;
    argsortDescStable(order, slotScore);
    if (tpCum.length < n) {
      tpCum = new Int32Array(n);
      fpCum = new Int32Array(n);
      tpPos = new Int32Array(n);
      tpSufMax = new Float64Array(n);
    }
    for (let m = 0; m < M; m++) {
      const maxDet = e.maxDets[m];
      // slots kept with this maxDet, in score order
      const kept: number[] = [];
      if (maxDet >= maxDetLast) for (let x = 0; x < n; x++) kept.push(order[x]);
      else for (let x = 0; x < n; x++) if (rank[order[x]] < maxDet) kept.push(order[x]);
      const nd = kept.length;
      for (let a = 0; a < A; a++) {
        let anyImg = false;
        let npig = 0;
        for (let i = 0; i < I; i++) {
          const v = e.npig[(k * A + a) * I + i];
          if (v >= 0) {
            anyImg = true;
            npig += v;
          }
        }
        if (!anyImg || npig === 0) continue;
        for (let t = 0; t < T; t++) {
          const codeBase = (a * T + t) * nSorted + s0;
          // Cumulative counts; rc[x] = tp/npig and pr[x] = tp/(fp+tp+eps) are evaluated only where needed, with
          // the same expressions, so values are bit-identical to the full arrays of cocoeval.py.
          let tp = 0;
          let fp = 0;
          let nTp = 0;
          for (let x = 0; x < nd; x++) {
            const code = e.dtCode[codeBase + kept[x]];
            if (code === 1) {
              tp++;
              tpPos[nTp++] = x;
            } else if (code === 0) fp++;
            tpCum[x] = tp;
            fpCum[x] = fp;
          }
          recall[((t * K + k) * A + a) * M + m] = nd ? tp / npig : 0;
          // Precision envelope (running max from the right). pr rises (weakly) on a true positive and falls on a
          // false positive, so max(pr[i:]) = max(pr[i], pr at true-positive positions after i).
          for (let j = nTp - 1; j >= 0; j--) {
            const x = tpPos[j];
            const v = tpCum[x] / (fpCum[x] + tpCum[x] + EPS);
            tpSufMax[j] = j === nTp - 1 || v > tpSufMax[j + 1] ? v : tpSufMax[j + 1];
          }
          let jTp = 0;
          for (let r = 0; r < R; r++) {
            // np.searchsorted(rc, recThrs[r], side='left')
            const v = recThrs[r];
            let lo = 0;
            let hi = nd;
            while (lo < hi) {
              const mid = (lo + hi) >>> 1;
              if (tpCum[mid] / npig < v) lo = mid + 1;
              else hi = mid;
            }
            const idx = (((t * R + r) * K + k) * A + a) * M + m;
            if (lo >= nd) {
              // pycocotools stops at the first index out of range; the rest stay 0
              for (let r2 = r; r2 < R; r2++) {
                const idx2 = (((t * R + r2) * K + k) * A + a) * M + m;
                precision[idx2] = 0;
                scores[idx2] = 0;
              }
              break;
            }
            let env = tpCum[lo] / (fpCum[lo] + tpCum[lo] + EPS);
            // first true positive strictly after lo (recThrs are usually ascending: resume, else restart)
            if (jTp > 0 && tpPos[jTp - 1] > lo) jTp = 0;
            while (jTp < nTp && tpPos[jTp] <= lo) jTp++;
            if (jTp < nTp && tpSufMax[jTp] > env) env = tpSufMax[jTp];
            precision[idx] = env;
            scores[idx] = slotScore[kept[lo]];
          }
        }
      }
    }
  }
  return { counts: [T, R, K, A, M], precision, recall, scores };
}
