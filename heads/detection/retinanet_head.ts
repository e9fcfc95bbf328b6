/**
 * The RetinaNet head (Lin et al. 2017, "Focal Loss for Dense Object Detection"): two towers of four 3x3
 * convolutions with ReLU, shared across pyramid levels, ending in a 3x3 convolution to A*K class logits and one to
 * A*4 box deltas per location.
 *
 * State names are torchvision's (≥ 0.13): `classification_head.conv.{i}.0.weight|bias`,
 * `classification_head.cls_logits.*`, `regression_head.conv.{i}.0.*`, `regression_head.bbox_reg.*`. Mounted
 * in the detector under `head.`. Initialization as torchvision: every weight normal(0, 0.01), biases 0 except
 * `cls_logits.bias = -log((1 - pi) / pi)` with prior probability pi = 0.01.
 *
 * Output layout: per level the convolution gives [N, Hi, Wi, A*K] with channel `a*K + k` (torch's
 * `view(N, A, K, H, W)`), reshaped to [N, Hi*Wi*A, K]; levels are concatenated in ascending order. So row
 * `r` of the result is level-major, then y, then x, then anchor, exactly torchvision's order and the order of
 * `AnchorGenerator` anchors.
 *
 * Reference: torchvision `models/detection/retinanet.py` (`RetinaNetHead`, `RetinaNetClassificationHead`,
 * `RetinaNetRegressionHead`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { FeatureMap, PyramidLevel } from '../../src/backbone/features';
import { SeedSequence } from '../../src/common/seed';
import { Conv2d, ModuleList } from '../../src/nn/layers';
import { Module } from '../../src/nn/module';

/**
 * Raw outputs of a dense detection head, flattened over levels (level-major, then y, x, anchor). A type alias
 * (not an interface) so that it is a `tf.TensorContainer` and can be returned from `tf.tidy`.
 */
export type DenseDetectionOutputs = {
  /** [N, R, K] float32 class logits (sigmoid, no background class), R = sum(Hi * Wi * A). */
  clsLogits: tf.Tensor3D;
  /** [N, R, 4] float32 box deltas (dx, dy, dw, dh) relative to the anchors (see `BoxCoder`). */
  boxDeltas: tf.Tensor3D;
};

/** Options of `RetinaNetHead`. */
export interface RetinaNetHeadOptions {
  /** Channels of every input level (the FPN's `outChannels`). */
  inChannels: number;
  /** Anchors per location, A. */
  numAnchors: number;
  /** Classes, K (no background). */
  numClasses: number;
  /** Prior probability of the class-logit bias. Default 0.01. */
  priorProbability?: number;
  /** Seed of the normal(0, 0.01) initialization. Default 0. */
  seed?: number;
}

function tower(channels: number, seeds: SeedSequence): ModuleList<ModuleList<Conv2d>> {
  const blocks: ModuleList<Conv2d>[] = [];
  for (let i = 0; i < 4; i++) {
    blocks.push(new ModuleList([new Conv2d({ inChannels: channels, outChannels: channels, kernelSize: 3, padding: 1, init: { normalStd: 0.01 }, seeds })]));
  }
  return new ModuleList(blocks);
}

function runTower(t: ModuleList<ModuleList<Conv2d>>, x: tf.Tensor4D): tf.Tensor4D {
  let y = x;
  for (const block of t.items) y = tf.relu(block.items[0].forward(y));
  return y;
}

/** Classification branch: state `conv.{0..3}.0.*`, `cls_logits.*`. */
export class RetinaNetClassificationHead extends Module {
  readonly conv: ModuleList<ModuleList<Conv2d>>;
  readonly clsLogits: Conv2d;
  constructor(readonly numAnchors: number, readonly numClasses: number, inChannels: number, priorProbability: number, seeds: SeedSequence) {
    super();
    this.conv = this.registerModule('conv', tower(inChannels, seeds));
    this.clsLogits = this.registerModule(
      'cls_logits',
      new Conv2d({ inChannels, outChannels: numAnchors * numClasses, kernelSize: 3, padding: 1, init: { normalStd: 0.01 }, seeds }),
    );
    const b = -Math.log((1 - priorProbability) / priorProbability);
    tf.tidy(() => this.clsLogits.bias!.assign(tf.fill([numAnchors * numClasses], b)));
  }

  /** @param x [N, H, W, C] float32. @returns [N, H*W*A, K] float32; caller owns it. */
  forward(x: tf.Tensor4D): tf.Tensor3D {
    return tf.tidy(() => {
      const y = this.clsLogits.forward(runTower(this.conv, x)); // [N, H, W, A*K]
      return tf.reshape(y, [y.shape[0], -1, this.numClasses]) as tf.Tensor3D; // [N, H*W*A, K]
    });
  }
}

/** Regression branch: state `conv.{0..3}.0.*`, `bbox_reg.*`. */
export class RetinaNetRegressionHead extends Module {
  readonly conv: ModuleList<ModuleList<Conv2d>>;
  readonly bboxReg: Conv2d;
  constructor(readonly numAnchors: number, inChannels: number, seeds: SeedSequence) {
    super();
    this.conv = this.registerModule('conv', tower(inChannels, seeds));
    this.bboxReg = this.registerModule(
      'bbox_reg',
      new Conv2d({ inChannels, outChannels: numAnchors * 4, kernelSize: 3, padding: 1, init: { normalStd: 0.01 }, seeds }),
    );
  }

  /** @param x [N, H, W, C] float32. @returns [N, H*W*A, 4] float32; caller owns it. */
  forward(x: tf.Tensor4D): tf.Tensor3D {
    return tf.tidy(() => {
      const y = this.bboxReg.forward(runTower(this.conv, x)); // [N, H, W, A*4]
      return tf.reshape(y, [y.shape[0], -1, 4]) as tf.Tensor3D; // [N, H*W*A, 4]
    });
  }
}

/** Both branches; a pure function of the features (no loss, no anchors). */
export class RetinaNetHead extends Module {
  readonly classificationHead: RetinaNetClassificationHead;
  readonly regressionHead: RetinaNetRegressionHead;
  readonly numClasses: number;
  readonly numAnchors: number;
  readonly inChannels: number;

  /** @throws Error on a non-positive channel, anchor or class count. */
  constructor(opts: RetinaNetHeadOptions) {
    super();
    for (const [k, v] of [['inChannels', opts.inChannels], ['numAnchors', opts.numAnchors], ['numClasses', opts.numClasses]] as const) {
      if (!Number.isInteger(v) || v <= 0) throw new Error(`RetinaNetHead: ${k} must be a positive integer, got ${v}`);
    }
    const p = opts.priorProbability ?? 0.01;
    if (!(p > 0 && p < 1)) throw new Error(`RetinaNetHead: priorProbability must be in (0, 1), got ${p}`);
    const seeds = new SeedSequence(opts.seed ?? 0);
    this.numClasses = opts.numClasses;
    this.numAnchors = opts.numAnchors;
    this.inChannels = opts.inChannels;
    this.classificationHead = this.registerModule(
      'classification_head',
      new RetinaNetClassificationHead(opts.numAnchors, opts.numClasses, opts.inChannels, p, seeds),
    );
    this.regressionHead = this.registerModule('regression_head', new RetinaNetRegressionHead(opts.numAnchors, opts.inChannels, seeds));
  }

  /**
   * Run both branches on every level.
   * @param features pyramid levels, each [N, Hi, Wi, inChannels] float32; not disposed.
   * @param levels the levels to use, ascending (e.g. P3..P7); this order is the order of the output rows.
   * @returns `clsLogits` [N, R, K] and `boxDeltas` [N, R, 4], R = sum(Hi * Wi * A), rows level-major then y, x,
   *   anchor; caller owns them.
   * @throws Error when a level is missing or has the wrong channel count.
   */
  forward(features: Partial<FeatureMap<PyramidLevel>>, levels: readonly PyramidLevel[]): DenseDetectionOutputs {
    for (const l of levels) {
      const x = features[l];
      if (!x) throw new Error(`RetinaNetHead: level ${l} missing (got ${Object.keys(features).join(', ')})`);
      if (x.rank !== 4 || x.shape[3] !== this.inChannels) throw new Error(`RetinaNetHead: ${l} must be [N, H, W, ${this.inChannels}], got [${x.shape}]`);
    }
    return tf.tidy(() => {
      const cls = levels.map((l) => this.classificationHead.forward(features[l]!));
      const box = levels.map((l) => this.regressionHead.forward(features[l]!));
      return {
        clsLogits: (cls.length === 1 ? cls[0] : tf.concat(cls, 1)) as tf.Tensor3D, // [N, R, K]
        boxDeltas: (box.length === 1 ? box[0] : tf.concat(box, 1)) as tf.Tensor3D, // [N, R, 4]
      };
    });
  }
}
