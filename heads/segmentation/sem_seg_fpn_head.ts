/**
 * The semantic segmentation branch of Panoptic FPN (Kirillov et al. 2019, "Panoptic Feature Pyramid Networks"):
 * from each pyramid level P_l, `max(1, log2(stride_l / 4))` blocks of 3x3 convolution + GroupNorm + ReLU, each
 * followed by 2x bilinear upsampling when the level is coarser than stride 4; the levels are summed at stride 4, a
 * 1x1 convolution gives class logits, and bilinear upsampling by 4 brings them to the input size.
 *
 * State names are detectron2's `SemSegFPNHead` (mounted as `sem_seg_head.` there): `p2.0.weight`,
 * `p2.0.norm.weight|bias`, `p3.0.*`, `p4.0.*`, `p4.2.*`, `p5.0.*`, `p5.2.*`, `p5.4.*` (the odd indices are the
 * parameterless `nn.Upsample` layers), `predictor.weight|bias`. Convolutions with a norm have no bias.
 *
 * Reference: detectron2 `modeling/meta_arch/semantic_seg.py` (`SemSegFPNHead`: `common_stride` 4, `conv_dims`
 * 128, norm "GN" = GroupNorm(32), `c2_msra_fill` initialization, cross-entropy with `ignore_index` 255 on the
 * upsampled logits); mmsegmentation `decode_heads/fpn_head.py` (`FPNHead`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { FeatureMap, FeatureSpec, type FeatureSpecs, PyramidLevel } from '../../src/backbone/features';
import { SeedSequence } from '../../src/common/seed';
import { Conv2d, GroupNorm } from '../../src/nn/layers';
import { Module } from '../../src/nn/module';

/** Options of `SemSegFPNHead`. */
export interface SemSegFPNHeadOptions {
  /** Pyramid levels read, ascending (detectron2: P2..P5). */
  inLevels: PyramidLevel[];
  /** Specs of those levels (the FPN's `featureSpecs()`): channels and strides come from here. */
  inSpecs: FeatureSpecs<PyramidLevel>;
  /** Classes K, background included (21 for Pascal VOC). */
  numClasses: number;
  /** Channels of the per-level towers. Default 128. */
  convDims?: number;
  /** Stride at which the levels are summed. Default 4. */
  commonStride?: number;
  /** Groups of the GroupNorm after every 3x3 convolution. Default 32 (detectron2's "GN"). */
  numGroups?: number;
  /** Seed of the initialization (`c2_msra_fill`: kaiming normal, fan out, zero bias). Default 0. */
  seed?: number;
}

/** detectron2 `Conv2d(..., bias=False, norm=GroupNorm, activation=relu)`: state `weight`, `norm.weight|bias`. */
class ConvGnRelu extends Module {
  readonly conv: Conv2d;
  readonly norm: GroupNorm;
  constructor(inChannels: number, outChannels: number, numGroups: number, seeds: SeedSequence) {
    super();
    this.conv = this.registerModule('conv', new Conv2d({ inChannels, outChannels, kernelSize: 3, padding: 1, bias: false, init: 'kaimingNormalFanOut', seeds }), { flatten: true });
    this.norm = this.registerModule('norm', new GroupNorm({ numGroups, numChannels: outChannels }));
  }
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => this.norm.forward(this.conv.forward(x), { relu: true }));
  }
}

/** The tower of one level: its blocks, registered at the indices of detectron2's `nn.Sequential`. */
class ScaleHead extends Module {
  readonly blocks: ConvGnRelu[] = [];
  constructor(
    inChannels: number,
    convDims: number,
    numBlocks: number,
    readonly upsample: boolean,
    numGroups: number,
    seeds: SeedSequence,
  ) {
    super();
    for (let k = 0; k < numBlocks; k++) {
      const block = new ConvGnRelu(k === 0 ? inChannels : convDims, convDims, numGroups, seeds);
      this.blocks.push(this.registerModule(String(upsample ? 2 * k : k), block));
    }
  }

  /** Each block, then `nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False)` when upsampling. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let y = x;
      for (const b of this.blocks) {
        y = b.forward(y);
        if (this.upsample) y = tf.image.resizeBilinear(y, [2 * y.shape[1], 2 * y.shape[2]], false, true);
      }
      return y;
    });
  }
}

/** Panoptic FPN's semantic segmentation head. */
export class SemSegFPNHead extends Module {
  readonly inLevels: readonly PyramidLevel[];
  readonly scaleHeads: ScaleHead[] = [];
  readonly predictor: Conv2d;
  readonly numClasses: number;
  readonly commonStride: number;
  private readonly inChannels: number[];

  /**
   * @throws Error when a level has no spec (listing those given), when the levels are not ascending in stride,
   *   when a stride is below `commonStride` or not `commonStride` times a power of two, or on invalid sizes.
   */
  constructor(opts: SemSegFPNHeadOptions) {
    super();
    const convDims = opts.convDims ?? 128;
    const commonStride = opts.commonStride ?? 4;
    const numGroups = opts.numGroups ?? 32;
    if (!Number.isInteger(opts.numClasses) || opts.numClasses < 1) throw new Error(`SemSegFPNHead: numClasses must be a positive integer, got ${opts.numClasses}`);
    if (opts.inLevels.length === 0) throw new Error('SemSegFPNHead: inLevels is empty');
    const seeds = new SeedSequence(opts.seed ?? 0);
    this.inLevels = [...opts.inLevels];
    this.numClasses = opts.numClasses;
    this.commonStride = commonStride;
    this.inChannels = [];
    let lastStride = 0;
    for (const l of opts.inLevels) {
      const spec = opts.inSpecs[l];
      if (!spec) throw new Error(`SemSegFPNHead: no spec for level ${l}; the neck gives ${Object.keys(opts.inSpecs).join(', ')}`);
      const ratio = spec.stride / commonStride;
      if (!(ratio >= 1 && Number.isInteger(Math.log2(ratio)))) {
        throw new Error(`SemSegFPNHead: ${l} has stride ${spec.stride}, which is not commonStride ${commonStride} times a power of two`);
      }
      if (spec.stride <= lastStride) throw new Error(`SemSegFPNHead: inLevels must be ascending in stride, got ${opts.inLevels.join(', ')}`);
      lastStride = spec.stride;
      const numBlocks = Math.max(1, Math.log2(ratio));
      this.inChannels.push(spec.channels);
      this.scaleHeads.push(this.registerModule(l.toLowerCase(), new ScaleHead(spec.channels, convDims, numBlocks, ratio !== 1, numGroups, seeds)));
    }
    this.predictor = this.registerModule('predictor', new Conv2d({ inChannels: convDims, outChannels: opts.numClasses, kernelSize: 1, init: 'kaimingNormalFanOut', seeds }));
  }

  /**
   * Class logits at `commonStride` (detectron2's `layers`).
   * @param features the `inLevels`, each [N, H/stride, W/stride, C] float32 NHWC; not disposed.
   * @returns [N, H/commonStride, W/commonStride, K] float32 logits; caller owns it.
   * @throws Error when a level is missing, has the wrong channel count, or does not upsample to the size of the
   *   finest level (the input size must be divisible by the coarsest stride, detectron2's `size_divisibility`).
   */
  forwardFeatures(features: Partial<FeatureMap<PyramidLevel>>): tf.Tensor4D {
    this.inLevels.forEach((l, i) => {
      const f = features[l];
      if (!f) throw new Error(`SemSegFPNHead: level ${l} missing from the input (got ${Object.keys(features).join(', ')})`);
      if (f.rank !== 4 || f.shape[3] !== this.inChannels[i]) throw new Error(`SemSegFPNHead: ${l} must be [N, H, W, ${this.inChannels[i]}], got [${f.shape}]`);
    });
    return tf.tidy(() => {
      let sum: tf.Tensor4D | undefined;
      this.inLevels.forEach((l, i) => {
        const y = this.scaleHeads[i].forward(features[l]!);
        if (sum && (sum.shape[1] !== y.shape[1] || sum.shape[2] !== y.shape[2])) {
          throw new Error(
            `SemSegFPNHead: ${l} upsamples to ${y.shape[1]}x${y.shape[2]} but ${this.inLevels[0]} gives ${sum.shape[1]}x${sum.shape[2]}; ` +
              'pad the input to a multiple of the coarsest stride',
          );
        }
        sum = sum ? tf.add(sum, y) : y;
      });
      return this.predictor.forward(sum!);
    });
  }

  /**
   * Class logits at the input size: `forwardFeatures`, then bilinear upsampling by `commonStride`
   * (`F.interpolate(scale_factor=4, mode='bilinear', align_corners=False)`).
   * @param features as `forwardFeatures`; not disposed.
   * @returns [N, commonStride * H4, commonStride * W4, K] float32 logits; caller owns it.
   */
  forward(features: Partial<FeatureMap<PyramidLevel>>): tf.Tensor4D {
    return tf.tidy(() => {
      const x = this.forwardFeatures(features);
      return tf.image.resizeBilinear(x, [x.shape[1] * this.commonStride, x.shape[2] * this.commonStride], false, true);
    });
  }
}
