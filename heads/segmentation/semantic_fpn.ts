/**
 * Semantic FPN (Kirillov et al. 2019, "Panoptic Feature Pyramid Networks", semantic branch): a ResNet, an FPN on
 * C2..C5 giving P2..P5, and Panoptic FPN's semantic head (`sem_seg_fpn_head.ts`), trained with pixel
 * cross-entropy (ignore 255) on logits at the input size.
 *
 * State names: `backbone.body.*` (the ResNet), `backbone.fpn.*` (torchvision's FPN, see `heads/necks/fpn.ts`) and
 * `sem_seg_head.*` (detectron2's `SemSegFPNHead`). The model takes a normalized NHWC batch whose size is divisible
 * by 32 (detectron2's `size_divisibility`): the transform pads it.
 *
 * Reference: detectron2 `modeling/meta_arch/semantic_seg.py` (`SemanticSegmentor`, `SemSegFPNHead`),
 * `configs/Misc/semantic_R_50_FPN_1x.yaml`; mmsegmentation `configs/sem_fpn/fpn_r50_512x512_80k_ade20k.py`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Backbone, BackboneLevel, PyramidLevel, specOf } from '../../src/backbone/features';
import { ResNet, ResNetBuilderOptions, resnet101, resnet18, resnet50 } from '../../src/backbone/resnet';
import { Module } from '../../src/nn/module';
import type { TaskModel } from '../../src/nn/task_model';
import { BackboneWithFpn, buildOnResNetTrunk, type FpnTrunkOptions } from '../necks/backbone_with_fpn';
import { FeaturePyramidNetwork } from '../necks/fpn';
import { SegmentationForwardContext } from './dropout';
import { inferSegmentation, type SegmentationInferenceInput, type SegmentationInferenceResult } from './inference';
import { PixelCrossEntropyOptions, pixelCrossEntropy } from './losses';
import type { SegmentationBatchInput } from './model';
import { SemSegFPNHead } from './sem_seg_fpn_head';

/** Options of `SemanticFpn`. Defaults are detectron2's `semantic_R_50_FPN_1x`. */
export interface SemanticFpnOptions {
  /** Classes K, background included (21 for Pascal VOC). */
  numClasses: number;
  /** FPN output channels. Default 256. */
  fpnChannels?: number;
  /** Channels of the head's towers. Default 128. */
  convDims?: number;
  /** GroupNorm groups in the head. Default 32. */
  numGroups?: number;
  /** Loss options (ignore index 255 by default, class weights). */
  loss?: PixelCrossEntropyOptions;
  /** Seed of the FPN and head initialization. Default 0. */
  seed?: number;
}

/** What `SemanticFpn.forward` returns. */
export interface SemanticFpnOutput {
  /** [N, H, W, K] float32 logits at the input size. */
  logits: tf.Tensor4D;
}

/** The loss record of one batch (key shared with the other segmentation models; a type alias, so a `LossRecord`). */
export type SemanticFpnLosses = {
  /** Pixel cross-entropy of `logits` (mean over counted pixels). */
  segmentation: tf.Scalar;
};

const IN_LEVELS: BackboneLevel[] = ['C2', 'C3', 'C4', 'C5'];
const HEAD_LEVELS: PyramidLevel[] = ['P2', 'P3', 'P4', 'P5'];

/** The model. */
export class SemanticFpn
  extends Module
  implements TaskModel<SegmentationBatchInput, SegmentationInferenceInput, SegmentationInferenceResult>
{
  /** State-name prefix of the 1x1 classifier (`predictor` [1, 1, convDims, K]), re-initialized when fine-tuning to another class count. */
  readonly classifierKeys: readonly string[] = ['sem_seg_head.predictor.'];
  readonly backbone: BackboneWithFpn;
  readonly semSegHead: SemSegFPNHead;
  readonly numClasses: number;
  readonly lossOptions: PixelCrossEntropyOptions;
  /** The coarsest stride the head reads: input sizes must be divisible by it. */
  readonly sizeDivisibility: number;

  /**
   * @param body a backbone whose `outLevels` include C2..C5 (undilated); the model takes ownership.
   * @throws Error when the backbone lacks a level or is dilated (see `FeaturePyramidNetwork`), or on invalid options.
   */
  constructor(body: Backbone, opts: SemanticFpnOptions) {
    super();
    const missing = IN_LEVELS.filter((l) => !body.outLevels.includes(l));
    if (missing.length) throw new Error(`SemanticFpn: the backbone does not return ${missing.join(', ')}; its outLevels are ${body.outLevels.join(', ')}`);
    if (opts.loss?.classWeights && opts.loss.classWeights.length !== opts.numClasses) {
      throw new Error(`SemanticFpn: loss.classWeights has ${opts.loss.classWeights.length} entries, expected numClasses = ${opts.numClasses}`);
    }
    const seed = opts.seed ?? 0;
    const fpn = new FeaturePyramidNetwork({ inLevels: IN_LEVELS, inSpecs: body.featureSpecs(), outChannels: opts.fpnChannels ?? 256, topBlock: { kind: 'none' }, seed });
    this.backbone = this.registerModule('backbone', new BackboneWithFpn(body, fpn));
    const specs = fpn.featureSpecs();
    this.semSegHead = this.registerModule(
      'sem_seg_head',
      new SemSegFPNHead({ inLevels: HEAD_LEVELS, inSpecs: specs, numClasses: opts.numClasses, convDims: opts.convDims, numGroups: opts.numGroups, seed: seed + 1 }),
    );
    this.numClasses = opts.numClasses;
    this.lossOptions = { ...opts.loss };
    this.sizeDivisibility = specOf(specs, 'P5', 'SemanticFpn').stride;
  }

  /**
   * Per-pixel class logits at the input size.
   * @param images [N, H, W, 3] float32 normalized RGB, NHWC, H and W divisible by `sizeDivisibility`; not disposed.
   * @param ctx training mode (backbone BatchNorm unless frozen; GroupNorm is the same in both modes).
   * @returns `logits` [N, H, W, K] float32; caller owns it.
   * @throws Error when `images` is not [N, H, W, 3] or its size is not divisible by `sizeDivisibility`.
   */
  forward(images: tf.Tensor4D, ctx: SegmentationForwardContext): SemanticFpnOutput {
    if (images.rank !== 4 || images.shape[3] !== 3) throw new Error(`SemanticFpn takes NHWC images [N, H, W, 3], got [${images.shape}]`);
    const [, h, w] = images.shape;
    const d = this.sizeDivisibility;
    if (h % d !== 0 || w % d !== 0) throw new Error(`SemanticFpn: input ${h}x${w} is not divisible by ${d}; pad the batch (size divisibility ${d})`);
    return { logits: tf.tidy(() => this.semSegHead.forward(this.backbone.forward(images, ctx))) };
  }

  /**
   * Training loss of one batch.
   * @param batch.images [N, H, W, 3] float32 normalized RGB, H and W divisible by `sizeDivisibility`; not disposed.
   * @param batch.masks [N, H, W] int32 class indices 0..K-1 or the ignore index (255); not disposed.
   * @returns `segmentation`: the pixel cross-entropy; caller owns it.
   * @throws Error when `masks` is not [N, H, W].
   */
  computeLosses(batch: SegmentationBatchInput, ctx: SegmentationForwardContext): SemanticFpnLosses {
    const { images, masks } = batch;
    if (masks.rank !== 3 || masks.shape.some((v, i) => v !== images.shape[i])) {
      throw new Error(`SemanticFpn.computeLosses: masks must be [N, H, W] = [${images.shape.slice(0, 3)}], got [${masks.shape}]`);
    }
    return { segmentation: tf.tidy(() => pixelCrossEntropy(this.forward(images, ctx).logits, masks, this.lossOptions)) };
  }

  /**
   * Per-pixel classes of one image at its original size, merged over scales, flips and sliding windows
   * ({@link inferSegmentation}); each pass pads its input to `sizeDivisibility` and crops the logits back.
   */
  predict(input: SegmentationInferenceInput): Promise<SegmentationInferenceResult> {
    return inferSegmentation(this, input);
  }
}

/** Options of the builders: the model's and the backbone options that make sense under it. */
export interface SemanticFpnBuilderOptions extends SemanticFpnOptions {
  /** Backbone: detectron2 trains with FrozenBN and stage 1 frozen (`normLayer: 'frozen'`, `frozenStages: 1`), the defaults. */
  backbone?: FpnTrunkOptions;
}

function build(resnet: (o: ResNetBuilderOptions) => ResNet, o: SemanticFpnBuilderOptions): SemanticFpn {
  const { backbone, ...model } = o;
  return buildOnResNetTrunk(resnet, IN_LEVELS, backbone, (body) => new SemanticFpn(body, model));
}

/** Semantic FPN with a ResNet-18 backbone (small; tests and CPU-sized runs). */
export function semanticFpnResnet18(o: SemanticFpnBuilderOptions): SemanticFpn {
  return build(resnet18, o);
}
/** Semantic FPN with a ResNet-50 backbone (detectron2 `semantic_R_50_FPN_1x`, mmsegmentation `fpn_r50`). */
export function semanticFpnResnet50(o: SemanticFpnBuilderOptions): SemanticFpn {
  return build(resnet50, o);
}
/** Semantic FPN with a ResNet-101 backbone. */
export function semanticFpnResnet101(o: SemanticFpnBuilderOptions): SemanticFpn {
  return build(resnet101, o);
}
