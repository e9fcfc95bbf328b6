/**
 * COCOeval per-image evaluation: selection of the evaluated annotations (`_prepare`), IoU of every detection with
 * every ground truth of its image and category (`computeIoU`), and greedy matching at each IoU threshold and area
 * range (`evaluateImg`), on plain typed arrays.
 *
 * Reference: pycocotools `PythonAPI/pycocotools/cocoeval.py` (`COCOeval._prepare`, `computeIoU`, `evaluateImg`);
 * `common/maskApi.c` (`bbIou`); detectron2 `evaluation/fast_eval_api.py` (`COCOeval_opt`) for the compact layout.
 * Behaviours kept on purpose because the reference has them:
 * - the ground-truth `ignore` field is overwritten by `iscrowd` in `_prepare`, so it has no effect;
 * - a ground truth is ignored for an area range when `area < lo || area > hi` (closed range);
 * - detections are sorted by score with a stable sort (numpy `mergesort`) per image and category;
 * - annotations are looked up by id in `_prepare`, so ground truths sharing an id all evaluate as the last of them;
 * - IoU thresholds are capped at `1 - 1e-10` in the matching.
 */

import { copyAnnotationBox } from './bbox_result';
import type { BboxResultTable, Coco } from './coco';
import type { CocoEvalParams } from './cocoeval_params';
import { rlePairIou, rleToBbox, type Rle } from './mask_api';
import { argsortDescStable } from './numpy_compat';
import type { CocoAnnotationJson } from './types';
import { briefJson } from '../brief_json';

/** Per-image, per-category matching result (pycocotools `evaluateImg`'s dict), for inspection and tests. */
export interface CocoEvalImg {
  imageId: number;
  /** -1 when `useCats` is false. */
  categoryId: number;
  aRng: [number, number];
  maxDet: number;
  /** `[D]` detection ids, highest score first. */
  dtIds: number[];
  /** `[G]` ground-truth ids, non-ignored first. */
  gtIds: number[];
  /** `[T, D]` row-major: id of the matched ground truth at each IoU threshold, 0 if none. */
  dtMatches: Float64Array;
  /** `[T, G]` row-major: id of the matched detection, 0 if none. */
  gtMatches: Float64Array;
  /** `[D]` detection scores. */
  dtScores: number[];
  /** `[G]` 1 where the ground truth is ignored (crowd, or area outside the range). */
  gtIgnore: Uint8Array;
  /** `[T, D]` row-major: 1 where the detection is ignored. */
  dtIgnore: Uint8Array;
}

/**
 * Everything `evaluate` computes, in columnar form. A pair `q = k * I + i` is (category k, image i); with
 * `useCats` false there is one pseudo-category (K = 1) holding all annotations of the image.
 */
export interface EvaluatedImages {
  /** `[I]` evaluated image ids, sorted. */
  imgIds: number[];
  /** `[Kc]` evaluated category ids. */
  catIds: number[];
  /** `[M]` sorted maxDets. */
  maxDets: number[];
  /** `[T]` IoU thresholds. */
  iouThrs: number[];
  T: number;
  A: number;
  /** Categories in the output: `catIds.length`, or 1 when `useCats` is false. */
  K: number;
  I: number;
  // ---- ground truths of the evaluated set, by selection index ----
  gtBox: Float64Array;
  gtArea: Float64Array;
  gtCrowd: Uint8Array;
  gtIgnoreBase: Uint8Array;
  gtId: Float64Array;
  gtRle: Rle[];
  gtRleBox: Float64Array;
  /** Ground-truth indices grouped by pair: `gtOrder[gtPairStart[q] .. gtPairStart[q+1])`, file order within a pair. */
  gtOrder: Int32Array;
  gtPairStart: Int32Array;
  // ---- detections, by selection index (the row, for results held as a table) ----
  dtBox: Float64Array;
  dtArea: Float64Array;
  dtScore: Float64Array;
  dtId: Float64Array;
  dtRle: Rle[];
  dtRleBox: Float64Array;
  /** Per pair: detection indices sorted by score, truncated to `maxDets[-1]`: `dtSorted[dtPairStart[q] .. dtPairStart[q+1])`. */
  dtSorted: Int32Array;
  dtPairStart: Int32Array;
  /** Per pair: offset of its `[D, G]` row-major IoU matrix in `ious`, -1 when it has no detection or no ground truth. */
  iouOffset: Float64Array;
  ious: Float64Array;
  /**
   * Per category k, the detection slots of all its pairs (`dtPairStart[k*I] .. dtPairStart[(k+1)*I]`) ranked by
   * score, ties in image order: `np.argsort(-dtScores, kind='mergesort')` of cocoeval.py's `accumulate`.
   */
  rankedSlots: Int32Array;
  /**
   * `[A, T, dtSorted.length]`: bit 0 = matched (true positive unless ignored), bit 1 = ignored; stored in the order of
   * `rankedSlots`, so that `accumulate` reads each category's detections in score order, contiguously.
   */
  dtCode: Uint8Array;
  /**
   * `[K, A]` number of non-ignored ground truths over the evaluated images (pycocotools' `npig`, summed over the
   * images whose evalImg is not None; an image without ground truth adds 0, so the sum over all images is the same).
   */
  npig: Int32Array;
}

/** Scratch buffers of {@link matchPair}, grown on demand. */
export interface MatchScratch {
  dtm: Float64Array;
  dtIg: Uint8Array;
  gtm: Float64Array;
  gtIg: Uint8Array;
  gtind: Int32Array;
}

/** Scratch for {@link matchPair} sized for `T` thresholds and up to `maxD` detections. */
export function newMatchScratch(T: number, maxD: number): MatchScratch {
  return { dtm: new Float64Array(T * maxD), dtIg: new Uint8Array(T * maxD), gtm: new Float64Array(0), gtIg: new Uint8Array(0), gtind: new Int32Array(0) };
}

/**
 * pycocotools `evaluate`: `_prepare`, `computeIoU` and `evaluateImg` for every category, area range and image.
 * `params` must already be normalised (ids sorted and unique, `maxDets` sorted and non-empty, `areaRng` non-empty).
 * @throws when a ground-truth annotation lacks a field the evaluation needs (naming its file and id), or a
 *   segmentation cannot be converted.
 */
export function evaluateImages(cocoGt: Coco, cocoDt: Coco, p: CocoEvalParams): EvaluatedImages {
  const imgIds = p.imgIds;
  const catIds = [...new Set(p.catIds)];
  const I = imgIds.length;
  const Kc = catIds.length;
  const K = p.useCats ? Kc : 1;
  const T = p.iouThrs.length;
  const A = p.areaRng.length;
  const maxDetLast = p.maxDets[p.maxDets.length - 1];
  const imgIndex = new Map<number, number>();
  imgIds.forEach((id, i) => imgIndex.set(id, i));
  const catIndex = new Map<number, number>();
  catIds.forEach((id, k) => catIndex.set(id, k));
  const segm = p.iouType === 'segm';

  // ---- _prepare: select annotations of evaluated images/categories, grouped by (image, category) ----
  // As cocoeval.py: `loadAnns(getAnnIds(imgIds, catIds))` walks the evaluated images in order and each image's
  // annotations in file order, then looks every annotation up *by id*, so a repeated id yields the last annotation
  // with that id each time; `_gts[image_id, category_id]` groups them by the looked-up annotation's own fields.
  // With unique ids the lookup returns the annotation itself, and is skipped.
  const select = (coco: Coco) => {
    let most = 0;
    for (let i0 = 0; i0 < I; i0++) most += coco.imgToAnns.get(imgIds[i0])?.length ?? 0;
    const keys = new Int32Array(most);
    const picked: CocoAnnotationJson[] = new Array(most);
    let count = 0;
    const byId = coco.uniqueAnnotationIds ? null : coco.anns;
    for (let i0 = 0; i0 < I; i0++) {
      const list = coco.imgToAnns.get(imgIds[i0]);
      if (!list) continue;
      for (const orig of list) {
        if (p.useCats && !catIndex.has(orig.category_id)) continue;
        const a = byId ? (byId.get(orig.id) as CocoAnnotationJson) : orig;
        const i = imgIndex.get(a.image_id);
        if (i === undefined) continue;
        const k = catIndex.get(a.category_id);
        if (k === undefined) continue;
        keys[count] = i * Kc + k;
        picked[count++] = a;
      }
    }
    picked.length = count;
    return { picked, ...groupByKey(keys, count, I * Kc) };
  };
  // The same selection from results held as columns (ids 1..N, unique): image by image in `imgIds` order, each
  // image's records in file order, is file order restricted to the evaluated images once grouped by image.
  const selectRows = (table: BboxResultTable) => {
    const n = table.imageId.length;
    const keys = new Int32Array(n);
    const rows = new Int32Array(n);
    let count = 0;
    let lastImageId = NaN;
    let i: number | undefined;
    let lastCategoryId = NaN;
    let k: number | undefined;
    for (let r = 0; r < n; r++) {
      const imageId = table.imageId[r];
      if (imageId !== lastImageId) {
        i = imgIndex.get(imageId);
        lastImageId = imageId;
      }
      if (i === undefined) continue;
      const categoryId = table.categoryId[r];
      if (categoryId !== lastCategoryId) {
        k = catIndex.get(categoryId);
        lastCategoryId = categoryId;
      }
      if (k === undefined) continue;
      keys[count] = i * Kc + k;
      rows[count++] = r;
    }
    return { rows, ...groupByKey(keys, count, I * Kc) };
  };
  const gtSel = select(cocoGt);
  const dtTable = segm ? undefined : cocoDt.resultTable;
  const dtSel = dtTable ? selectRows(dtTable) : select(cocoDt);

  // ---- columnar copies of the fields used ----
  const nG = gtSel.picked.length;
  const gtBox = new Float64Array(nG * 4);
  const gtArea = new Float64Array(nG);
  const gtCrowd = new Uint8Array(nG);
  const gtIgnoreBase = new Uint8Array(nG);
  const gtId = new Float64Array(nG);
  const gtRle: Rle[] = segm ? new Array<Rle>(nG) : [];
  const gtRleBox = new Float64Array(segm ? nG * 4 : 0);
  const gtSrc = cocoGt.source;
  for (let j = 0; j < nG; j++) {
    const a = gtSel.picked[j];
    // ---- DIFFERENCE FROM PYCOCOTOOLS: ground-truth fields are checked ----
    // pycocotools fails inside numpy (or compares None) on a ground truth without a numeric `area`, an `iscrowd`
    // that is not 0/1 or a malformed `bbox`; here the error names the file and the annotation id. Valid files
    // evaluate identically.
    if (typeof a.area !== 'number' || Number.isNaN(a.area)) {
      throw new Error(`${gtSrc}: annotation id ${a.id}: "area" must be a number, got ${a.area === undefined ? 'nothing' : briefJson(a.area)} (the ground truth's ` +
        'area, in pixels², decides its small/medium/large range)');
    }
    gtArea[j] = a.area;
    const crowd = a.iscrowd === undefined ? 0 : a.iscrowd;
    if (typeof crowd !== 'number' && typeof crowd !== 'boolean') throw new Error(`${gtSrc}: annotation id ${a.id}: "iscrowd" must be 0 or 1`);
    // ---- END DIFFERENCE ----
    gtCrowd[j] = crowd ? 1 : 0;
    // cocoeval.py _prepare: gt['ignore'] = 'iscrowd' in gt and gt['iscrowd'] (the file's `ignore` is overwritten)
    gtIgnoreBase[j] = crowd ? 1 : 0;
    gtId[j] = a.id;
    if (segm) {
      const rle = cocoGt.annToRle(a);
      gtRle[j] = rle;
      gtRleBox.set(rleToBbox(rle), j * 4);
    } else {
      const bb = a.bbox;
      if (!Array.isArray(bb) || bb.length !== 4 || typeof bb[0] !== 'number' || typeof bb[1] !== 'number' || typeof bb[2] !== 'number' || typeof bb[3] !== 'number') {
        throw new Error(`${gtSrc}: annotation id ${a.id}: "bbox" must be [x, y, w, h]`);
      }
      gtBox[j * 4] = bb[0];
      gtBox[j * 4 + 1] = bb[1];
      gtBox[j * 4 + 2] = bb[2];
      gtBox[j * 4 + 3] = bb[3];
    }
  }
  // Detections from a results table are indexed by their row: the table's columns serve as they are (no copy: on
  // 250,000 detections a copy is 14 MB of fresh memory, whose first touch costs more than the loops over it).
  const fromTable = dtTable !== undefined && 'rows' in dtSel;
  const nD = fromTable ? dtTable.score.length : dtSel.order.length;
  const dtBox = fromTable ? dtTable.bbox : new Float64Array(segm ? 0 : nD * 4);
  const dtArea = fromTable ? dtTable.area : new Float64Array(nD);
  const dtScore = fromTable ? dtTable.score : new Float64Array(nD);
  const dtId = new Float64Array(nD);
  const dtRle: Rle[] = segm ? new Array<Rle>(nD) : [];
  const dtRleBox = new Float64Array(segm ? nD * 4 : 0);
  if (fromTable) {
    const rows = dtSel.rows;
    const order = dtSel.order;
    for (let j = 0; j < order.length; j++) order[j] = rows[order[j]];
    for (let r = 0; r < nD; r++) dtId[r] = r + 1;
  }
  for (let j = 0; j < nD && 'picked' in dtSel; j++) {
    const a = dtSel.picked[j];
    dtArea[j] = a.area as number;
    dtScore[j] = a.score as number;
    dtId[j] = a.id;
    if (segm) {
      const rle = cocoDt.annToRle(a);
      dtRle[j] = rle;
      dtRleBox.set(rleToBbox(rle), j * 4);
    } else {
      if (!copyAnnotationBox(a, dtBox, j * 4)) {
        throw new Error(`${cocoDt.source}: annotation id ${a.id}: "bbox" must be [x, y, w, h]`);
      }
    }
  }

  // ---- pairs: (k, i) with k over categories (or the single -1 when !useCats) ----
  const nPairs = K * I;
  const useCats = p.useCats;
  // selection range of pair (k, i) in an `order` grouped by image then category
  const pairBegin = (start: Int32Array, k: number, i: number): number => (useCats ? start[i * Kc + k] : start[i * Kc]);
  const pairEnd = (start: Int32Array, k: number, i: number): number => (useCats ? start[i * Kc + k + 1] : start[(i + 1) * Kc]);
  // ground-truth ranges must be contiguous per pair in pair order (k-major): rebuild an order array
  const gtPairStart = new Int32Array(nPairs + 1);
  const gtOrder = new Int32Array(nG);
  {
    let w = 0;
    for (let k = 0; k < K; k++) {
      for (let i = 0; i < I; i++) {
        gtPairStart[k * I + i] = w;
        const end = pairEnd(gtSel.start, k, i);
        for (let q = pairBegin(gtSel.start, k, i); q < end; q++) gtOrder[w++] = gtSel.order[q];
      }
    }
    gtPairStart[nPairs] = w;
  }
  // detections sorted by score per pair, truncated to maxDets[-1]
  const dtPairStart = new Int32Array(nPairs + 1);
  let dtSorted: Int32Array;
  {
    const sorted = new Int32Array(nD);
    let w = 0;
    for (let k = 0; k < K; k++) {
      for (let i = 0; i < I; i++) {
        dtPairStart[k * I + i] = w;
        const s = pairBegin(dtSel.start, k, i);
        const n = pairEnd(dtSel.start, k, i) - s;
        if (n === 0) continue;
        for (let q = 0; q < n; q++) sorted[w + q] = dtSel.order[s + q];
        argsortDescStable(sorted, dtScore, w, w + n);
        w += Math.min(n, maxDetLast);
      }
    }
    dtPairStart[nPairs] = w;
    dtSorted = sorted.slice(0, w);
  }

  const e: EvaluatedImages = {
    imgIds, catIds, maxDets: p.maxDets, iouThrs: p.iouThrs, T, A, K, I,
    gtBox, gtArea, gtCrowd, gtIgnoreBase, gtId, gtRle, gtRleBox, gtOrder, gtPairStart,
    dtBox, dtArea, dtScore, dtId, dtRle, dtRleBox, dtSorted, dtPairStart,
    iouOffset: new Float64Array(nPairs), ious: new Float64Array(0),
    rankedSlots: new Int32Array(0), dtCode: new Uint8Array(0), npig: new Int32Array(0),
  };

  // ---- computeIoU per pair ----
  let iouSize = 0;
  for (let q = 0; q < nPairs; q++) {
    const G = gtPairStart[q + 1] - gtPairStart[q];
    const D = dtPairStart[q + 1] - dtPairStart[q];
    if (G > 0 && D > 0) {
      e.iouOffset[q] = iouSize;
      iouSize += G * D;
    } else e.iouOffset[q] = -1;
  }
  e.ious = new Float64Array(iouSize);
  for (let q = 0; q < nPairs; q++) if (e.iouOffset[q] >= 0) computePairIou(e, segm, q);

  // ---- evaluateImg for every (k, a, i) ----
  // ---- DIFFERENCE FROM PYCOCOTOOLS: no list of evalImgs dicts ----
  // pycocotools stores one dict per (category, area range, image) in `evalImgs` and `accumulate` concatenates
  // their arrays again for every maxDets; building them is the bottleneck of its evaluation. As detectron2's
  // `COCOeval_opt`, the matches are kept in one compact array (`dtCode`, with `npig`), from which `accumulate`
  // reads the same values; `CocoEval.evaluateImg` recomputes the dict of one pair on request.
  const nSorted = dtSorted.length;
  const rankedSlots = new Int32Array(nSorted);
  const slotPos = new Int32Array(nSorted);
  {
    const slotScore = new Float64Array(nSorted);
    for (let x = 0; x < nSorted; x++) {
      rankedSlots[x] = x;
      slotScore[x] = dtScore[dtSorted[x]];
    }
    for (let k = 0; k < K; k++) argsortDescStable(rankedSlots, slotScore, dtPairStart[k * I], dtPairStart[(k + 1) * I]);
    for (let x = 0; x < nSorted; x++) slotPos[rankedSlots[x]] = x;
  }
  const dtCode = new Uint8Array(A * T * nSorted);
  // Every detection starts as matchPair leaves an unmatched one: ignored (2) when its area is outside the range, else
  // a false positive (0). Pairs without ground truth keep these codes; the others overwrite theirs.
  {
    const unmatched = new Uint8Array(nSorted);
    const rankedArea = new Float64Array(nSorted); // gathered once: the loop below reads it A times in order
    for (let x = 0; x < nSorted; x++) rankedArea[x] = dtArea[dtSorted[rankedSlots[x]]];
    for (let a = 0; a < A; a++) {
      const lo = p.areaRng[a][0];
      const hi = p.areaRng[a][1];
      for (let x = 0; x < nSorted; x++) {
        const area = rankedArea[x];
        unmatched[x] = area < lo || area > hi ? 2 : 0;
      }
      for (let t = 0; t < T; t++) dtCode.set(unmatched, (a * T + t) * nSorted);
    }
  }
  const npig = new Int32Array(K * A);
  const scratch = newMatchScratch(T, maxDetLast);
  for (let k = 0; k < K; k++) {
    for (let i = 0; i < I; i++) {
      const q = k * I + i;
      const G = gtPairStart[q + 1] - gtPairStart[q];
      const D = dtPairStart[q + 1] - dtPairStart[q];
      if (G === 0 && D === 0) {
        continue;
      }
      if (G === 0 || D === 0) {
        // Nothing to match (most pairs): as matchPair, without its buffers. With no ground truth every detection is
        // unmatched (its code is set above); with no detection only the non-ignored ground truths count.
        const g0 = gtPairStart[q];
        for (let a = 0; a < A; a++) {
          const lo = p.areaRng[a][0];
          const hi = p.areaRng[a][1];
          let n = 0;
          for (let g = 0; g < G; g++) {
            const gj = gtOrder[g0 + g];
            if (!(gtIgnoreBase[gj] || gtArea[gj] < lo || gtArea[gj] > hi)) n++;
          }
          npig[k * A + a] += n;
        }
        continue;
      }
      const d0 = dtPairStart[q];
      for (let a = 0; a < A; a++) {
        npig[k * A + a] += matchPair(e, q, p.areaRng[a], maxDetLast, scratch);
        const dtm = scratch.dtm;
        const dtIg = scratch.dtIg;
        for (let d = 0; d < D; d++) {
          const at = slotPos[d0 + d] + a * T * nSorted;
          for (let t = 0; t < T; t++) dtCode[at + t * nSorted] = (dtm[t * D + d] !== 0 ? 1 : 0) | (dtIg[t * D + d] << 1);
        }
      }
    }
  }
  // ---- END DIFFERENCE ----
  e.rankedSlots = rankedSlots;
  e.dtCode = dtCode;
  e.npig = npig;
  return e;
}

/**
 * Counting sort of `keys[0..count)` (values in `0..nKeys`), stable: `order` lists the positions grouped by key,
 * in their original order within a key; `start[key] .. start[key+1]` is the range of a key in `order`.
 */
function groupByKey(keys: Int32Array, count: number, nKeys: number): { order: Int32Array; start: Int32Array } {
  const start = new Int32Array(nKeys + 1);
  for (let j = 0; j < count; j++) start[keys[j] + 1]++;
  for (let q = 0; q < nKeys; q++) start[q + 1] += start[q];
  const fill = start.slice(0, nKeys);
  const order = new Int32Array(count);
  for (let j = 0; j < count; j++) order[fill[keys[j]]++] = j;
  return { order, start };
}

/** computeIoU for pair `q`: fills its `[D, G]` block of `e.ious` (maskApi.c `bbIou`, or `rleIou` for segm). */
function computePairIou(e: EvaluatedImages, segm: boolean, q: number): void {
  const g0 = e.gtPairStart[q];
  const G = e.gtPairStart[q + 1] - g0;
  const d0 = e.dtPairStart[q];
  const D = e.dtPairStart[q + 1] - d0;
  const off = e.iouOffset[q];
  const out = e.ious;
  if (segm) {
    for (let d = 0; d < D; d++) {
      const dj = e.dtSorted[d0 + d];
      const dBox = e.dtRleBox.subarray(dj * 4, dj * 4 + 4);
      for (let g = 0; g < G; g++) {
        const gj = e.gtOrder[g0 + g];
        out[off + d * G + g] = rlePairIou(e.dtRle[dj], dBox, e.gtRle[gj], e.gtRleBox.subarray(gj * 4, gj * 4 + 4), e.gtCrowd[gj] === 1);
      }
    }
    return;
  }
  // maskApi.c bbIou
  const gb = e.gtBox;
  const db = e.dtBox;
  for (let g = 0; g < G; g++) {
    const gj = e.gtOrder[g0 + g] * 4;
    const gx = gb[gj];
    const gy = gb[gj + 1];
    const gw = gb[gj + 2];
    const gh = gb[gj + 3];
    const ga = gw * gh;
    const gx2 = gw + gx;
    const gy2 = gh + gy;
    const crowd = e.gtCrowd[gj / 4] === 1;
    for (let d = 0; d < D; d++) {
      const dj = e.dtSorted[d0 + d] * 4;
      const dx = db[dj];
      const dy = db[dj + 1];
      const dw = db[dj + 2];
      const dh = db[dj + 3];
      let o = 0;
      const iw = Math.min(dw + dx, gx2) - Math.max(dx, gx);
      if (iw > 0) {
        const ih = Math.min(dh + dy, gy2) - Math.max(dy, gy);
        if (ih > 0) {
          const inter = iw * ih;
          const da = dw * dh;
          o = inter / (crowd ? da : da + ga - inter);
        }
      }
      out[off + d * G + g] = o;
    }
  }
}

/**
 * evaluateImg core for pair `q`, with `D = min(maxDet, detections of the pair)` and `G` its ground truths: fills
 * scratch.dtm `[T, D]` (matched gt id), scratch.dtIg `[T, D]`, scratch.gtm `[T, G]` (matched dt id), scratch.gtIg
 * `[G]` and scratch.gtind `[G]` (gt order, ignored last).
 * @returns the number of ground truths not ignored.
 */
export function matchPair(
  e: EvaluatedImages,
  q: number,
  aRng: readonly [number, number],
  maxDet: number,
  s: MatchScratch,
): number {
  const T = e.T;
  const g0 = e.gtPairStart[q];
  const G = e.gtPairStart[q + 1] - g0;
  const d0 = e.dtPairStart[q];
  const Dall = e.dtPairStart[q + 1] - d0;
  const D = Math.min(Dall, maxDet);
  if (s.dtm.length < T * D) {
    s.dtm = new Float64Array(T * D);
    s.dtIg = new Uint8Array(T * D);
  }
  if (s.gtIg.length < G) {
    s.gtIg = new Uint8Array(G);
    s.gtind = new Int32Array(G);
  }
  if (s.gtm.length < T * G) s.gtm = new Float64Array(T * G);
  const lo = aRng[0];
  const hi = aRng[1];
  // gt _ignore, then stable order with ignored last
  let npig = 0;
  const gtind = s.gtind;
  const gtIg = s.gtIg;
  for (let g = 0; g < G; g++) {
    const gj = e.gtOrder[g0 + g];
    const area = e.gtArea[gj];
    if (!(e.gtIgnoreBase[gj] || area < lo || area > hi)) gtind[npig++] = g;
  }
  let w = npig;
  for (let g = 0; g < G; g++) {
    const gj = e.gtOrder[g0 + g];
    const area = e.gtArea[gj];
    if (e.gtIgnoreBase[gj] || area < lo || area > hi) gtind[w++] = g;
  }
  for (let g = 0; g < G; g++) gtIg[g] = g < npig ? 0 : 1;
  const dtm = s.dtm;
  const dtIg = s.dtIg;
  const gtm = s.gtm;
  dtm.fill(0, 0, T * D);
  dtIg.fill(0, 0, T * D);
  gtm.fill(0, 0, T * G);
  const off = e.iouOffset[q];
  if (off >= 0) {
    const ious = e.ious;
    const iouThrs = e.iouThrs;
    for (let t = 0; t < T; t++) {
      const thr = Math.min(iouThrs[t], 1 - 1e-10);
      const gtmRow = t * G;
      for (let d = 0; d < D; d++) {
        let iou = thr;
        let m = -1;
        const row = off + d * G;
        for (let gi = 0; gi < G; gi++) {
          const gj = e.gtOrder[g0 + gtind[gi]];
          // already matched and not a crowd: skip
          if (gtm[gtmRow + gi] > 0 && !e.gtCrowd[gj]) continue;
          // matched to a regular gt and reached the ignored ones: stop
          if (m > -1 && gtIg[m] === 0 && gtIg[gi] === 1) break;
          const v = ious[row + gtind[gi]];
          if (v < iou) continue;
          iou = v;
          m = gi;
        }
        if (m === -1) continue;
        dtIg[t * D + d] = gtIg[m];
        dtm[t * D + d] = e.gtId[e.gtOrder[g0 + gtind[m]]];
        gtm[gtmRow + m] = e.dtId[e.dtSorted[d0 + d]];
      }
    }
  }
  // unmatched detections outside the area range are ignored
  for (let d = 0; d < D; d++) {
    const area = e.dtArea[e.dtSorted[d0 + d]];
    if (area < lo || area > hi) {
      for (let t = 0; t < T; t++) if (dtm[t * D + d] === 0) dtIg[t * D + d] = 1;
    }
  }
  return npig;
}

/**
 * The matching of image `i` and category index `k` (pycocotools `evaluateImg`) as its dict, recomputed from `e`.
 * @returns the record, or null when the pair has neither ground truth nor detections (as pycocotools).
 */
export function evaluateImgRecord(
  e: EvaluatedImages, k: number, i: number, imageId: number, categoryId: number, aRng: [number, number], maxDet: number,
): CocoEvalImg | null {
  const q = k * e.I + i;
  const G = e.gtPairStart[q + 1] - e.gtPairStart[q];
  const Dall = e.dtPairStart[q + 1] - e.dtPairStart[q];
  if (G === 0 && Dall === 0) return null;
  const s = newMatchScratch(e.T, Dall);
  matchPair(e, q, aRng, maxDet, s);
  const D = Math.min(Dall, maxDet);
  const T = e.T;
  const g0 = e.gtPairStart[q];
  const d0 = e.dtPairStart[q];
  const gtIds: number[] = [];
  for (let gi = 0; gi < G; gi++) gtIds.push(e.gtId[e.gtOrder[g0 + s.gtind[gi]]]);
  const dtIds: number[] = [];
  const dtScores: number[] = [];
  for (let d = 0; d < D; d++) {
    dtIds.push(e.dtId[e.dtSorted[d0 + d]]);
    dtScores.push(e.dtScore[e.dtSorted[d0 + d]]);
  }
  return {
    imageId,
    categoryId,
    aRng: [aRng[0], aRng[1]],
    maxDet,
    dtIds,
    gtIds,
    dtMatches: s.dtm.slice(0, T * D),
    gtMatches: s.gtm.slice(0, T * G),
    dtScores,
    gtIgnore: s.gtIg.slice(0, G),
    dtIgnore: s.dtIg.slice(0, T * D),
  };
}
