/**
 * COCO detection evaluation (bbox and segm): per-image matching, accumulation into precision/recall arrays, and
 * the 12 summary numbers, with pycocotools' exact semantics and printed lines.
 *
 * Reference: pycocotools `PythonAPI/pycocotools/cocoeval.py` (classes `COCOeval`, `Params`), pycocotools 2.0.x.
 * Behaviours kept on purpose because the reference has them:
 * - the ground-truth `ignore` field is overwritten by `iscrowd` in `_prepare`, so it has no effect;
 * - a ground truth is ignored for an area range when `area < lo || area > hi` (closed range);
 * - detections are sorted by score with a stable sort (numpy `mergesort`), per image and again across images;
 * - precision at recall thresholds uses `searchsorted(rc, recThrs, 'left')` and stays 0 beyond the last recall;
 * - `np.linspace` arithmetic for the default IoU and recall thresholds, `np.spacing(1)` in the precision
 *   denominator, numpy's pairwise summation in the means, Python's round-half-even in the printed numbers;
 * - a matched ground truth whose id is 0 counts as unmatched in `accumulate` (`dtm == 0` tests the id);
 * - annotations are looked up by id in `_prepare`, so ground truths sharing an id all evaluate as the last of them.
 * Implementation: plain typed arrays, one pass per (image, category) pair; no per-detection objects.
 */

import type { Coco } from './coco';
import { rlePairIou, rleToBbox, type Rle } from './mask_api';
import type { CocoAnnotationJson } from './types';
import { pairwiseSum } from '../numpy_sum';
import { briefJson } from '../brief_json';

/** The kind of region compared by IoU. */
export type IouType = 'bbox' | 'segm';

/** COCOeval parameters, with pycocotools' names and meaning. */
export interface CocoEvalParams {
  iouType: IouType;
  /** Image ids to evaluate (sorted and de-duplicated by `evaluate`). Default: all ground-truth images. */
  imgIds: number[];
  /** Category ids to evaluate (sorted and de-duplicated by `evaluate` when `useCats`). Default: all categories. */
  catIds: number[];
  /** `[T]` IoU thresholds, fractions 0..1. Default: `linspace(0.5, 0.95, 10)`. */
  iouThrs: number[];
  /** `[R]` recall thresholds, fractions 0..1. Default: `linspace(0, 1, 101)`. */
  recThrs: number[];
  /** `[M]` maximum detections per image (sorted by `evaluate`). Default `[1, 10, 100]`. */
  maxDets: number[];
  /** `[A]` object area ranges `[lo, hi]`, pixels², both ends included. */
  areaRng: [number, number][];
  /** `[A]` labels of the area ranges (`summarize` looks up 'all', 'small', 'medium', 'large'). */
  areaRngLbl: string[];
  /** When false, categories are ignored (all detections compete for all ground truths), as in proposal scoring. */
  useCats: boolean;
}

/**
 * numpy `linspace(start, stop, num, endpoint=True)` with numpy's arithmetic (`i * step + start`, last = stop), so
 * thresholds compare equal to pycocotools' bit for bit.
 */
export function linspace(start: number, stop: number, num: number): number[] {
  const div = num - 1;
  const delta = stop - start;
  const out = new Array<number>(num);
  if (div > 0) {
    const step = delta / div;
    for (let i = 0; i < num; i++) out[i] = step === 0 ? (i / div) * delta + start : i * step + start;
  } else {
    for (let i = 0; i < num; i++) out[i] = i * delta + start;
  }
  if (num > 1) out[num - 1] = stop;
  return out;
}

/** pycocotools `Params.setDetParams` for the given IoU type (image and category ids empty). */
export function defaultCocoEvalParams(iouType: IouType): CocoEvalParams {
  return {
    iouType,
    imgIds: [],
    catIds: [],
    iouThrs: linspace(0.5, 0.95, Math.round((0.95 - 0.5) / 0.05) + 1),
    recThrs: linspace(0.0, 1.0, Math.round((1.0 - 0.0) / 0.01) + 1),
    maxDets: [1, 10, 100],
    areaRng: [
      [0 ** 2, 1e5 ** 2],
      [0 ** 2, 32 ** 2],
      [32 ** 2, 96 ** 2],
      [96 ** 2, 1e5 ** 2],
    ],
    areaRngLbl: ['all', 'small', 'medium', 'large'],
    useCats: true,
  };
}

const PARAM_KEYS = ['imgIds', 'catIds', 'iouThrs', 'recThrs', 'maxDets', 'areaRng', 'areaRngLbl', 'useCats'] as const;

/**
 * Applies overrides written with pycocotools' attribute names (as in a `params.json`) to `params`, in place.
 * @param params the parameters to change.
 * @param overrides `{maxDets?, useCats?: 0|1|boolean, iouThrs?, recThrs?, areaRng?, areaRngLbl?, imgIds?, catIds?}`.
 * @param source a name for error messages.
 * @throws on an unknown key (listing the valid ones) or a value of the wrong type.
 */
export function applyCocoEvalParamOverrides(params: CocoEvalParams, overrides: unknown, source = 'params'): void {
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) {
    throw new Error(`${source}: parameter overrides must be an object`);
  }
  const numList = (key: string, v: unknown): number[] => {
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new Error(`${source}: "${key}" must be a list of finite numbers, got ${briefJson(v)}`);
    }
    return [...v];
  };
  for (const [key, v] of Object.entries(overrides)) {
    switch (key) {
      case 'imgIds':
      case 'catIds':
      case 'iouThrs':
      case 'recThrs':
        params[key] = numList(key, v);
        break;
      case 'maxDets': {
        const list = numList(key, v);
        if (!list.every((x) => Number.isInteger(x) && x >= 0)) throw new Error(`${source}: "maxDets" must hold non-negative integers`);
        params.maxDets = list;
        break;
      }
      case 'areaRng':
        if (!Array.isArray(v) || !v.every((r) => Array.isArray(r) && r.length === 2)) {
          throw new Error(`${source}: "areaRng" must be a list of [lo, hi] pairs, got ${briefJson(v)}`);
        }
        params.areaRng = v.map((r, i) => numList(`areaRng[${i}]`, r) as [number, number]);
        break;
      case 'areaRngLbl':
        if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
          throw new Error(`${source}: "areaRngLbl" must be a list of strings`);
        }
        params.areaRngLbl = [...v];
        break;
      case 'useCats':
        if (v !== 0 && v !== 1 && v !== true && v !== false) throw new Error(`${source}: "useCats" must be 0, 1 or a boolean`);
        params.useCats = Boolean(v);
        break;
      default:
        throw new Error(`${source}: unknown parameter "${key}"; valid: ${PARAM_KEYS.join(', ')}`);
    }
  }
}

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

/** The 12 summary numbers and the 12 lines pycocotools prints. */
export interface CocoEvalSummary {
  /** `[12]`: AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl; -1 where undefined. */
  stats: number[];
  lines: string[];
}

/** `np.mean` of a 1-D float64 list; -1 for an empty list (pycocotools' convention for "undefined"). */
function meanOrMinusOne(values: number[]): number {
  if (values.length === 0) return -1;
  return (0 + pairwiseSum(values, 0, values.length)) / values.length;
}

/**
 * Python's `'{:0.Nf}'.format(x)`: correctly rounded, ties (exact binary halves) to even.
 */
export function formatFixedPython(x: number, digits: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const neg = x < 0 || Object.is(x, -0);
  const ax = Math.abs(x);
  let s = ax.toFixed(digits); // exact value, ties away from zero
  const EXTRA = 25;
  const long = ax.toFixed(Math.min(100, digits + EXTRA));
  const tail = long.slice(long.length - EXTRA);
  if (tail === '5' + '0'.repeat(EXTRA - 1)) {
    let truncated = long.slice(0, long.length - EXTRA);
    if (digits === 0) truncated = truncated.slice(0, -1); // drop the '.'
    const lastDigit = Number(truncated[truncated.length - 1]);
    if (lastDigit % 2 === 0) s = truncated;
  }
  return (neg ? '-' : '') + s;
}

function padLeft(s: string, n: number): string {
  return s.length >= n ? s : ' '.repeat(n - s.length) + s;
}
function padRight(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function sortedUnique(ids: readonly number[]): number[] {
  return [...new Set(ids)].sort((a, b) => a - b);
}

/** Stable sort of `idx[0..n)` by descending `score[idx[i]]` (numpy `argsort(-score, kind='mergesort')`). */
function sortByScoreDesc(idx: Int32Array, score: Float64Array): void {
  // Ties keep their current order: compare positions, since TypedArray#sort stability is not relied on.
  const n = idx.length;
  if (n < 2) return;
  let sorted = true;
  for (let i = 1; i < n; i++) if (score[idx[i]] > score[idx[i - 1]]) { sorted = false; break; }
  if (sorted) return;
  const order = Array.from({ length: n }, (_, i) => i);
  const base = Array.from(idx);
  order.sort((a, b) => score[base[b]] - score[base[a]] || a - b);
  for (let i = 0; i < n; i++) idx[i] = base[order[i]];
}

/** COCO evaluation of detections `cocoDt` against ground truth `cocoGt` (pycocotools `COCOeval`). */
export class CocoEval {
  /** Parameters; change them before `evaluate`. */
  params: CocoEvalParams;
  /** Accumulated arrays, set by `accumulate`. */
  eval: CocoEvalAccumulated | null = null;
  /** Summary numbers, set by `summarize`. */
  stats: number[] = [];

  // ---- state built by evaluate() ----
  private evaluated = false;
  private imgIds: number[] = [];
  private catIds: number[] = [];
  private maxDets: number[] = [];
  private T = 0;
  private A = 0;
  /** K in the output: number of categories, or 1 when !useCats. */
  private K = 0;
  private I = 0;
  // ground truths of the evaluated set, by index
  private gtBox = new Float64Array(0);
  private gtArea = new Float64Array(0);
  private gtCrowd = new Uint8Array(0);
  private gtIgnoreBase = new Uint8Array(0);
  private gtId = new Float64Array(0);
  private gtRle: Rle[] = [];
  private gtRleBox = new Float64Array(0);
  /** ground-truth indices grouped by pair, `gtPairStart[p]..gtPairStart[p+1]`, pair p = k * I + i. */
  private gtOrder = new Int32Array(0);
  private gtPairStart = new Int32Array(0);
  // detections
  private dtBox = new Float64Array(0);
  private dtArea = new Float64Array(0);
  private dtScore = new Float64Array(0);
  private dtId = new Float64Array(0);
  private dtRle: Rle[] = [];
  private dtRleBox = new Float64Array(0);
  /** per pair: detection indices sorted by score, truncated to maxDets[-1]; `dtPairStart[p]..dtPairStart[p+1]`. */
  private dtSorted = new Int32Array(0);
  private dtPairStart = new Int32Array(0);
  /** per pair: IoU matrix offset in `ious` ([D, G] row-major), -1 when empty. */
  private iouOffset = new Float64Array(0);
  private ious = new Float64Array(0);
  /** `[A, T, Nsorted]`: 0 = false positive, 1 = true positive, 2/3 = ignored (bit 1), for detection slot. */
  private dtCode = new Uint8Array(0);
  /** `[K, A, I]` number of non-ignored ground truths; -1 when the (pair) evalImg is None. */
  private npig = new Int32Array(0);

  /**
   * @param cocoGt ground truth.
   * @param cocoDt results from `cocoGt.loadRes(...)`.
   * @param iouType 'bbox' or 'segm'.
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
   * @throws when a ground-truth annotation lacks a field the evaluation needs (naming its index and id), or a
   *   segmentation cannot be converted.
   */
  evaluate(): void {
    const p = this.params;
    p.imgIds = sortedUnique(p.imgIds);
    if (p.useCats) p.catIds = sortedUnique(p.catIds);
    p.maxDets = [...p.maxDets].sort((a, b) => a - b);
    if (p.maxDets.length === 0) throw new Error('params.maxDets must not be empty');
    if (p.areaRng.length === 0) throw new Error('params.areaRng must not be empty');
    const imgIds = p.imgIds;
    const catIds = [...new Set(p.catIds)];
    const I = imgIds.length;
    const Kc = catIds.length;
    const K = p.useCats ? Kc : 1;
    const T = p.iouThrs.length;
    const A = p.areaRng.length;
    const maxDetLast = p.maxDets[p.maxDets.length - 1];
    this.imgIds = imgIds;
    this.catIds = catIds;
    this.maxDets = p.maxDets;
    this.T = T;
    this.A = A;
    this.K = K;
    this.I = I;
    const imgIndex = new Map<number, number>();
    imgIds.forEach((id, i) => imgIndex.set(id, i));
    const catIndex = new Map<number, number>();
    catIds.forEach((id, k) => catIndex.set(id, k));
    const segm = p.iouType === 'segm';

    // ---- _prepare: select annotations of evaluated images/categories, grouped by (image, category) ----
    // As cocoeval.py: `loadAnns(getAnnIds(imgIds, catIds))` walks the evaluated images in order and each image's
    // annotations in file order, then looks every annotation up *by id*, so a repeated id yields the last annotation
    // with that id each time; `_gts[image_id, category_id]` groups them by the looked-up annotation's own fields.
    const select = (coco: Coco) => {
      const keys: number[] = [];
      const picked: CocoAnnotationJson[] = [];
      for (let i0 = 0; i0 < I; i0++) {
        const list = coco.imgToAnns.get(imgIds[i0]);
        if (!list) continue;
        for (const orig of list) {
          if (p.useCats && !catIndex.has(orig.category_id)) continue;
          const a = coco.anns.get(orig.id) as CocoAnnotationJson;
          const i = imgIndex.get(a.image_id);
          if (i === undefined) continue;
          const k = catIndex.get(a.category_id);
          if (k === undefined) continue;
          keys.push(i * Kc + k);
          picked.push(a);
        }
      }
      // counting sort by (image, category), stable in file order
      const nKeys = I * Kc;
      const start = new Int32Array(nKeys + 1);
      for (const key of keys) start[key + 1]++;
      for (let q = 0; q < nKeys; q++) start[q + 1] += start[q];
      const fill = start.slice(0, nKeys);
      const order = new Int32Array(keys.length);
      for (let j = 0; j < keys.length; j++) order[fill[keys[j]]++] = j;
      return { picked, order, start };
    };
    const gtSel = select(this.cocoGt);
    const dtSel = select(this.cocoDt);

    // ---- columnar copies of the fields used ----
    const nG = gtSel.picked.length;
    this.gtBox = new Float64Array(nG * 4);
    this.gtArea = new Float64Array(nG);
    this.gtCrowd = new Uint8Array(nG);
    this.gtIgnoreBase = new Uint8Array(nG);
    this.gtId = new Float64Array(nG);
    this.gtRle = segm ? new Array<Rle>(nG) : [];
    this.gtRleBox = new Float64Array(segm ? nG * 4 : 0);
    const gtSrc = this.cocoGt.source;
    for (let j = 0; j < nG; j++) {
      const a = gtSel.picked[j];
      const where = `${gtSrc}: annotation id ${a.id}`;
      if (typeof a.area !== 'number' || Number.isNaN(a.area)) {
        throw new Error(`${where}: "area" must be a number, got ${a.area === undefined ? 'nothing' : briefJson(a.area)} (the ground truth's ` +
          'area, in pixels², decides its small/medium/large range)');
      }
      this.gtArea[j] = a.area;
      const crowd = a.iscrowd === undefined ? 0 : a.iscrowd;
      if (typeof crowd !== 'number' && typeof crowd !== 'boolean') throw new Error(`${where}: "iscrowd" must be 0 or 1`);
      this.gtCrowd[j] = crowd ? 1 : 0;
      // cocoeval.py _prepare: gt['ignore'] = 'iscrowd' in gt and gt['iscrowd'] (the file's `ignore` is overwritten)
      this.gtIgnoreBase[j] = crowd ? 1 : 0;
      this.gtId[j] = a.id;
      if (segm) {
        const rle = this.cocoGt.annToRle(a);
        this.gtRle[j] = rle;
        this.gtRleBox.set(rleToBbox(rle), j * 4);
      } else {
        const bb = a.bbox;
        if (!Array.isArray(bb) || bb.length !== 4 || !bb.every((v) => typeof v === 'number')) {
          throw new Error(`${where}: "bbox" must be [x, y, w, h]`);
        }
        this.gtBox[j * 4] = bb[0];
        this.gtBox[j * 4 + 1] = bb[1];
        this.gtBox[j * 4 + 2] = bb[2];
        this.gtBox[j * 4 + 3] = bb[3];
      }
    }
    const nD = dtSel.picked.length;
    this.dtBox = new Float64Array(segm ? 0 : nD * 4);
    this.dtArea = new Float64Array(nD);
    this.dtScore = new Float64Array(nD);
    this.dtId = new Float64Array(nD);
    this.dtRle = segm ? new Array<Rle>(nD) : [];
    this.dtRleBox = new Float64Array(segm ? nD * 4 : 0);
    for (let j = 0; j < nD; j++) {
      const a = dtSel.picked[j];
      this.dtArea[j] = a.area as number;
      this.dtScore[j] = a.score as number;
      this.dtId[j] = a.id;
      if (segm) {
        const rle = this.cocoDt.annToRle(a);
        this.dtRle[j] = rle;
        this.dtRleBox.set(rleToBbox(rle), j * 4);
      } else {
        const bb = a.bbox as number[];
        this.dtBox[j * 4] = bb[0];
        this.dtBox[j * 4 + 1] = bb[1];
        this.dtBox[j * 4 + 2] = bb[2];
        this.dtBox[j * 4 + 3] = bb[3];
      }
    }

    // ---- pairs: (k, i) with k over categories (or the single -1 when !useCats) ----
    const nPairs = K * I;
    const pairRange = (start: Int32Array, k: number, i: number): [number, number] =>
      p.useCats ? [start[i * Kc + k], start[i * Kc + k + 1]] : [start[i * Kc], start[(i + 1) * Kc]];
    this.gtOrder = gtSel.order;
    this.gtPairStart = new Int32Array(nPairs + 1);
    // ground-truth ranges must be contiguous per pair in pair order (k-major): rebuild an order array
    {
      const order = new Int32Array(nG);
      let w = 0;
      for (let k = 0; k < K; k++) {
        for (let i = 0; i < I; i++) {
          this.gtPairStart[k * I + i] = w;
          const [s, e] = pairRange(gtSel.start, k, i);
          for (let q = s; q < e; q++) order[w++] = gtSel.order[q];
        }
      }
      this.gtPairStart[nPairs] = w;
      this.gtOrder = order;
    }
    // detections sorted by score per pair, truncated to maxDets[-1]
    {
      const sortedList: number[] = [];
      this.dtPairStart = new Int32Array(nPairs + 1);
      for (let k = 0; k < K; k++) {
        for (let i = 0; i < I; i++) {
          this.dtPairStart[k * I + i] = sortedList.length;
          const [s, e] = pairRange(dtSel.start, k, i);
          if (e === s) continue;
          const idx = dtSel.order.slice(s, e);
          sortByScoreDesc(idx, this.dtScore);
          const n = Math.min(idx.length, maxDetLast);
          for (let q = 0; q < n; q++) sortedList.push(idx[q]);
        }
      }
      this.dtPairStart[nPairs] = sortedList.length;
      this.dtSorted = Int32Array.from(sortedList);
    }

    // ---- computeIoU per pair ----
    let iouSize = 0;
    this.iouOffset = new Float64Array(nPairs);
    for (let q = 0; q < nPairs; q++) {
      const G = this.gtPairStart[q + 1] - this.gtPairStart[q];
      const D = this.dtPairStart[q + 1] - this.dtPairStart[q];
      if (G > 0 && D > 0) {
        this.iouOffset[q] = iouSize;
        iouSize += G * D;
      } else this.iouOffset[q] = -1;
    }
    this.ious = new Float64Array(iouSize);
    for (let q = 0; q < nPairs; q++) if (this.iouOffset[q] >= 0) this.computePairIou(q);

    // ---- evaluateImg for every (k, a, i) ----
    const nSorted = this.dtSorted.length;
    this.dtCode = new Uint8Array(A * T * nSorted);
    this.npig = new Int32Array(K * A * I);
    const scratch = this.makeScratch(maxDetLast);
    for (let k = 0; k < K; k++) {
      for (let i = 0; i < I; i++) {
        const q = k * I + i;
        const G = this.gtPairStart[q + 1] - this.gtPairStart[q];
        const D = this.dtPairStart[q + 1] - this.dtPairStart[q];
        if (G === 0 && D === 0) {
          for (let a = 0; a < A; a++) this.npig[(k * A + a) * I + i] = -1;
          continue;
        }
        for (let a = 0; a < A; a++) {
          const res = this.matchPair(q, p.areaRng[a], maxDetLast, scratch);
          this.npig[(k * A + a) * I + i] = res.npig;
          const d0 = this.dtPairStart[q];
          for (let t = 0; t < T; t++) {
            const base = (a * T + t) * nSorted + d0;
            for (let d = 0; d < res.D; d++) {
              const matched = scratch.dtm[t * res.D + d] !== 0 ? 1 : 0;
              this.dtCode[base + d] = matched | (scratch.dtIg[t * res.D + d] << 1);
            }
          }
        }
      }
    }
    this.evaluated = true;
    this.eval = null;
  }

  private computePairIou(q: number): void {
    const g0 = this.gtPairStart[q];
    const G = this.gtPairStart[q + 1] - g0;
    const d0 = this.dtPairStart[q];
    const D = this.dtPairStart[q + 1] - d0;
    const off = this.iouOffset[q];
    const out = this.ious;
    if (this.params.iouType === 'segm') {
      for (let d = 0; d < D; d++) {
        const dj = this.dtSorted[d0 + d];
        const dBox = this.dtRleBox.subarray(dj * 4, dj * 4 + 4);
        for (let g = 0; g < G; g++) {
          const gj = this.gtOrder[g0 + g];
          out[off + d * G + g] = rlePairIou(
            this.dtRle[dj],
            dBox,
            this.gtRle[gj],
            this.gtRleBox.subarray(gj * 4, gj * 4 + 4),
            this.gtCrowd[gj] === 1,
          );
        }
      }
      return;
    }
    // maskApi.c bbIou
    const gb = this.gtBox;
    const db = this.dtBox;
    for (let g = 0; g < G; g++) {
      const gj = this.gtOrder[g0 + g] * 4;
      const gx = gb[gj];
      const gy = gb[gj + 1];
      const gw = gb[gj + 2];
      const gh = gb[gj + 3];
      const ga = gw * gh;
      const gx2 = gw + gx;
      const gy2 = gh + gy;
      const crowd = this.gtCrowd[gj / 4] === 1;
      for (let d = 0; d < D; d++) {
        const dj = this.dtSorted[d0 + d] * 4;
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

  private makeScratch(maxD: number) {
    return {
      dtm: new Float64Array(this.T * maxD),
      dtIg: new Uint8Array(this.T * maxD),
      gtm: new Float64Array(0),
      gtIg: new Uint8Array(0),
      gtind: new Int32Array(0),
    };
  }

  /**
   * evaluateImg core for pair `q`: fills scratch.dtm `[T, D]` (matched gt id), scratch.dtIg `[T, D]`,
   * scratch.gtm `[T, G]` (matched dt id), scratch.gtIg `[G]` and scratch.gtind `[G]` (gt order, ignored last).
   */
  private matchPair(
    q: number,
    aRng: readonly [number, number],
    maxDet: number,
    s: ReturnType<CocoEval['makeScratch']>,
  ): { D: number; G: number; npig: number } {
    const T = this.T;
    const g0 = this.gtPairStart[q];
    const G = this.gtPairStart[q + 1] - g0;
    const d0 = this.dtPairStart[q];
    const Dall = this.dtPairStart[q + 1] - d0;
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
      const gj = this.gtOrder[g0 + g];
      const area = this.gtArea[gj];
      if (!(this.gtIgnoreBase[gj] || area < lo || area > hi)) gtind[npig++] = g;
    }
    let w = npig;
    for (let g = 0; g < G; g++) {
      const gj = this.gtOrder[g0 + g];
      const area = this.gtArea[gj];
      if (this.gtIgnoreBase[gj] || area < lo || area > hi) gtind[w++] = g;
    }
    for (let g = 0; g < G; g++) gtIg[g] = g < npig ? 0 : 1;
    const dtm = s.dtm;
    const dtIg = s.dtIg;
    const gtm = s.gtm;
    dtm.fill(0, 0, T * D);
    dtIg.fill(0, 0, T * D);
    gtm.fill(0, 0, T * G);
    const off = this.iouOffset[q];
    if (off >= 0) {
      const ious = this.ious;
      const iouThrs = this.params.iouThrs;
      for (let t = 0; t < T; t++) {
        const thr = Math.min(iouThrs[t], 1 - 1e-10);
        const gtmRow = t * G;
        for (let d = 0; d < D; d++) {
          let iou = thr;
          let m = -1;
          const row = off + d * G;
          for (let gi = 0; gi < G; gi++) {
            const gj = this.gtOrder[g0 + gtind[gi]];
            // already matched and not a crowd: skip
            if (gtm[gtmRow + gi] > 0 && !this.gtCrowd[gj]) continue;
            // matched to a regular gt and reached the ignored ones: stop
            if (m > -1 && gtIg[m] === 0 && gtIg[gi] === 1) break;
            const v = ious[row + gtind[gi]];
            if (v < iou) continue;
            iou = v;
            m = gi;
          }
          if (m === -1) continue;
          dtIg[t * D + d] = gtIg[m];
          dtm[t * D + d] = this.gtId[this.gtOrder[g0 + gtind[m]]];
          gtm[gtmRow + m] = this.dtId[this.dtSorted[d0 + d]];
        }
      }
    }
    // unmatched detections outside the area range are ignored
    for (let d = 0; d < D; d++) {
      const area = this.dtArea[this.dtSorted[d0 + d]];
      if (area < lo || area > hi) {
        for (let t = 0; t < T; t++) if (dtm[t * D + d] === 0) dtIg[t * D + d] = 1;
      }
    }
    return { D, G, npig };
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
    if (!this.evaluated) throw new Error('CocoEval.evaluateImg: run evaluate() first');
    const i = this.imgIds.indexOf(imgId);
    if (i < 0) throw new Error(`CocoEval.evaluateImg: image id ${imgId} is not evaluated`);
    const k = this.params.useCats ? this.catIds.indexOf(catId) : catId === -1 ? 0 : -1;
    if (k < 0) throw new Error(`CocoEval.evaluateImg: category id ${catId} is not evaluated`);
    const q = k * this.I + i;
    const G = this.gtPairStart[q + 1] - this.gtPairStart[q];
    const Dall = this.dtPairStart[q + 1] - this.dtPairStart[q];
    if (G === 0 && Dall === 0) return null;
    const s = this.makeScratch(Dall);
    const { D } = this.matchPair(q, aRng, maxDet, s);
    const T = this.T;
    const g0 = this.gtPairStart[q];
    const d0 = this.dtPairStart[q];
    const gtIds: number[] = [];
    for (let gi = 0; gi < G; gi++) gtIds.push(this.gtId[this.gtOrder[g0 + s.gtind[gi]]]);
    const dtIds: number[] = [];
    const dtScores: number[] = [];
    for (let d = 0; d < D; d++) {
      dtIds.push(this.dtId[this.dtSorted[d0 + d]]);
      dtScores.push(this.dtScore[this.dtSorted[d0 + d]]);
    }
    return {
      imageId: imgId,
      categoryId: this.params.useCats ? catId : -1,
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

  /**
   * Accumulates per-image results into precision `[T,R,K,A,M]`, recall `[T,K,A,M]` and scores `[T,R,K,A,M]`
   * (pycocotools `accumulate`), stored in `this.eval` and returned.
   * @throws if `evaluate` has not run.
   */
  accumulate(): CocoEvalAccumulated {
    if (!this.evaluated) throw new Error('CocoEval.accumulate: run evaluate() first');
    const p = this.params;
    const T = this.T;
    const R = p.recThrs.length;
    const K = this.K;
    const A = this.A;
    const M = this.maxDets.length;
    const I = this.I;
    const precision = new Float64Array(T * R * K * A * M).fill(-1);
    const recall = new Float64Array(T * K * A * M).fill(-1);
    const scores = new Float64Array(T * R * K * A * M).fill(-1);
    const recThrs = p.recThrs;
    const nSorted = this.dtSorted.length;
    const EPS = 2.220446049250313e-16; // np.spacing(1)
    const maxDetLast = this.maxDets[M - 1];

    let tpCum = new Int32Array(0);
    let fpCum = new Int32Array(0);
    let tpPos = new Int32Array(0);
    let tpSufMax = new Float64Array(0);
    for (let k = 0; k < K; k++) {
      // all detection slots of category k over images in order, with their rank within the image
      const q0 = k * I;
      const s0 = this.dtPairStart[q0];
      const s1 = this.dtPairStart[q0 + I];
      const n = s1 - s0;
      const rank = new Int32Array(n);
      for (let i = 0; i < I; i++) {
        const a = this.dtPairStart[q0 + i];
        const b = this.dtPairStart[q0 + i + 1];
        for (let x = a; x < b; x++) rank[x - s0] = x - a;
      }
      const slotScore = new Float64Array(n);
      for (let x = 0; x < n; x++) slotScore[x] = this.dtScore[this.dtSorted[s0 + x]];
      // stable sort by descending score across images (np.argsort(-dtScores, kind='mergesort'))
      const order = new Int32Array(n);
      for (let x = 0; x < n; x++) order[x] = x;
      sortByScoreDesc(order, slotScore);
      if (tpCum.length < n) {
        tpCum = new Int32Array(n);
        fpCum = new Int32Array(n);
        tpPos = new Int32Array(n);
        tpSufMax = new Float64Array(n);
      }
      for (let m = 0; m < M; m++) {
        const maxDet = this.maxDets[m];
        // slots kept with this maxDet, in score order
        const kept: number[] = [];
        if (maxDet >= maxDetLast) for (let x = 0; x < n; x++) kept.push(order[x]);
        else for (let x = 0; x < n; x++) if (rank[order[x]] < maxDet) kept.push(order[x]);
        const nd = kept.length;
        for (let a = 0; a < A; a++) {
          let anyImg = false;
          let npig = 0;
          for (let i = 0; i < I; i++) {
            const v = this.npig[(k * A + a) * I + i];
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
              const code = this.dtCode[codeBase + kept[x]];
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
    this.eval = { counts: [T, R, K, A, M], precision, recall, scores };
    return this.eval;
  }

  /**
   * The 12 summary numbers and pycocotools' 12 printed lines (`summarize` for bbox/segm), e.g.
   * `" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.123"`. Does not print.
   * @throws if `accumulate` has not run, or `maxDets` has fewer than 3 entries (pycocotools indexes maxDets[2]).
   */
  summarize(): CocoEvalSummary {
    const ev = this.eval;
    if (!ev) throw new Error('CocoEval.summarize: run accumulate() first');
    const p = this.params;
    if (this.maxDets.length < 3) throw new Error(`CocoEval.summarize needs at least 3 maxDets, got [${this.maxDets.join(', ')}]`);
    const [T, R, K, A, M] = ev.counts;
    const lines: string[] = [];
    const one = (ap: boolean, iouThr: number | null, areaLbl: string, maxDets: number): number => {
      const title = ap ? 'Average Precision' : 'Average Recall';
      const type = ap ? '(AP)' : '(AR)';
      const iouStr =
        iouThr === null
          ? `${formatFixedPython(p.iouThrs[0], 2)}:${formatFixedPython(p.iouThrs[p.iouThrs.length - 1], 2)}`
          : formatFixedPython(iouThr, 2);
      const aind = p.areaRngLbl.map((l, i) => (l === areaLbl ? i : -1)).filter((i) => i >= 0 && i < A);
      const mind = this.maxDets.map((v, i) => (v === maxDets ? i : -1)).filter((i) => i >= 0);
      const tind = iouThr === null ? [...Array(T).keys()] : p.iouThrs.map((v, i) => (v === iouThr ? i : -1)).filter((i) => i >= 0);
      const vals: number[] = [];
      // s[:, :, :, aind, mind] with one area and one maxDet index; numpy pairs aind with mind elementwise
      const pairs = aind.length === mind.length ? aind.map((a, j) => [a, mind[j]]) : aind.length === 1 ? mind.map((m) => [aind[0], m]) : mind.length === 1 ? aind.map((a) => [a, mind[0]]) : [];
      for (const t of tind) {
        if (ap) {
          for (let r = 0; r < R; r++)
            for (let k = 0; k < K; k++)
              for (const [a, m] of pairs) {
                const v = ev.precision[(((t * R + r) * K + k) * A + a) * M + m];
                if (v > -1) vals.push(v);
              }
        } else {
          for (let k = 0; k < K; k++)
            for (const [a, m] of pairs) {
              const v = ev.recall[((t * K + k) * A + a) * M + m];
              if (v > -1) vals.push(v);
            }
        }
      }
      const mean = meanOrMinusOne(vals);
      lines.push(
        ` ${padRight(title, 18)} ${type} @[ IoU=${padRight(iouStr, 9)} | area=${padLeft(areaLbl, 6)} | maxDets=${padLeft(
          String(maxDets),
          3,
        )} ] = ${formatFixedPython(mean, 3)}`,
      );
      return mean;
    };
    const md = this.maxDets;
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
    this.stats = stats;
    return { stats, lines };
  }

  /**
   * Per-category AP: for each evaluated category k (in `catIds` order, or the single -1 when `useCats` is false),
   * the mean of `precision[:, :, k, 0, M-1]` (area range index 0, 'all' by default; the largest maxDets) over
   * entries > -1, or -1 where there are none.
   * @throws if `accumulate` has not run.
   */
  perCategoryAp(): { categoryId: number; ap: number }[] {
    const ev = this.eval;
    if (!ev) throw new Error('CocoEval.perCategoryAp: run accumulate() first');
    const [T, R, K, A, M] = ev.counts;
    const out: { categoryId: number; ap: number }[] = [];
    for (let k = 0; k < K; k++) {
      const vals: number[] = [];
      for (let t = 0; t < T; t++)
        for (let r = 0; r < R; r++) {
          const v = ev.precision[(((t * R + r) * K + k) * A + 0) * M + (M - 1)];
          if (v > -1) vals.push(v);
        }
      out.push({ categoryId: this.params.useCats ? this.catIds[k] : -1, ap: meanOrMinusOne(vals) });
    }
    return out;
  }
}
