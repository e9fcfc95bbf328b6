/**
 * The FCN head of torchvision's segmentation models: 3x3 convolution to C/4 channels, BatchNorm, ReLU,
 * dropout 0.1, 1x1 classifier. torchvision uses it as the `classifier` of FCN and as the `aux_classifier` (on C4)
 * of FCN and DeepLabV3.
 *
 * Reference: Long et al. 2015, "Fully Convolutional Networks for Semantic Segmentation"; torchvision
 * `models/segmentation/fcn.py` (`FCNHead`, an `nn.Sequential` whose parameters are `0.weight` (conv),
 * `1.*` (BatchNorm), `4.weight` / `4.bias` (classifier)).
 */
import * as tf from '@tensorflow/tfjs-core';
import { SeedSequence } from '../../src/common/seed';
import { BatchNorm2d, Conv2d } from '../../src/nn/layers';
import { Module } from '../../src/nn/module';
import { SegmentationForwardContext, dropout } from './dropout';

/** Options of `FCNHead`. */
export interface FCNHeadOptions {
  /** Channels C of the feature map it reads (from the backbone's `FeatureSpec`: 2048 for C5, 1024 for C4). */
  inChannels: number;
  /** Number of classes K, background included (21 for Pascal VOC). */
  numClasses: number;
  /** Dropout probability before the classifier. Default 0.1 (torchvision). */
  dropout?: number;
  /** Seed of the initialization (torch.nn.Conv2d's default). Default 0. */
  seed?: number;
}

/**
 * FCN head. State (torchvision names): `0.weight` [3, 3, C, C/4] HWIO, `1.{weight,bias,running_mean,running_var}`
 * [C/4], `4.weight` [1, 1, C/4, K], `4.bias` [K].
 */
export class FCNHead extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  readonly cls: Conv2d;
  readonly inChannels: number;
  readonly numClasses: number;
  readonly dropoutRate: number;

  /** @throws Error when `inChannels` is not a positive multiple of 4 or `numClasses` is not a positive integer. */
  constructor(opts: FCNHeadOptions) {
    super();
    const { inChannels, numClasses } = opts;
    if (!Number.isInteger(inChannels) || inChannels < 4) throw new Error(`FCNHead: inChannels must be an integer >= 4, got ${inChannels}`);
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new Error(`FCNHead: numClasses must be a positive integer, got ${numClasses}`);
    const inter = Math.floor(inChannels / 4);
    const seeds = new SeedSequence(opts.seed ?? 0);
    this.inChannels = inChannels;
    this.numClasses = numClasses;
    this.dropoutRate = opts.dropout ?? 0.1;
    this.conv = this.registerModule('0', new Conv2d({ inChannels, outChannels: inter, kernelSize: 3, padding: 1, bias: false, seeds }));
    this.bn = this.registerModule('1', new BatchNorm2d({ numFeatures: inter }));
    this.cls = this.registerModule('4', new Conv2d({ inChannels: inter, outChannels: numClasses, kernelSize: 1, seeds }));
  }

  /**
   * @param features [N, h, w, C] float32 (C = `inChannels`), NHWC. Not disposed.
   * @param ctx training mode (BatchNorm statistics, dropout) and the step seed.
   * @returns logits [N, h, w, K] float32 at the feature map's resolution; caller owns it.
   * @throws Error when `features` is not [N, h, w, inChannels].
   */
  forward(features: tf.Tensor4D, ctx: SegmentationForwardContext): tf.Tensor4D {
    if (features.rank !== 4 || features.shape[3] !== this.inChannels) {
      throw new Error(`FCNHead expects NHWC features [N, h, w, ${this.inChannels}], got [${features.shape}]`);
    }
    return tf.tidy(() => {
      const x = this.bn.forward(this.conv.forward(features), ctx, { relu: true });
      return this.cls.forward(dropout(x, this.dropoutRate, ctx, this.inChannels));
    });
  }
}
