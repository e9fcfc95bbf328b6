/**
 * RetinaNet (Lin et al. 2017, "Focal Loss for Dense Object Detection"): a ResNet backbone, an FPN on C3..C5
 * giving P3..P7, the RetinaNet head, anchors, IoU matching, focal + box losses and post-processing.
 *
 * State names are torchvision's `retinanet_resnet50_fpn` state dict: `backbone.body.*` (the ResNet, without `fc`),
 * `backbone.fpn.*` (see `heads/necks/fpn.ts`), `head.classification_head.*`, `head.regression_head.*`, so a
 * torchvision checkpoint loads with `loadTorchvisionWeights(model, file, { family: 'retinanet' })`.
 *
 * No preprocessing is hidden here: the model takes normalized NHWC images already resized and padded by an
 * explicit transform (torchvision's `GeneralizedRCNNTransform` is not part of the model), and boxes in that
 * input frame; `detectionsToOriginal` maps detections back.
 *
 * Reference: torchvision `models/detection/retinanet.py` (`RetinaNet`, `retinanet_resnet50_fpn`),
 * `backbone_utils.py` (`_resnet_fpn_extractor`, `BackboneWithFPN`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Backbone, BackboneLevel, FeatureMap, type FeatureSpecs, PyramidLevel, specOf } from '../../src/backbone/features';
import { ResNet, ResNetBuilderOptions, resnet18, resnet50 } from '../../src/backbone/resnet';
import { ForwardContext, Module } from '../../src/nn/module';

export { BackboneWithFpn } from '../necks/backbone_with_fpn';
import { BackboneWithFpn } from '../necks/backbone_with_fpn';
import type { TaskModel } from '../../src/nn/task_model';
import { FeaturePyramidNetwork, FpnTopBlock } from '../necks/fpn';
import { AnchorGenerator, RETINANET_ASPECT_RATIOS, retinaNetAnchorSizes } from './anchors';
import { BoxCoder } from './box_coder';
import { BoxLossKind, DetectionGroundTruth, retinaNetLosses } from './losses';
import { Matcher } from './matcher';
import { Detections, ImageSize, PostprocessOptions, postprocessDetections } from './postprocess';
import { DenseDetectionOutputs, RetinaNetHead } from './retinanet_head';

/** Options of `RetinaNet`. Defaults are torchvision `retinanet_resnet50_fpn` (v1). */
export interface RetinaNetOptions {
  /** Classes K, no background (a sigmoid per class). */
  numClasses: number;
  /** Backbone levels feeding the FPN, ascending and consecutive. Default ['C3', 'C4', 'C5']. */
  inLevels?: BackboneLevel[];
  /** FPN output channels. Default 256. */
  fpnChannels?: number;
  /** Where P6/P7 come from. Default 'P5' (torchvision v1); 'C5' is v2 and the paper. */
  p6p7Source?: 'P5' | 'C5';
  /** Anchor sizes per pyramid level, pixels. Default `retinaNetAnchorSizes()` (5 levels). */
  anchorSizes?: number[][];
  /** Aspect ratios (height / width), the same on every level. Default [0.5, 1, 2]. */
  aspectRatios?: number[];
  /** IoU at or above which an anchor is foreground. Default 0.5. */
  fgIouThresh?: number;
  /** IoU below which an anchor is background (between: ignored). Default 0.4. */
  bgIouThresh?: number;
  /** Box loss. Default `{ kind: 'l1' }` (v1); v2 uses `{ kind: 'giou' }`. */
  boxLoss?: BoxLossKind;
  /** Focal loss alpha. Default 0.25. */
  focalAlpha?: number;
  /** Focal loss gamma. Default 2. */
  focalGamma?: number;
  /** Post-processing thresholds (score 0.05, top-1000 per level, NMS 0.5, 300 per image). */
  postprocess?: PostprocessOptions;
  /** Seed of the FPN and head initialization. Default 0. */
  seed?: number;
}

/** A training batch of the detector: the fields of `collateDetection`'s batch it reads. */
export interface DetectionBatchInput {
  /** [N, H, W, 3] float32 normalized RGB, NHWC, padded to the model's `sizeDivisibility`. */
  images: tf.Tensor4D;
  /** N ground truths, boxes xyxy in the pixels of `images`. */
  targets: readonly DetectionGroundTruth[];
  /**
   * Per image, the content size (before batch padding), pixels. Two-stage detectors clip proposals to it
   * (torchvision's `image_sizes`); default the whole padded input. RetinaNet's losses do not read it.
   */
  imageSizes?: readonly ImageSize[];
}

/** What the detectors' `predict` takes (`RetinaNet`, `FasterRCNN`). */
export interface DetectionPredictInput {
  /** [N, H, W, 3] float32 normalized RGB, NHWC. */
  images: tf.Tensor4D;
  /** Per image, the content size (before batch padding), pixels. */
  imageSizes: readonly ImageSize[];
}

/** The detector. */
export class RetinaNet extends Module implements TaskModel<DetectionBatchInput, DetectionPredictInput, Detections[]> {
  /**
   * Input height and width must be multiples of this (the collate pads bottom/right to it): the stride of the top
   * FPN input level, so that it covers the padded input exactly (C5: 32, torchvision's
   * `GeneralizedRCNNTransform(size_divisible=32)`).
   */
  readonly sizeDivisibility: number;
  /** State-name prefixes of the classifier layer, which fine-tuning to another class count re-initializes. */
  readonly classifierKeys: readonly string[] = ['head.classification_head.cls_logits.'];
  readonly backbone: BackboneWithFpn;
  readonly head: RetinaNetHead;
  readonly anchorGenerator: AnchorGenerator;
  readonly boxCoder = new BoxCoder([1, 1, 1, 1]);
  readonly matcher: Matcher;
  /** Pyramid levels the head runs on, ascending (P3..P7 by default). */
  readonly levels: readonly PyramidLevel[];
  readonly numClasses: number;
  readonly options: Readonly<RetinaNetOptions>;

  /**
   * @param body a ResNet whose `outLevels` include `inLevels` (its specs give the FPN's input channels).
   * @throws Error when a level is missing or the strides do not double (see `FeaturePyramidNetwork`), when the
   *   anchor sizes do not give one list per pyramid level, or on invalid thresholds.
   */
  constructor(body: Backbone, opts: RetinaNetOptions) {
    super();
    this.options = { ...opts };
    const inLevels = opts.inLevels ?? ['C3', 'C4', 'C5'];
    const missing = inLevels.filter((l) => !body.outLevels.includes(l));
    if (missing.length) throw new Error(`RetinaNet: the backbone does not return ${missing.join(', ')}; its outLevels are ${body.outLevels.join(', ')}`);
    const source = opts.p6p7Source ?? 'P5';
    const topBlock: FpnTopBlock = { kind: 'p6p7', source };
    const fpnChannels = opts.fpnChannels ?? 256;
    const seed = opts.seed ?? 0;
    const inSpecs = body.featureSpecs();
    const fpn = new FeaturePyramidNetwork({ inLevels, inSpecs, outChannels: fpnChannels, topBlock, seed });
    this.sizeDivisibility = specOf(inSpecs, inLevels[inLevels.length - 1], 'RetinaNet').stride;
    this.backbone = this.registerModule('backbone', new BackboneWithFpn(body, fpn));
    this.levels = fpn.outLevels;
    const sizes = opts.anchorSizes ?? retinaNetAnchorSizes();
    if (sizes.length !== this.levels.length) {
      throw new Error(`RetinaNet: anchorSizes has ${sizes.length} levels but the FPN gives ${this.levels.length} (${this.levels.join(', ')})`);
    }
    const ratios = opts.aspectRatios ?? [...RETINANET_ASPECT_RATIOS];
    this.anchorGenerator = new AnchorGenerator(sizes, sizes.map(() => ratios));
    const A = this.anchorGenerator.numAnchorsPerLocation();
    if (A.some((a) => a !== A[0])) throw new Error(`RetinaNet: every level needs the same number of anchors per location, got [${A}]`);
    this.numClasses = opts.numClasses;
    this.head = this.registerModule('head', new RetinaNetHead({ inChannels: fpnChannels, numAnchors: A[0], numClasses: opts.numClasses, seed: seed + 1 }));
    this.matcher = new Matcher({ highThreshold: opts.fgIouThresh ?? 0.5, lowThreshold: opts.bgIouThresh ?? 0.4, allowLowQualityMatches: true });
    const st = opts.postprocess?.scoreThresh ?? 0.05;
    if (!(st >= 0 && st < 1)) throw new Error(`RetinaNet: postprocess.scoreThresh must be in [0, 1), got ${st}`);
  }

  /** Specs of the pyramid levels the head runs on. */
  featureSpecs(): FeatureSpecs<PyramidLevel> {
    return this.backbone.featureSpecs();
  }

  /**
   * Feature-map sizes of every head level for an input of `height x width`: `ceil(size / stride)` (every
   * downsampling in ResNet and the FPN is a stride-2 convolution or pool that rounds up).
   */
  featureSizes(height: number, width: number): [number, number][] {
    const specs = this.featureSpecs();
    return this.levels.map((l) => {
      const { stride } = specOf(specs, l, 'RetinaNet');
      return [Math.ceil(height / stride), Math.ceil(width / stride)];
    });
  }

  /**
   * Anchors of an input of `height x width` (the padded batch size), torchvision's conventions (see `anchors.ts`).
   * @returns `anchors` [R * 4] float32 xyxy input pixels (shared, do not modify) and `counts` per level.
   */
  anchorsFor(height: number, width: number): { anchors: Float32Array; counts: number[] } {
    return this.anchorGenerator.anchorsFor(height, width, this.featureSizes(height, width));
  }

  private checkImages(images: tf.Tensor4D): void {
    if (images.rank !== 4 || images.shape[3] !== 3) throw new Error(`RetinaNet takes NHWC images [N, H, W, 3], got [${images.shape}]`);
  }

  /**
   * Raw head outputs.
   * @param images [N, H, W, 3] float32, normalized RGB, NHWC (resized and padded); not disposed.
   * @param ctx training mode (backbone BatchNorm, if not frozen).
   * @returns `clsLogits` [N, R, K], `boxDeltas` [N, R, 4], rows level-major (P3..P7), then y, x, anchor, in the
   *   order of `anchorsFor(H, W).anchors`; caller owns them.
   */
  forward(images: tf.Tensor4D, ctx: ForwardContext): DenseDetectionOutputs {
    this.checkImages(images);
    return tf.tidy(() => {
      const feats = this.backbone.forward(images, ctx);
      const expected = this.featureSizes(images.shape[1], images.shape[2]);
      this.levels.forEach((l, i) => {
        const s = feats[l].shape;
        if (s[1] !== expected[i][0] || s[2] !== expected[i][1]) {
          throw new Error(`RetinaNet: ${l} is ${s[1]}x${s[2]}, expected ${expected[i][0]}x${expected[i][1]} from its stride (specs and network disagree)`);
        }
      });
      return this.head.forward(feats, this.levels);
    });
  }

  /**
   * Training losses for a batch (torchvision `RetinaNet.compute_loss`).
   * @param batch.images [N, H, W, 3] float32 normalized RGB; not disposed.
   * @param batch.targets N ground truths, boxes xyxy in the pixels of `images` (an image may have no box).
   * @returns `classification` (sigmoid focal loss) and `boxRegression` scalars, each summed per image,
   *   divided by max(1, that image's foreground anchors) and averaged over the images; caller owns them.
   * @throws Error when the number of targets is not N, a label is outside 0..K-1, or a box has no area.
   */
  computeLosses(batch: DetectionBatchInput, ctx: ForwardContext): { classification: tf.Scalar; boxRegression: tf.Scalar } {
    const { images, targets } = batch;
    this.checkImages(images);
    if (targets.length !== images.shape[0]) throw new Error(`RetinaNet.computeLosses: ${images.shape[0]} images but ${targets.length} targets`);
    const { anchors } = this.anchorsFor(images.shape[1], images.shape[2]);
    return tf.tidy(() => {
      const outputs = this.forward(images, ctx);
      return retinaNetLosses(outputs, anchors, targets, this.matcher, this.boxCoder, {
        focalAlpha: this.options.focalAlpha,
        focalGamma: this.options.focalGamma,
        boxLoss: this.options.boxLoss,
      });
    });
  }

  /**
   * Detections per image in the network input frame (inference mode).
   * @param input.images [N, H, W, 3] float32 normalized RGB; not disposed.
   * @param input.imageSizes per image, the content size (before batch padding) boxes are clipped to.
   * @returns N `Detections`, highest score first; map them back with `detectionsToOriginal`.
   * @throws Error when `imageSizes` does not have N entries.
   */
  async predict(input: DetectionPredictInput): Promise<Detections[]> {
    const { images, imageSizes } = input;
    this.checkImages(images);
    if (imageSizes.length !== images.shape[0]) throw new Error(`RetinaNet.predict: ${images.shape[0]} images but ${imageSizes.length} image sizes`);
    const { anchors, counts } = this.anchorsFor(images.shape[1], images.shape[2]);
    const out = this.forward(images, { training: false });
    try {
      const [logits, deltas] = await Promise.all([out.clsLogits.data(), out.boxDeltas.data()]);
      return postprocessDetections(
        logits as Float32Array,
        deltas as Float32Array,
        anchors,
        counts,
        this.numClasses,
        imageSizes,
        this.boxCoder,
        this.options.postprocess,
      );
    } finally {
      tf.dispose([out.clsLogits, out.boxDeltas]);
    }
  }
}

/**
 * Options of the builders: the detector's options and the few backbone options that make sense under a detector.
 * Defaults follow torchvision with pretrained weights: FrozenBatchNorm2d and `trainable_backbone_layers=3`
 * (stem and layer1 frozen, `frozenStages: 1`).
 */
export interface RetinaNetBuilderOptions extends RetinaNetOptions {
  backbone?: Pick<ResNetBuilderOptions, 'normLayer' | 'frozenStages' | 'zeroInitResidual' | 'seed'>;
}

function build(resnet: (o: ResNetBuilderOptions) => ResNet, o: RetinaNetBuilderOptions): RetinaNet {
  const { backbone, ...detector } = o;
  const inLevels = detector.inLevels ?? ['C3', 'C4', 'C5'];
  const body = resnet({
    normLayer: backbone?.normLayer ?? 'frozen',
    frozenStages: backbone?.frozenStages ?? 1,
    zeroInitResidual: backbone?.zeroInitResidual,
    seed: backbone?.seed,
    outLevels: inLevels,
  });
  return new RetinaNet(body, detector);
}

/** RetinaNet with a ResNet-18 FPN backbone (small; for tests and quick experiments). */
export function retinanetResnet18Fpn(o: RetinaNetBuilderOptions): RetinaNet {
  return build(resnet18, o);
}
/** RetinaNet with a ResNet-50 FPN backbone: torchvision `retinanet_resnet50_fpn` (v1 defaults). */
export function retinanetResnet50Fpn(o: RetinaNetBuilderOptions): RetinaNet {
  return build(resnet50, o);
}
