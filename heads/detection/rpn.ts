/**
 * Region Proposal Network (Ren et al. 2015, "Faster R-CNN"; with FPN, Lin et al. 2017): a shared 3x3 convolution
 * + ReLU on every pyramid level, then 1x1 convolutions giving one objectness logit and four box deltas per anchor;
 * proposal selection (per-level top-n, decoding, clipping, small-box removal, NMS per level, top-n per image);
 * anchor targets (IoU matching 0.7 / 0.3 with low-quality matches, balanced sampling) and the two RPN losses.
 *
 * State names are torchvision's `RPNHead` (≥ 0.13, mounted as `rpn.head.`): `conv.0.0.weight|bias` (the
 * `Conv2dNormActivation` inside a Sequential), `cls_logits.weight|bias`, `bbox_pred.weight|bias`; initialization
 * normal(std 0.01), bias 0.
 *
 * Reference: torchvision `models/detection/rpn.py` (`RPNHead`, `concat_box_prediction_layers`,
 * `RegionProposalNetwork.filter_proposals`, `assign_targets_to_anchors`, `compute_loss`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { FeatureMap, PyramidLevel } from '../../src/backbone/features';
import { SeedSequence } from '../../src/common/seed';
import { clipBoxesInPlace } from '../../src/ops/boxes';
import { boxIou } from '../../src/ops/iou';
import { binaryCrossEntropyWithLogits, smoothL1Loss } from '../../src/ops/losses';
import { batchedNms } from '../../src/ops/nms';
import { Conv2d, ModuleList } from '../../src/nn/layers';
import { Module } from '../../src/nn/module';
import { BoxCoder } from './box_coder';
import { DetectionGroundTruth } from './losses';
import { BELOW_LOW_THRESHOLD, BETWEEN_THRESHOLDS, Matcher } from './matcher';
import { ImageSize, topkOrder } from './postprocess';
import { SubsetSampler, balancedSample } from './sampler';

/** Options of `RPNHead`. */
export interface RPNHeadOptions {
  /** Channels of every input level (the FPN's). */
  inChannels: number;
  /** Anchors per location A (3 for Faster R-CNN FPN: one size, three ratios). */
  numAnchors: number;
  /** Seed of the initialization. Default 0. */
  seed?: number;
}

/** Raw RPN outputs over all levels, rows level-major, then y, x, anchor (the order of the anchors). */
export interface RpnOutputs {
  /** [N, R] float32 objectness logits. */
  objectness: tf.Tensor2D;
  /** [N, R, 4] float32 deltas (dx, dy, dw, dh) relative to the anchors, box coder weights (1, 1, 1, 1). */
  deltas: tf.Tensor3D;
}

/** The RPN head. */
export class RPNHead extends Module {
  readonly conv: Conv2d;
  readonly clsLogits: Conv2d;
  readonly bboxPred: Conv2d;
  readonly numAnchors: number;

  /** @throws Error on non-positive sizes. */
  constructor(opts: RPNHeadOptions) {
    super();
    const { inChannels, numAnchors } = opts;
    if (!(Number.isInteger(inChannels) && inChannels > 0 && Number.isInteger(numAnchors) && numAnchors > 0)) {
      throw new Error(`RPNHead: inChannels and numAnchors must be positive integers, got ${inChannels}, ${numAnchors}`);
    }
    const seeds = new SeedSequence(opts.seed ?? 0);
    const init = { normalStd: 0.01 };
    this.numAnchors = numAnchors;
    this.conv = new Conv2d({ inChannels, outChannels: inChannels, kernelSize: 3, padding: 1, init, seeds });
    this.registerModule('conv', new ModuleList([new ModuleList([this.conv])]));
    this.clsLogits = this.registerModule('cls_logits', new Conv2d({ inChannels, outChannels: numAnchors, kernelSize: 1, init, seeds }));
    this.bboxPred = this.registerModule('bbox_pred', new Conv2d({ inChannels, outChannels: 4 * numAnchors, kernelSize: 1, init, seeds }));
  }

  /**
   * @param features pyramid levels, each [N, Hi, Wi, C] float32 NHWC; not disposed.
   * @param levels the levels to run on, ascending (P2..P6 for Faster R-CNN).
   * @returns objectness [N, R] and deltas [N, R, 4], R = sum(Hi * Wi * A); caller owns them.
   * @throws Error when a level is missing.
   */
  forward(features: Partial<FeatureMap<PyramidLevel>>, levels: readonly PyramidLevel[]): RpnOutputs {
    for (const l of levels) if (!features[l]) throw new Error(`RPNHead: level ${l} missing from the input (got ${Object.keys(features).join(', ')})`);
    const a = this.numAnchors;
    return tf.tidy(() => {
      const obj: tf.Tensor2D[] = [];
      const del: tf.Tensor3D[] = [];
      for (const l of levels) {
        const x = features[l]!;
        const [n, h, w] = x.shape;
        const t = tf.relu(this.conv.forward(x));
        obj.push(tf.reshape(this.clsLogits.forward(t), [n, h * w * a])); // [N, Hi*Wi*A]
        // torchvision's bbox_pred channel a * 4 + k is delta k of anchor a.
        del.push(tf.reshape(this.bboxPred.forward(t), [n, h * w * a, 4])); // [N, Hi*Wi*A, 4]
      }
      return { objectness: tf.concat(obj, 1), deltas: tf.concat(del, 1) } as unknown as tf.TensorContainer;
    }) as unknown as RpnOutputs;
  }
}

/** Options of `selectProposals`; torchvision's Faster R-CNN defaults in the comments. */
export interface ProposalOptions {
  /** Candidates kept per level before NMS, by objectness: 2000 training, 1000 testing. */
  preNmsTopN: number;
  /** Proposals kept per image after NMS: 2000 training, 1000 testing. */
  postNmsTopN: number;
  /** IoU above which NMS suppresses (per level). Default 0.7. */
  nmsThresh?: number;
  /** Boxes narrower or shorter than this (pixels) are dropped. Default 1e-3. */
  minSize?: number;
  /** Proposals with sigmoid(objectness) below this are dropped. Default 0. */
  scoreThresh?: number;
}

/** Proposals of one image, highest objectness first. */
export interface Proposals {
  /** [P * 4] float32 xyxy, pixels of the network input, clipped to the image. */
  boxes: Float32Array;
  /** [P] float32 sigmoid(objectness). */
  scores: Float32Array;
}

/**
 * RPN proposals per image (torchvision `RegionProposalNetwork.filter_proposals`, after decoding): per level the
 * `preNmsTopN` highest objectness logits (ties: lower index first), decoding with weights (1, 1, 1, 1), clipping to
 * the image, removal of boxes smaller than `minSize` and scores below `scoreThresh`, NMS independently per level,
 * then the `postNmsTopN` best over all levels. Runs on arrays read back from the head (no gradient: torchvision
 * detaches the proposals).
 *
 * @param objectness [N * R] float32 logits, row-major [N, R].
 * @param deltas [N * R * 4] float32, row-major [N, R, 4].
 * @param anchors [R * 4] float32 xyxy anchors, input pixels, in the same row order.
 * @param levelCounts Hi * Wi * A per level, summing to R.
 * @param imageSizes per image, the content size boxes are clipped to.
 * @returns one `Proposals` per image.
 * @throws Error when the sizes disagree.
 */
export function selectProposals(
  objectness: Float32Array,
  deltas: Float32Array,
  anchors: Float32Array,
  levelCounts: readonly number[],
  imageSizes: readonly ImageSize[],
  opts: ProposalOptions,
): Proposals[] {
  const r = anchors.length / 4;
  const n = imageSizes.length;
  if (levelCounts.reduce((a, b) => a + b, 0) !== r) throw new Error(`selectProposals: level counts [${levelCounts}] do not sum to R = ${r}`);
  if (objectness.length !== n * r || deltas.length !== 4 * n * r) {
    throw new Error(`selectProposals: expected objectness [${n}, ${r}] and deltas [${n}, ${r}, 4], got lengths ${objectness.length}, ${deltas.length}`);
  }
  const nmsThresh = opts.nmsThresh ?? 0.7;
  const minSize = opts.minSize ?? 1e-3;
  const scoreThresh = opts.scoreThresh ?? 0;
  const coder = new BoxCoder([1, 1, 1, 1]);
  const out: Proposals[] = [];
  for (let i = 0; i < n; i++) {
    const rows: number[] = [];
    const rowLevel: number[] = [];
    let start = 0;
    levelCounts.forEach((count, l) => {
      const levelScores = objectness.subarray(i * r + start, i * r + start + count);
      for (const q of topkOrder(levelScores, opts.preNmsTopN)) {
        rows.push(start + q);
        rowLevel.push(l);
      }
      start += count;
    });
    const d = new Float64Array(4 * rows.length);
    const anc = new Float64Array(4 * rows.length);
    rows.forEach((a, k) => {
      for (let e = 0; e < 4; e++) {
        d[4 * k + e] = deltas[(i * r + a) * 4 + e];
        anc[4 * k + e] = anchors[4 * a + e];
      }
    });
    const boxes = clipBoxesInPlace(coder.decode(d, anc), imageSizes[i].height, imageSizes[i].width);
    const keptBoxes: number[] = [];
    const keptScores: number[] = [];
    const keptLevels: number[] = [];
    rows.forEach((a, k) => {
      const w = boxes[4 * k + 2] - boxes[4 * k];
      const h = boxes[4 * k + 3] - boxes[4 * k + 1];
      if (!(w >= minSize && h >= minSize)) return;
      const s = 1 / (1 + Math.exp(-objectness[i * r + a]));
      if (!(s >= scoreThresh)) return;
      for (let e = 0; e < 4; e++) keptBoxes.push(boxes[4 * k + e]);
      keptScores.push(s);
      keptLevels.push(rowLevel[k]);
    });
    const keep = batchedNms(keptBoxes, keptScores, keptLevels, nmsThresh).subarray(0, opts.postNmsTopN);
    const p: Proposals = { boxes: new Float32Array(4 * keep.length), scores: new Float32Array(keep.length) };
    keep.forEach((q, k) => {
      for (let e = 0; e < 4; e++) p.boxes[4 * k + e] = keptBoxes[4 * q + e];
      p.scores[k] = keptScores[q];
    });
    out.push(p);
  }
  return out;
}

/** Options of `buildRpnTargets`; torchvision's defaults. */
export interface RpnTargetOptions {
  /** Anchors sampled per image. Default 256. */
  batchSizePerImage?: number;
  /** Largest share of positives. Default 0.5. */
  positiveFraction?: number;
}

/** Constant RPN targets of a batch, row-major over [N, R]. */
export interface RpnTargets {
  /** [N * R] float32: 1 / S for sampled anchors, 0 elsewhere (S = sampled anchors over the batch). */
  objectnessWeights: Float32Array;
  /** [N * R] float32: 1 for foreground anchors, 0 otherwise. */
  objectnessTargets: Float32Array;
  /** [N * R] float32: 1 / S for sampled foreground anchors, 0 elsewhere. */
  boxWeights: Float32Array;
  /** [N * R * 4] float32: encoded deltas of the matched box for sampled foreground anchors, 0 elsewhere. */
  boxTargets: Float32Array;
  /** Sampled positive and negative anchors per image (ascending row indices within the image). */
  sampled: { positive: Int32Array; negative: Int32Array }[];
}

/**
 * Label anchors (torchvision `assign_targets_to_anchors`: 1 matched, 0 below the low threshold, -1 between) and
 * sample them (`BalancedPositiveNegativeSampler`).
 * @param anchors [R * 4] float32 xyxy anchors of the batch's input size.
 * @param targets one ground truth per image (boxes xyxy input pixels; labels unused).
 * @param matcher IoU matcher (0.7 / 0.3, low-quality matches).
 * @param sampler which anchors are drawn.
 * @returns targets for `rpnLosses`.
 */
export function buildRpnTargets(
  anchors: Float32Array,
  targets: readonly DetectionGroundTruth[],
  matcher: Matcher,
  sampler: SubsetSampler,
  opts: RpnTargetOptions = {},
): RpnTargets {
  const n = targets.length;
  const r = anchors.length / 4;
  const coder = new BoxCoder([1, 1, 1, 1]);
  const objectnessTargets = new Float32Array(n * r);
  const objectnessWeights = new Float32Array(n * r);
  const boxWeights = new Float32Array(n * r);
  const boxTargets = new Float32Array(n * r * 4);
  const sampled: { positive: Int32Array; negative: Int32Array }[] = [];
  const matches: Int32Array[] = [];
  targets.forEach((gt) => {
    const m = gt.boxes.length / 4;
    const match = m === 0 ? new Int32Array(r).fill(BELOW_LOW_THRESHOLD) : matcher.match(boxIou(gt.boxes, anchors), m);
    const labels = new Int8Array(r);
    for (let a = 0; a < r; a++) labels[a] = match[a] >= 0 ? 1 : match[a] === BETWEEN_THRESHOLDS ? -1 : 0;
    matches.push(match);
    sampled.push(balancedSample(labels, opts.batchSizePerImage ?? 256, opts.positiveFraction ?? 0.5, sampler));
  });
  const total = Math.max(1, sampled.reduce((s, x) => s + x.positive.length + x.negative.length, 0));
  targets.forEach((gt, i) => {
    const { positive, negative } = sampled[i];
    for (const a of negative) objectnessWeights[i * r + a] = 1 / total;
    const fgBoxes = new Float32Array(4 * positive.length);
    const fgAnchors = new Float32Array(4 * positive.length);
    positive.forEach((a, k) => {
      const row = i * r + a;
      objectnessWeights[row] = 1 / total;
      objectnessTargets[row] = 1;
      boxWeights[row] = 1 / total;
      const g = matches[i][a];
      fgBoxes.set(gt.boxes.subarray(4 * g, 4 * g + 4), 4 * k);
      fgAnchors.set(anchors.subarray(4 * a, 4 * a + 4), 4 * k);
    });
    const enc = coder.encode(fgBoxes, fgAnchors);
    positive.forEach((a, k) => boxTargets.set(enc.subarray(4 * k, 4 * k + 4), 4 * (i * r + a)));
  });
  return { objectnessWeights, objectnessTargets, boxWeights, boxTargets, sampled };
}

/**
 * The RPN losses (torchvision `RegionProposalNetwork.compute_loss`): binary cross-entropy of the objectness of
 * the sampled anchors, averaged over them; smooth L1 (beta 1/9) of the deltas of the sampled foreground anchors,
 * summed and divided by the number of sampled anchors (both over the whole batch).
 * @param outputs objectness [N, R], deltas [N, R, 4] (not disposed).
 * @param t targets from `buildRpnTargets`.
 * @returns `rpnObjectness`, `rpnBoxRegression` scalars; caller owns them. With no sampled anchor both are 0
 *   (torch gives NaN).
 * @throws Error when the target sizes do not fit the outputs.
 */
export function rpnLosses(outputs: RpnOutputs, t: RpnTargets): { rpnObjectness: tf.Scalar; rpnBoxRegression: tf.Scalar } {
  const [n, r] = outputs.objectness.shape;
  if (t.objectnessTargets.length !== n * r || t.boxTargets.length !== 4 * n * r) {
    throw new Error(`rpnLosses: targets for ${t.objectnessTargets.length} anchors do not fit outputs [${outputs.objectness.shape}]`);
  }
  return tf.tidy(() => {
    const rpnObjectness = binaryCrossEntropyWithLogits(outputs.objectness, tf.tensor2d(t.objectnessTargets, [n, r]), {
      reduction: 'sum',
      weights: tf.tensor2d(t.objectnessWeights, [n, r]),
    }) as tf.Scalar;
    const rpnBoxRegression = smoothL1Loss(outputs.deltas, tf.tensor3d(t.boxTargets, [n, r, 4]), {
      beta: 1 / 9,
      reduction: 'sum',
      weights: tf.tensor3d(t.boxWeights, [n, r, 1]),
    }) as tf.Scalar;
    return { rpnObjectness, rpnBoxRegression };
  });
}
