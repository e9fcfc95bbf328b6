/**
 * Semantic segmentation metrics over a dataset: one confusion matrix (rows ground truth, columns prediction)
 * accumulated over every pixel of every image, then per-class IoU and accuracy, overall pixel accuracy (aAcc),
 * mIoU and mAcc.
 *
 * Conventions (those of torchvision's `references/segmentation/utils.py` `ConfusionMatrix` and mmseg's
 * `IoUMetric`): pixels whose ground truth is the ignore index (255, VOC void) are left out; a predicted value
 * outside [0, K) is "no class": the pixel adds to its ground-truth class's area (and to the pixel total of aAcc)
 * but to no class's predicted area. A class whose union is empty (absent from the ground truth and never
 * predicted) has IoU `null`; a class absent from the ground truth has accuracy `null`; the means run over the
 * classes that are not `null`. Counts are exact integers (float64 holds counts up to 2^53).
 *
 * Reference: Everingham et al., "The PASCAL Visual Object Classes Challenge" (segmentation accuracy = IoU, the VOC
 * devkit `VOCevalseg.m`, dataset-level confusion matrix); torchvision `references/segmentation/utils.py`;
 * mmsegmentation `mmseg/evaluation/metrics/iou_metric.py` (`aAcc`, `mIoU`, `mAcc`, NaN classes left out of means).
 * Pure numerics on plain typed arrays: no tensors and no file I/O (reading label-PNG folders is `miou_folders.ts`).
 */
import { expectStateFields } from '../evaluator';
import { VOC_SEG_CLASSES } from './classes';

/** Options of `SegmentationConfusion`. */
export interface SegmentationMetricOptions {
  /** Number of classes K, background included (21 for Pascal VOC). */
  numClasses: number;
  /** Ground-truth value of pixels that count for nothing. Default 255. */
  ignoreIndex?: number;
}

/** Dataset-level segmentation metrics. Fractions in 0..1 (not percentages). */
export interface SegmentationMetrics {
  numClasses: number;
  ignoreIndex: number;
  /** Per-class intersection over union `TP / (TP + FP + FN)`, `null` when the union is empty. Length K. */
  IoU: (number | null)[];
  /** Per-class accuracy (recall) `TP / (TP + FN)`, `null` when the class is absent from the ground truth. Length K. */
  Acc: (number | null)[];
  /** Correct pixels / counted pixels (all pixels whose ground truth is not ignored); `null` when none is counted. */
  aAcc: number | null;
  /** Mean of the non-null IoUs; `null` when all are null. */
  mIoU: number | null;
  /** Mean of the non-null accuracies; `null` when all are null. */
  mAcc: number | null;
  /** K x K counts, row-major [gt][pred], as plain numbers. */
  confusion: number[][];
  /** Per ground-truth class, the pixels predicted outside [0, K) ("no class"). Length K. */
  gtPixelsWithOutOfRangePrediction: number[];
  /** Images accumulated. */
  numImages: number;
}

/**
 * A ground-truth pixel whose value is neither a class in 0..K-1 nor the ignore index: the dataset's class count or
 * void value differ from the evaluator's (CamVid labels 0..11 with void 11 read with VOC's K = 21 / 255, say).
 */
export class GroundTruthValueError extends Error {
  constructor(
    /** The image's name or file, as given to `update`. */
    readonly image: string,
    /** The offending value. */
    readonly value: number,
    /** Row-major index of its first pixel. */
    readonly pixel: number,
    readonly numClasses: number,
    readonly ignoreIndex: number,
  ) {
    super(`${image}: ground-truth value ${value} at pixel ${pixel} is neither a class in 0..${numClasses - 1} nor the ignore index ${ignoreIndex}`);
    this.name = 'GroundTruthValueError';
  }
}

/** A label image: row-major class indices. */
export type LabelArray = Uint8Array | Uint16Array | Uint8ClampedArray | Int32Array | ArrayLike<number>;

/** The counts a `SegmentationConfusion` accumulated (`exportState`), plain JSON. */
export interface SegmentationState {
  numClasses: number;
  ignoreIndex: number;
  /** [K * (K + 1)] counts, row-major [gt][pred or K (outside 0..K-1)]. */
  counts: number[];
  images: number;
  ignored: number;
  /** Largest ground-truth class seen, -1 before any. */
  gtMax: number;
}

/**
 * Accumulates the confusion matrix of a segmentation dataset, image by image.
 *
 * Internally K x (K + 1) counts: column K collects predictions outside [0, K).
 */
export class SegmentationConfusion {
  readonly numClasses: number;
  readonly ignoreIndex: number;
  /** [K * (K + 1)] float64 counts, row-major [gt][pred or K]. */
  private readonly counts: Float64Array;
  /** Per-image scratch counts (int32 is exact for images below 2^31 pixels). */
  private readonly scratch: Int32Array;
  /** Per-image counts of (gt, pred) byte pairs, [256 * 256], allocated on first use. */
  private pairHistogram?: Int32Array;
  private images = 0;
  private ignored = 0;
  private gtMax = -1;

  /** @throws Error when `numClasses` is not an integer in 1..65535 or `ignoreIndex` is a class index. */
  constructor(opts: SegmentationMetricOptions) {
    const k = opts.numClasses;
    if (!Number.isInteger(k) || k < 1 || k > 65535) throw new Error(`numClasses must be an integer in 1..65535, got ${k}`);
    const ignore = opts.ignoreIndex ?? 255;
    if (!Number.isInteger(ignore) || (ignore >= 0 && ignore < k)) {
      throw new Error(`ignoreIndex must be an integer outside 0..${k - 1} (a class index cannot be ignored), got ${ignore}`);
    }
    this.numClasses = k;
    this.ignoreIndex = ignore;
    this.counts = new Float64Array(k * (k + 1));
    this.scratch = new Int32Array(k * (k + 1));
  }

  /**
   * Add one image.
   *
   * @param gt [H * W] ground-truth classes, row-major: 0..K-1 or `ignoreIndex`.
   * @param pred [H * W] predicted classes, row-major; values outside 0..K-1 count as "no class".
   * @param name the image's name or file, for error messages.
   * @throws Error naming the image when the lengths differ; GroundTruthValueError when a ground-truth value is
   *   neither a class nor the ignore index (nothing is added then).
   */
  update(gt: LabelArray, pred: LabelArray, name = 'image'): void {
    const n = gt.length;
    if (pred.length !== n) throw new Error(`${name}: prediction has ${pred.length} pixels, ground truth ${n}`);
    const k = this.numClasses;
    const k1 = k + 1;
    const ignore = this.ignoreIndex;
    const s = this.scratch;
    s.fill(0);
    if (gt instanceof Uint8Array && pred instanceof Uint8Array && ignore <= 255) {
      this.updateBytes(gt, pred, name);
      return;
    }
    let ignored = 0;
    let gtMax = this.gtMax;
    for (let i = 0; i < n; i++) {
      const g = gt[i];
      if (g === ignore) {
        ignored++;
        continue;
      }
      if (!(g >= 0 && g < k)) throw new GroundTruthValueError(name, g, i, k, ignore);
      if (g > gtMax) gtMax = g;
      const p = pred[i];
      s[g * k1 + (p >= 0 && p < k ? p : k)]++;
    }
    const c = this.counts;
    for (let j = 0; j < s.length; j++) c[j] += s[j];
    this.images++;
    this.ignored += ignored;
    this.gtMax = gtMax;
  }

  /** Ground-truth pixels with the ignore index seen so far (left out of every metric). */
  get ignoredPixels(): number {
    return this.ignored;
  }

  /** The largest ground-truth class value seen so far (ignored pixels excluded); -1 before any class pixel. */
  get maxGroundTruthClass(): number {
    return this.gtMax;
  }

  /**
   * `update` for 8-bit images (the common case): a histogram of (gt, pred) byte pairs, folded into the
   * K x (K + 1) cells afterwards. Label images come in runs of equal pairs, so a run is counted in a register and
   * added once (consecutive increments of one counter in memory would wait on each other).
   */
  private updateBytes(gt: Uint8Array, pred: Uint8Array, name: string): void {
    const k = this.numClasses;
    const k1 = k + 1;
    const n = gt.length;
    const hist = this.pairHistogram ?? (this.pairHistogram = new Int32Array(65536));
    hist.fill(0);
    if (n > 0) {
      let prev = (gt[0] << 8) | pred[0];
      let run = 0;
      for (let i = 0; i < n; i++) {
        const key = (gt[i] << 8) | pred[i];
        if (key === prev) run++;
        else {
          hist[prev] += run;
          prev = key;
          run = 1;
        }
      }
      hist[prev] += run;
    }
    const s = this.scratch;
    let seen = 0;
    let gtMax = this.gtMax;
    for (let g = 0; g < Math.min(k, 256); g++) {
      const r = g * k1;
      const h = g << 8;
      let row = 0;
      for (let p = 0; p < 256; p++) {
        const v = hist[h + p];
        s[r + (p < k ? p : k)] += v;
        row += v;
      }
      if (row > 0 && g > gtMax) gtMax = g;
      seen += row;
    }
    let ignored = 0;
    if (this.ignoreIndex >= k && this.ignoreIndex <= 255) {
      for (let p = 0, h = this.ignoreIndex << 8; p < 256; p++) ignored += hist[h + p];
    }
    if (seen + ignored !== n) {
      let i = 0;
      while (i < n && (gt[i] < k || gt[i] === this.ignoreIndex)) i++;
      throw new GroundTruthValueError(name, gt[i], i, k, this.ignoreIndex);
    }
    const c = this.counts;
    for (let j = 0; j < s.length; j++) c[j] += s[j];
    this.images++;
    this.ignored += ignored;
    this.gtMax = gtMax;
  }

  /** Add another accumulator's counts (e.g. from a worker). @throws Error when K or the ignore index differ. */
  merge(other: SegmentationConfusion): void {
    if (other.numClasses !== this.numClasses || other.ignoreIndex !== this.ignoreIndex) {
      throw new Error(`cannot merge confusion matrices of K=${other.numClasses}/ignore ${other.ignoreIndex} into K=${this.numClasses}/ignore ${this.ignoreIndex}`);
    }
    for (let j = 0; j < this.counts.length; j++) this.counts[j] += other.counts[j];
    this.images += other.images;
    this.ignored += other.ignored;
    this.gtMax = Math.max(this.gtMax, other.gtMax);
  }

  /** The counts accumulated so far, as plain JSON (see `MergeableEvaluator` in `datasets/evaluator.ts`). */
  exportState(): SegmentationState {
    return { numClasses: this.numClasses, ignoreIndex: this.ignoreIndex, counts: Array.from(this.counts), images: this.images, ignored: this.ignored, gtMax: this.gtMax };
  }

  /**
   * Add exported counts: the confusion matrices add, as in {@link merge}.
   * @throws Error when K or the ignore index differ, or the counts are not K x (K + 1) non-negative integers;
   *   nothing is added then.
   */
  mergeState(state: SegmentationState): void {
    const s = expectStateFields(state, 'SegmentationConfusion.mergeState', ['numClasses', 'ignoreIndex', 'counts', 'images', 'ignored', 'gtMax']) as unknown as SegmentationState;
    if (s.numClasses !== this.numClasses || s.ignoreIndex !== this.ignoreIndex) {
      throw new Error(`cannot merge confusion matrices of K=${s.numClasses}/ignore ${s.ignoreIndex} into K=${this.numClasses}/ignore ${this.ignoreIndex}`);
    }
    const n = this.counts.length;
    const isCount = (x: unknown): boolean => Number.isSafeInteger(x) && (x as number) >= 0;
    if (!Array.isArray(s.counts) || s.counts.length !== n || !s.counts.every(isCount) || !isCount(s.images) || !isCount(s.ignored) || !Number.isInteger(s.gtMax)) {
      throw new Error(`SegmentationConfusion.mergeState: counts must be ${n} non-negative integers (K x (K + 1)), images and ignored non-negative integers`);
    }
    for (let j = 0; j < n; j++) this.counts[j] += s.counts[j];
    this.images += s.images;
    this.ignored += s.ignored;
    this.gtMax = Math.max(this.gtMax, s.gtMax);
  }

  /** The metrics of everything accumulated so far. */
  compute(): SegmentationMetrics {
    const k = this.numClasses;
    const k1 = k + 1;
    const c = this.counts;
    const confusion: number[][] = [];
    const outOfRange: number[] = [];
    const gtArea = new Float64Array(k);
    const predArea = new Float64Array(k);
    let total = 0;
    let correct = 0;
    for (let g = 0; g < k; g++) {
      confusion.push(Array.from(c.subarray(g * k1, g * k1 + k)));
      outOfRange.push(c[g * k1 + k]);
      for (let p = 0; p <= k; p++) {
        const v = c[g * k1 + p];
        gtArea[g] += v;
        if (p < k) predArea[p] += v;
      }
      total += gtArea[g];
      correct += c[g * k1 + g];
    }
    const IoU: (number | null)[] = [];
    const Acc: (number | null)[] = [];
    for (let j = 0; j < k; j++) {
      const tp = c[j * k1 + j];
      const union = gtArea[j] + predArea[j] - tp;
      IoU.push(union > 0 ? tp / union : null);
      Acc.push(gtArea[j] > 0 ? tp / gtArea[j] : null);
    }
    return {
      numClasses: k,
      ignoreIndex: this.ignoreIndex,
      IoU,
      Acc,
      aAcc: total > 0 ? correct / total : null,
      mIoU: meanDefined(IoU),
      mAcc: meanDefined(Acc),
      confusion,
      gtPixelsWithOutOfRangePrediction: outOfRange,
      numImages: this.images,
    };
  }

  /** Forget everything accumulated. */
  reset(): void {
    this.counts.fill(0);
    this.images = 0;
    this.ignored = 0;
    this.gtMax = -1;
  }
}

function meanDefined(values: (number | null)[]): number | null {
  let s = 0;
  let n = 0;
  for (const v of values) {
    if (v !== null) {
      s += v;
      n++;
    }
  }
  return n > 0 ? s / n : null;
}

/**
 * The metrics as a text table: one row per class (`class`, `IoU`, `Acc` in percent with 2 decimals, `n/a` for
 * null), then aAcc, mIoU and mAcc, how many classes each mean averages, and the count of ground-truth pixels whose
 * prediction is outside 0..K-1 when there are any.
 * @param classNames K names; default the 21 VOC names when K = 21, else `class_<k>`.
 * @throws Error when `classNames` does not have K entries.
 */
export function formatSegmentationMetrics(m: SegmentationMetrics, classNames?: readonly string[]): string {
  const k = m.numClasses;
  const names = classNames ?? (k === VOC_SEG_CLASSES.length ? VOC_SEG_CLASSES : Array.from({ length: k }, (_, i) => `class_${i}`));
  if (names.length !== k) throw new Error(`formatSegmentationMetrics: ${names.length} class names for K = ${k} classes`);
  const pct = (v: number | null): string => (v === null ? 'n/a' : (100 * v).toFixed(2));
  const nameW = Math.max('class'.length, ...names.map((n) => n.length));
  const lines = [`${'class'.padEnd(nameW)}  ${'IoU'.padStart(6)}  ${'Acc'.padStart(6)}`];
  for (let j = 0; j < k; j++) lines.push(`${names[j].padEnd(nameW)}  ${pct(m.IoU[j]).padStart(6)}  ${pct(m.Acc[j]).padStart(6)}`);
  lines.push('');
  lines.push(`aAcc ${pct(m.aAcc)}  mIoU ${pct(m.mIoU)}  mAcc ${pct(m.mAcc)}  (${m.numImages} images, percent)`);
  const definedIoU = m.IoU.filter((v) => v !== null).length;
  const definedAcc = m.Acc.filter((v) => v !== null).length;
  lines.push(
    `mIoU averages ${definedIoU} of ${k} classes, mAcc ${definedAcc} (n/a: IoU of a class absent from both ground truth and ` +
      'prediction, Acc of a class absent from the ground truth)',
  );
  const outOfRange = m.gtPixelsWithOutOfRangePrediction.reduce((a, b) => a + b, 0);
  if (outOfRange > 0) {
    lines.push(`${outOfRange} ground-truth pixels have a predicted value outside 0..${k - 1}: counted as wrong for their class`);
  }
  return lines.join('\n');
}
