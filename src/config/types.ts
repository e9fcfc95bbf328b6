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

/** Every config kind, discriminated by `task`. */
export type Config = ClassificationConfig;
