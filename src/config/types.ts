/**
 * Typed configuration: the source of truth for what a JSON config in `configs/` may contain. JSON files are plain
 * data, validated against `schema.ts` at load time; every key is documented here.
 */
import type { BackboneLevel } from '../backbone/features';
import type { BackboneName } from '../backbone/resnet';
import type { LrSchedule } from '../engine/lr_schedule';
import type { NormLayer } from '../nn/layers';

/** The backbone: a torchvision ResNet by name and its options (see `ResNetOptions`). */
export interface BackboneConfig {
  name: BackboneName;
  normLayer: NormLayer;
  frozenStages: number;
  zeroInitResidual: boolean;
  replaceStrideWithDilation: [boolean, boolean, boolean];
  outLevels?: BackboneLevel[];
}

/** SGD as torch.optim.SGD. `lr = baseLr * batchSize / baseBatchSize` (linear scaling, Goyal et al. 2017). */
export interface OptimizerConfig {
  type: 'sgd';
  baseLr: number;
  baseBatchSize: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  /** `coupled`: torch's `weight_decay` (added to the gradient); `decoupled`: SGDW (Loshchilov & Hutter 2019). */
  weightDecayMode: 'coupled' | 'decoupled';
  /** Weight decay of normalization weights and all biases (torchvision references' `norm_weight_decay`); null = same. */
  normWeightDecay: number | null;
  /** Clip gradients to this global L2 norm; null = no clipping. */
  gradClipNorm: number | null;
}

/**
 * Learning-rate schedule over `maxIter` iterations: the engine's `LrSchedule` (src/engine/lr_schedule.ts) without
 * `baseLr`, which comes from the optimizer's linear scaling rule.
 */
export type ScheduleConfig = Omit<LrSchedule, 'baseLr'>;

/** Loop settings shared by every task. */
export interface TrainConfig {
  seed: number;
  batchSize: number;
  /** Images decoded ahead in parallel. */
  numWorkers: number;
  logEvery: number;
  evalEvery: number;
  checkpointEvery: number;
  outputDir: string;
}

/** ImageFolder data and the classification transforms (torchvision's ImageNet reference presets). */
export interface ClassificationDataConfig {
  root: string;
  trainSplit: string;
  valSplit: string;
  /** RandomResizedCrop output size for training. */
  trainCropSize: number;
  /** Shorter side before the center crop at evaluation. */
  evalResizeSize: number;
  evalCropSize: number;
}

/** A classification run: `resvision train configs/classification/*.json`. */
export interface ClassificationConfig {
  task: 'classification';
  model: {
    backbone: BackboneConfig;
    /** Number of classes K; null takes the number of class folders found in the training split. */
    numClasses: number | null;
    /** torchvision/timm weights (.safetensors or .pth) to start from; null = random initialization. */
    weights: string | null;
  };
  data: ClassificationDataConfig;
  loss: { labelSmoothing: number };
  optimizer: OptimizerConfig;
  schedule: ScheduleConfig;
  train: TrainConfig;
}

/** Detection data common to both formats: splits, class list and the detection transforms (detectron2 presets). */
export interface DetectionDataCommonConfig {
  root: string;
  trainSplit: string;
  valSplit: string;
  /**
   * Class names in label order; null takes them from the training split (COCO: its categories by increasing id;
   * VOC: the object names found, sorted). An object of a class outside the list is an error naming file and record.
   */
  classes: string[] | null;
  /** Shorter side for training, pixels; several values: one drawn per image (multi-scale training). */
  trainShortEdge: number[];
  /** Longer-side cap for training, pixels. */
  trainMaxSize: number;
  /** Shorter side for evaluation and prediction, pixels. */
  evalShortEdge: number;
  /** Longer-side cap for evaluation and prediction, pixels. */
  evalMaxSize: number;
  /** Probability of a horizontal flip in training, 0..1. */
  flipProbability: number;
  /** Leave training images without any box out (evaluation always keeps them). */
  filterEmpty: boolean;
}

/** COCO instances data: `<root>/<annotationsDir>/instances_<split>.json`, images in `<root>/<imagesDir ?? split>/`. */
export interface CocoDetectionDataConfig extends DetectionDataCommonConfig {
  format: 'coco';
  annotationsDir: string;
  /** Image folder relative to the root; null: the split name (`train2017/`). */
  imagesDir: string | null;
}

/** Pascal VOC data: `ImageSets/Main/<split>.txt`, `<annotationsDir>/<id>.xml`, `<imagesDir>/<id><imageExt>`. */
export interface VocDetectionDataConfig extends DetectionDataCommonConfig {
  format: 'voc';
  annotationsDir: string;
  imagesDir: string;
  imageExt: string;
  /** VOC AP variant reported next to COCO mAP: true = VOC2007 11-point, false = VOC2010+ all-point. */
  use07Metric: boolean;
}

/** Detection data, discriminated by `format`. */
export type DetectionDataConfig = CocoDetectionDataConfig | VocDetectionDataConfig;

/** A detection run: `resvision train configs/detection/*.json` (RetinaNet on a ResNet + FPN). */
export interface DetectionConfig {
  task: 'detection';
  model: {
    /** The ResNet; its `outLevels` come from `fpn.inLevels`. */
    backbone: BackboneConfig;
    /** FPN on `inLevels` (channels and strides from the backbone's specs); P6/P7 from `p6p7Source`. */
    fpn: { inLevels: BackboneLevel[]; channels: number; p6p7Source: 'P5' | 'C5' };
    /** Anchor sizes (pixels), one list per pyramid level, and aspect ratios (height / width). */
    anchors: { sizes: number[][]; aspectRatios: number[] };
    /** IoU at or above `fgIouThresh`: foreground; below `bgIouThresh`: background; between: ignored. */
    matcher: { fgIouThresh: number; bgIouThresh: number };
    /** Inference post-processing (torchvision RetinaNet's parameters). */
    postprocess: { scoreThresh: number; topkCandidates: number; nmsThresh: number; detectionsPerImage: number };
    /** ImageNet ResNet weights for the backbone, or a torchvision RetinaNet state dict; null = random init. */
    weights: string | null;
  };
  data: DetectionDataConfig;
  /** Sigmoid focal loss (alpha, gamma) and the box loss (l1 on deltas: torchvision v1; giou: v2). */
  loss: {
    focalAlpha: number;
    focalGamma: number;
    boxLoss: { kind: 'l1' } | { kind: 'smoothL1'; beta: number } | { kind: 'giou' };
  };
  /** `resvision predict`: detections below `scoreThresh` are neither drawn nor listed. */
  predict: { scoreThresh: number };
  optimizer: OptimizerConfig;
  schedule: ScheduleConfig;
  train: TrainConfig;
}

/** Every config kind, discriminated by `task`. */
export type Config = ClassificationConfig | DetectionConfig;
