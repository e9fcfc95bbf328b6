/**
 * The box branch of Faster R-CNN with FPN: multi-scale RoIAlign (each RoI pooled 7x7 from the pyramid level its
 * size maps to), the two-layer MLP box head, the predictor (class logits over K + 1 classes, background first,
 * and class-specific box deltas), RoI sampling for training, the Fast R-CNN losses and the post-processing.
 *
 * State names are torchvision's (mounted as `roi_heads.`): `box_head.fc6.weight|bias`, `box_head.fc7.*`,
 * `box_predictor.cls_score.*`, `box_predictor.bbox_pred.*` (Linear weights are [in, out] here, [out, in] in torch).
 * `fc6` reads the pooled features flattened in torch's channel-major order (C, 7, 7), so torchvision weights apply
 * unchanged.
 *
 * Class indices: the predictor's column 0 is background and column l + 1 is class l of the project's contiguous
 * labels 0..K-1 (torchvision's labels 1..K); ground truth and detections use 0..K-1.
 *
 * Reference: Girshick 2015, "Fast R-CNN"; Lin et al. 2017, "Feature Pyramid Networks" (Eq. 1, the level mapper);
 * torchvision `ops/poolers.py` (`MultiScaleRoIAlign`, `LevelMapper`), `models/detection/faster_rcnn.py`
 * (`TwoMLPHead`, `FastRCNNPredictor`), `roi_heads.py` (`select_training_samples`, `fastrcnn_loss`,
 * `postprocess_detections`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { FeatureMap, FeatureSpec, type FeatureSpecs, PyramidLevel, specOf } from '../../src/backbone/features';
import { SeedSequence } from '../../src/common/seed';
import { clipBoxesInPlace } from '../../src/ops/boxes';
import { boxIou } from '../../src/ops/iou';
import { smoothL1Loss, softmaxCrossEntropy } from '../../src/ops/losses';
import { batchedNms } from '../../src/ops/nms';
import { roiAlign } from '../../src/ops/roi_align';
import { Linear } from '../../src/nn/layers';
import { Module } from '../../src/nn/module';
import { BoxCoder } from './box_coder';
import { DetectionGroundTruth } from './losses';
import { BELOW_LOW_THRESHOLD, BETWEEN_THRESHOLDS, Matcher } from './matcher';
import { Detections, ImageSize } from './postprocess';
import { SubsetSampler, balancedSample } from './sampler';

/** RoIs of a batch: boxes with the image each belongs to. */
export interface RoIs {
  /** [R * 4] float32 xyxy, pixels of the network input. */
  boxes: Float32Array;
  /** [R] int32 image index 0..N-1 of each box. */
  imageIndices: Int32Array;
}

/** Options of `MultiScaleRoIAlign`; torchvision's Faster R-CNN defaults. */
export interface MultiScaleRoIAlignOptions {
  /** Levels pooled from, ascending and consecutive (P2..P5). */
  levels: PyramidLevel[];
  /** Their specs: the stride of each level gives its spatial scale 1 / stride. */
  specs: FeatureSpecs<PyramidLevel>;
  /** Output bins per side. Default 7. */
  outputSize?: number;
  /** Sampling points per bin and axis. Default 2. */
  samplingRatio?: number;
  /** Box size (sqrt of area, pixels) that maps to `canonicalLevel`. Default 224. */
  canonicalScale?: number;
  /** Default 4. */
  canonicalLevel?: number;
}

/**
 * The FPN level index of each RoI (torchvision `LevelMapper`, in float32 as torch on float32 boxes):
 * `k = floor(canonicalLevel + log2(sqrt(area) / canonicalScale) + 1e-6)`, clamped to [kMin, kMax], minus kMin.
 * @param boxes [R * 4] xyxy, pixels.
 * @returns new [R] int32 indices into the pooled levels.
 */
export function mapRoiLevels(boxes: ArrayLike<number>, kMin: number, kMax: number, canonicalScale = 224, canonicalLevel = 4): Int32Array {
  const f = Math.fround;
  const out = new Int32Array(boxes.length / 4);
  for (let i = 0; i < out.length; i++) {
    const area = f(f(boxes[4 * i + 2] - boxes[4 * i]) * f(boxes[4 * i + 3] - boxes[4 * i + 1]));
    const s = f(Math.sqrt(area));
    const k = Math.floor(f(f(canonicalLevel + f(Math.log2(f(s / canonicalScale)))) + f(1e-6)));
    out[i] = Math.min(kMax, Math.max(kMin, Number.isNaN(k) ? kMin : k)) - kMin;
  }
  return out;
}

/** torchvision `MultiScaleRoIAlign` (no parameters). */
export class MultiScaleRoIAlign {
  readonly levels: readonly PyramidLevel[];
  readonly outputSize: number;
  readonly samplingRatio: number;
  private readonly strides: number[];
  private readonly kMin: number;
  private readonly kMax: number;
  private readonly canonicalScale: number;
  private readonly canonicalLevel: number;

  /** @throws Error when a level has no spec, or strides are not consecutive powers of two. */
  constructor(opts: MultiScaleRoIAlignOptions) {
    this.levels = [...opts.levels];
    this.strides = opts.levels.map((l) => {
      const s = opts.specs[l];
      if (!s) throw new Error(`MultiScaleRoIAlign: no spec for level ${l}; given ${Object.keys(opts.specs).join(', ')}`);
      return s.stride;
    });
    this.strides.forEach((s, i) => {
      if (!Number.isInteger(Math.log2(s)) || (i > 0 && s !== 2 * this.strides[i - 1])) {
        throw new Error(`MultiScaleRoIAlign: strides must be consecutive powers of two, got [${this.strides}]`);
      }
    });
    // torchvision infers the scales from feature and image sizes, rounding to powers of two: that is 1 / stride.
    this.kMin = Math.log2(this.strides[0]);
    this.kMax = Math.log2(this.strides[this.strides.length - 1]);
    this.outputSize = opts.outputSize ?? 7;
    this.samplingRatio = opts.samplingRatio ?? 2;
    this.canonicalScale = opts.canonicalScale ?? 224;
    this.canonicalLevel = opts.canonicalLevel ?? 4;
  }

  /** The level index (into `levels`) of each RoI. */
  roiLevels(boxes: ArrayLike<number>): Int32Array {
    return mapRoiLevels(boxes, this.kMin, this.kMax, this.canonicalScale, this.canonicalLevel);
  }

  /**
   * Pool every RoI from its level with RoIAlign (`aligned=False`, sampling ratio 2), differentiable with respect
   * to the features.
   * @param features the pyramid, each [N, Hi, Wi, C] float32; not disposed.
   * @param rois boxes and image indices.
   * @returns [R, S, S, C] float32 in the order of `rois`; caller owns it.
   * @throws Error when a level is missing.
   */
  forward(features: Partial<FeatureMap<PyramidLevel>>, rois: RoIs): tf.Tensor4D {
    for (const l of this.levels) if (!features[l]) throw new Error(`MultiScaleRoIAlign: level ${l} missing from the input`);
    const r = rois.imageIndices.length;
    const lv = this.roiLevels(rois.boxes);
    const s = this.outputSize;
    return tf.tidy(() => {
      const parts: tf.Tensor4D[] = [];
      const order: number[] = [];
      this.levels.forEach((l, li) => {
        const rows: number[] = [];
        for (let i = 0; i < r; i++) if (lv[i] === li) rows.push(i);
        if (rows.length === 0) return;
        const b = new Float32Array(4 * rows.length);
        rows.forEach((i, k) => b.set(rois.boxes.subarray(4 * i, 4 * i + 4), 4 * k));
        parts.push(
          roiAlign(features[l]!, tf.tensor2d(b, [rows.length, 4]), tf.tensor1d(rows.map((i) => rois.imageIndices[i]), 'int32'), {
            outputSize: [s, s],
            spatialScale: 1 / this.strides[li],
            samplingRatio: this.samplingRatio,
            aligned: false,
          }),
        );
        order.push(...rows);
      });
      const c = features[this.levels[0]]!.shape[3];
      if (parts.length === 0) return tf.zeros([0, s, s, c]) as tf.Tensor4D;
      const pooled = parts.length === 1 ? parts[0] : tf.concat(parts, 0); // [R, S, S, C], level order
      if (order.every((v, i) => v === i)) return pooled;
      const inverse = new Int32Array(r);
      order.forEach((row, k) => (inverse[row] = k));
      return tf.gather(pooled, tf.tensor1d(inverse, 'int32')) as tf.Tensor4D;
    });
  }
}

/** torchvision `TwoMLPHead`: flatten (channel-major), fc6 + ReLU, fc7 + ReLU. State `fc6.*`, `fc7.*`. */
export class TwoMLPHead extends Module {
  readonly fc6: Linear;
  readonly fc7: Linear;
  constructor(inChannels: number, resolution: number, representationSize: number, seeds: SeedSequence) {
    super();
    this.fc6 = this.registerModule('fc6', new Linear({ inFeatures: inChannels * resolution * resolution, outFeatures: representationSize, seeds }));
    this.fc7 = this.registerModule('fc7', new Linear({ inFeatures: representationSize, outFeatures: representationSize, seeds }));
  }

  /** @param pooled [R, S, S, C] float32. @returns [R, representationSize] float32; caller owns it. */
  forward(pooled: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      const r = pooled.shape[0];
      const flat = tf.reshape(tf.transpose(pooled, [0, 3, 1, 2]), [r, -1]) as tf.Tensor2D; // [R, C*S*S], torch's order
      return tf.relu(this.fc7.forward(tf.relu(this.fc6.forward(flat)))) as tf.Tensor2D;
    });
  }
}

/** torchvision `FastRCNNPredictor`: `cls_score` [in, K + 1], `bbox_pred` [in, 4 (K + 1)]. */
export class FastRCNNPredictor extends Module {
  readonly clsScore: Linear;
  readonly bboxPred: Linear;
  constructor(inFeatures: number, numClassesWithBackground: number, seeds: SeedSequence) {
    super();
    this.clsScore = this.registerModule('cls_score', new Linear({ inFeatures, outFeatures: numClassesWithBackground, seeds }));
    this.bboxPred = this.registerModule('bbox_pred', new Linear({ inFeatures, outFeatures: 4 * numClassesWithBackground, seeds }));
  }

  /** @param x [R, in]. @returns class logits [R, K + 1] and box deltas [R, 4 (K + 1)] (class-major); caller owns them. */
  forward(x: tf.Tensor2D): { classLogits: tf.Tensor2D; boxDeltas: tf.Tensor2D } {
    return { classLogits: this.clsScore.forward(x), boxDeltas: this.bboxPred.forward(x) };
  }
}

/** Options of `RoIHeads`; torchvision's Faster R-CNN defaults. */
export interface RoIHeadsOptions {
  /** Classes K, background excluded. */
  numClasses: number;
  /** Levels pooled from and their specs. */
  levels: PyramidLevel[];
  specs: FeatureSpecs<PyramidLevel>;
  /** Width of fc6 / fc7. Default 1024. */
  representationSize?: number;
  /** IoU at or above which a proposal is foreground. Default 0.5. */
  fgIouThresh?: number;
  /** IoU below which a proposal is background. Default 0.5. */
  bgIouThresh?: number;
  /** RoIs sampled per image. Default 512. */
  batchSizePerImage?: number;
  /** Largest share of foreground RoIs. Default 0.25. */
  positiveFraction?: number;
  /** Box coder weights. Default (10, 10, 5, 5). */
  boxCoderWeights?: [number, number, number, number];
  /** Post-processing: minimum score (exclusive). Default 0.05. */
  scoreThresh?: number;
  /** Post-processing: class-wise NMS IoU threshold. Default 0.5. */
  nmsThresh?: number;
  /** Post-processing: detections kept per image. Default 100. */
  detectionsPerImage?: number;
  /** Seed of the initialization (torch.nn.Linear's default). Default 0. */
  seed?: number;
}

/** Sampled RoIs of a training batch and their constant targets. */
export interface RoITrainingSamples extends RoIs {
  /** [R] int32 predictor column: 0 background, l + 1 for class l. */
  labels: Int32Array;
  /** [R * 4] float32 encoded deltas (weights of the box coder) of the matched box; 0 for background. */
  regressionTargets: Float32Array;
}

/** The box branch. */
export class RoIHeads extends Module {
  readonly boxRoiPool: MultiScaleRoIAlign;
  readonly boxHead: TwoMLPHead;
  readonly boxPredictor: FastRCNNPredictor;
  readonly boxCoder: BoxCoder;
  readonly matcher: Matcher;
  readonly numClasses: number;
  readonly options: Readonly<RoIHeadsOptions>;

  /** @throws Error on invalid sizes or thresholds, or a level without spec. */
  constructor(opts: RoIHeadsOptions) {
    super();
    if (!(Number.isInteger(opts.numClasses) && opts.numClasses >= 1)) throw new Error(`RoIHeads: numClasses must be a positive integer, got ${opts.numClasses}`);
    this.options = { ...opts };
    this.numClasses = opts.numClasses;
    const seeds = new SeedSequence(opts.seed ?? 0);
    this.boxRoiPool = new MultiScaleRoIAlign({ levels: opts.levels, specs: opts.specs });
    const c = specOf(opts.specs, opts.levels[0], 'RoIHeads').channels;
    const rep = opts.representationSize ?? 1024;
    this.boxHead = this.registerModule('box_head', new TwoMLPHead(c, this.boxRoiPool.outputSize, rep, seeds));
    this.boxPredictor = this.registerModule('box_predictor', new FastRCNNPredictor(rep, opts.numClasses + 1, seeds));
    this.boxCoder = new BoxCoder(opts.boxCoderWeights ?? [10, 10, 5, 5]);
    this.matcher = new Matcher({ highThreshold: opts.fgIouThresh ?? 0.5, lowThreshold: opts.bgIouThresh ?? 0.5, allowLowQualityMatches: false });
  }

  /**
   * Pool, box head and predictor.
   * @param features the pyramid (P2..P5 used); not disposed.
   * @returns `classLogits` [R, K + 1] and `boxDeltas` [R, 4 (K + 1)] float32 in the order of `rois`; caller owns them.
   */
  forward(features: Partial<FeatureMap<PyramidLevel>>, rois: RoIs): { classLogits: tf.Tensor2D; boxDeltas: tf.Tensor2D } {
    return tf.tidy(() => this.boxPredictor.forward(this.boxHead.forward(this.boxRoiPool.forward(features, rois))) as unknown as tf.TensorContainer) as unknown as {
      classLogits: tf.Tensor2D;
      boxDeltas: tf.Tensor2D;
    };
  }

  /**
   * Training RoIs (torchvision `select_training_samples`): the ground-truth boxes appended to each image's
   * proposals, IoU matching (fg >= 0.5, bg < 0.5, no low-quality matches), balanced sampling, and regression targets
   * with the box coder's weights.
   * @param proposals per image, xyxy input pixels.
   * @param targets per image, boxes xyxy input pixels and labels 0..K-1.
   * @param sampler which RoIs are drawn.
   * @returns the sampled RoIs, image by image, ascending proposal index within each image.
   */
  selectTrainingSamples(proposals: readonly Float32Array[], targets: readonly DetectionGroundTruth[], sampler: SubsetSampler): RoITrainingSamples {
    const boxes: number[] = [];
    const imageIndices: number[] = [];
    const labels: number[] = [];
    const regression: number[] = [];
    targets.forEach((gt, i) => {
      const m = gt.labels.length;
      const props = new Float32Array(proposals[i].length + gt.boxes.length);
      props.set(proposals[i]);
      props.set(gt.boxes, proposals[i].length);
      const r = props.length / 4;
      const match = m === 0 ? new Int32Array(r).fill(BELOW_LOW_THRESHOLD) : this.matcher.match(boxIou(gt.boxes, props), m);
      const lab = new Int32Array(r);
      for (let a = 0; a < r; a++) lab[a] = match[a] >= 0 ? gt.labels[match[a]] + 1 : match[a] === BETWEEN_THRESHOLDS ? -1 : 0;
      const { positive, negative } = balancedSample(lab, this.options.batchSizePerImage ?? 512, this.options.positiveFraction ?? 0.25, sampler);
      const rows = Int32Array.from([...positive, ...negative]).sort();
      const matchedBoxes = new Float32Array(4 * rows.length);
      const sampledProps = new Float32Array(4 * rows.length);
      rows.forEach((a, k) => {
        sampledProps.set(props.subarray(4 * a, 4 * a + 4), 4 * k);
        // torchvision encodes every sampled RoI against gt[max(match, 0)] (a zero box without ground truth); only
        // foreground rows enter the loss.
        if (m > 0) matchedBoxes.set(gt.boxes.subarray(4 * Math.max(match[a], 0), 4 * Math.max(match[a], 0) + 4), 4 * k);
      });
      const enc = this.boxCoder.encode(matchedBoxes, sampledProps);
      rows.forEach((a, k) => {
        for (let e = 0; e < 4; e++) {
          boxes.push(sampledProps[4 * k + e]);
          regression.push(lab[a] > 0 ? enc[4 * k + e] : 0);
        }
        imageIndices.push(i);
        labels.push(lab[a]);
      });
    });
    return {
      boxes: Float32Array.from(boxes),
      imageIndices: Int32Array.from(imageIndices),
      labels: Int32Array.from(labels),
      regressionTargets: Float32Array.from(regression),
    };
  }

  /**
   * The Fast R-CNN losses (torchvision `fastrcnn_loss`): softmax cross-entropy of the class logits over all sampled
   * RoIs of the batch (mean), and smooth L1 (beta 1/9) of the deltas of each foreground RoI's own class, summed and
   * divided by the number of sampled RoIs.
   * @param outputs `classLogits` [R, K + 1], `boxDeltas` [R, 4 (K + 1)] of the sampled RoIs (not disposed).
   * @returns `classification`, `boxRegression` scalars; caller owns them.
   * @throws Error when the sizes disagree or R = 0.
   */
  losses(outputs: { classLogits: tf.Tensor2D; boxDeltas: tf.Tensor2D }, samples: RoITrainingSamples): { classification: tf.Scalar; boxRegression: tf.Scalar } {
    const [r, k1] = outputs.classLogits.shape;
    if (r !== samples.labels.length || outputs.boxDeltas.shape[1] !== 4 * k1) {
      throw new Error(`RoIHeads.losses: outputs [${outputs.classLogits.shape}], [${outputs.boxDeltas.shape}] do not fit ${samples.labels.length} sampled RoIs`);
    }
    const targets = new Float32Array(r * 4 * k1);
    const weights = new Float32Array(r * 4 * k1);
    for (let i = 0; i < r; i++) {
      const l = samples.labels[i];
      if (l <= 0) continue;
      for (let e = 0; e < 4; e++) {
        targets[i * 4 * k1 + 4 * l + e] = samples.regressionTargets[4 * i + e];
        weights[i * 4 * k1 + 4 * l + e] = 1 / r;
      }
    }
    return tf.tidy(() => ({
      classification: softmaxCrossEntropy(outputs.classLogits, samples.labels),
      boxRegression: smoothL1Loss(outputs.boxDeltas, tf.tensor2d(targets, [r, 4 * k1]), {
        beta: 1 / 9,
        reduction: 'sum',
        weights: tf.tensor2d(weights, [r, 4 * k1]),
      }) as tf.Scalar,
    }));
  }

  /**
   * Detections from the predictor's outputs (torchvision `postprocess_detections`): per RoI and class, the box
   * decoded from the proposal, clipped; softmax scores; background dropped; scores > 0.05; boxes of at least 0.01 px;
   * class-wise NMS 0.5; the 100 best per image.
   * @param classLogits [R * (K + 1)] float32, row-major. @param boxDeltas [R * 4 (K + 1)] float32, row-major.
   * @param rois the proposals the outputs were computed on.
   * @param imageSizes per image, the content size boxes are clipped to.
   * @returns one `Detections` per image, highest score first, labels 0..K-1, boxes in the network input frame.
   */
  postprocess(classLogits: Float32Array, boxDeltas: Float32Array, rois: RoIs, imageSizes: readonly ImageSize[]): Detections[] {
    const k1 = this.numClasses + 1;
    const r = rois.imageIndices.length;
    if (classLogits.length !== r * k1 || boxDeltas.length !== 4 * r * k1) {
      throw new Error(`RoIHeads.postprocess: expected logits [${r}, ${k1}] and deltas [${r}, ${4 * k1}], got lengths ${classLogits.length}, ${boxDeltas.length}`);
    }
    const scoreThresh = this.options.scoreThresh ?? 0.05;
    const nmsThresh = this.options.nmsThresh ?? 0.5;
    const maxDets = this.options.detectionsPerImage ?? 100;
    const per: { boxes: number[]; scores: number[]; labels: number[] }[] = imageSizes.map(() => ({ boxes: [], scores: [], labels: [] }));
    const anc = new Float64Array(4 * k1);
    const probs = new Float64Array(k1);
    for (let i = 0; i < r; i++) {
      const img = rois.imageIndices[i];
      let mx = -Infinity;
      for (let c = 0; c < k1; c++) mx = Math.max(mx, classLogits[i * k1 + c]);
      let z = 0;
      for (let c = 0; c < k1; c++) z += probs[c] = Math.exp(classLogits[i * k1 + c] - mx);
      for (let c = 0; c < k1; c++) anc.set(rois.boxes.subarray(4 * i, 4 * i + 4), 4 * c);
      const decoded = clipBoxesInPlace(this.boxCoder.decode(boxDeltas.subarray(4 * i * k1, 4 * (i + 1) * k1), anc), imageSizes[img].height, imageSizes[img].width);
      for (let c = 1; c < k1; c++) {
        const s = probs[c] / z;
        if (!(s > scoreThresh)) continue;
        const w = decoded[4 * c + 2] - decoded[4 * c];
        const h = decoded[4 * c + 3] - decoded[4 * c + 1];
        if (!(w >= 1e-2 && h >= 1e-2)) continue;
        for (let e = 0; e < 4; e++) per[img].boxes.push(decoded[4 * c + e]);
        per[img].scores.push(s);
        per[img].labels.push(c - 1);
      }
    }
    return per.map(({ boxes, scores, labels }) => {
      const keep = batchedNms(boxes, scores, labels, nmsThresh).subarray(0, maxDets);
      const det: Detections = { boxes: new Float32Array(4 * keep.length), scores: new Float32Array(keep.length), labels: new Int32Array(keep.length) };
      keep.forEach((q, j) => {
        for (let e = 0; e < 4; e++) det.boxes[4 * j + e] = boxes[4 * q + e];
        det.scores[j] = scores[q];
        det.labels[j] = labels[q];
      });
      return det;
    });
  }
}
