/**
 * JSON Schemas of the configs (draft-07, validated with Ajv): the one source of what a config may contain. The
 * TypeScript types in `types.ts` are derived from these schemas (`FromSchema`), and each field is documented here,
 * next to its bounds. Every object forbids unknown keys, so a typo is an error naming the key.
 *
 * Every number has an upper bound. `JSON.parse` reads `1e999` as Infinity, which passes `type: 'integer'` and any
 * minimum, and a schema-valid but absurd size (`trainCropSize: 100000`, `fpn.channels: 64000000`) would otherwise
 * fail deep inside an allocation. The bounds are far above any published recipe and say where the limit comes from.
 */
import type { BackboneLevel } from '../backbone/features';
import { BACKBONE_NAMES } from '../backbone/names';

/**
 * Longest image side, in pixels, for every resize, crop and window size: an 8192 x 8192 RGB float32 image is
 * 805 MB, a fifth of the wasm backend's 4 GiB heap.
 */
export const MAX_IMAGE_SIDE_PX = 8192;
/** Most channels of a layer a config sets (FPN width; ResNet's widest is 2048). */
export const MAX_CHANNELS = 4096;
/** Most iterations of a schedule and longest period (log, evaluation, checkpoint, LR step) in iterations. */
export const MAX_ITERATIONS = 1_000_000_000;
/** Largest images per batch (train.batchSize) and reference batch size (optimizer.baseBatchSize, Goyal et al. 8192). */
export const MAX_BATCH_SIZE = 1024;
export const MAX_BASE_BATCH_SIZE = 65536;
/** Most classes of a classifier (ImageNet-21k has 21,843) and of a segmentation head (16-bit label PNGs). */
export const MAX_CLASSIFICATION_CLASSES = 100_000;
export const MAX_SEGMENTATION_CLASSES = 65535;

/** A finite number in (0, max]. */
const posNum = (max: number) => ({ type: 'number', exclusiveMinimum: 0, maximum: max }) as const;
/** A finite number in [0, max]. */
const nonNegNum = (max: number) => ({ type: 'number', minimum: 0, maximum: max }) as const;
/** An integer in [1, max]. */
const posInt = (max: number) => ({ type: 'integer', minimum: 1, maximum: max }) as const;
/** An integer in [0, max]. */
const nonNegInt = (max: number) => ({ type: 'integer', minimum: 0, maximum: max }) as const;
const sidePx = posInt(MAX_IMAGE_SIDE_PX);
const iterations = posInt(MAX_ITERATIONS);
const period = nonNegInt(MAX_ITERATIONS);
/**
 * Learning rates, decay factors and loss weights size nothing, so their only bound is finiteness (the largest
 * float64): a test may well train with lr 1e30 to provoke a non-finite loss.
 */
const MAX_RATE = Number.MAX_VALUE;
const bool = { type: 'boolean' } as const;
const str = { type: 'string', minLength: 1 } as const;

/** An object schema with properties `P`, of which the keys `K` are required; unknown keys are refused. */
export interface ObjectSchema<P, K extends string> {
  type: 'object';
  properties: P;
  required: K[];
  additionalProperties: false;
}

/** An object schema; `required` defaults to every key. Type parameters are `const`, so `FromSchema` sees literals. */
function obj<const P extends Record<string, unknown>>(properties: P): ObjectSchema<P, keyof P & string>;
function obj<const P extends Record<string, unknown>, const K extends keyof P & string>(properties: P, required: readonly K[]): ObjectSchema<P, K>;
function obj(properties: Record<string, unknown>, required: readonly string[] = Object.keys(properties)): ObjectSchema<unknown, string> {
  return { type: 'object', properties, required: [...required], additionalProperties: false };
}

/** The keys of a literal object, typed as such (`Object.keys` returns `string[]`). */
function keysOf<T extends object>(o: T): (keyof T & string)[] {
  return Object.keys(o) as (keyof T & string)[];
}

/** An enum schema over a list of literals. */
function oneOfValues<const E>(values: readonly E[]): { enum: E[] } {
  return { enum: [...values] };
}

/** What the config is for and which data it expects (free text, shown by nothing; for readers of the file). */
const description = { type: 'string' } as const;

/** A task schema that also accepts an optional top-level free-text `description`. */
function describable<P, K extends string>(schema: ObjectSchema<P, K>): ObjectSchema<P & { description: typeof description }, K> {
  return { ...schema, properties: { ...schema.properties, description } };
}

/** The backbone: a torchvision ResNet by name and its options (see `ResNetOptions`). */
export const backboneSchema = obj(
  {
    name: oneOfValues(BACKBONE_NAMES),
    normLayer: oneOfValues(['batch', 'frozen']),
    frozenStages: { type: 'integer', minimum: 0, maximum: 4 },
    zeroInitResidual: bool,
    replaceStrideWithDilation: { type: 'array', items: bool, minItems: 3, maxItems: 3 },
    outLevels: { type: 'array', items: oneOfValues<BackboneLevel>(['C2', 'C3', 'C4', 'C5']), minItems: 1, uniqueItems: true },
  },
  ['name', 'normLayer', 'frozenStages', 'zeroInitResidual', 'replaceStrideWithDilation'],
);

/** SGD as torch.optim.SGD. `lr = baseLr * batchSize / baseBatchSize` (linear scaling, Goyal et al. 2017). */
export const optimizerSchema = obj({
  type: { const: 'sgd' },
  baseLr: posNum(MAX_RATE),
  baseBatchSize: posInt(MAX_BASE_BATCH_SIZE),
  momentum: { type: 'number', minimum: 0, maximum: 1 },
  nesterov: bool,
  weightDecay: nonNegNum(MAX_RATE),
  /** `coupled`: torch's `weight_decay` (added to the gradient); `decoupled`: SGDW (Loshchilov & Hutter 2019). */
  weightDecayMode: oneOfValues(['coupled', 'decoupled']),
  /** Weight decay of normalization weights and all biases (torchvision references' `norm_weight_decay`); null = same. */
  normWeightDecay: { oneOf: [nonNegNum(MAX_RATE), { type: 'null' }] },
  /** Clip gradients to this global L2 norm; null = no clipping. */
  gradClipNorm: { oneOf: [posNum(MAX_RATE), { type: 'null' }] },
});

const fraction01 = { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 } as const;

/**
 * Learning-rate schedule over `maxIter` iterations: the engine's `LrSchedule` (src/engine/lr_schedule.ts) without
 * `baseLr`, which comes from the optimizer's linear scaling rule.
 */
export const scheduleSchema = obj(
  {
    maxIter: iterations,
    warmup: obj(
      { iters: period, factor: { type: 'number', exclusiveMinimum: 0, maximum: 1 }, method: oneOfValues(['linear', 'constant']) },
      ['iters', 'factor'],
    ),
    main: {
      type: 'object',
      required: ['kind'],
      properties: { kind: oneOfValues(['constant', 'step', 'multistep', 'cosine', 'poly']) },
      allOf: [
        { if: { properties: { kind: { const: 'constant' } } }, then: obj({ kind: { const: 'constant' } }) },
        { if: { properties: { kind: { const: 'step' } } }, then: obj({ kind: { const: 'step' }, stepSize: iterations, gamma: posNum(MAX_RATE) }) },
        {
          if: { properties: { kind: { const: 'multistep' } } },
          then: obj(
            {
              kind: { const: 'multistep' },
              gamma: posNum(MAX_RATE),
              milestones: { type: 'array', items: iterations },
              milestoneFractions: { type: 'array', items: fraction01 },
            },
            ['kind', 'gamma'],
          ),
        },
        { if: { properties: { kind: { const: 'cosine' } } }, then: obj({ kind: { const: 'cosine' }, minLr: nonNegNum(MAX_RATE) }, ['kind']) },
        {
          if: { properties: { kind: { const: 'poly' } } },
          then: obj({ kind: { const: 'poly' }, power: posNum(MAX_RATE), minLr: nonNegNum(MAX_RATE) }, ['kind']),
        },
      ],
    },
  } as const,
  ['maxIter', 'main'],
);

/** Loop settings shared by every task. */
export const trainSchema = obj({
  // Per-step seeds mix the seed as a 32-bit integer (engine/trainer.ts stepSeed).
  seed: { type: 'integer', minimum: 0, maximum: 2 ** 32 - 1 },
  batchSize: posInt(MAX_BATCH_SIZE),
  /** Images decoded ahead in parallel. */
  numWorkers: posInt(256),
  logEvery: iterations,
  evalEvery: period,
  checkpointEvery: period,
  outputDir: str,
});

/** ImageFolder data and the classification transforms (torchvision's ImageNet reference presets). */
export const classificationDataSchema = obj({
  root: str,
  trainSplit: str,
  valSplit: str,
  /** RandomResizedCrop output size for training. */
  trainCropSize: sidePx,
  /** Shorter side before the center crop at evaluation. */
  evalResizeSize: sidePx,
  evalCropSize: sidePx,
});

/** A classification run: `resvision train configs/classification/*.json`. */
export const classificationSchema = describable(obj({
  task: { const: 'classification' },
  model: obj({
    backbone: backboneSchema,
    /** Number of classes K; null takes the number of class folders found in the training split. */
    numClasses: { oneOf: [posInt(MAX_CLASSIFICATION_CLASSES), { type: 'null' }] },
    /** torchvision/timm weights (.safetensors or .pth) to start from; null = random initialization. */
    weights: { oneOf: [str, { type: 'null' }] },
  }),
  data: classificationDataSchema,
  loss: obj({ labelSmoothing: { type: 'number', minimum: 0, exclusiveMaximum: 1 } }),
  optimizer: optimizerSchema,
  schedule: scheduleSchema,
  train: trainSchema,
}));

const levelList = <const L extends string>(levels: readonly L[]) =>
  ({ type: 'array', items: oneOfValues(levels), minItems: 1, uniqueItems: true }) as const;

/** Detection data common to both formats: splits, class list and the detection transforms (detectron2 presets). */
const detectionDataCommon = {
  root: str,
  trainSplit: str,
  valSplit: str,
  /**
   * Class names in label order; null takes them from the training split (COCO: its categories by increasing id;
   * VOC: the object names found, sorted). An object of a class outside the list is an error naming file and record.
   */
  classes: { oneOf: [{ type: 'array', items: str, minItems: 1, uniqueItems: true }, { type: 'null' }] },
  /** Shorter side for training, pixels; several values: one drawn per image (multi-scale training). */
  trainShortEdge: { type: 'array', items: sidePx, minItems: 1 },
  /** Longer-side cap for training, pixels. */
  trainMaxSize: sidePx,
  /** Shorter side for evaluation and prediction, pixels. */
  evalShortEdge: sidePx,
  /** Longer-side cap for evaluation and prediction, pixels. */
  evalMaxSize: sidePx,
  /** Probability of a horizontal flip in training, 0..1. */
  flipProbability: { type: 'number', minimum: 0, maximum: 1 },
  /** Leave training images without any box out (evaluation always keeps them). */
  filterEmpty: bool,
} as const;

/** COCO instances data: `<root>/<annotationsDir>/instances_<split>.json`, images in `<root>/<imagesDir ?? split>/`. */
export const cocoDetectionDataSchema = obj({
  format: { const: 'coco' },
  ...detectionDataCommon,
  annotationsDir: str,
  /** Image folder relative to the root; null: the split name (`train2017/`). */
  imagesDir: { oneOf: [str, { type: 'null' }] },
});

/** Pascal VOC data: `ImageSets/Main/<split>.txt`, `<annotationsDir>/<id>.xml`, `<imagesDir>/<id><imageExt>`. */
export const vocDetectionDataSchema = obj(
  {
    format: { const: 'voc' },
    ...detectionDataCommon,
    annotationsDir: str,
    imagesDir: str,
    imageExt: str,
    /** VOC AP variant reported next to COCO mAP: true = VOC2007 11-point, false = VOC2010+ all-point. */
    use07Metric: bool,
    /**
     * Objects of classes outside `classes`: `error` (default) names the file and the object; `skip` leaves them out of
     * training and of the ground truth (train a detector of a class subset, as mmdetection's dataset `classes`).
     */
    unknownClasses: oneOfValues(['error', 'skip']),
  },
  ['format', ...keysOf(detectionDataCommon), 'annotationsDir', 'imagesDir', 'imageExt', 'use07Metric'],
);

/** Detection data, discriminated by `format`. */
export const detectionDataSchema = {
  type: 'object',
  required: ['format'],
  properties: { format: oneOfValues(['coco', 'voc']) },
  allOf: [
    { if: { properties: { format: { const: 'coco' } } }, then: cocoDetectionDataSchema },
    { if: { properties: { format: { const: 'voc' } } }, then: vocDetectionDataSchema },
  ],
} as const;

const iouThresh = { type: 'number', minimum: 0, maximum: 1 } as const;
/** A share of a sampled batch, in (0, 1]. */
const shareOfBatch = { type: 'number', exclusiveMinimum: 0, maximum: 1 } as const;
/** `resvision predict`: detections below `scoreThresh` are neither drawn nor listed. */
const detectionPredictSchema = obj({ scoreThresh: { type: 'number', minimum: 0, maximum: 1 } });

/**
 * A RetinaNet run (`model.arch` "retinanet", the default when `model.arch` is absent, so configs and checkpoints
 * written before there was a choice stay valid): ResNet + FPN (P3..P7) + RetinaNet head, focal loss.
 */
export const retinanetDetectionSchema = describable(obj({
  task: { const: 'detection' },
  model: obj(
    {
      /** The detector: "retinanet" (may be left out) or "faster_rcnn" (see `fasterRcnnDetectionSchema`). */
      arch: { const: 'retinanet' },
      /** The ResNet; its `outLevels` come from `fpn.inLevels`. */
      backbone: backboneSchema,
      /** FPN on `inLevels` (channels and strides from the backbone's specs); P6/P7 from `p6p7Source`. */
      fpn: obj({ inLevels: levelList<BackboneLevel>(['C2', 'C3', 'C4', 'C5']), channels: posInt(MAX_CHANNELS), p6p7Source: oneOfValues(['P5', 'C5']) }),
      /**
       * Anchor sizes (pixels) per pyramid level and aspect ratios (height / width): derived from `baseSizes`,
       * `scalesPerOctave` and `sizeScale` (see `octaveAnchorSizes`), or listed as `sizes`, one list per level.
       */
      anchors: {
        oneOf: [
          obj({
            /** Base size of each level, pixels (RetinaNet: 32..512 on P3..P7). */
            baseSizes: { type: 'array', items: posNum(MAX_IMAGE_SIDE_PX), minItems: 1 },
            /** Sizes per level: `int(s * 2^(k/n))`, k = 0..n-1 (RetinaNet: 3). */
            scalesPerOctave: posInt(16),
            /** Multiplier of the derived sizes, rounded half to even (0.5: torchvision's sizes halved). */
            sizeScale: posNum(1000),
            aspectRatios: { type: 'array', items: posNum(1000), minItems: 1 },
          }),
          obj({
            sizes: { type: 'array', items: { type: 'array', items: posNum(MAX_IMAGE_SIDE_PX), minItems: 1 }, minItems: 1 },
            aspectRatios: { type: 'array', items: posNum(1000), minItems: 1 },
          }),
        ],
      },
      /** IoU at or above `fgIouThresh`: foreground; below `bgIouThresh`: background; between: ignored. */
      matcher: obj({ fgIouThresh: iouThresh, bgIouThresh: iouThresh }),
      /** Inference post-processing (torchvision RetinaNet's parameters). */
      postprocess: obj({
        scoreThresh: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
        topkCandidates: posInt(1_000_000),
        nmsThresh: iouThresh,
        detectionsPerImage: posInt(100_000),
      }),
      /** ImageNet ResNet weights for the backbone, or a torchvision RetinaNet state dict; null = random init. */
      weights: { oneOf: [str, { type: 'null' }] },
    },
    ['backbone', 'fpn', 'anchors', 'matcher', 'postprocess', 'weights'],
  ),
  data: detectionDataSchema,
  /** Sigmoid focal loss (alpha, gamma) and the box loss (l1 on deltas: torchvision v1; giou: v2). */
  loss: obj({
    focalAlpha: { type: 'number', minimum: 0, maximum: 1 },
    focalGamma: nonNegNum(MAX_RATE),
    boxLoss: {
      oneOf: [obj({ kind: { const: 'l1' } }), obj({ kind: { const: 'smoothL1' }, beta: posNum(MAX_RATE) }), obj({ kind: { const: 'giou' } })],
    },
  }),
  predict: detectionPredictSchema,
  optimizer: optimizerSchema,
  schedule: scheduleSchema,
  train: trainSchema,
}));

/** Most proposals or candidates per image or level a config sets (torchvision's largest default is 2000). */
const MAX_PROPOSALS = 1_000_000;

/**
 * A Faster R-CNN run (`model.arch` "faster_rcnn"): ResNet + FPN on C2..C5 (P2..P5, P6 by max-pooling P5), the RPN
 * on P2..P6 and the box branch (multi-scale RoIAlign 7x7 on P2..P5, two fully connected layers, class scores and
 * class-specific box deltas). Its losses are fixed (torchvision's: binary cross-entropy of objectness, softmax
 * cross-entropy of classes, smooth L1 with beta 1/9 on both box deltas), so it has no `loss` section.
 * Reference: torchvision `models/detection/faster_rcnn.py` (`FasterRCNN` arguments and their defaults).
 */
export const fasterRcnnDetectionSchema = describable(obj({
  task: { const: 'detection' },
  model: obj({
    arch: { const: 'faster_rcnn' },
    /** The ResNet; it returns C2..C5 (`outLevels`, if given, must be exactly those) undilated. */
    backbone: backboneSchema,
    /** FPN output channels (torchvision: 256); its levels are fixed, C2..C5 in, P2..P6 out. */
    fpn: obj({ channels: posInt(MAX_CHANNELS) }),
    /** RPN anchors: sizes in pixels, one list per level P2..P6 (all of one length); aspect ratios (height / width). */
    anchors: obj({
      sizes: { type: 'array', items: { type: 'array', items: posNum(MAX_IMAGE_SIDE_PX), minItems: 1 }, minItems: 5, maxItems: 5 },
      aspectRatios: { type: 'array', items: posNum(1000), minItems: 1 },
    }),
    /** The region proposal network (torchvision `rpn_*` arguments). */
    rpn: obj({
      /** Highest-objectness anchors kept per level before NMS, in training and at inference (torchvision 2000 / 1000). */
      preNmsTopNTrain: posInt(MAX_PROPOSALS),
      preNmsTopNTest: posInt(MAX_PROPOSALS),
      /** Proposals kept per image after NMS, in training and at inference (torchvision 2000 / 1000). */
      postNmsTopNTrain: posInt(MAX_PROPOSALS),
      postNmsTopNTest: posInt(MAX_PROPOSALS),
      /** IoU threshold of the proposals' NMS (0.7). */
      nmsThresh: iouThresh,
      /** Anchor matching: IoU >= `fgIouThresh` foreground (0.7), < `bgIouThresh` background (0.3), between ignored. */
      fgIouThresh: iouThresh,
      bgIouThresh: iouThresh,
      /** Anchors sampled per image for the losses (256), of which at most `positiveFraction` (0.5) foreground. */
      batchSizePerImage: posInt(MAX_PROPOSALS),
      positiveFraction: shareOfBatch,
    }),
    /** The box branch on the proposals (torchvision `box_*` arguments). */
    roiHeads: obj({
      /** Proposals sampled per image for the losses (512), of which at most `positiveFraction` (0.25) foreground. */
      batchSizePerImage: posInt(MAX_PROPOSALS),
      positiveFraction: shareOfBatch,
      /** Proposal matching: IoU >= `fgIouThresh` foreground (0.5), < `bgIouThresh` background (0.5). */
      fgIouThresh: iouThresh,
      bgIouThresh: iouThresh,
      /** Width of the two fully connected layers (TwoMLPHead: 1024). */
      representationSize: posInt(MAX_CHANNELS),
      /** Weights (wx, wy, ww, wh) of the box coder of the deltas (10, 10, 5, 5). */
      boxCoderWeights: { type: 'array', items: posNum(1000), minItems: 4, maxItems: 4 },
      /** Inference: class scores (softmax) at or below this are dropped (0.05). */
      scoreThresh: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
      /** Inference: IoU threshold of the class-wise NMS (0.5). */
      nmsThresh: iouThresh,
      /** Inference: detections kept per image, highest scores first (100). */
      detectionsPerImage: posInt(100_000),
    }),
    /**
     * ImageNet ResNet weights for the backbone, or a torchvision `fasterrcnn_resnet50_fpn` state dict (its box
     * predictor re-initialized when the class count differs); null = random init.
     */
    weights: { oneOf: [str, { type: 'null' }] },
  }),
  data: detectionDataSchema,
  predict: detectionPredictSchema,
  optimizer: optimizerSchema,
  schedule: scheduleSchema,
  train: trainSchema,
}));

/** The detector a detection config names: `model.arch`. */
export const DETECTOR_ARCHS = ['retinanet', 'faster_rcnn'] as const;

/**
 * A detection run: `resvision train configs/detection/*.json`, discriminated by `model.arch`: RetinaNet (the
 * default, `arch` absent or "retinanet") or Faster R-CNN ("faster_rcnn"). An unknown `arch` matches neither
 * branch and is reported once, with the allowed values.
 */
export const detectionSchema = {
  type: 'object',
  properties: { model: { properties: { arch: oneOfValues(DETECTOR_ARCHS) } } },
  allOf: [
    { if: { properties: { model: { properties: { arch: { const: 'retinanet' } } } } }, then: retinanetDetectionSchema },
    {
      if: { required: ['model'], properties: { model: { type: 'object', required: ['arch'], properties: { arch: { const: 'faster_rcnn' } } } } },
      then: fasterRcnnDetectionSchema,
    },
  ],
} as const;

/** Where one split's images and masks are, relative to `data.root`. */
export const segmentationSplitSchema = obj({
  /**
   * List file: one image id a line (VOC `ImageSets/Segmentation/train.txt`: `<imagesDir>/<id><imageExt>` and
   * `<masksDir>/<id><maskExt>`), or `image mask` path pairs a line (CamVid/SegNet `val.txt`; absolute paths from
   * another machine are re-rooted under `root`). null: every mask file in `masksDir`, sorted.
   */
  list: { oneOf: [str, { type: 'null' }] },
  imagesDir: str,
  masksDir: str,
});

/** Semantic segmentation data (VOC layout or CamVid-style folders) and the torchvision segmentation transforms. */
export const segmentationDataSchema = obj({
  root: str,
  /** Key of `splits` used for training. */
  trainSplit: str,
  /** Key of `splits` used for evaluation (`resvision eval --split` overrides it). */
  valSplit: str,
  splits: { type: 'object', additionalProperties: segmentationSplitSchema, minProperties: 1 },
  /** Image extension with the dot (`.jpg` for VOC, `.png` for CamVid). */
  imageExt: str,
  maskExt: str,
  /** `index`: palette/grayscale samples are the classes; `rgb`: VOC colours looked up; `auto`: by the PNG's colour type. */
  maskEncoding: oneOfValues(['auto', 'index', 'rgb']),
  /** Mask value of ignored pixels in the files (VOC 255, CamVid 11); it counts for neither loss nor metric. */
  ignoreIndex: { type: 'integer', minimum: 0, maximum: 65535 },
  /** K class names (background first for VOC); null: VOC's 21 names when K = 21, else `class_<k>`. */
  classNames: { oneOf: [{ type: 'array', items: str, minItems: 1, uniqueItems: true }, { type: 'null' }] },
  /** Training: shorter side drawn uniformly in [min, max] (torchvision: 0.5x to 2x of base size 520). */
  trainShortEdge: obj({ min: sidePx, max: sidePx }),
  /** Training: square random crop, padded with 0 (image) and 255 (mask) when smaller. */
  trainCropSize: sidePx,
  /** Probability of a horizontal flip in training, 0..1. */
  flipProbability: { type: 'number', minimum: 0, maximum: 1 },
  /** Shorter side for evaluation and prediction at scale 1, pixels; null: the original size. */
  evalShortEdge: { oneOf: [sidePx, { type: 'null' }] },
});

/** Evaluation and prediction: predictions are always mapped back to the original image size. */
export const segmentationEvalSchema = obj({
  /** Multipliers of `data.evalShortEdge`; probabilities are averaged over scales. `[1]`: single scale. */
  scales: { type: 'array', items: posNum(16), minItems: 1 },
  /** Also predict the flipped image and average. */
  flip: bool,
  /** Sliding-window inference (windows of `cropSize`, every `stride` pixels); null: whole image. */
  slidingWindow: { oneOf: [obj({ cropSize: sidePx, stride: sidePx }), { type: 'null' }] },
});

/** Loop settings of a segmentation run: the shared ones plus the choice to skip the evaluation after the last step. */
export const segmentationTrainSchema = obj(
  {
    ...trainSchema.properties,
    /**
     * Evaluate on `data.valSplit` after the last step (default true; it runs after the final checkpoint is written).
     * `false` skips it (a whole-image pass over CamVid's val at the original size takes tens of minutes on a CPU);
     * the periodic evaluations every `evalEvery` iterations still run. `resvision train --no-eval` turns off both.
     */
    evalAtEnd: bool,
  },
  trainSchema.required,
);

/**
 * The backbone of a segmentation model: a torchvision ResNet by name, its normalization and frozen stages. Its
 * dilation follows from `model.outputStride` and its output levels from `model.aux`, so neither is stated here.
 */
export const segmentationBackboneSchema = obj({
  name: oneOfValues(BACKBONE_NAMES),
  normLayer: oneOfValues(['batch', 'frozen']),
  /** Backbone stages excluded from training (see `ResNetOptions.frozenStages`). */
  frozenStages: { type: 'integer', minimum: 0, maximum: 4 },
});

/**
 * The segmentation head, discriminated by `type`: torchvision's FCNHead or DeepLabHead (ASPP) on C5 of a dilated
 * ResNet, or Semantic FPN (Panoptic FPN's semantic branch, detectron2 `SemSegFPNHead`) on an FPN over C2..C5 of an
 * undilated one.
 */
export const segmentationHeadSchema = {
  type: 'object',
  required: ['type'],
  properties: { type: oneOfValues(['fcn', 'deeplabv3', 'semantic_fpn']) },
  allOf: [
    { if: { properties: { type: { const: 'fcn' } } }, then: obj({ type: { const: 'fcn' } }) },
    {
      if: { properties: { type: { const: 'deeplabv3' } } },
      then: obj({
        type: { const: 'deeplabv3' },
        /** ASPP dilations; null: [12, 24, 36] at output stride 8, [6, 12, 18] at 16. */
        atrousRates: { oneOf: [{ type: 'array', items: sidePx, minItems: 1 }, { type: 'null' }] },
      }),
    },
    {
      if: { properties: { type: { const: 'semantic_fpn' } } },
      then: obj({
        type: { const: 'semantic_fpn' },
        /** FPN output channels (P2..P5); detectron2 and mmsegmentation: 256. */
        fpnChannels: posInt(MAX_CHANNELS),
        /** Channels of the head's per-level towers (detectron2 `SEM_SEG_HEAD.CONVS_DIM`): 128. */
        convDims: posInt(MAX_CHANNELS),
        /** GroupNorm groups after each 3x3 convolution of the head (detectron2 norm "GN"): 32; must divide `convDims`. */
        numGroups: posInt(MAX_CHANNELS),
      }),
    },
  ],
} as const;

/**
 * What Semantic FPN requires of the rest of `model`: an undilated backbone (it reads C2..C5 at strides 4..32), no
 * auxiliary head, and no whole-model weights (torchvision publishes none). FCN and DeepLabV3 take output stride 8
 * or 16. A `$comment` is appended to the error of its key (`src/config/load.ts`).
 */
const segmentationModelRules = {
  if: { required: ['head'], properties: { head: { required: ['type'], properties: { type: { const: 'semantic_fpn' } } } } },
  then: {
    properties: {
      outputStride: { const: 32, $comment: 'semantic_fpn reads C2..C5 of an undilated ResNet' },
      aux: { const: false, $comment: 'semantic_fpn has no auxiliary head' },
      weights: {
        type: 'null',
        $comment: 'torchvision publishes no Semantic FPN weights: start from model.backboneWeights, an ImageNet ResNet, or resume a checkpoint',
      },
    },
  },
  else: { properties: { outputStride: { enum: [8, 16] } } },
} as const;

/**
 * A semantic segmentation run: `resvision train configs/segmentation/*.json` (FCN or DeepLabV3 on a dilated ResNet,
 * or Semantic FPN).
 */
export const segmentationSchema = obj(
  {
    task: { const: 'segmentation' },
    description,
    model: {
      ...obj({
        backbone: segmentationBackboneSchema,
        head: segmentationHeadSchema,
        /** Number of classes K, background included. */
        numClasses: posInt(MAX_SEGMENTATION_CLASSES),
        /** 8: layer3 and layer4 dilated (torchvision); 16: layer4 only; 32: undilated (semantic_fpn, which requires it). */
        outputStride: oneOfValues([8, 16, 32]),
        /** Auxiliary FCN head on C4 (torchvision `aux_loss`); false for semantic_fpn. */
        aux: bool,
        /** A torchvision `fcn_*` / `deeplabv3_*` state dict to start from; null = none (always null for semantic_fpn). */
        weights: { oneOf: [str, { type: 'null' }] },
        /** An ImageNet ResNet state dict for the backbone (torchvision `weights_backbone`); null = random init. */
        backboneWeights: { oneOf: [str, { type: 'null' }] },
      }),
      ...segmentationModelRules,
    },
    data: segmentationDataSchema,
    /**
     * Pixel cross-entropy (ignore index 255 after reading masks); `auxWeight` scales the auxiliary head's loss (unused
     * without one).
     */
    loss: obj({
      auxWeight: nonNegNum(MAX_RATE),
      classWeights: { oneOf: [{ type: 'array', items: nonNegNum(MAX_RATE), minItems: 1 }, { type: 'null' }] },
    }),
    eval: segmentationEvalSchema,
    /** SGD for every parameter; the auxiliary head's group steps with 10x the learning rate (torchvision's reference). */
    optimizer: optimizerSchema,
    schedule: scheduleSchema,
    train: segmentationTrainSchema,
  },
  ['task', 'model', 'data', 'loss', 'eval', 'optimizer', 'schedule', 'train'],
);
