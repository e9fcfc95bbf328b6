/**
 * The DeepLabV3 head: atrous spatial pyramid pooling (ASPP) followed by a 3x3 convolution, BatchNorm, ReLU and a
 * 1x1 classifier.
 *
 * ASPP runs in parallel on the backbone's last feature map: a 1x1 convolution, three 3x3 convolutions with
 * dilation `atrousRates` (padding = rate), and an image-pooling branch (global average pool, 1x1 convolution,
 * BatchNorm, ReLU, bilinear upsampling of the 1x1 map to the feature size, i.e. a broadcast); each branch has 256
 * channels with BatchNorm and ReLU; their concatenation (branch order as listed) is projected by a 1x1
 * convolution to 256 channels (BatchNorm, ReLU, dropout 0.5).
 *
 * Reference: Chen et al. 2017, "Rethinking Atrous Convolution for Semantic Image Segmentation" (section 3.3);
 * torchvision `models/segmentation/deeplabv3.py` (`DeepLabHead`, `ASPP`, `ASPPConv`, `ASPPPooling`), whose
 * state names this module keeps: `0.convs.{0..4}.*`, `0.project.*`, `1.weight`, `2.*`, `4.weight`, `4.bias`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SeedSequence } from '../../src/common/seed';
import { BatchNorm2d, Conv2d, ModuleList } from '../../src/nn/layers';
import { Module } from '../../src/nn/module';
import { SegmentationForwardContext, dropout } from './dropout';

/** Channels of every ASPP branch and of the projection (torchvision's `out_channels=256`). */
export const ASPP_CHANNELS = 256;

/**
 * Convolution + BatchNorm + ReLU with torch `nn.Sequential` child names: the convolution at index `convIndex`,
 * the norm right after it (`ASPPPooling` puts its pooling at index 0, so its convolution is `1` and its norm `2`).
 */
class ConvBnRelu extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;

  constructor(inChannels: number, outChannels: number, kernelSize: 1 | 3, dilation: number, convIndex: number, seeds: SeedSequence) {
    super();
    const padding = kernelSize === 3 ? dilation : 0;
    this.conv = this.registerModule(
      String(convIndex),
      new Conv2d({ inChannels, outChannels, kernelSize, padding, dilation, bias: false, seeds }),
    );
    this.bn = this.registerModule(String(convIndex + 1), new BatchNorm2d({ numFeatures: outChannels }));
  }

  /** @param x [N, h, w, Cin]. @returns [N, h, w, Cout]; caller owns it. */
  forward(x: tf.Tensor4D, ctx: SegmentationForwardContext): tf.Tensor4D {
    return tf.tidy(() => this.bn.forward(this.conv.forward(x), ctx, { relu: true }));
  }
}

/** Options of `ASPP`. */
export interface ASPPOptions {
  /** Channels C of the input feature map. */
  inChannels: number;
  /** Dilations of the three 3x3 branches: [12, 24, 36] at output stride 8 (torchvision), [6, 12, 18] at 16 (the paper). */
  atrousRates: readonly number[];
  seeds: SeedSequence;
}

/**
 * Atrous spatial pyramid pooling. State: `convs.0.{0,1}` (1x1 branch), `convs.{1..R}.{0,1}` (3x3 branches),
 * `convs.{R+1}.{1,2}` (image pooling), `project.{0,1}`.
 */
export class ASPP extends Module {
  readonly branches: ConvBnRelu[];
  readonly pooling: ConvBnRelu;
  readonly project: ConvBnRelu;
  readonly inChannels: number;

  /** @throws Error when a rate is not a positive integer. */
  constructor(opts: ASPPOptions) {
    super();
    const { inChannels, atrousRates, seeds } = opts;
    for (const r of atrousRates) {
      if (!Number.isInteger(r) || r < 1) throw new Error(`ASPP: atrous rates must be positive integers, got [${atrousRates.join(', ')}]`);
    }
    this.inChannels = inChannels;
    const c = ASPP_CHANNELS;
    this.branches = [new ConvBnRelu(inChannels, c, 1, 1, 0, seeds), ...atrousRates.map((r) => new ConvBnRelu(inChannels, c, 3, r, 0, seeds))];
    this.pooling = new ConvBnRelu(inChannels, c, 1, 1, 1, seeds);
    this.registerModule('convs', new ModuleList<Module>([...this.branches, this.pooling]));
    this.project = this.registerModule('project', new ConvBnRelu((this.branches.length + 1) * c, c, 1, 1, 0, seeds));
  }

  /**
   * @param x [N, h, w, C] float32. Not disposed.
   * @returns [N, h, w, 256] float32 (after the projection's ReLU, before its dropout); caller owns it.
   */
  forward(x: tf.Tensor4D, ctx: SegmentationForwardContext): tf.Tensor4D {
    return tf.tidy(() => {
      const [n, h, w] = x.shape;
      const outs = this.branches.map((b) => b.forward(x, ctx));
      const pooled = this.pooling.forward(tf.mean(x, [1, 2], true) as tf.Tensor4D, ctx); // [N, 1, 1, 256]
      // Bilinear upsampling of a 1x1 map (align_corners=False) repeats its value: a broadcast.
      outs.push(tf.mul(pooled, tf.ones([n, h, w, 1])) as tf.Tensor4D); // [N, h, w, 256]
      return this.project.forward(tf.concat(outs, 3), ctx); // [N, h, w, 256]
    });
  }
}

/** Options of `DeepLabV3Head`. */
export interface DeepLabV3HeadOptions {
  /** Channels C of the feature map it reads (2048 for a Bottleneck ResNet's C5). */
  inChannels: number;
  /** Number of classes K, background included (21 for Pascal VOC). */
  numClasses: number;
  /** ASPP dilations. Default [12, 24, 36] (torchvision's, meant for output stride 8). */
  atrousRates?: readonly number[];
  /** Dropout after the ASPP projection. Default 0.5 (torchvision). */
  dropout?: number;
  /** Seed of the initialization (torch.nn.Conv2d's default). Default 0. */
  seed?: number;
}

/**
 * DeepLabV3 head: ASPP (`0.*`), 3x3 convolution 256 → 256 (`1.weight`), BatchNorm (`2.*`), ReLU, 1x1 classifier
 * (`4.weight` [1, 1, 256, K], `4.bias` [K]).
 */
export class DeepLabV3Head extends Module {
  readonly aspp: ASPP;
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  readonly cls: Conv2d;
  readonly numClasses: number;
  readonly atrousRates: readonly number[];
  readonly dropoutRate: number;

  /** @throws Error when `numClasses` is not a positive integer or a rate is invalid. */
  constructor(opts: DeepLabV3HeadOptions) {
    super();
    const { inChannels, numClasses } = opts;
    if (!Number.isInteger(numClasses) || numClasses < 1) {
      throw new Error(`DeepLabV3Head: numClasses must be a positive integer, got ${numClasses}`);
    }
    const seeds = new SeedSequence(opts.seed ?? 0);
    this.numClasses = numClasses;
    this.atrousRates = [...(opts.atrousRates ?? [12, 24, 36])];
    this.dropoutRate = opts.dropout ?? 0.5;
    const c = ASPP_CHANNELS;
    this.aspp = this.registerModule('0', new ASPP({ inChannels, atrousRates: this.atrousRates, seeds }));
    this.conv = this.registerModule('1', new Conv2d({ inChannels: c, outChannels: c, kernelSize: 3, padding: 1, bias: false, seeds }));
    this.bn = this.registerModule('2', new BatchNorm2d({ numFeatures: c }));
    this.cls = this.registerModule('4', new Conv2d({ inChannels: c, outChannels: numClasses, kernelSize: 1, seeds }));
  }

  /**
   * @param features [N, h, w, C] float32, NHWC. Not disposed.
   * @param ctx training mode (BatchNorm statistics, dropout) and the step seed.
   * @returns logits [N, h, w, K] float32 at the feature map's resolution; caller owns it.
   * @throws Error when `features` is not [N, h, w, inChannels].
   */
  forward(features: tf.Tensor4D, ctx: SegmentationForwardContext): tf.Tensor4D {
    if (features.rank !== 4 || features.shape[3] !== this.aspp.inChannels) {
      throw new Error(`DeepLabV3Head expects NHWC features [N, h, w, ${this.aspp.inChannels}], got [${features.shape}]`);
    }
    return tf.tidy(() => {
      const a = dropout(this.aspp.forward(features, ctx), this.dropoutRate, ctx, 0x0a5b);
      const x = this.bn.forward(this.conv.forward(a), ctx, { relu: true });
      return this.cls.forward(x);
    });
  }
}
