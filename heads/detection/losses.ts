/**
 * RetinaNet training targets and losses.
 *
 * Targets are built on the JS side from the anchors and the ground truth (no tensor is read back, so this runs
 * inside a gradient tape): match anchors by IoU, then per image a one-hot class target for foreground anchors, a
 * validity weight that drops ignored anchors (`BETWEEN_THRESHOLDS`), and regression targets for foreground
 * anchors. The losses are then pure tensor functions of the head outputs and these constants.
 *
 * Normalization (torchvision `retinanet.py` `compute_loss`): per image, the sum over valid anchors and classes
 * of the sigmoid focal loss, and the sum over foreground anchors of the box loss, each divided by
 * max(1, number of foreground anchors of that image); then the mean over the images of the batch.
 *
 * Reference: torchvision `models/detection/retinanet.py` (`RetinaNet.compute_loss`,
 * `RetinaNetClassificationHead.compute_loss`, `RetinaNetRegressionHead.compute_loss`), `_utils.py` (`_box_loss`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { boxIou } from '../../src/ops/iou';
import { generalizedBoxIouLoss, l1Loss, sigmoidFocalLoss, smoothL1Loss } from '../../src/ops/losses';
import { BoxCoder } from './box_coder';
import { BETWEEN_THRESHOLDS, Matcher } from './matcher';
import { DenseDetectionOutputs } from './retinanet_head';

/** Ground truth of one image in the network input frame. */
export interface DetectionGroundTruth {
  /** [M * 4] float32 xyxy, pixels of the network input (after resize/pad), x2 > x1, y2 > y1. */
  boxes: Float32Array;
  /** [M] int32 class indices 0..K-1. */
  labels: Int32Array;
}

/** Box regression loss: `l1` on deltas (torchvision RetinaNet v1), `smoothL1` on deltas, `giou` on decoded boxes (v2). */
export type BoxLossKind = { kind: 'l1' } | { kind: 'smoothL1'; beta: number } | { kind: 'giou' };

/** Options of `retinaNetLosses`. */
export interface RetinaNetLossOptions {
  /** Focal loss alpha. Default 0.25. */
  focalAlpha?: number;
  /** Focal loss gamma. Default 2. */
  focalGamma?: number;
  /** Default `{ kind: 'l1' }`. */
  boxLoss?: BoxLossKind;
}

/** Constant per-anchor targets of a batch, row-major over [N, R]. */
export interface RetinaNetTargets {
  /** [N * R] int32 matched ground-truth index, -1 background, -2 ignored. */
  matches: Int32Array[];
  /** [N * R] int32 class of each foreground anchor, -1 elsewhere (one-hot targets are built from it). */
  clsLabels: Int32Array;
  /** [N * R] float32: 1 / (N * max(1, fg_n)) for valid (not ignored) anchors, 0 for ignored. */
  clsWeights: Float32Array;
  /** [N * R * 4] float32: encoded deltas (`l1`, `smoothL1`) or matched boxes (`giou`) for foreground anchors; for
   * other anchors deltas 0 or the anchor itself (finite, masked out). */
  boxTargets: Float32Array;
  /** [N * R] float32: 1 / (N * max(1, fg_n)) for foreground anchors, 0 elsewhere. */
  boxWeights: Float32Array;
  /** Foreground anchors per image. */
  numForeground: number[];
}

function checkGroundTruth(gt: DetectionGroundTruth, i: number, numClasses: number): void {
  const m = gt.labels.length;
  if (gt.boxes.length !== 4 * m) throw new Error(`targets[${i}]: boxes must be [M * 4] with M = labels.length = ${m}, got length ${gt.boxes.length}`);
  for (let j = 0; j < m; j++) {
    const l = gt.labels[j];
    if (!Number.isInteger(l) || l < 0 || l >= numClasses) throw new Error(`targets[${i}]: label ${l} of box ${j} is outside 0..${numClasses - 1}`);
    const [x1, y1, x2, y2] = gt.boxes.subarray(4 * j, 4 * j + 4);
    if (!(x2 > x1 && y2 > y1)) {
      throw new Error(`targets[${i}]: box ${j} [${x1}, ${y1}, ${x2}, ${y2}] must have positive width and height (xyxy)`);
    }
  }
}

/**
 * Match anchors and build the constant targets of a batch.
 * @param anchors [R * 4] float32 xyxy anchors of the batch's input size (the same for every image).
 * @param targets one ground truth per image.
 * @param numClasses K.
 * @returns targets for `retinaNetLossesFromTargets`.
 * @throws Error naming the image and box for a label outside 0..K-1 or a box without positive area
 *   (torchvision's degenerate-box check).
 */
export function buildRetinaNetTargets(
  anchors: Float32Array,
  targets: readonly DetectionGroundTruth[],
  numClasses: number,
  matcher: Matcher,
  coder: BoxCoder,
  boxLoss: BoxLossKind,
): RetinaNetTargets {
  const n = targets.length;
  const r = anchors.length / 4;
  const clsLabels = new Int32Array(n * r).fill(-1);
  const clsWeights = new Float32Array(n * r);
  const boxTargets = new Float32Array(n * r * 4);
  const boxWeights = new Float32Array(n * r);
  const matches: Int32Array[] = [];
  const numForeground: number[] = [];
  targets.forEach((gt, i) => {
    checkGroundTruth(gt, i, numClasses);
    const m = gt.labels.length;
    const match = m === 0 ? new Int32Array(r).fill(-1) : matcher.match(boxIou(gt.boxes, anchors), m);
    matches.push(match);
    let fg = 0;
    for (let a = 0; a < r; a++) if (match[a] >= 0) fg++;
    numForeground.push(fg);
    const w = 1 / (n * Math.max(1, fg));
    const fgAnchors = new Float32Array(4 * fg);
    const fgBoxes = new Float32Array(4 * fg);
    const fgRows: number[] = [];
    for (let a = 0; a < r; a++) {
      const row = i * r + a;
      const g = match[a];
      if (g !== BETWEEN_THRESHOLDS) clsWeights[row] = w;
      if (boxLoss.kind === 'giou') boxTargets.set(anchors.subarray(4 * a, 4 * a + 4), 4 * row);
      if (g >= 0) {
        clsLabels[row] = gt.labels[g];
        boxWeights[row] = w;
        fgAnchors.set(anchors.subarray(4 * a, 4 * a + 4), 4 * fgRows.length);
        fgBoxes.set(gt.boxes.subarray(4 * g, 4 * g + 4), 4 * fgRows.length);
        fgRows.push(row);
      }
    }
    const fgTargets = boxLoss.kind === 'giou' ? fgBoxes : coder.encode(fgBoxes, fgAnchors);
    fgRows.forEach((row, k) => boxTargets.set(fgTargets.subarray(4 * k, 4 * k + 4), 4 * row));
  });
  return { matches, clsLabels, clsWeights, boxTargets, boxWeights, numForeground };
}

/**
 * One-hot class targets built on the JS side (torchvision `RetinaNetClassificationHead.compute_loss`:
 * `gt_classes_target[foreground, labels] = 1`). Unlike `tf.oneHot`, any depth K >= 1 works (a one-class detector has
 * K = 1), and the values are exact float32 ones (the wasm OneHot kernel of tfjs 4.22 writes the integer bits of
 * `onValue` when asked for float32 output).
 * @param labels [R] int32 class index 0..K-1 of each foreground row, -1 for background rows (an all-zero row).
 * @param k number of classes K >= 1.
 * @returns [R * K] float32, row-major [R, K].
 * @throws Error when K < 1 or a label is outside -1..K-1.
 */
export function oneHotTargets(labels: Int32Array, k: number): Float32Array {
  if (!Number.isInteger(k) || k < 1) throw new Error(`oneHotTargets: number of classes must be an integer >= 1, got ${k}`);
  const out = new Float32Array(labels.length * k);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (l === -1) continue;
    if (l < 0 || l >= k) throw new Error(`oneHotTargets: label ${l} of row ${i} is outside -1..${k - 1}`);
    out[i * k + l] = 1;
  }
  return out;
}

/**
 * The two RetinaNet losses from head outputs and prebuilt targets.
 * @param outputs `clsLogits` [N, R, K], `boxDeltas` [N, R, 4] (not disposed).
 * @param anchors [R * 4] float32 xyxy anchors (used by `giou` to decode).
 * @returns `classification` (focal) and `boxRegression` scalars, normalized as the module comment says; caller owns them.
 * @throws Error when the target sizes do not match the outputs.
 */
export function retinaNetLossesFromTargets(
  outputs: DenseDetectionOutputs,
  t: RetinaNetTargets,
  anchors: Float32Array,
  coder: BoxCoder,
  opts: RetinaNetLossOptions = {},
): { classification: tf.Scalar; boxRegression: tf.Scalar } {
  const [n, r, k] = outputs.clsLogits.shape;
  if (t.clsLabels.length !== n * r || t.boxTargets.length !== n * r * 4 || anchors.length !== 4 * r) {
    throw new Error(`retinaNetLosses: targets for [N=${t.matches.length}, R=${anchors.length / 4}] do not fit outputs [${outputs.clsLogits.shape}]`);
  }
  const boxLoss = opts.boxLoss ?? { kind: 'l1' };
  return tf.tidy(() => {
    const clsTargets = tf.tensor3d(oneHotTargets(t.clsLabels, k), [n, r, k]); // [N, R, K]
    const clsWeights = tf.tensor3d(t.clsWeights, [n, r, 1]);
    const classification = sigmoidFocalLoss(outputs.clsLogits, clsTargets, {
      alpha: opts.focalAlpha ?? 0.25,
      gamma: opts.focalGamma ?? 2,
      reduction: 'sum',
      weights: clsWeights,
    }) as tf.Scalar;
    const boxTargets = tf.tensor3d(t.boxTargets, [n, r, 4]);
    let boxRegression: tf.Scalar;
    switch (boxLoss.kind) {
      case 'l1':
        boxRegression = l1Loss(outputs.boxDeltas, boxTargets, { reduction: 'sum', weights: tf.tensor3d(t.boxWeights, [n, r, 1]) }) as tf.Scalar;
        break;
      case 'smoothL1':
        boxRegression = smoothL1Loss(outputs.boxDeltas, boxTargets, {
          beta: boxLoss.beta,
          reduction: 'sum',
          weights: tf.tensor3d(t.boxWeights, [n, r, 1]),
        }) as tf.Scalar;
        break;
      case 'giou': {
        const decoded = coder.decodeTensor(outputs.boxDeltas, tf.tensor2d(anchors, [r, 4])); // [N, R, 4]
        boxRegression = generalizedBoxIouLoss(decoded, boxTargets, { reduction: 'sum', weights: tf.tensor2d(t.boxWeights, [n, r]) }) as tf.Scalar;
        break;
      }
      default: {
        const never: never = boxLoss;
        throw new Error(`unknown boxLoss ${JSON.stringify(never)}: expected kind 'l1', 'smoothL1' or 'giou'`);
      }
    }
    return { classification, boxRegression };
  });
}

/**
 * Match, build targets and compute both losses (torchvision `RetinaNet.compute_loss`).
 * @param outputs head outputs [N, R, K] and [N, R, 4] (not disposed).
 * @param anchors [R * 4] float32 xyxy anchors of the batch input size.
 * @param targets N ground truths in the network input frame.
 * @returns `classification` and `boxRegression` scalars; caller owns them.
 * @throws Error when the number of targets is not N, or on invalid ground truth (see `buildRetinaNetTargets`).
 */
export function retinaNetLosses(
  outputs: DenseDetectionOutputs,
  anchors: Float32Array,
  targets: readonly DetectionGroundTruth[],
  matcher: Matcher,
  coder: BoxCoder,
  opts: RetinaNetLossOptions = {},
): { classification: tf.Scalar; boxRegression: tf.Scalar } {
  const [n, , k] = outputs.clsLogits.shape;
  if (targets.length !== n) throw new Error(`retinaNetLosses: ${n} images but ${targets.length} targets`);
  const t = buildRetinaNetTargets(anchors, targets, k, matcher, coder, opts.boxLoss ?? { kind: 'l1' });
  return retinaNetLossesFromTargets(outputs, t, anchors, coder, opts);
}
