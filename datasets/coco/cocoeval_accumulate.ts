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
import { NP_SPACING_1 } from './numpy_compat';

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

  let tpPos = new Int32Array(0);
  let fpAtTp = new Int32Array(0);
  let tpSufMax = new Float64Array(0);
  const kept: Int32Array[] = new Array(M);
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
    // slots in descending score order across images (np.argsort(-dtScores, kind='mergesort')), ranked by evaluate
    const order = new Int32Array(n);
    for (let x = 0; x < n; x++) order[x] = e.rankedSlots[s0 + x] - s0;
    if (tpPos.length < n) {
      tpPos = new Int32Array(n);
      fpAtTp = new Int32Array(n);
      tpSufMax = new Float64Array(n);
    }
    // positions (in score order) of the slots kept with each maxDet: the lists are nested, so equal lengths mean
    // equal lists, and a maxDets entry whose list equals the next one's takes its results
    for (let m = 0; m < M; m++) {
      const maxDet = e.maxDets[m];
      if (maxDet >= maxDetLast) {
        kept[m] = new Int32Array(n);
        for (let x = 0; x < n; x++) kept[m][x] = x;
      } else {
        let nd = 0;
        for (let x = 0; x < n; x++) if (rank[order[x]] < maxDet) nd++;
        const list = new Int32Array(nd);
        nd = 0;
        for (let x = 0; x < n; x++) if (rank[order[x]] < maxDet) list[nd++] = x;
        kept[m] = list;
      }
    }
    for (let a = 0; a < A; a++) {
      // pycocotools skips the (k, a) with no evalImg and the ones with npig == 0; the first are a case of the second
      const npig = e.npig[k * A + a];
      if (npig === 0) continue;
      for (let t = 0; t < T; t++) {
        // this category's codes in score order
        const codes = e.dtCode.subarray((a * T + t) * nSorted + s0, (a * T + t) * nSorted + s1);
        for (let m = M - 1; m >= 0; m--) {
          const keptM = kept[m];
          const nd = keptM.length;
          if (m < M - 1 && nd === kept[m + 1].length) {
            recall[((t * K + k) * A + a) * M + m] = recall[((t * K + k) * A + a) * M + m + 1];
            for (let r = 0; r < R; r++) {
              const idx = (((t * R + r) * K + k) * A + a) * M + m;
              precision[idx] = precision[idx + 1];
              scores[idx] = scores[idx + 1];
            }
            continue;
          }
          // Cumulative counts at the true positives only. rc[x] = tp/npig and pr[x] = tp/(fp+tp+eps) of
          // cocoeval.py are evaluated where needed with the same expressions on the same integers, so values are
          // bit-identical to its full arrays.
          let tp = 0;
          let fp = 0;
          const code0 = nd > 0 ? codes[keptM[0]] : 0;
          if (nd === n) {
            // every detection kept (the largest maxDets, usually): read the codes in place
            for (let x = 0; x < nd; x++) {
              const code = codes[x];
              if (code === 1) {
                tpPos[tp] = x;
                fpAtTp[tp] = fp;
                tp++;
              } else if (code === 0) fp++;
            }
          } else {
            for (let x = 0; x < nd; x++) {
              const code = codes[keptM[x]];
              if (code === 1) {
                tpPos[tp] = x;
                fpAtTp[tp] = fp;
                tp++;
              } else if (code === 0) fp++;
            }
          }
          const nTp = tp;
          recall[((t * K + k) * A + a) * M + m] = nd ? tp / npig : 0;
          // Precision envelope (running max from the right). pr rises (weakly) on a true positive, falls on a false
          // positive and stays on an ignored detection, so max(pr[x:]) is the max of pr at the true positives >= x.
          for (let j = nTp - 1; j >= 0; j--) {
            const v = (j + 1) / (fpAtTp[j] + (j + 1) + EPS);
            tpSufMax[j] = j === nTp - 1 || v > tpSufMax[j + 1] ? v : tpSufMax[j + 1];
          }
          for (let r = 0; r < R; r++) {
            // lo = np.searchsorted(rc, recThrs[r], side='left'): the first x with !(rc[x] < v). rc is 0 before the
            // first true positive and reaches (j+1)/npig at the j-th, so lo is 0 or the first true positive whose
            // count passes.
            const v = recThrs[r];
            let lo: number;
            let env: number;
            if (!(0 / npig < v) && nd > 0) {
              lo = 0;
              // pr[0] is 1/(0+1+eps) for a true positive (then tpPos[0] = 0), else 0/(fp+0+eps) = 0
              env = code0 === 1 ? tpSufMax[0] : nTp > 0 && tpSufMax[0] > 0 ? tpSufMax[0] : 0 / ((code0 === 0 ? 1 : 0) + 0 + EPS);
            } else {
              let jl = 0;
              let jh = nTp;
              while (jl < jh) {
                const mid = (jl + jh) >>> 1;
                if ((mid + 1) / npig < v) jl = mid + 1;
                else jh = mid;
              }
              lo = jl < nTp ? tpPos[jl] : nd;
              env = jl < nTp ? tpSufMax[jl] : 0;
            }
            if (lo >= nd) {
              // pycocotools stops at the first index out of range; the rest stay 0
              for (let r2 = r; r2 < R; r2++) {
                const idx2 = (((t * R + r2) * K + k) * A + a) * M + m;
                precision[idx2] = 0;
                scores[idx2] = 0;
              }
              break;
            }
            const idx = (((t * R + r) * K + k) * A + a) * M + m;
            precision[idx] = env;
            scores[idx] = slotScore[order[keptM[lo]]];
          }
        }
      }
    }
  }
  return { counts: [T, R, K, A, M], precision, recall, scores };
}
