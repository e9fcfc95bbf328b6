/**
 * Detection post-processing for dense sigmoid heads, torchvision `RetinaNet.postprocess_detections` step for
 * step, on typed arrays read back once from the head outputs:
 *   per image, per level: scores = sigmoid(logits) over (anchor, class) pairs; keep scores > `scoreThresh`;
 *   keep the `topkCandidates` best (descending); decode their boxes from their anchors; clip to the image;
 *   then over all levels: class-wise NMS (IoU > `nmsThresh` suppresses), and the `detectionsPerImage` best.
 * Scores and boxes are computed in float64 from the float32 outputs and returned as float32.
 *
 * Mapping back to the original image (`detectionsToOriginal`) is a separate step; the COCO results format lives with
 * the COCO dataset code (`datasets/coco/results.ts`). Heads do not import dataset code: the geometry is a structural subset of the datasets'
 * `ImageMeta`, which can be passed as is.
 *
 * Reference: torchvision `models/detection/retinanet.py` (`postprocess_detections`), `transform.py`
 * (`postprocess`, `resize_boxes`), `ops/boxes.py` (`batched_nms`, `clip_boxes_to_image`).
 */
import { boxesToOriginal, clipBoxesInPlace, type OriginalFrame } from '../../src/ops/boxes';
import { batchedNms } from '../../src/ops/nms';
import { BoxCoder } from './box_coder';

/** Detections of one image, highest score first. */
export interface Detections {
  /** [D * 4] float32 xyxy, pixels (network input frame, or original image after `detectionsToOriginal`). */
  boxes: Float32Array;
  /** [D] float32 in (scoreThresh, 1). */
  scores: Float32Array;
  /** [D] int32 class indices 0..K-1. */
  labels: Int32Array;
}

/** Options of `postprocessDetections`; defaults are torchvision RetinaNet's. */
export interface PostprocessOptions {
  /** Minimum score (exclusive). Default 0.05. */
  scoreThresh?: number;
  /** Candidates kept per level before NMS. Default 1000. */
  topkCandidates?: number;
  /** NMS IoU threshold. Default 0.5. */
  nmsThresh?: number;
  /** Detections kept per image. Default 300. */
  detectionsPerImage?: number;
}

/** Height and width of an image's content in the network input, pixels (torchvision's `image_sizes`). */
export interface ImageSize {
  height: number;
  width: number;
}

/**
 * Turn raw head outputs into detections per image.
 * @param clsLogits [N * R * K] float32 (or float64) logits, row-major [N, R, K] (rows level-major, then y, x, anchor).
 * @param boxDeltas [N * R * 4] float32 (or float64) deltas, row-major [N, R, 4].
 * @param anchors [R * 4] float32 xyxy anchors, input pixels, in the same row order.
 * @param levelCounts Hi * Wi * A per level (sums to R): top-k is per level.
 * @param numClasses K.
 * @param imageSizes per image, the content size boxes are clipped to ([0, 0, width, height]).
 * @returns one `Detections` per image, boxes in the network input frame.
 * @throws Error when the array sizes disagree.
 */
export function postprocessDetections(
  clsLogits: Float32Array | Float64Array,
  boxDeltas: Float32Array | Float64Array,
  anchors: Float32Array,
  levelCounts: readonly number[],
  numClasses: number,
  imageSizes: readonly ImageSize[],
  coder: BoxCoder,
  opts: PostprocessOptions = {},
): Detections[] {
  const scoreThresh = opts.scoreThresh ?? 0.05;
  const topk = opts.topkCandidates ?? 1000;
  const nmsThresh = opts.nmsThresh ?? 0.5;
  const maxDets = opts.detectionsPerImage ?? 300;
  const r = anchors.length / 4;
  const n = imageSizes.length;
  const k = numClasses;
  if (levelCounts.reduce((a, b) => a + b, 0) !== r) throw new Error(`postprocess: level counts [${levelCounts}] do not sum to R = ${r} anchors`);
  if (clsLogits.length !== n * r * k || boxDeltas.length !== n * r * 4) {
    throw new Error(`postprocess: expected logits [${n}, ${r}, ${k}] and deltas [${n}, ${r}, 4], got lengths ${clsLogits.length}, ${boxDeltas.length}`);
  }
  // sigmoid(x) > t  <=>  x > logit(t): skip the exponential well below the threshold (the final test is on the score).
  const skipBelow = Math.log(scoreThresh / (1 - scoreThresh)) - 1e-6;
  const out: Detections[] = [];
  for (let i = 0; i < n; i++) {
    const boxes: number[] = [];
    const scores: number[] = [];
    const labels: number[] = [];
    let start = 0;
    for (const count of levelCounts) {
      // Candidates of this level: flat index (anchor * K + class) within the level, score > threshold.
      const idx: number[] = [];
      const sc: number[] = [];
      const base = (i * r + start) * k;
      for (let j = 0; j < count * k; j++) {
        const x = clsLogits[base + j];
        if (!(x > skipBelow)) continue;
        const s = 1 / (1 + Math.exp(-x));
        if (s > scoreThresh) {
          idx.push(j);
          sc.push(s);
        }
      }
      const kept = topkOrder(sc, topk);
      const deltas = new Float64Array(4 * kept.length);
      const anc = new Float64Array(4 * kept.length);
      kept.forEach((q, c) => {
        const a = start + Math.floor(idx[q] / k);
        for (let e = 0; e < 4; e++) {
          deltas[4 * c + e] = boxDeltas[(i * r + a) * 4 + e];
          anc[4 * c + e] = anchors[4 * a + e];
        }
      });
      const decoded = clipBoxesInPlace(coder.decode(deltas, anc), imageSizes[i].height, imageSizes[i].width);
      kept.forEach((q, c) => {
        for (let e = 0; e < 4; e++) boxes.push(decoded[4 * c + e]);
        scores.push(sc[q]);
        labels.push(idx[q] % k);
      });
      start += count;
    }
    const keep = batchedNms(boxes, scores, labels, nmsThresh).subarray(0, maxDets);
    const det: Detections = { boxes: new Float32Array(4 * keep.length), scores: new Float32Array(keep.length), labels: new Int32Array(keep.length) };
    keep.forEach((q, c) => {
      for (let e = 0; e < 4; e++) det.boxes[4 * c + e] = boxes[4 * q + e];
      det.scores[c] = scores[q];
      det.labels[c] = labels[q];
    });
    out.push(det);
  }
  return out;
}

/**
 * Positions of the `k` highest scores, highest first, ties in position order: the first `k` of a stable sort by
 * descending score (torchvision's `scores.topk` on one level's candidates; topk's order among equal scores is
 * unspecified, this one is fixed). The k-th highest score is found by selection first (O(n)), so only the kept
 * candidates are sorted: with a threshold near 0 a level has millions of candidates and keeps 1,000.
 * @param sc `[n]` scores (an array or a typed array), no NaN.
 * @returns `[min(k, n)]` positions into `sc`.
 */
export function topkOrder(sc: ArrayLike<number>, k: number): number[] {
  const n = sc.length;
  if (k <= 0) return [];
  let kept: number[];
  if (n <= k) kept = Array.from({ length: n }, (_, q) => q);
  else {
    const v = kthLargest(Float64Array.from(sc), k);
    kept = [];
    for (let q = 0; q < n; q++) if (sc[q] > v) kept.push(q);
    // scores equal to the k-th fill the remaining places in position order, as the stable sort keeps them
    for (let q = 0; q < n && kept.length < k; q++) if (sc[q] === v) kept.push(q);
  }
  return kept.sort((a, b) => sc[b] - sc[a] || a - b);
}

/** The k-th largest value of `a` (1-based; `a` is reordered): Hoare's quickselect (Hoare 1961, FIND), median-of-three pivots. */
function kthLargest(a: Float64Array, k: number): number {
  const target = k - 1; // position in descending order
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    // median of three as the pivot, against sorted or constant runs
    const x = a[lo];
    const y = a[mid];
    const z = a[hi];
    const pivot = x > y ? (y > z ? y : x > z ? z : x) : x > z ? x : y > z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] > pivot) i++;
      while (a[j] < pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    // now a[lo..j] >= pivot, a[i..hi] <= pivot, and a[j+1..i-1] == pivot
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return pivot;
  }
  return a[target];
}

export type { OriginalFrame } from '../../src/ops/boxes';

/**
 * Map detections from the network input to original-image pixels ({@link boxesToOriginal}), then clip them to the
 * original image. With only a resize (no crop, flip or padding) this is torchvision's `resize_boxes` (boxes times
 * original / resized size) followed by a clip that torchvision leaves out (its boxes are already inside).
 * @param det detections in the input frame (not modified).
 * @param frame the image's geometry (an `ImageMeta` fits).
 * @returns new detections with boxes in original pixels; scores and labels copied.
 * @throws Error when a scale is not positive.
 */
export function detectionsToOriginal(det: Detections, frame: OriginalFrame): Detections {
  const boxes = clipBoxesInPlace(boxesToOriginal(det.boxes, frame), frame.originalHeight, frame.originalWidth);
  return { boxes, scores: det.scores.slice(), labels: det.labels.slice() };
}
