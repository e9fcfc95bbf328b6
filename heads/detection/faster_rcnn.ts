/**
 * Faster R-CNN with FPN (Ren et al. 2015; Lin et al. 2017): a ResNet, an FPN on C2..C5 giving P2..P5 plus P6 by
 * max-pooling, the RPN on P2..P6 (one anchor size per level, 32..512, three aspect ratios), and the box branch on
 * P2..P5 (multi-scale RoIAlign 7x7, TwoMLPHead 1024, FastRCNNPredictor).
 *
 * State names are torchvision's `fasterrcnn_resnet50_fpn` state dict: `backbone.body.*`, `backbone.fpn.*`,
 * `rpn.head.*`, `roi_heads.box_head.*`, `roi_heads.box_predictor.*`.
 *
 * No preprocessing is hidden here: the model takes normalized NHWC images already resized and padded by an explicit
 * transform (torchvision's `GeneralizedRCNNTransform` is not part of the model) with the content size of each image
 * (`imageSizes`), and boxes in that input frame; `detectionsToOriginal` maps detections back.
 *
 * Reference: torchvision `models/detection/faster_rcnn.py` (`FasterRCNN`, `fasterrcnn_resnet50_fpn`),
 * `generalized_rcnn.py`, `rpn.py`, `roi_heads.py`; detectron2 `configs/COCO-Detection/faster_rcnn_R_101_FPN_3x.yaml`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Backbone, BackboneLevel, FeatureMap, type FeatureSpecs, PyramidLevel, specOf } from '../../src/backbone/features';
import { ResNet, ResNetBuilderOptions, resnet101, resnet18, resnet50 } from '../../src/backbone/resnet';
import { ForwardContext, Module } from '../../src/nn/module';
import type { TaskModel } from '../../src/nn/task_model';
import { checkRoIAlignBackend } from '../../src/ops/roi_align';
import { BackboneWithFpn, buildOnResNetTrunk, type FpnTrunkOptions } from '../necks/backbone_with_fpn';
import { FeaturePyramidNetwork } from '../necks/fpn';
import { AnchorGenerator } from './anchors';
import { Matcher } from './matcher';
import type { DetectionBatchInput, DetectionPredictInput } from './model';
import { Detections, ImageSize } from './postprocess';
import { RoIHeads, RoIHeadsOptions, RoIs } from './roi_heads';
import { Proposals, RPNHead, RpnOutputs, buildRpnTargets, rpnLosses, selectProposals } from './rpn';
import { SubsetSampler, randomSubsetSampler } from './sampler';

/** RPN options; torchvision's defaults. */
export interface RpnOptions {
  /** Candidates per level before NMS. Default 2000 (training), 1000 (inference). */
  preNmsTopNTrain?: number;
  preNmsTopNTest?: number;
  /** Proposals per image after NMS. Default 2000 (training), 1000 (inference). */
  postNmsTopNTrain?: number;
  postNmsTopNTest?: number;
  /** NMS IoU threshold. Default 0.7. */
  nmsThresh?: number;
  /** Anchor matching: foreground IoU >= 0.7, background IoU < 0.3 (low-quality matches allowed). */
  fgIouThresh?: number;
  bgIouThresh?: number;
  /** Anchors sampled per image for the loss. Default 256. */
  batchSizePerImage?: number;
  /** Largest share of positive anchors. Default 0.5. */
  positiveFraction?: number;
}

/** Options of `FasterRCNN`. Defaults are torchvision `fasterrcnn_resnet50_fpn`. */
export interface FasterRCNNOptions {
  /** Classes K, background excluded (the predictor has K + 1 outputs, background first). */
  numClasses: number;
  /** FPN output channels. Default 256. */
  fpnChannels?: number;
  /** Anchor sizes per RPN level P2..P6, pixels. Default [[32], [64], [128], [256], [512]]. */
  anchorSizes?: number[][];
  /** Aspect ratios (height / width), the same on every level. Default [0.5, 1, 2]. */
  aspectRatios?: number[];
  rpn?: RpnOptions;
  /** Box branch options (sampling, box coder weights, post-processing). */
  roiHeads?: Omit<RoIHeadsOptions, 'numClasses' | 'levels' | 'specs' | 'seed'>;
  /**
   * Which anchors and RoIs the losses sample, for every call: `firstSubsetSampler` makes sampling deterministic
   * (parity tests). Default random: seeded by the step's seed when `computeLosses` gets one (`ctx.seed`, so that a
   * resumed run draws what the uninterrupted run drew), else one stream seeded by `seed`.
   */
  sampler?: SubsetSampler;
  /** Seed of the FPN, RPN and box branch initialization and of the default sampler. Default 0. */
  seed?: number;
}

/**
 * The training losses, keys stable for logging (torchvision's `loss_objectness`, `loss_rpn_box_reg`,
 * `loss_classifier`, `loss_box_reg`). A type alias, not an interface, so that it is a `LossRecord`.
 */
export type FasterRCNNLosses = {
  rpnObjectness: tf.Scalar;
  rpnBoxRegression: tf.Scalar;
  classification: tf.Scalar;
  boxRegression: tf.Scalar;
};

/** What `computeLosses` receives: the training mode and, from the trainer, the step's seed. */
export interface FasterRCNNForwardContext extends ForwardContext {
  /**
   * 32-bit seed of the training step (the trainer's `StepContext.seed`): the anchors and RoIs of the losses are drawn
   * from a generator seeded by it, unless the model was given a `sampler`.
   */
  seed?: number;
}

const IN_LEVELS: BackboneLevel[] = ['C2', 'C3', 'C4', 'C5'];
const ROI_LEVELS: PyramidLevel[] = ['P2', 'P3', 'P4', 'P5'];

/** torchvision's `RegionProposalNetwork` as a state container: only `head` has parameters. */
class RegionProposalNetwork extends Module {
  readonly head: RPNHead;
  constructor(head: RPNHead) {
    super();
    this.head = this.registerModule('head', head);
  }
}

/** The detector. */
export class FasterRCNN extends Module implements TaskModel<DetectionBatchInput, DetectionPredictInput, Detections[]> {
  /**
   * Input height and width must be multiples of this (the collate pads bottom/right to it): the stride of the top
   * FPN input level (C5: 32, torchvision's `GeneralizedRCNNTransform(size_divisible=32)`).
   */
  readonly sizeDivisibility: number;
  /**
   * State-name prefixes of the layers sized by the class count (`cls_score` [1024, K + 1], `bbox_pred`
   * [1024, 4(K + 1)]), which fine-tuning to another class count re-initializes (torchvision's fine-tuning tutorial
   * replaces `roi_heads.box_predictor`).
   */
  readonly classifierKeys: readonly string[] = ['roi_heads.box_predictor.'];
  readonly backbone: BackboneWithFpn;
  readonly rpn: RegionProposalNetwork;
  readonly roiHeads: RoIHeads;
  readonly anchorGenerator: AnchorGenerator;
  readonly rpnMatcher: Matcher;
  /** RPN levels, ascending (P2..P6). */
  readonly levels: readonly PyramidLevel[];
  readonly numClasses: number;
  readonly options: Readonly<FasterRCNNOptions>;
  /** The sampler of calls without a step seed: `options.sampler`, else one random stream seeded by `options.seed`. */
  sampler: SubsetSampler;

  /**
   * @param body a backbone whose `outLevels` include C2..C5 (undilated); the model takes ownership.
   * @throws Error when a level is missing, strides do not double, anchor sizes do not give one list per RPN level,
   *   levels have different anchor counts or thresholds are out of order; the layers built until then are released
   *   (not `body`, which stays the caller's).
   */
  constructor(body: Backbone, opts: FasterRCNNOptions) {
    super();
    this.options = { ...opts };
    const missing = IN_LEVELS.filter((l) => !body.outLevels.includes(l));
    if (missing.length) throw new Error(`FasterRCNN: the backbone does not return ${missing.join(', ')}; its outLevels are ${body.outLevels.join(', ')}`);
    const seed = opts.seed ?? 0;
    const fpnChannels = opts.fpnChannels ?? 256;
    const inSpecs = body.featureSpecs();
    const fpn = new FeaturePyramidNetwork({ inLevels: IN_LEVELS, inSpecs, outChannels: fpnChannels, topBlock: { kind: 'maxpool' }, seed });
    this.sizeDivisibility = specOf(inSpecs, IN_LEVELS[IN_LEVELS.length - 1], 'FasterRCNN').stride;
    this.backbone = this.registerModule('backbone', new BackboneWithFpn(body, fpn));
    let rpn: RegionProposalNetwork | undefined;
    try {
      this.levels = fpn.outLevels;
      const sizes = opts.anchorSizes ?? [[32], [64], [128], [256], [512]];
      if (sizes.length !== this.levels.length) {
        throw new Error(`FasterRCNN: anchorSizes has ${sizes.length} levels but the FPN gives ${this.levels.length} (${this.levels.join(', ')})`);
      }
      const ratios = opts.aspectRatios ?? [0.5, 1, 2];
      this.anchorGenerator = new AnchorGenerator(sizes, sizes.map(() => ratios));
      const A = this.anchorGenerator.numAnchorsPerLocation();
      if (A.some((a) => a !== A[0])) throw new Error(`FasterRCNN: every level needs the same number of anchors per location, got [${A}]`);
      rpn = new RegionProposalNetwork(new RPNHead({ inChannels: fpnChannels, numAnchors: A[0], seed: seed + 1 }));
      this.rpn = this.registerModule('rpn', rpn);
      const r = opts.rpn ?? {};
      this.rpnMatcher = new Matcher({ highThreshold: r.fgIouThresh ?? 0.7, lowThreshold: r.bgIouThresh ?? 0.3, allowLowQualityMatches: true });
      this.numClasses = opts.numClasses;
      this.roiHeads = this.registerModule(
        'roi_heads',
        new RoIHeads({ ...opts.roiHeads, numClasses: opts.numClasses, levels: ROI_LEVELS, specs: fpn.featureSpecs(), seed: seed + 2 }),
      );
    } catch (e) {
      // The caller still owns `body` (it disposes it on failure); what was built here is released here.
      fpn.dispose();
      rpn?.dispose();
      throw e;
    }
    this.sampler = opts.sampler ?? randomSubsetSampler(seed);
  }

  /** Specs of the pyramid levels. */
  featureSpecs(): FeatureSpecs<PyramidLevel> {
    return this.backbone.featureSpecs();
  }

  /** RPN feature-map sizes for an input of `height x width`: `ceil(size / stride)`. */
  featureSizes(height: number, width: number): [number, number][] {
    const specs = this.featureSpecs();
    return this.levels.map((l) => {
      const { stride } = specOf(specs, l, 'FasterRCNN');
      return [Math.ceil(height / stride), Math.ceil(width / stride)];
    });
  }

  /**
   * RPN anchors of an input of `height x width` (the padded batch size), torchvision's conventions (`anchors.ts`).
   * @returns `anchors` [R * 4] float32 xyxy input pixels (shared, do not modify) and `counts` per level.
   */
  anchorsFor(height: number, width: number): { anchors: Float32Array; counts: number[] } {
    return this.anchorGenerator.anchorsFor(height, width, this.featureSizes(height, width));
  }

  private checkImages(images: tf.Tensor4D, imageSizes: readonly ImageSize[] | undefined, what: string): ImageSize[] {
    if (images.rank !== 4 || images.shape[3] !== 3) throw new Error(`FasterRCNN.${what} takes NHWC images [N, H, W, 3], got [${images.shape}]`);
    const [n, h, w] = images.shape;
    if (!imageSizes) return Array.from({ length: n }, () => ({ height: h, width: w }));
    if (imageSizes.length !== n) throw new Error(`FasterRCNN.${what}: ${n} images but ${imageSizes.length} image sizes`);
    return [...imageSizes];
  }

  /**
   * Pyramid features and raw RPN outputs.
   * @param images [N, H, W, 3] float32 normalized RGB, NHWC; not disposed.
   * @returns `features` P2..P6 ([N, Hi, Wi, C]) and `rpn` (objectness [N, R], deltas [N, R, 4], rows in the order of
   *   `anchorsFor(H, W).anchors`); caller owns them.
   */
  forwardRpn(images: tf.Tensor4D, ctx: ForwardContext): { features: FeatureMap<PyramidLevel>; rpn: RpnOutputs } {
    this.checkImages(images, undefined, 'forwardRpn');
    return tf.tidy(() => {
      const features = this.backbone.forward(images, ctx);
      return { features, rpn: this.rpn.head.forward(features, this.levels) } as unknown as tf.TensorContainer;
    }) as unknown as { features: FeatureMap<PyramidLevel>; rpn: RpnOutputs };
  }

  /** Proposals from RPN outputs (reads them back synchronously). */
  private proposalsOf(rpn: RpnOutputs, height: number, width: number, imageSizes: readonly ImageSize[], training: boolean): Proposals[] {
    const { anchors, counts } = this.anchorsFor(height, width);
    const r = this.options.rpn ?? {};
    return selectProposals(rpn.objectness.dataSync() as Float32Array, rpn.deltas.dataSync() as Float32Array, anchors, counts, imageSizes, {
      preNmsTopN: training ? (r.preNmsTopNTrain ?? 2000) : (r.preNmsTopNTest ?? 1000),
      postNmsTopN: training ? (r.postNmsTopNTrain ?? 2000) : (r.postNmsTopNTest ?? 1000),
      nmsThresh: r.nmsThresh,
    });
  }

  /**
   * Training losses of a batch (torchvision `FasterRCNN.forward` in training mode). Synchronous: the RPN outputs are
   * read back once to select proposals, which carry no gradient (torchvision detaches them).
   * @param batch.images [N, H, W, 3] float32 normalized RGB; not disposed.
   * @param batch.targets N ground truths, boxes xyxy in the pixels of `images`, labels 0..K-1.
   * @param batch.imageSizes content size of each image, which proposals are clipped to (default the whole input).
   * @param ctx training mode and, optionally, the step's seed (see `FasterRCNNOptions.sampler`).
   * @param opts `sampler`: overrides the model's `sampler` for this call.
   * @returns the four losses (see `FasterRCNNLosses`); caller owns them.
   * @throws Error when the backend has no RoIAlign kernel (`checkRoIAlignBackend`: webgpu), the number of targets or
   *   image sizes is not N, a label is outside 0..K-1, or a box has no area.
   */
  computeLosses(batch: DetectionBatchInput, ctx: FasterRCNNForwardContext, opts: { sampler?: SubsetSampler } = {}): FasterRCNNLosses {
    const { images, targets } = batch;
    checkRoIAlignBackend(tf.getBackend(), 'FasterRCNN.computeLosses'); // before any work (the box branch needs it)
    const sizes = this.checkImages(images, batch.imageSizes, 'computeLosses');
    if (targets.length !== images.shape[0]) throw new Error(`FasterRCNN.computeLosses: ${images.shape[0]} images but ${targets.length} targets`);
    targets.forEach((gt, i) => {
      const m = gt.labels.length;
      if (gt.boxes.length !== 4 * m) throw new Error(`targets[${i}]: boxes must be [M * 4] with M = labels.length = ${m}, got length ${gt.boxes.length}`);
      for (let j = 0; j < m; j++) {
        const l = gt.labels[j];
        if (!(Number.isInteger(l) && l >= 0 && l < this.numClasses)) throw new Error(`targets[${i}]: label ${l} of box ${j} is outside 0..${this.numClasses - 1}`);
        const [x1, y1, x2, y2] = gt.boxes.subarray(4 * j, 4 * j + 4);
        if (!(x2 > x1 && y2 > y1)) throw new Error(`targets[${i}]: box ${j} [${x1}, ${y1}, ${x2}, ${y2}] must have positive width and height (xyxy)`);
      }
    });
    const sampler = opts.sampler ?? this.options.sampler ?? (ctx.seed !== undefined ? randomSubsetSampler(ctx.seed) : this.sampler);
    const [, h, w] = images.shape;
    const { anchors } = this.anchorsFor(h, w);
    return tf.tidy(() => {
      const { features, rpn } = this.forwardRpn(images, ctx);
      const rpnT = buildRpnTargets(anchors, targets, this.rpnMatcher, sampler, this.options.rpn);
      const { rpnObjectness, rpnBoxRegression } = rpnLosses(rpn, rpnT);
      const proposals = this.proposalsOf(rpn, h, w, sizes, true);
      const samples = this.roiHeads.selectTrainingSamples(
        proposals.map((p) => p.boxes),
        targets,
        sampler,
      );
      const outputs = this.roiHeads.forward(features, samples);
      const { classification, boxRegression } = this.roiHeads.losses(outputs, samples);
      return { rpnObjectness, rpnBoxRegression, classification, boxRegression } as unknown as tf.TensorContainer;
    }) as unknown as FasterRCNNLosses;
  }

  /**
   * Detections per image in the network input frame (inference mode), with the intermediate proposals.
   * @param input.images [N, H, W, 3] float32 normalized RGB; not disposed.
   * @param input.imageSizes per image, the content size (before batch padding) proposals and boxes are clipped to.
   * @returns `detections` (N `Detections`, highest score first, labels 0..K-1) and `proposals` (N `Proposals`).
   * @throws Error when the backend has no RoIAlign kernel (`checkRoIAlignBackend`: webgpu) or `imageSizes` does not
   *   have N entries.
   */
  async predictWithProposals(input: DetectionPredictInput): Promise<{ detections: Detections[]; proposals: Proposals[] }> {
    const { images, imageSizes } = input;
    checkRoIAlignBackend(tf.getBackend(), 'FasterRCNN.predict'); // before any work (the box branch needs it)
    const sizes = this.checkImages(images, imageSizes, 'predict');
    const [, h, w] = images.shape;
    const { features, rpn } = this.forwardRpn(images, { training: false });
    try {
      await Promise.all([rpn.objectness.data(), rpn.deltas.data()]);
      const proposals = this.proposalsOf(rpn, h, w, sizes, false);
      const rois: RoIs = {
        boxes: Float32Array.from(proposals.flatMap((p) => Array.from(p.boxes))),
        imageIndices: Int32Array.from(proposals.flatMap((p, i) => Array.from(p.scores, () => i))),
      };
      const out = this.roiHeads.forward(features, rois);
      try {
        const [logits, deltas] = await Promise.all([out.classLogits.data(), out.boxDeltas.data()]);
        return { detections: this.roiHeads.postprocess(logits as Float32Array, deltas as Float32Array, rois, sizes), proposals };
      } finally {
        tf.dispose([out.classLogits, out.boxDeltas]);
      }
    } finally {
      tf.dispose([...Object.values(features), rpn.objectness, rpn.deltas]);
    }
  }

  /** Detections per image (see `predictWithProposals`); map them back with `detectionsToOriginal`. */
  async predict(input: DetectionPredictInput): Promise<Detections[]> {
    return (await this.predictWithProposals(input)).detections;
  }
}

/**
 * Options of the builders: the detector's options and the backbone options that make sense under it. Defaults
 * follow torchvision with pretrained weights: FrozenBatchNorm2d, `trainable_backbone_layers=3` (stem and layer1
 * frozen, `frozenStages: 1`).
 */
export interface FasterRCNNBuilderOptions extends FasterRCNNOptions {
  backbone?: FpnTrunkOptions;
}

function build(resnet: (o: ResNetBuilderOptions) => ResNet, o: FasterRCNNBuilderOptions): FasterRCNN {
  const { backbone, ...detector } = o;
  return buildOnResNetTrunk(resnet, IN_LEVELS, backbone, (body) => new FasterRCNN(body, detector));
}

/** Faster R-CNN with a ResNet-18 FPN backbone (small; tests and CPU-sized runs). */
export function fasterrcnnResnet18Fpn(o: FasterRCNNBuilderOptions): FasterRCNN {
  return build(resnet18, o);
}
/** Faster R-CNN with a ResNet-50 FPN backbone: torchvision `fasterrcnn_resnet50_fpn`. */
export function fasterrcnnResnet50Fpn(o: FasterRCNNBuilderOptions): FasterRCNN {
  return build(resnet50, o);
}
/** Faster R-CNN with a ResNet-101 FPN backbone (detectron2 `faster_rcnn_R_101_FPN`). */
export function fasterrcnnResnet101Fpn(o: FasterRCNNBuilderOptions): FasterRCNN {
  return build(resnet101, o);
}
