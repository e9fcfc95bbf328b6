/**
 * The one table from a config's model to its builder, its torchvision name and the torchvision weight family of its
 * whole-model state dicts (absent where torchvision publishes none: Semantic FPN). Tasks, checkpoint loading, weight
 * import and export all look architectures up here; adding a head is adding one entry (and its config schema).
 *
 * Classifier keys (the state-name prefixes of the layers sized by the class count, re-initialized when fine-tuning to
 * another class count) are declared by each model once (`classifierKeys`, as timm's `default_cfg['classifier']`),
 * so the table does not restate them.
 *
 * Reference: torchvision `models/__init__.py` (model builders by name), timm `_registry.py` (one table of
 * architectures); without string registries: entries are typed and looked up from the config's discriminant.
 */
import { ResNetClassifier } from '../../heads/classification/model';
import { octaveAnchorSizes } from '../../heads/detection/anchors';
import { FasterRCNN } from '../../heads/detection/faster_rcnn';
import { RetinaNet } from '../../heads/detection/model';
import { SegmentationModel, type SegmentationHeadOptions } from '../../heads/segmentation/model';
import { SemanticFpn } from '../../heads/segmentation/semantic_fpn';
import type { BackboneLevel } from '../backbone/features';
import { buildBackbone } from '../backbone/resnet';
import type { ClassificationConfig, Config, DetectionConfig, FasterRCNNConfig, RetinaNetConfig, SegmentationConfig } from '../config/types';
import type { Module } from '../nn/module';
import type { WeightFamily } from '../weights/torchvision';

/** One architecture: how a config of its task builds it, and what torchvision calls it and its state dicts. */
export interface Architecture<C extends Config, M extends Module> {
  task: C['task'];
  /**
   * The torchvision weight family of the whole model's state dicts (`loadTorchvisionWeights`' name table); absent
   * when torchvision publishes no such model, whose `model.weights` the config schema then refuses.
   */
  weightFamily?: WeightFamily;
  /**
   * torchvision's name of the model a config builds (`resnet50`, `retinanet_resnet50_fpn`, `fcn_resnet101`); ours,
   * in the same pattern, where torchvision has none (`semantic_fpn_resnet50`).
   */
  modelName(cfg: C): string;
  /**
   * Build the model a config describes, randomly initialized from `train.seed`.
   * @param numClasses K (classification and detection: from the data or the checkpoint; segmentation: `model.numClasses`).
   */
  build(cfg: C, numClasses: number): M;
}

/**
 * Build the classifier a config describes: the ResNet of `model.backbone` and a linear head of K outputs.
 * @throws Error for an unknown backbone name.
 */
function classifierOf(cfg: ClassificationConfig, numClasses: number): ResNetClassifier {
  const b = cfg.model.backbone;
  const backbone = buildBackbone(b.name, {
    normLayer: b.normLayer,
    frozenStages: b.frozenStages,
    zeroInitResidual: b.zeroInitResidual,
    replaceStrideWithDilation: b.replaceStrideWithDilation,
    seed: cfg.train.seed,
  });
  return new ResNetClassifier(backbone, numClasses, cfg.train.seed + 1, { labelSmoothing: cfg.loss.labelSmoothing });
}

/** A detector the detection task trains, evaluates and predicts with, as `model.arch` of its config chooses. */
export type Detector = RetinaNet | FasterRCNN;

/** The detector a detection config type builds (`Detector` for a config not narrowed to one `model.arch`). */
export type DetectorOf<C extends DetectionConfig> = C extends FasterRCNNConfig ? FasterRCNN : RetinaNet;

/** Whether a detection config builds Faster R-CNN (`model.arch` "faster_rcnn"); otherwise it builds RetinaNet. */
export function isFasterRCNNConfig(cfg: DetectionConfig): cfg is FasterRCNNConfig {
  return cfg.model.arch === 'faster_rcnn';
}

/**
 * Build the ResNet of a detection config returning `levels`.
 * @throws Error when `model.backbone.outLevels` is given and differs from `levels`, naming `levelsKey`.
 */
function detectorBody(cfg: DetectionConfig, levels: readonly BackboneLevel[], levelsKey: string) {
  const b = cfg.model.backbone;
  if (b.outLevels && b.outLevels.join() !== levels.join()) {
    throw new Error(`model.backbone.outLevels [${b.outLevels}] differs from ${levelsKey} [${levels}]; leave it out for detection`);
  }
  return buildBackbone(b.name, {
    normLayer: b.normLayer,
    frozenStages: b.frozenStages,
    zeroInitResidual: b.zeroInitResidual,
    replaceStrideWithDilation: b.replaceStrideWithDilation,
    outLevels: [...levels],
    seed: cfg.train.seed,
  });
}

/**
 * Build the RetinaNet a config describes. The backbone returns exactly the FPN's `inLevels`; channels and strides
 * come from its feature specs.
 * @param numClasses K, the number of classes (no background).
 * @throws Error when `model.backbone.outLevels` is given and differs from `model.fpn.inLevels`, and the errors of
 *   `RetinaNet` (missing level, anchor sizes not one list per pyramid level).
 */
function buildRetinaNet(cfg: RetinaNetConfig, numClasses: number): RetinaNet {
  const m = cfg.model;
  const body = detectorBody(cfg, m.fpn.inLevels, 'model.fpn.inLevels');
  try {
    return new RetinaNet(body, {
      numClasses,
      inLevels: m.fpn.inLevels,
      fpnChannels: m.fpn.channels,
      p6p7Source: m.fpn.p6p7Source,
      anchorSizes: 'sizes' in m.anchors ? m.anchors.sizes : octaveAnchorSizes(m.anchors),
      aspectRatios: m.anchors.aspectRatios,
      fgIouThresh: m.matcher.fgIouThresh,
      bgIouThresh: m.matcher.bgIouThresh,
      boxLoss: cfg.loss.boxLoss,
      focalAlpha: cfg.loss.focalAlpha,
      focalGamma: cfg.loss.focalGamma,
      postprocess: m.postprocess,
      seed: cfg.train.seed + 1,
    });
  } catch (e) {
    body.dispose();
    throw e;
  }
}

/** The backbone levels Faster R-CNN's FPN reads (torchvision `fasterrcnn_resnet50_fpn`: layer1..layer4). */
const FASTER_RCNN_IN_LEVELS: readonly BackboneLevel[] = ['C2', 'C3', 'C4', 'C5'];

/**
 * Build the Faster R-CNN a config describes: the ResNet returning C2..C5, the FPN of `model.fpn.channels`, the RPN
 * of `model.anchors` and `model.rpn`, the box branch of `model.roiHeads`. Training samples anchors and RoIs with a
 * generator seeded by each step's seed (see `FasterRCNN.computeLosses`), so a resumed run repeats the uninterrupted one.
 * @param numClasses K, the number of classes (no background; the predictor has K + 1 outputs).
 * @throws Error when `model.backbone.outLevels` is given and is not C2..C5, and the errors of `FasterRCNN` (strides
 *   that do not double, e.g. a dilated backbone; anchor lists of different lengths; thresholds out of order).
 */
function buildFasterRCNN(cfg: FasterRCNNConfig, numClasses: number): FasterRCNN {
  const m = cfg.model;
  const body = detectorBody(cfg, FASTER_RCNN_IN_LEVELS, 'the levels Faster R-CNN reads');
  const [wx, wy, ww, wh] = m.roiHeads.boxCoderWeights;
  try {
    return new FasterRCNN(body, {
      numClasses,
      fpnChannels: m.fpn.channels,
      anchorSizes: m.anchors.sizes,
      aspectRatios: m.anchors.aspectRatios,
      rpn: { ...m.rpn },
      roiHeads: { ...m.roiHeads, boxCoderWeights: [wx, wy, ww, wh] },
      seed: cfg.train.seed + 1,
    });
  } catch (e) {
    body.dispose();
    throw e;
  }
}

/** The segmentation head's model options for a config (DeepLabV3's default rates depend on the output stride). */
function headOptions(cfg: SegmentationConfig): SegmentationHeadOptions {
  const h = cfg.model.head;
  switch (h.type) {
    case 'fcn':
      return { type: 'fcn' };
    case 'deeplabv3':
      // torchvision's rates at output stride 8; the DeepLabV3 paper's at 16.
      return { type: 'deeplabv3', atrousRates: h.atrousRates ?? (cfg.model.outputStride === 16 ? [6, 12, 18] : [12, 24, 36]) };
    case 'semantic_fpn':
      throw new Error('semantic_fpn is not a head on C5: build it with buildSemanticFpn');
    default: {
      const never: never = h;
      throw new Error(`unknown segmentation head ${String((never as { type: unknown }).type)}`);
    }
  }
}

/** The dilation of layer2..layer4 giving a segmentation config's output stride. */
function dilationOf(outputStride: SegmentationConfig['model']['outputStride']): [boolean, boolean, boolean] {
  switch (outputStride) {
    case 8:
      return [false, true, true];
    case 16:
      return [false, false, true];
    case 32:
      return [false, false, false];
    default: {
      const never: never = outputStride;
      throw new Error(`model.outputStride must be 8, 16 or 32, got ${String(never)}`);
    }
  }
}

/**
 * Build the FCN / DeepLabV3 model a config describes: the backbone named by `model.backbone`, dilated to
 * `model.outputStride` (8: layer3 and layer4, as torchvision; 16: layer4; the schema allows 32 for Semantic FPN
 * only), returning C5 (and C4 for the auxiliary
 * head), then the head of `model.head` on it.
 * @throws Error from the model's constructor (the backbone is released then).
 */
function segmentationModelOf(cfg: SegmentationConfig, numClasses: number): SegmentationModel {
  const m = cfg.model;
  const aux = m.aux;
  const backbone = buildBackbone(m.backbone.name, {
    replaceStrideWithDilation: dilationOf(m.outputStride),
    normLayer: m.backbone.normLayer,
    frozenStages: m.backbone.frozenStages,
    outLevels: aux ? ['C4', 'C5'] : ['C5'],
    seed: cfg.train.seed,
  });
  try {
    return new SegmentationModel(backbone, {
      numClasses,
      head: headOptions(cfg),
      aux,
      auxWeight: cfg.loss.auxWeight,
      loss: { ignoreIndex: 255, classWeights: cfg.loss.classWeights ?? undefined },
      seed: cfg.train.seed,
    });
  } catch (e) {
    backbone.dispose();
    throw e;
  }
}

/** The levels Semantic FPN's FPN reads. */
const SEMANTIC_FPN_LEVELS: BackboneLevel[] = ['C2', 'C3', 'C4', 'C5'];

/**
 * Build the Semantic FPN a config describes: the undilated ResNet of `model.backbone` returning C2..C5, an FPN of
 * `model.head.fpnChannels` on them and the semantic head of `convDims` channels with GroupNorm(`numGroups`).
 * @param numClasses K, background included (`model.numClasses`).
 * @throws Error naming the key when `model.head` is not semantic_fpn, `model.outputStride` is not 32, `model.aux`
 *   is true (the schema refuses these too; this guards configs built in code), or `numGroups` does not divide
 *   `convDims`.
 */
function buildSemanticFpn(cfg: SegmentationConfig, numClasses: number): SemanticFpn {
  const m = cfg.model;
  const h = m.head;
  if (h.type !== 'semantic_fpn') throw new Error(`model.head.type is ${h.type}, not semantic_fpn`);
  if (m.outputStride !== 32) throw new Error(`model.outputStride is ${m.outputStride}: semantic_fpn reads C2..C5 of an undilated ResNet, set it to 32`);
  if (m.aux) throw new Error('model.aux is true: semantic_fpn has no auxiliary head, set it to false');
  if (h.convDims % h.numGroups !== 0) throw new Error(`model.head.numGroups (${h.numGroups}) must divide model.head.convDims (${h.convDims})`);
  const body = buildBackbone(m.backbone.name, {
    normLayer: m.backbone.normLayer,
    frozenStages: m.backbone.frozenStages,
    outLevels: SEMANTIC_FPN_LEVELS,
    seed: cfg.train.seed,
  });
  try {
    return new SemanticFpn(body, {
      numClasses,
      fpnChannels: h.fpnChannels,
      convDims: h.convDims,
      numGroups: h.numGroups,
      loss: { ignoreIndex: 255, classWeights: cfg.loss.classWeights ?? undefined },
      seed: cfg.train.seed + 1,
    });
  } catch (e) {
    body.dispose();
    throw e;
  }
}

/** The architectures, by the name {@link architectureOf} gives a config. */
export const ARCHITECTURES = {
  classifier: {
    task: 'classification',
    weightFamily: 'resnet',
    modelName: (cfg) => cfg.model.backbone.name,
    build: classifierOf,
  } satisfies Architecture<ClassificationConfig, ResNetClassifier>,
  retinanet: {
    task: 'detection',
    weightFamily: 'retinanet',
    modelName: (cfg) => `retinanet_${cfg.model.backbone.name}_fpn`,
    build: buildRetinaNet,
  } satisfies Architecture<RetinaNetConfig, RetinaNet>,
  faster_rcnn: {
    task: 'detection',
    weightFamily: 'faster_rcnn',
    modelName: (cfg) => `fasterrcnn_${cfg.model.backbone.name}_fpn`,
    build: buildFasterRCNN,
  } satisfies Architecture<FasterRCNNConfig, FasterRCNN>,
  fcn: {
    task: 'segmentation',
    weightFamily: 'fcn',
    modelName: (cfg) => `fcn_${cfg.model.backbone.name}`,
    build: segmentationModelOf,
  } satisfies Architecture<SegmentationConfig, SegmentationModel>,
  deeplabv3: {
    task: 'segmentation',
    weightFamily: 'deeplabv3',
    modelName: (cfg) => `deeplabv3_${cfg.model.backbone.name}`,
    build: segmentationModelOf,
  } satisfies Architecture<SegmentationConfig, SegmentationModel>,
  semantic_fpn: {
    task: 'segmentation',
    // torchvision publishes no Semantic FPN: no whole-model weight family.
    modelName: (cfg) => `semantic_fpn_${cfg.model.backbone.name}`,
    build: buildSemanticFpn,
  } satisfies Architecture<SegmentationConfig, SemanticFpn>,
};

export type ArchitectureName = keyof typeof ARCHITECTURES;

/** The architecture names of each task. */
type ArchitecturesOf<C extends Config> = { [A in ArchitectureName]: (typeof ARCHITECTURES)[A]['task'] extends C['task'] ? A : never }[ArchitectureName];

/**
 * The architecture a config builds: the classifier, the detector of `model.arch` (RetinaNet when absent), or the
 * segmentation head's type.
 */
export function architectureOf<C extends Config>(cfg: C): ArchitecturesOf<C> {
  switch (cfg.task) {
    case 'classification':
      return 'classifier' as ArchitecturesOf<C>;
    case 'detection':
      return (cfg.model.arch ?? 'retinanet') as ArchitecturesOf<C>;
    case 'segmentation':
      return cfg.model.head.type as ArchitecturesOf<C>;
    default: {
      const never: never = cfg;
      throw new Error(`unknown task ${String((never as { task: unknown }).task)}`);
    }
  }
}

/** The table entry of a config's architecture, typed for that config. */
export function architecture<C extends Config>(cfg: C): Architecture<C, Module> {
  return ARCHITECTURES[architectureOf(cfg)] as unknown as Architecture<C, Module>;
}

/** Build the classifier a config describes (the `classifier` entry), with K = `numClasses` outputs. */
export function buildClassifier(cfg: ClassificationConfig, numClasses: number): ResNetClassifier {
  return ARCHITECTURES.classifier.build(cfg, numClasses);
}

/**
 * Build the detector a config describes (the entry of its `model.arch`), with K = `numClasses` classes (no
 * background).
 */
export function buildDetector<C extends DetectionConfig>(cfg: C, numClasses: number): DetectorOf<C> {
  const c: DetectionConfig = cfg;
  return (isFasterRCNNConfig(c) ? ARCHITECTURES.faster_rcnn.build(c, numClasses) : ARCHITECTURES.retinanet.build(c, numClasses)) as DetectorOf<C>;
}

/** The models of the segmentation task: FCN / DeepLabV3 on a dilated ResNet, or Semantic FPN. */
export type SegmentationTaskModel = SegmentationModel | SemanticFpn;

/**
 * Build the segmentation model a config describes (its head type's entry) with `model.numClasses` classes.
 * @param opts.aux override `model.aux` (inference builds no auxiliary head).
 */
export function buildSegmentationModel(cfg: SegmentationConfig, opts: { aux?: boolean } = {}): SegmentationTaskModel {
  return ARCHITECTURES[cfg.model.head.type].build({ ...cfg, model: { ...cfg.model, aux: opts.aux ?? cfg.model.aux } }, cfg.model.numClasses);
}
