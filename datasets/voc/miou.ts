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
 * No tensors here: plain typed arrays; PNGs are read as indices with `datasets/pipeline/png_index.ts`.
 */
import { existsSync, promises as fs } from 'fs';
import * as path from 'path';
import { DEFAULT_MAX_LABEL_PNG_PIXELS, decodeIndexPng } from '../pipeline/png_index';
import { rerootPath, VOC_SEG_CLASSES } from './segmentation';

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
 * null), then aAcc, mIoU and mAcc, how many classes the means average, and the count of ground-truth pixels whose
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
  const defined = m.IoU.filter((v) => v !== null).length;
  lines.push(`mIoU averages ${defined} of ${k} classes (n/a: a class absent from both ground truth and prediction)`);
  const outOfRange = m.gtPixelsWithOutOfRangePrediction.reduce((a, b) => a + b, 0);
  if (outOfRange > 0) {
    lines.push(`${outOfRange} ground-truth pixels have a predicted value outside 0..${k - 1}: counted as wrong for their class`);
  }
  return lines.join('\n');
}

/** Options of `evaluateSegmentationFolders`. */
export interface SegmentationFolderOptions extends SegmentationMetricOptions {
  /** Ground-truth label PNGs `<gtDir>/<name>.png` (palette or grayscale: the samples are the classes). */
  gtDir: string;
  /** Predicted label PNGs `<predDir>/<name>.png` (palette or grayscale index PNGs, not colours). */
  predDir: string;
  /**
   * A list file, one image a line: a name (VOC `ImageSets/Segmentation/val.txt`: `<gtDir>/<name>.png`,
   * `<predDir>/<name>.png`), or an `image mask` path pair (CamVid/SegNet `val.txt`, `images/x.png labels/x.png`):
   * the ground truth is `<gtDir>/<mask file name>`, else the longest trailing part of the mask path found under
   * `gtDir` (foreign absolute paths re-rooted), and the prediction `<predDir>/<image file stem>.png` (the name
   * `resvision eval --out` writes). Default: every `.png` in `gtDir`, sorted.
   */
  listFile?: string;
  /** Files read ahead of decoding. Default 8. */
  readAhead?: number;
  /**
   * Refuse label PNGs of more pixels (checked on the header, before decoding; decompression bombs); warn above
   * half. Default `DEFAULT_MAX_LABEL_PNG_PIXELS` (twice PIL's `MAX_IMAGE_PIXELS`).
   */
  maxPixels?: number;
}

/** One image of a segmentation list: its name and the ground-truth and prediction files. */
export interface SegmentationListEntry {
  name: string;
  gt: string;
  pred: string;
}

/**
 * Read a segmentation list file (see `SegmentationFolderOptions.listFile`: names, or `image mask` path pairs;
 * blank lines skipped).
 * @returns one entry per line, in order.
 * @throws Error naming the file (and line) when it cannot be read, names no image, has a line of more than two
 *   fields, or a pair whose mask is found neither as `<gtDir>/<file name>` nor under `gtDir`.
 */
export async function readSegmentationList(listFile: string, gtDir: string, predDir: string): Promise<SegmentationListEntry[]> {
  let text: string;
  try {
    text = await fs.readFile(listFile, 'utf-8');
  } catch (e) {
    throw new Error(`cannot read list file '${listFile}': ${e instanceof Error ? e.message : String(e)}`);
  }
  const out: SegmentationListEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const tokens = lines[i].trim().split(/\s+/).filter((t) => t.length > 0);
    if (tokens.length === 0) continue;
    if (tokens.length === 1) {
      // VOC lists hold bare ids; accept an id written with its image extension too.
      const name = tokens[0].replace(/\.(jpe?g|png)$/i, '');
      out.push({ name, gt: path.join(gtDir, `${name}.png`), pred: path.join(predDir, `${name}.png`) });
    } else if (tokens.length === 2) {
      const [image, mask] = tokens;
      const name = path.basename(image.replace(/\\/g, '/')).replace(/\.[^.]*$/, '');
      const byName = path.join(gtDir, path.basename(mask.replace(/\\/g, '/')));
      const gt = existsSync(byName) ? byName : rerootPath(gtDir, mask);
      if (!gt) {
        throw new Error(`list file '${listFile}', line ${i + 1}: ground truth '${mask}' found neither as '${byName}' nor under '${gtDir}'`);
      }
      out.push({ name, gt, pred: path.join(predDir, `${name}.png`) });
    } else {
      throw new Error(`list file '${listFile}', line ${i + 1}: expected a name or an 'image mask' pair, got ${tokens.length} fields`);
    }
  }
  if (out.length === 0) throw new Error(`list file '${listFile}' names no image`);
  return out;
}

/**
 * Evaluate a folder of predicted label PNGs against a folder of ground-truth label PNGs (one confusion matrix
 * over all images, see `SegmentationConfusion`). PNG samples are read as indices (palette indices, gray levels):
 * PIL's `np.array(Image.open(f))`, as the VOC devkit and torchvision read VOC masks.
 *
 * @returns the metrics, the image names in evaluation order, the ground-truth pixels with the ignore index and the
 *   largest ground-truth class value seen (to spot a void value read as a class).
 * @throws Error naming the file when the list is empty or unreadable, a prediction is missing, a PNG cannot be
 *   decoded or is not single-channel, a prediction's size differs from its ground truth's;
 *   GroundTruthValueError (naming the file) when a ground-truth value is neither a class nor the ignore index.
 * Reference: VOC devkit `VOCevalseg.m` (reads `SegmentationClass/<id>.png` and the results' `<id>.png`).
 */
export async function evaluateSegmentationFolders(
  opts: SegmentationFolderOptions,
): Promise<{ metrics: SegmentationMetrics; names: string[]; ignoredPixels: number; maxGroundTruthClass: number }> {
  let files: SegmentationListEntry[];
  if (opts.listFile) {
    files = await readSegmentationList(opts.listFile, opts.gtDir, opts.predDir);
  } else {
    let entries: string[];
    try {
      entries = await fs.readdir(opts.gtDir);
    } catch (e) {
      throw new Error(`cannot list ground-truth folder '${opts.gtDir}': ${e instanceof Error ? e.message : String(e)}`);
    }
    const names = entries.filter((f) => f.toLowerCase().endsWith('.png')).map((f) => f.slice(0, -4)).sort();
    if (names.length === 0) throw new Error(`ground-truth folder '${opts.gtDir}' holds no .png file`);
    files = names.map((n) => ({ name: n, gt: path.join(opts.gtDir, `${n}.png`), pred: path.join(opts.predDir, `${n}.png`) }));
  }
  const missingGt = files.filter((f) => !existsSync(f.gt));
  if (missingGt.length === files.length) {
    throw new Error(
      `ground truth: none of the ${files.length} label PNGs is in '${opts.gtDir}' (first: '${files[0].gt}'); --gt must be the ` +
        `folder of label PNGs (VOC: SegmentationClass/)`,
    );
  }
  const missingPred = files.filter((f) => existsSync(f.gt) && !existsSync(f.pred));
  if (missingPred.length > 0) {
    throw new Error(
      `${missingPred.length} of ${files.length} predictions are missing in '${opts.predDir}' (first: '${missingPred[0].pred}'); ` +
        (opts.listFile ? 'every image of the list needs one' : 'to evaluate a subset, pass --list FILE naming the images predicted'),
    );
  }
  const readFile = async (file: string, what: string): Promise<Uint8Array> => {
    try {
      const b = await fs.readFile(file);
      return new Uint8Array(b.buffer, b.byteOffset, b.length);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new Error(`${what} '${file}' is missing`);
      throw new Error(`cannot read ${what} '${file}': ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  const load = (f: (typeof files)[number]): Promise<[Uint8Array, Uint8Array]> =>
    Promise.all([readFile(f.gt, 'ground truth'), readFile(f.pred, 'prediction')]);
  const ahead = Math.max(1, opts.readAhead ?? 8);
  const pending: Promise<[Uint8Array, Uint8Array]>[] = [];
  // Keep rejections from surfacing as unhandled while they wait their turn; each is awaited in order below.
  const queue = (i: number): void => {
    const p = load(files[i]);
    p.catch(() => undefined);
    pending.push(p);
  };
  const conf = new SegmentationConfusion(opts);
  for (let i = 0; i < Math.min(ahead, files.length); i++) queue(i);
  for (let i = 0; i < files.length; i++) {
    const [gtBytes, predBytes] = await pending[i];
    delete pending[i];
    if (i + ahead < files.length) queue(i + ahead);
    const f = files[i];
    const gt = decodeLabelPng(gtBytes, f.gt, opts.maxPixels);
    const pred = decodeLabelPng(predBytes, f.pred, opts.maxPixels);
    if (gt.height !== pred.height || gt.width !== pred.width) {
      throw new Error(
        `prediction '${f.pred}' is ${pred.height}x${pred.width} (HxW), its ground truth '${f.gt}' ${gt.height}x${gt.width}: ` +
          'write predictions at the ground truth\'s size (as `resvision eval --out` does)',
      );
    }
    conf.update(gt.data, pred.data, `ground truth '${f.gt}'`);
  }
  return { metrics: conf.compute(), names: files.map((f) => f.name), ignoredPixels: conf.ignoredPixels, maxGroundTruthClass: conf.maxGroundTruthClass };
}

/**
 * Decode a label PNG to its samples (palette indices or gray levels): `decodeIndexPng` of
 * `datasets/pipeline/png_index.ts`, the one label-PNG decoder that training reads masks with too.
 * @param bytes the file's bytes. @param file path, for error messages.
 * @param maxPixels refuse images of more pixels, from the header, before inflating (default: PIL's rule).
 * @returns `[H * W]` samples (a new array) with H and W.
 * @throws Error naming the file when it is not a PNG, not single-channel, corrupt, or larger than `maxPixels`.
 */
export function decodeLabelPng(
  bytes: Uint8Array, file: string, maxPixels = DEFAULT_MAX_LABEL_PNG_PIXELS,
): { data: Uint8Array | Uint16Array; height: number; width: number } {
  const { data, height, width } = decodeIndexPng(bytes, file, maxPixels);
  return { data, height, width };
}
