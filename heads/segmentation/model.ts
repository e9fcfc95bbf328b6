/**
 * Semantic segmentation models: a dilated ResNet trunk, a decoder head on C5 (FCN or DeepLabV3) and an optional
 * auxiliary FCN head on C4, with logits bilinearly upsampled to the input size. State names are torchvision's
 * (`backbone.conv1.weight`, `backbone.layer4.2.bn3.running_var`, `classifier.0.weight`, `aux_classifier.4.bias`),
 * so `fcn_resnet50/101` and `deeplabv3_resnet50/101` checkpoints load with the `segmentation` name table.
 *
 * Reference: torchvision `models/segmentation/_utils.py` (`_SimpleSegmentationModel.forward`: backbone, classifier,
 * `F.interpolate(mode='bilinear', align_corners=False)` to the input size, same for `aux`), `fcn.py`,
 * `deeplabv3.py` (`_fcn_resnet`, `_deeplabv3_resnet`: `replace_stride_with_dilation=[False, True, True]`,
 * `FCNHead(1024, K)` on `layer3` as the auxiliary classifier); torchvision `references/segmentation/train.py`
 * (`criterion`: `losses['out'] + 0.5 * losses['aux']`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Backbone, type BackboneLevel, specOf } from '../../src/backbone/features';
import { ResNet, ResNetBuilderOptions, resnet101, resnet50 } from '../../src/backbone/resnet';
import { NormLayer } from '../../src/nn/layers';
import { Module } from '../../src/nn/module';
import { DeepLabV3Head } from './deeplabv3_head';
import { SegmentationForwardContext } from './dropout';
import { FCNHead } from './fcn_head';
import { inferSegmentation, type SegmentationInferenceInput, type SegmentationInferenceResult } from './inference';
import { PixelCrossEntropyOptions, pixelCrossEntropy } from './losses';
import type { TaskModel } from '../../src/nn/task_model';
import { upsampleLogits } from './upsample';

export type { SegmentationForwardContext } from './dropout';
export { upsampleLogits } from './upsample';

/** The decoder on C5: torchvision's `FCNHead` or `DeepLabHead`. */
export type SegmentationHeadOptions =
  | { type: 'fcn' }
  | {
      type: 'deeplabv3';
      /** ASPP dilations. Default [12, 24, 36] (torchvision's, for output stride 8). */
      atrousRates?: readonly number[];
    };

/** Options of `SegmentationModel`. */
export interface SegmentationModelOptions {
  /** Number of classes K, background included (21 for Pascal VOC). */
  numClasses: number;
  /** The decoder on C5. */
  head: SegmentationHeadOptions;
  /** Build the auxiliary FCN head on C4 (torchvision's `aux_loss=True`). Default false. */
  aux?: boolean;
  /** Weight of the auxiliary loss in `computeLosses` (torchvision's reference: 0.5). Default 0.5. */
  auxWeight?: number;
  /** Loss options (ignore index, class weights), shared by the main and the auxiliary loss. */
  loss?: PixelCrossEntropyOptions;
  /** Seed of the heads' initialization. Default 0. */
  seed?: number;
}

/** What `SegmentationModel.forward` returns (torchvision's `out` and `aux`). */
export interface SegmentationOutput {
  /** [N, H, W, K] float32 logits at the input size (torchvision `out`). */
  logits: tf.Tensor4D;
  /** [N, H, W, K] float32 logits of the auxiliary head at the input size (torchvision `aux`); only with `aux`. */
  auxLogits?: tf.Tensor4D;
}

/** The loss record of one batch; the trainer sums the terms (the auxiliary weight is already applied). */
export type SegmentationLosses = {
  /** Pixel cross-entropy of `logits`. */
  segmentation: tf.Scalar;
  /** `auxWeight` × pixel cross-entropy of `auxLogits`; only with `aux`. */
  aux?: tf.Scalar;
};

/** A training batch of the segmentation model: the fields of `segmentationCollate`'s batch it reads. */
export interface SegmentationBatchInput {
  /** [N, H, W, 3] float32, normalized RGB. */
  images: tf.Tensor4D;
  /** [N, H, W] int32 class indices 0..K-1 or the ignore index (255). */
  masks: tf.Tensor3D;
}

/**
 * FCN / DeepLabV3 segmentation model (backbone + `classifier` + optional `aux_classifier`).
 *
 * The backbone must give C5 (and C4 with `aux`); heads read their channels from its `featureSpecs()`. A torchvision
 * model uses a Bottleneck ResNet dilated to output stride 8 (`replaceStrideWithDilation: [false, true, true]`); the
 * builders below make one. Any ResNet works (ResNet-18 without dilation, at output stride 32, for small tests).
 */
export class SegmentationModel
  extends Module
  implements TaskModel<SegmentationBatchInput, SegmentationInferenceInput, SegmentationInferenceResult>
{
  /**
   * State-name prefixes of the last classifier layers (main and auxiliary), which fine-tuning to another class
   * count re-initializes (torchvision's `classifier.4` / `aux_classifier.4`).
   */
  readonly classifierKeys: readonly string[] = ['classifier.4.', 'aux_classifier.4.'];
  /**
   * The stride of C5 (the output stride, 8 or 16 when dilated): a padded batch then maps onto whole feature cells,
   * and the logits' bilinear resize back to the input size is the same for every image of the batch.
   */
  readonly sizeDivisibility: number;
  readonly backbone: Backbone;
  readonly classifier: FCNHead | DeepLabV3Head;
  readonly auxClassifier?: FCNHead;
  readonly numClasses: number;
  readonly auxWeight: number;
  readonly lossOptions: PixelCrossEntropyOptions;

  /**
   * @param backbone the trunk; the model takes ownership (disposed with the model).
   * @throws Error when the backbone lacks C5 (or C4 with `aux`), listing its levels, or on invalid options.
   */
  constructor(backbone: Backbone, opts: SegmentationModelOptions) {
    super();
    const needed: BackboneLevel[] = opts.aux ? ['C4', 'C5'] : ['C5'];
    const missing = needed.filter((l) => !backbone.outLevels.includes(l));
    if (missing.length) {
      throw new Error(`SegmentationModel needs backbone levels ${needed.join(', ')}; the backbone gives ${backbone.outLevels.join(', ')}`);
    }
    if (opts.loss?.classWeights && opts.loss.classWeights.length !== opts.numClasses) {
      throw new Error(`loss.classWeights has ${opts.loss.classWeights.length} entries, expected numClasses = ${opts.numClasses}`);
    }
    const specs = backbone.featureSpecs();
    const c5 = specOf(specs, 'C5', 'SegmentationModel');
    const seed = opts.seed ?? 0;
    this.numClasses = opts.numClasses;
    this.auxWeight = opts.auxWeight ?? 0.5;
    this.lossOptions = { ...opts.loss };
    this.sizeDivisibility = c5.stride;
    this.backbone = this.registerModule('backbone', backbone);
    const head = opts.head;
    switch (head.type) {
      case 'fcn':
        this.classifier = new FCNHead({ inChannels: c5.channels, numClasses: opts.numClasses, seed });
        break;
      case 'deeplabv3':
        this.classifier = new DeepLabV3Head({ inChannels: c5.channels, numClasses: opts.numClasses, atrousRates: head.atrousRates, seed });
        break;
      default: {
        const never: never = head;
        throw new Error(`unknown segmentation head ${JSON.stringify(never)}: expected type 'fcn' or 'deeplabv3'`);
      }
    }
    this.registerModule('classifier', this.classifier);
    if (opts.aux) {
      this.auxClassifier = this.registerModule(
        'aux_classifier',
        new FCNHead({ inChannels: specOf(specs, 'C4', 'SegmentationModel').channels, numClasses: opts.numClasses, seed: seed + 1 }),
      );
    }
  }

  /**
   * Per-pixel class logits at the input resolution.
   *
   * @param images [N, H, W, 3] float32, normalized RGB (ImageNet mean/std), NHWC. Not disposed.
   * @param ctx training mode (BatchNorm, dropout) and the step seed for dropout.
   * @returns `logits` [N, H, W, K] and, with an auxiliary head, `auxLogits` [N, H, W, K], float32 (new tensors;
   *   caller disposes). Upsampling is bilinear with `align_corners=False` semantics ({@link upsampleLogits}).
   * @throws Error when `images` is not [N, H, W, 3].
   */
  forward(images: tf.Tensor4D, ctx: SegmentationForwardContext): SegmentationOutput {
    if (images.rank !== 4 || images.shape[3] !== 3) {
      throw new Error(`SegmentationModel takes NHWC images [N, H, W, 3], got [${images.shape}]`);
    }
    const [, h, w] = images.shape;
    return tf.tidy(() => {
      const feats = this.backbone.forward(images, ctx);
      const out: SegmentationOutput = { logits: upsampleLogits(this.classifier.forward(feats.C5, ctx), h, w) };
      if (this.auxClassifier) out.auxLogits = upsampleLogits(this.auxClassifier.forward(feats.C4, ctx), h, w);
      return out as unknown as tf.TensorContainer;
    }) as unknown as SegmentationOutput;
  }

  /**
   * The training losses of one batch: pixel cross-entropy of the logits ({@link pixelCrossEntropy}, ignore index
   * and class weights from the options) and, with an auxiliary head, `auxWeight` times that of the auxiliary
   * logits.
   *
   * @param batch.images [N, H, W, 3] float32, normalized RGB. Not disposed.
   * @param batch.masks [N, H, W] int32 class indices 0..K-1 or the ignore index (255). Not disposed.
   * @param ctx training mode and step seed (the trainer's `StepContext`).
   * @returns scalars with stable keys `segmentation` and `aux`; caller owns them.
   * @throws Error when `masks` is not [N, H, W] for images [N, H, W, 3].
   */
  computeLosses(batch: SegmentationBatchInput, ctx: SegmentationForwardContext): SegmentationLosses {
    const { images, masks } = batch;
    if (masks.rank !== 3 || masks.shape.some((d, i) => d !== images.shape[i])) {
      throw new Error(`computeLosses: masks must be [N, H, W] = [${images.shape.slice(0, 3)}], got [${masks.shape}]`);
    }
    return tf.tidy(() => {
      const { logits, auxLogits } = this.forward(images, ctx);
      const losses: SegmentationLosses = { segmentation: pixelCrossEntropy(logits, masks, this.lossOptions) };
      if (auxLogits) losses.aux = tf.mul(pixelCrossEntropy(auxLogits, masks, this.lossOptions), this.auxWeight) as tf.Scalar;
      return losses as unknown as tf.TensorContainer;
    }) as unknown as SegmentationLosses;
  }

  /**
   * Per-pixel classes of one image at its original size, merged over scales, flips and sliding windows
   * ({@link inferSegmentation}).
   */
  predict(input: SegmentationInferenceInput): Promise<SegmentationInferenceResult> {
    return inferSegmentation(this, input);
  }
}

/** Options of the builders: everything but the architecture. */
export interface SegmentationBuilderOptions {
  /** Number of classes K, background included. Default 21 (Pascal VOC). */
  numClasses?: number;
  /** Build the auxiliary FCN head on C4. Default false. */
  aux?: boolean;
  /**
   * 8 (torchvision: `layer3` and `layer4` dilated) or 16 (`layer4` dilated). Default 8. At 16 the DeepLabV3
   * builders default to the paper's ASPP rates [6, 12, 18].
   */
  outputStride?: 8 | 16;
  /** Normalization of the backbone: `batch` (torchvision) or `frozen`. The heads always use BatchNorm2d. Default `batch`. */
  normLayer?: NormLayer;
  /** Backbone stages excluded from training (see `ResNetOptions.frozenStages`). Default 0. */
  frozenStages?: number;
  /** DeepLabV3 only: ASPP dilations. Default [12, 24, 36] at output stride 8, [6, 12, 18] at 16. */
  atrousRates?: readonly number[];
  /** Weight of the auxiliary loss. Default 0.5. */
  auxWeight?: number;
  /** Loss options (ignore index, class weights). */
  loss?: PixelCrossEntropyOptions;
  /** Seed of the initialization. Default 0. */
  seed?: number;
}

function dilatedBackbone(build: (o: ResNetBuilderOptions) => ResNet, o: SegmentationBuilderOptions): ResNet {
  const os = o.outputStride ?? 8;
  if (os !== 8 && os !== 16) throw new Error(`outputStride must be 8 or 16, got ${String(os)}`);
  return build({
    replaceStrideWithDilation: os === 8 ? [false, true, true] : [false, false, true],
    normLayer: o.normLayer,
    frozenStages: o.frozenStages,
    outLevels: o.aux ? ['C4', 'C5'] : ['C5'],
    seed: o.seed,
  });
}

function modelOptions(o: SegmentationBuilderOptions, head: SegmentationHeadOptions): SegmentationModelOptions {
  return { numClasses: o.numClasses ?? 21, head, aux: o.aux, auxWeight: o.auxWeight, loss: o.loss, seed: o.seed };
}

function deeplabHead(o: SegmentationBuilderOptions): SegmentationHeadOptions {
  return { type: 'deeplabv3', atrousRates: o.atrousRates ?? ((o.outputStride ?? 8) === 16 ? [6, 12, 18] : [12, 24, 36]) };
}

function fcnHead(o: SegmentationBuilderOptions): SegmentationHeadOptions {
  if (o.atrousRates) throw new Error('atrousRates is an option of DeepLabV3, not of FCN');
  return { type: 'fcn' };
}

/** Validate the options, build the dilated backbone, then the model (the backbone is released if that throws). */
function buildModel(build: (o: ResNetBuilderOptions) => ResNet, o: SegmentationBuilderOptions, head: SegmentationHeadOptions): SegmentationModel {
  const opts = modelOptions(o, head);
  const backbone = dilatedBackbone(build, o);
  try {
    return new SegmentationModel(backbone, opts);
  } catch (e) {
    backbone.dispose();
    throw e;
  }
}

/** FCN-ResNet-50 (torchvision `fcn_resnet50`). */
export function fcnResnet50(o: SegmentationBuilderOptions = {}): SegmentationModel {
  return buildModel(resnet50, o, fcnHead(o));
}
/** FCN-ResNet-101 (torchvision `fcn_resnet101`). */
export function fcnResnet101(o: SegmentationBuilderOptions = {}): SegmentationModel {
  return buildModel(resnet101, o, fcnHead(o));
}
/** DeepLabV3-ResNet-50 (torchvision `deeplabv3_resnet50`). */
export function deeplabv3Resnet50(o: SegmentationBuilderOptions = {}): SegmentationModel {
  return buildModel(resnet50, o, deeplabHead(o));
}
/** DeepLabV3-ResNet-101 (torchvision `deeplabv3_resnet101`). */
export function deeplabv3Resnet101(o: SegmentationBuilderOptions = {}): SegmentationModel {
  return buildModel(resnet101, o, deeplabHead(o));
}
