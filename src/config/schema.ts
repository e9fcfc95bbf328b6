/**
 * JSON Schemas of the configs (draft-07, validated with Ajv). Every object forbids unknown keys, so a typo is an
 * error naming the key. The TypeScript interfaces in `types.ts` document each field.
 */
import { SEGMENTATION_MODELS } from '../../heads/segmentation/model';
import { BACKBONE_NAMES } from '../backbone/resnet';

const num = { type: 'number' } as const;
const posNum = { type: 'number', exclusiveMinimum: 0 } as const;
const nonNegNum = { type: 'number', minimum: 0 } as const;
const posInt = { type: 'integer', minimum: 1 } as const;
const nonNegInt = { type: 'integer', minimum: 0 } as const;
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
  baseLr: posNum,
  baseBatchSize: posInt,
  momentum: { type: 'number', minimum: 0, maximum: 1 },
  nesterov: bool,
  weightDecay: nonNegNum,
  weightDecayMode: { enum: ['coupled', 'decoupled'] },
  normWeightDecay: { oneOf: [nonNegNum, { type: 'null' }] },
  gradClipNorm: { oneOf: [posNum, { type: 'null' }] },
});

const fraction01 = { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 } as const;

export const scheduleSchema = obj(
  {
    maxIter: posInt,
    warmup: obj(
      { iters: nonNegInt, factor: { type: 'number', exclusiveMinimum: 0, maximum: 1 }, method: { enum: ['linear', 'constant'] } },
      ['iters', 'factor'],
    ),
    main: {
      type: 'object',
      required: ['kind'],
      properties: { kind: { enum: ['constant', 'step', 'multistep', 'cosine', 'poly'] } },
      allOf: [
        { if: { properties: { kind: { const: 'constant' } } }, then: obj({ kind: { const: 'constant' } }) },
        { if: { properties: { kind: { const: 'step' } } }, then: obj({ kind: { const: 'step' }, stepSize: posInt, gamma: posNum }) },
        {
          if: { properties: { kind: { const: 'multistep' } } },
          then: obj(
            {
              kind: { const: 'multistep' },
              gamma: posNum,
              milestones: { type: 'array', items: posInt },
              milestoneFractions: { type: 'array', items: fraction01 },
            },
            ['kind', 'gamma'],
          ),
        },
        { if: { properties: { kind: { const: 'cosine' } } }, then: obj({ kind: { const: 'cosine' }, minLr: nonNegNum }, ['kind']) },
        {
          if: { properties: { kind: { const: 'poly' } } },
          then: obj({ kind: { const: 'poly' }, power: posNum, minLr: nonNegNum }, ['kind']),
        },
      ],
    },
  },
  ['maxIter', 'main'],
);

export const trainSchema = obj({
  seed: { type: 'integer' },
  batchSize: posInt,
  numWorkers: posInt,
  logEvery: posInt,
  evalEvery: nonNegInt,
  checkpointEvery: nonNegInt,
  outputDir: str,
});

export const classificationSchema = describable(obj({
  task: { const: 'classification' },
  model: obj({
    backbone: backboneSchema,
    numClasses: { oneOf: [posInt, { type: 'null' }] },
    weights: { oneOf: [str, { type: 'null' }] },
  }),
  data: obj({
    root: str,
    trainSplit: str,
    valSplit: str,
    trainCropSize: posInt,
    evalResizeSize: posInt,
    evalCropSize: posInt,
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
  trainShortEdge: { type: 'array', items: posInt, minItems: 1 },
  trainMaxSize: posInt,
  evalShortEdge: posInt,
  evalMaxSize: posInt,
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
    fpn: obj({ inLevels: levelList(['C2', 'C3', 'C4', 'C5']), channels: posInt, p6p7Source: { enum: ['P5', 'C5'] } }),
    anchors: obj({
      sizes: { type: 'array', items: { type: 'array', items: posNum, minItems: 1 }, minItems: 1 },
      aspectRatios: { type: 'array', items: posNum, minItems: 1 },
    }),
    matcher: obj({ fgIouThresh: { type: 'number', minimum: 0, maximum: 1 }, bgIouThresh: { type: 'number', minimum: 0, maximum: 1 } }),
    postprocess: obj({
      scoreThresh: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
      topkCandidates: posInt,
      nmsThresh: { type: 'number', minimum: 0, maximum: 1 },
      detectionsPerImage: posInt,
    }),
    weights: { oneOf: [str, { type: 'null' }] },
  }),
  data: detectionDataSchema,
  loss: obj({
    focalAlpha: { type: 'number', minimum: 0, maximum: 1 },
    focalGamma: nonNegNum,
    boxLoss: {
      oneOf: [obj({ kind: { const: 'l1' } }), obj({ kind: { const: 'smoothL1' }, beta: posNum }), obj({ kind: { const: 'giou' } })],
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
      numClasses: posInt,
      outputStride: { enum: [8, 16] },
      aux: bool,
      normLayer: { enum: ['batch', 'frozen'] },
      frozenStages: { type: 'integer', minimum: 0, maximum: 4 },
      atrousRates: { oneOf: [{ type: 'array', items: posInt, minItems: 1 }, { type: 'null' }] },
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
      trainShortEdge: obj({ min: posInt, max: posInt }),
      trainCropSize: posInt,
      flipProbability: { type: 'number', minimum: 0, maximum: 1 },
      evalShortEdge: { oneOf: [posInt, { type: 'null' }] },
    }),
    loss: obj({ auxWeight: nonNegNum, classWeights: { oneOf: [{ type: 'array', items: nonNegNum, minItems: 1 }, { type: 'null' }] } }),
    eval: obj({
      scales: { type: 'array', items: posNum, minItems: 1 },
      flip: bool,
      slidingWindow: { oneOf: [obj({ cropSize: posInt, stride: posInt }), { type: 'null' }] },
    }),
    optimizer: optimizerSchema,
    schedule: scheduleSchema,
    train: obj({ ...trainSchema.properties, evalAtEnd: bool }, [...trainSchema.required]),
  },
  ['task', 'model', 'data', 'loss', 'eval', 'optimizer', 'schedule', 'train'],
);
