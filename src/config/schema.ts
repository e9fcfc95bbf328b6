/**
 * JSON Schemas of the configs (draft-07, validated with Ajv). Every object forbids unknown keys, so a typo is an
 * error naming the key. The TypeScript interfaces in `types.ts` document each field.
 */
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

export const scheduleSchema = obj({
  maxIter: posInt,
  warmupIters: nonNegInt,
  warmupFactor: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
  policy: {
    type: 'object',
    required: ['type'],
    properties: { type: { enum: ['constant', 'step', 'multistep', 'cosine', 'poly'] } },
    allOf: [
      { if: { properties: { type: { const: 'constant' } } }, then: obj({ type: { const: 'constant' } }) },
      { if: { properties: { type: { const: 'step' } } }, then: obj({ type: { const: 'step' }, stepSize: posInt, gamma: posNum }) },
      {
        if: { properties: { type: { const: 'multistep' } } },
        then: obj({ type: { const: 'multistep' }, milestones: { type: 'array', items: posInt }, gamma: posNum }),
      },
      {
        if: { properties: { type: { const: 'cosine' } } },
        then: obj({ type: { const: 'cosine' }, minLrFactor: { type: 'number', minimum: 0, maximum: 1 } }),
      },
      { if: { properties: { type: { const: 'poly' } } }, then: obj({ type: { const: 'poly' }, power: posNum }) },
    ],
  },
});

export const trainSchema = obj({
  seed: { type: 'integer' },
  batchSize: posInt,
  numWorkers: posInt,
  logEvery: posInt,
  evalEvery: nonNegInt,
  checkpointEvery: nonNegInt,
  outputDir: str,
});

export const classificationSchema = obj({
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
});
