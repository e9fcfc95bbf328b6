/**
 * Typed configuration: the source of truth for what a JSON config in `configs/` may contain. JSON files are plain
 * data, validated against `schema.ts` at load time; every key is documented here.
 */
import type { BackboneLevel } from '../backbone/features';
import type { BackboneName } from '../backbone/resnet';
import type { LrSchedule } from '../engine/lr_schedule';
import type { NormLayer } from '../nn/layers';
import type { SegmentationModelName } from '../../heads/segmentation/model';

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
  /** What the config is for and which data it expects (free text, shown by nothing; for readers of the file). */
  description?: string;
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
  /**
   * Objects of classes outside `classes`: `error` (default) names the file and the object; `skip` leaves them out of
   * training and of the ground truth (train a detector of a class subset, as mmdetection's dataset `classes`).
   */
  unknownClasses?: 'error' | 'skip';
}

/** Detection data, discriminated by `format`. */
export type DetectionDataConfig = CocoDetectionDataConfig | VocDetectionDataConfig;

/** A detection run: `resvision train configs/detection/*.json` (RetinaNet on a ResNet + FPN). */
export interface DetectionConfig {
  task: 'detection';
  /** What the config is for and which data it expects (free text, shown by nothing; for readers of the file). */
  description?: string;
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

/** Where one split's images and masks are, relative to `data.root`. */
export interface SegmentationSplitConfig {
  /**
   * List file: one image id a line (VOC `ImageSets/Segmentation/train.txt`: `<imagesDir>/<id><imageExt>` and
   * `<masksDir>/<id><maskExt>`), or `image mask` path pairs a line (CamVid/SegNet `val.txt`; absolute paths from
   * another machine are re-rooted under `root`). null: every mask file in `masksDir`, sorted.
   */
  list: string | null;
  imagesDir: string;
  masksDir: string;
}

/** Semantic segmentation data (VOC layout or CamVid-style folders) and the torchvision segmentation transforms. */
export interface SegmentationDataConfig {
  root: string;
  /** Key of `splits` used for training. */
  trainSplit: string;
  /** Key of `splits` used for evaluation (`resvision eval --split` overrides it). */
  valSplit: string;
  splits: Record<string, SegmentationSplitConfig>;
  /** Image extension with the dot (`.jpg` for VOC, `.png` for CamVid). */
  imageExt: string;
  maskExt: string;
  /** `index`: palette/grayscale samples are the classes; `rgb`: VOC colours looked up; `auto`: by the PNG's colour type. */
  maskEncoding: 'auto' | 'index' | 'rgb';
  /** Mask value of ignored pixels in the files (VOC 255, CamVid 11); it counts for neither loss nor metric. */
  ignoreIndex: number;
  /** K class names (background first for VOC); null: VOC's 21 names when K = 21, else `class_<k>`. */
  classNames: string[] | null;
  /** Training: shorter side drawn uniformly in [min, max] (torchvision: 0.5x to 2x of base size 520). */
  trainShortEdge: { min: number; max: number };
  /** Training: square random crop, padded with 0 (image) and 255 (mask) when smaller. */
  trainCropSize: number;
  /** Probability of a horizontal flip in training, 0..1. */
  flipProbability: number;
  /** Shorter side for evaluation and prediction at scale 1, pixels; null: the original size. */
  evalShortEdge: number | null;
}

/** Evaluation and prediction: predictions are always mapped back to the original image size. */
export interface SegmentationEvalConfig {
  /** Multipliers of `data.evalShortEdge`; probabilities are averaged over scales. `[1]`: single scale. */
  scales: number[];
  /** Also predict the flipped image and average. */
  flip: boolean;
  /** Sliding-window inference (windows of `cropSize`, every `stride` pixels); null: whole image. */
  slidingWindow: { cropSize: number; stride: number } | null;
}

/** Loop settings of a segmentation run: the shared ones plus the choice to skip the evaluation after the last step. */
export interface SegmentationTrainConfig extends TrainConfig {
  /**
   * Evaluate on `data.valSplit` after the last step (default true; it runs after the final checkpoint is written).
   * `false` skips it (a whole-image pass over CamVid's val at the original size takes tens of minutes on a CPU);
   * the periodic evaluations every `evalEvery` iterations still run. `resvision train --no-eval` turns off both.
   */
  evalAtEnd?: boolean;
}

/** A semantic segmentation run: `resvision train configs/segmentation/*.json` (FCN or DeepLabV3 on a dilated ResNet). */
export interface SegmentationConfig {
  task: 'segmentation';
  /** What the config is for and which data it expects (free text, shown by nothing; for readers of the file). */
  description?: string;
  model: {
    /** torchvision model name (`fcn_resnet50`, `deeplabv3_resnet101`, ...). */
    name: SegmentationModelName;
    /** Number of classes K, background included. */
    numClasses: number;
    /** 8: layer3 and layer4 dilated (torchvision); 16: layer4 only. */
    outputStride: 8 | 16;
    /** Auxiliary FCN head on C4 (torchvision `aux_loss`). */
    aux: boolean;
    normLayer: NormLayer;
    /** Backbone stages excluded from training (see `ResNetOptions.frozenStages`). */
    frozenStages: number;
    /** DeepLabV3 ASPP dilations; null: [12, 24, 36] at output stride 8, [6, 12, 18] at 16. Must be null for FCN. */
    atrousRates: number[] | null;
    /** A torchvision `fcn_*` / `deeplabv3_*` state dict to start from; null = none. */
    weights: string | null;
    /** An ImageNet ResNet state dict for the backbone (torchvision `weights_backbone`); null = random init. */
    backboneWeights: string | null;
  };
  data: SegmentationDataConfig;
  /** Pixel cross-entropy (ignore index 255 after reading masks); `auxWeight` scales the auxiliary head's loss. */
  loss: { auxWeight: number; classWeights: number[] | null };
  eval: SegmentationEvalConfig;
  /** SGD for every parameter; the auxiliary head's group steps with 10x the learning rate (torchvision's reference). */
  optimizer: OptimizerConfig;
  schedule: ScheduleConfig;
  train: SegmentationTrainConfig;
}

/** Every config kind, discriminated by `task`. */
export type Config = ClassificationConfig | DetectionConfig | SegmentationConfig;
