/**
 * Pascal VOC detection AP: per-class average precision with the VOC2007 11-point or the VOC2010+ all-point
 * interpolation, difficult objects ignored, and mAP over classes.
 *
 * Reference: py-faster-rcnn `lib/datasets/voc_eval.py` (`voc_ap`, `voc_eval`, by Bharath Hariharan), which
 * reproduces the VOC devkit's `VOCevaldet.m`. Boxes follow the VOC convention used there: xyxy in inclusive
 * integer pixel coordinates, so a box's width is `x2 - x1 + 1` (the "+1" in both intersection and union).
 * Intentional differences: detections with equal scores keep their input order (a stable sort; numpy's default
 * `argsort` is stable only for short inputs), and detections on images outside the image set are an error
 * (voc_eval.py raises a KeyError).
 */
import { pairwiseSum } from '../numpy_sum';

/** One ground-truth object of an image. */
export interface VocObject {
  className: string;
  /** `[x1, y1, x2, y2]`, inclusive pixel coordinates (VOC XML `bndbox`, 1-based in the dataset). */
  boxXyxy: readonly number[];
  /** VOC `difficult` flag: such objects are neither counted as positives nor as false positives when matched. */
  difficult: boolean;
}

/** The ground truth of one image of the evaluated image set. */
export interface VocImageGt {
  imageId: string;
  objects: readonly VocObject[];
}

/** One detection (a line of a VOC results file `comp4_det_test_<class>.txt`). */
export interface VocDetection {
  imageId: string;
  className: string;
  /** Confidence, higher first. */
  score: number;
  /** `[x1, y1, x2, y2]`, inclusive pixel coordinates as the ground truth. */
  boxXyxy: readonly number[];
}

/** Options of {@link evaluateVocDetection}. */
export interface VocEvalOptions {
  /** Classes to evaluate, in report order (e.g. the 20 VOC classes). */
  classNames: readonly string[];
  /** A detection is a true positive when its IoU with a ground truth is strictly greater than this. Default 0.5. */
  iouThreshold?: number;
  /** true: VOC2007 11-point interpolation; false: VOC2010+ all-point (area under the precision envelope). */
  use07Metric: boolean;
}

/** Per-class result. */
export interface VocClassResult {
  className: string;
  /** Average precision, a fraction 0..1 (NaN when the class has no non-difficult object, as numpy gives). */
  ap: number;
  /** Number of non-difficult ground-truth objects. */
  npos: number;
  /** `[D]` float64 cumulative recall after each detection, highest score first. */
  recall: Float64Array;
  /** `[D]` float64 cumulative precision after each detection, `tp / max(tp + fp, eps)` (0 before any TP or FP). */
  precision: Float64Array;
}

/** Result of {@link evaluateVocDetection}. */
export interface VocDetectionResult {
  perClass: VocClassResult[];
  /** Mean of the per-class APs, a fraction 0..1. */
  mAP: number;
}

/** `np.finfo(np.float64).eps`. */
const FLOAT64_EPS = 2.220446049250313e-16;

/** numpy `maximum`: NaN if either argument is NaN. */
function npMaximum(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return NaN;
  return a > b ? a : b;
}

/**
 * VOC average precision from a precision/recall curve (voc_eval.py `voc_ap`).
 * - 11-point (VOC2007): mean over t in {0, 0.1, ..., 1} (computed as `i * 0.1`, numpy `arange`) of the maximum
 *   precision at recall >= t (0 if none).
 * - all-point (VOC2010+): with sentinels recall [0, ..., 1] and precision [0, ..., 0], the precision envelope
 *   (running maximum from the right), summed as `sum((r[i+1] - r[i]) * p[i+1])` where recall changes.
 * @param recall `[D]` cumulative recall, non-decreasing, fractions.
 * @param precision `[D]` cumulative precision, fractions.
 * @param use07Metric true for 11-point, false for all-point.
 * @returns AP, a fraction 0..1 (NaN propagates as in numpy).
 * @throws if the lengths differ.
 */
export function vocAp(recall: ArrayLike<number>, precision: ArrayLike<number>, use07Metric: boolean): number {
  if (recall.length !== precision.length) {
    throw new Error(`vocAp: recall has ${recall.length} values but precision has ${precision.length}`);
  }
  const n = recall.length;
  if (use07Metric) {
    let ap = 0;
    for (let i = 0; i < 11; i++) {
      const t = i * 0.1;
      let p = 0;
      let any = false;
      let mx = -Infinity;
      for (let j = 0; j < n; j++) {
        if (recall[j] >= t) {
          any = true;
          mx = npMaximum(mx, precision[j]);
        }
      }
      if (any) p = mx;
      ap = ap + p / 11;
    }
    return ap;
  }
  const mrec = new Float64Array(n + 2);
  const mpre = new Float64Array(n + 2);
  mrec[0] = 0;
  mpre[0] = 0;
  for (let j = 0; j < n; j++) {
    mrec[j + 1] = recall[j];
    mpre[j + 1] = precision[j];
  }
  mrec[n + 1] = 1;
  mpre[n + 1] = 0;
  for (let i = n + 1; i > 0; i--) mpre[i - 1] = npMaximum(mpre[i - 1], mpre[i]);
  const terms: number[] = [];
  for (let i = 0; i < n + 1; i++) if (mrec[i + 1] !== mrec[i]) terms.push((mrec[i + 1] - mrec[i]) * mpre[i + 1]);
  return 0 + pairwiseSum(terms, 0, terms.length);
}

function checkBox(box: readonly number[], where: string): void {
  if (!Array.isArray(box) || box.length !== 4 || !box.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new Error(`${where}: boxXyxy must be [x1, y1, x2, y2] of 4 finite numbers, got ${JSON.stringify(box)}`);
  }
}

/**
 * VOC detection evaluation of every class (voc_eval.py `voc_eval` per class, then the mean).
 * For each class, detections are taken highest score first; each is matched to the ground truth of its image with
 * the largest IoU (`+1` pixel convention, first maximum on ties); IoU > `iouThreshold` on a non-difficult,
 * not yet matched object is a true positive, on an already matched one a false positive, on a difficult one
 * neither; IoU <= threshold (or no object of the class) is a false positive.
 * @param images the image set: every image's ground-truth objects (all classes).
 * @param detections all detections, any class order.
 * @param opts classes, IoU threshold, interpolation.
 * @returns per-class AP, recall and precision curves, and mAP.
 * @throws naming the record: a detection on an image not in `images`, a non-finite score, a malformed box, a
 *   duplicate image id.
 */
export function evaluateVocDetection(
  images: readonly VocImageGt[],
  detections: readonly VocDetection[],
  opts: VocEvalOptions,
): VocDetectionResult {
  const iouThreshold = opts.iouThreshold ?? 0.5;
  const imgIndex = new Map<string, number>();
  images.forEach((img, i) => {
    if (imgIndex.has(img.imageId)) throw new Error(`VOC ground truth: image id "${img.imageId}" appears twice`);
    imgIndex.set(img.imageId, i);
    img.objects.forEach((o, j) => checkBox(o.boxXyxy, `VOC ground truth: image "${img.imageId}" object ${j}`));
  });
  detections.forEach((d, i) => {
    if (!imgIndex.has(d.imageId)) throw new Error(`VOC detections[${i}]: image id "${d.imageId}" is not in the image set`);
    if (typeof d.score !== 'number' || !Number.isFinite(d.score)) {
      throw new Error(`VOC detections[${i}]: score must be a finite number, got ${JSON.stringify(d.score)}`);
    }
    checkBox(d.boxXyxy, `VOC detections[${i}]`);
  });

  const perClass: VocClassResult[] = [];
  for (const className of opts.classNames) {
    // ground truth of this class, per image
    const gtBoxes: number[][][] = images.map((img) => img.objects.filter((o) => o.className === className).map((o) => [...o.boxXyxy]));
    const gtDifficult: boolean[][] = images.map((img) => img.objects.filter((o) => o.className === className).map((o) => o.difficult));
    const gtDet: boolean[][] = gtDifficult.map((l) => l.map(() => false));
    let npos = 0;
    for (const l of gtDifficult) for (const dif of l) if (!dif) npos++;

    const dets = detections.filter((d) => d.className === className);
    const order = dets.map((_, i) => i);
    order.sort((a, b) => dets[b].score - dets[a].score || a - b);
    const nd = dets.length;
    const tp = new Float64Array(nd);
    const fp = new Float64Array(nd);
    for (let d = 0; d < nd; d++) {
      const det = dets[order[d]];
      const ii = imgIndex.get(det.imageId) as number;
      const bb = det.boxXyxy;
      const BBGT = gtBoxes[ii];
      let ovmax = -Infinity;
      let jmax = -1;
      if (BBGT.length > 0) {
        for (let j = 0; j < BBGT.length; j++) {
          const g = BBGT[j];
          const ixmin = Math.max(g[0], bb[0]);
          const iymin = Math.max(g[1], bb[1]);
          const ixmax = Math.min(g[2], bb[2]);
          const iymax = Math.min(g[3], bb[3]);
          const iw = Math.max(ixmax - ixmin + 1, 0);
          const ih = Math.max(iymax - iymin + 1, 0);
          const inters = iw * ih;
          const uni = (bb[2] - bb[0] + 1) * (bb[3] - bb[1] + 1) + (g[2] - g[0] + 1) * (g[3] - g[1] + 1) - inters;
          const ov = inters / uni;
          if (jmax === -1 || ov > ovmax || (Number.isNaN(ov) && !Number.isNaN(ovmax))) {
            ovmax = ov;
            jmax = j;
          }
        }
      }
      if (ovmax > iouThreshold) {
        if (!gtDifficult[ii][jmax]) {
          if (!gtDet[ii][jmax]) {
            tp[d] = 1;
            gtDet[ii][jmax] = true;
          } else fp[d] = 1;
        }
      } else fp[d] = 1;
    }
    const recall = new Float64Array(nd);
    const precision = new Float64Array(nd);
    let ctp = 0;
    let cfp = 0;
    for (let d = 0; d < nd; d++) {
      ctp += tp[d];
      cfp += fp[d];
      recall[d] = ctp / npos;
      // voc_eval.py: tp / np.maximum(tp + fp, eps). Detections on difficult objects count as neither, so the
      // leading ones can leave tp + fp = 0: precision 0 there, not 0/0.
      precision[d] = ctp / Math.max(ctp + cfp, FLOAT64_EPS);
    }
    perClass.push({ className, ap: vocAp(recall, precision, opts.use07Metric), npos, recall, precision });
  }
  const aps = perClass.map((c) => c.ap);
  const mAP = aps.length === 0 ? NaN : (0 + pairwiseSum(aps, 0, aps.length)) / aps.length;
  return { perClass, mAP };
}
