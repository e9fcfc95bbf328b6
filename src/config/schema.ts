/**
 * JSON Schemas of the configs (draft-07, validated with Ajv). Every object forbids unknown keys, so a typo is an
 * error naming the key. The TypeScript interfaces in `types.ts` document each field.
 *
 * Every number has an upper bound. `JSON.parse` reads `1e999` as Infinity, which passes `type: 'integer'` and any
 * minimum, and a schema-valid but absurd size (`trainCropSize: 100000`, `fpn.channels: 64000000`) would otherwise
 * fail deep inside an allocation. The bounds are far above any published recipe and say where the limit comes from.
 */
import { SEGMENTATION_MODELS } from '../../heads/segmentation/model';
import { BACKBONE_NAMES } from '../backbone/resnet';

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

function obj(properties: Record<string, unknown>, required: string[] = Object.keys(properties)) {
  return { type: 'object', properties, required, additionalProperties: false };
}

/** A task schema that also accepts an optional top-level free-text `description`. */
function describable<T extends { properties: Record<string, unknown> }>(schema: T): T {
  return { ...schema, properties: { ...schema.properties, description: { type: 'string' } } };
}

export const backboneSchema = obj(
  {
    name: { enum: BACKBONE_NAMES },
    normLayer: { enum: ['batch', 'frozen'] },
    frozenStages: { type: 'integer', minimum: 0, maximum: 4 },
    zeroInitResidual: bool,
    replaceStrideWithDilation: { type: 'array', items: bool, minItems: 3, maxItems: 3 },
    outLevels: { type: 'array', items: { enum: ['C2', 'C3', 'C4', 'C5'] }, minItems: 1, uniqueItems: true },
  },
  ['name', 'normLayer', 'frozenStages', 'zeroInitResidual', 'replaceStrideWithDilation'],
);

export const optimizerSchema = obj({
  type: { const: 'sgd' },
  baseLr: posNum(MAX_RATE),
  baseBatchSize: posInt(MAX_BASE_BATCH_SIZE),
  momentum: { type: 'number', minimum: 0, maximum: 1 },
  nesterov: bool,
  weightDecay: nonNegNum(MAX_RATE),
  weightDecayMode: { enum: ['coupled', 'decoupled'] },
  normWeightDecay: { oneOf: [nonNegNum(MAX_RATE), { type: 'null' }] },
  gradClipNorm: { oneOf: [posNum(MAX_RATE), { type: 'null' }] },
});

const fraction01 = { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 } as const;

export const scheduleSchema = obj(
  {
    maxIter: iterations,
    warmup: obj(
      { iters: period, factor: { type: 'number', exclusiveMinimum: 0, maximum: 1 }, method: { enum: ['linear', 'constant'] } },
      ['iters', 'factor'],
    ),
    main: {
      type: 'object',
      required: ['kind'],
      properties: { kind: { enum: ['constant', 'step', 'multistep', 'cosine', 'poly'] } },
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
  },
  ['maxIter', 'main'],
);

export const trainSchema = obj({
  // Per-step seeds mix the seed as a 32-bit integer (engine/trainer.ts stepSeed).
  seed: { type: 'integer', minimum: 0, maximum: 2 ** 32 - 1 },
  batchSize: posInt(MAX_BATCH_SIZE),
  numWorkers: posInt(256),
  logEvery: iterations,
  evalEvery: period,
  checkpointEvery: period,
  outputDir: str,
});

export const classificationSchema = describable(obj({
  task: { const: 'classification' },
  model: obj({
    backbone: backboneSchema,
    numClasses: { oneOf: [posInt(MAX_CLASSIFICATION_CLASSES), { type: 'null' }] },
    weights: { oneOf: [str, { type: 'null' }] },
  }),
  data: obj({
    root: str,
    trainSplit: str,
    valSplit: str,
    trainCropSize: sidePx,
    evalResizeSize: sidePx,
    evalCropSize: sidePx,
  }),
  loss: obj({ labelSmoothing: { type: 'number', minimum: 0, exclusiveMaximum: 1 } }),
  optimizer: optimizerSchema,
  schedule: scheduleSchema,
  train: trainSchema,
}));

const levelList = (levels: string[]) => ({ type: 'array', items: { enum: levels }, minItems: 1, uniqueItems: true });
const detectionDataCommon = {
  root: str,
  trainSplit: str,
  valSplit: str,
  classes: { oneOf: [{ type: 'array', items: str, minItems: 1, uniqueItems: true }, { type: 'null' }] },
  trainShortEdge: { type: 'array', items: sidePx, minItems: 1 },
  trainMaxSize: sidePx,
  evalShortEdge: sidePx,
  evalMaxSize: sidePx,
  flipProbability: { type: 'number', minimum: 0, maximum: 1 },
  filterEmpty: bool,
};

export const detectionDataSchema = {
  type: 'object',
  required: ['format'],
  properties: { format: { enum: ['coco', 'voc'] } },
  allOf: [
    {
      if: { properties: { format: { const: 'coco' } } },
      then: obj({ format: { const: 'coco' }, ...detectionDataCommon, annotationsDir: str, imagesDir: { oneOf: [str, { type: 'null' }] } }),
    },
    {
      if: { properties: { format: { const: 'voc' } } },
      then: obj(
        { format: { const: 'voc' }, ...detectionDataCommon, annotationsDir: str, imagesDir: str, imageExt: str, use07Metric: bool, unknownClasses: { enum: ['error', 'skip'] } },
        ['format', ...Object.keys(detectionDataCommon), 'annotationsDir', 'imagesDir', 'imageExt', 'use07Metric'],
      ),
    },
  ],
};

export const detectionSchema = describable(obj({
  task: { const: 'detection' },
  model: obj({
    backbone: backboneSchema,
    fpn: obj({ inLevels: levelList(['C2', 'C3', 'C4', 'C5']), channels: posInt(MAX_CHANNELS), p6p7Source: { enum: ['P5', 'C5'] } }),
    anchors: obj({
      sizes: { type: 'array', items: { type: 'array', items: posNum(MAX_IMAGE_SIDE_PX), minItems: 1 }, minItems: 1 },
      aspectRatios: { type: 'array', items: posNum(1000), minItems: 1 },
    }),
    matcher: obj({ fgIouThresh: { type: 'number', minimum: 0, maximum: 1 }, bgIouThresh: { type: 'number', minimum: 0, maximum: 1 } }),
    postprocess: obj({
      scoreThresh: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
      topkCandidates: posInt(1_000_000),
      nmsThresh: { type: 'number', minimum: 0, maximum: 1 },
      detectionsPerImage: posInt(100_000),
    }),
    weights: { oneOf: [str, { type: 'null' }] },
  }),
  data: detectionDataSchema,
  loss: obj({
    focalAlpha: { type: 'number', minimum: 0, maximum: 1 },
    focalGamma: nonNegNum(MAX_RATE),
    boxLoss: {
      oneOf: [obj({ kind: { const: 'l1' } }), obj({ kind: { const: 'smoothL1' }, beta: posNum(MAX_RATE) }), obj({ kind: { const: 'giou' } })],
    },
  }),
  predict: obj({ scoreThresh: { type: 'number', minimum: 0, maximum: 1 } }),
  optimizer: optimizerSchema,
  schedule: scheduleSchema,
  train: trainSchema,
}));

const segmentationSplitSchema = obj({ list: { oneOf: [str, { type: 'null' }] }, imagesDir: str, masksDir: str });

export const segmentationSchema = obj(
  {
    task: { const: 'segmentation' },
    description: { type: 'string' },
    model: obj({
      name: { enum: Object.keys(SEGMENTATION_MODELS) },
      numClasses: posInt(MAX_SEGMENTATION_CLASSES),
      outputStride: { enum: [8, 16] },
      aux: bool,
      normLayer: { enum: ['batch', 'frozen'] },
      frozenStages: { type: 'integer', minimum: 0, maximum: 4 },
      atrousRates: { oneOf: [{ type: 'array', items: sidePx, minItems: 1 }, { type: 'null' }] },
      weights: { oneOf: [str, { type: 'null' }] },
      backboneWeights: { oneOf: [str, { type: 'null' }] },
    }),
    data: obj({
      root: str,
      trainSplit: str,
      valSplit: str,
      splits: { type: 'object', additionalProperties: segmentationSplitSchema, minProperties: 1 },
      imageExt: str,
      maskExt: str,
      maskEncoding: { enum: ['auto', 'index', 'rgb'] },
      ignoreIndex: { type: 'integer', minimum: 0, maximum: 65535 },
      classNames: { oneOf: [{ type: 'array', items: str, minItems: 1, uniqueItems: true }, { type: 'null' }] },
      trainShortEdge: obj({ min: sidePx, max: sidePx }),
      trainCropSize: sidePx,
      flipProbability: { type: 'number', minimum: 0, maximum: 1 },
      evalShortEdge: { oneOf: [sidePx, { type: 'null' }] },
    }),
    loss: obj({
      auxWeight: nonNegNum(MAX_RATE),
      classWeights: { oneOf: [{ type: 'array', items: nonNegNum(MAX_RATE), minItems: 1 }, { type: 'null' }] },
    }),
    eval: obj({
      scales: { type: 'array', items: posNum(16), minItems: 1 },
      flip: bool,
      slidingWindow: { oneOf: [obj({ cropSize: sidePx, stride: sidePx }), { type: 'null' }] },
    }),
    optimizer: optimizerSchema,
    schedule: scheduleSchema,
    train: obj({ ...trainSchema.properties, evalAtEnd: bool }, [...trainSchema.required]),
  },
  ['task', 'model', 'data', 'loss', 'eval', 'optimizer', 'schedule', 'train'],
);
