/**
 * Loading configs: JSON file → validated, typed config. Errors name the file, the JSON path and what is wrong.
 */
import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import * as fs from 'fs';
import * as path from 'path';
import { previewValue } from '../util/preview';
import { classificationSchema, detectionSchema, segmentationSchema } from './schema';
import type { ClassificationConfig, Config, DetectionConfig, SegmentationConfig } from './types';

// verbose: errors carry the offending value, so a bound violation can say what was given.
const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
/**
 * One validator per task. Each is a type guard for the type `FromSchema` derives from the same schema
 * (`types.ts`), so a validated value needs no cast.
 */
const validators = {
  classification: ajv.compile<ClassificationConfig>(classificationSchema),
  detection: ajv.compile<DetectionConfig>(detectionSchema),
  segmentation: ajv.compile<SegmentationConfig>(segmentationSchema),
} satisfies Record<Config['task'], ValidateFunction<Config>>;

/** An error in a config file; `message` names the file and every bad key. */
export class ConfigError extends Error {
  constructor(readonly file: string, readonly problems: string[]) {
    super(`${file}: invalid config:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** An error's text, with the `$comment` of the schema that failed when it has one (why a cross-key rule holds). */
function describe(e: ErrorObject): string {
  const why = (e.parentSchema as { $comment?: unknown } | undefined)?.$comment;
  const text = describeKeyword(e);
  return typeof why === 'string' ? `${text} (${why})` : text;
}

function describeKeyword(e: ErrorObject): string {
  const where = e.instancePath === '' ? '(top level)' : e.instancePath;
  switch (e.keyword) {
    case 'additionalProperties':
      return `${where}: unknown key '${(e.params as { additionalProperty: string }).additionalProperty}'`;
    case 'required':
      return `${where}: missing key '${(e.params as { missingProperty: string }).missingProperty}'`;
    case 'enum':
      return `${where}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `${where}: must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`;
    case 'maximum':
    case 'minimum':
    case 'exclusiveMaximum':
    case 'exclusiveMinimum': {
      // JSON.parse reads 1e999 as Infinity: say so rather than print a number the file does not contain.
      const v = e.data;
      const got = typeof v === 'number' && !Number.isFinite(v) ? `got ${v} (a number too large for float64, e.g. 1e999)` : `got ${previewValue(v)}`;
      return `${where}: ${e.message}, ${got}`;
    }
    default:
      return `${where}: ${e.message}`;
  }
}

/**
 * Largest float32 tensor a training batch may need, in bytes: the 4 GiB of the wasm backend's 32-bit heap. Each
 * size is bounded by the schema; their product (images x height x width x channels, and for segmentation the
 * full-resolution logits) is checked here, so an impossible batch is refused at load instead of failing inside a
 * typed-array allocation.
 */
export const MAX_BATCH_TENSOR_BYTES = 2 ** 32;

/** The input batch, the stem activation (and segmentation logits) the training loop will allocate, checked against the heap. */
function batchTensorProblems(cfg: Config): string[] {
  const n = cfg.train.batchSize;
  const tensors: { what: string; dims: number[]; keys: string }[] = [];
  switch (cfg.task) {
    case 'classification':
      tensors.push({ what: 'training input batch', dims: [n, cfg.data.trainCropSize, cfg.data.trainCropSize, 3], keys: 'train.batchSize or data.trainCropSize' });
      break;
    case 'segmentation': {
      const c = cfg.data.trainCropSize;
      tensors.push({ what: 'training input batch', dims: [n, c, c, 3], keys: 'train.batchSize or data.trainCropSize' });
      tensors.push({ what: 'training logits', dims: [n, c, c, cfg.model.numClasses], keys: 'train.batchSize, data.trainCropSize or model.numClasses' });
      break;
    }
    case 'detection': {
      // Resized so the shorter side is one of trainShortEdge and the longer at most trainMaxSize (torchvision's
      // GeneralizedRCNNTransform), so no image exceeds max(trainShortEdge) x trainMaxSize.
      const short = Math.max(...cfg.data.trainShortEdge);
      tensors.push({ what: 'training input batch', dims: [n, short, cfg.data.trainMaxSize, 3], keys: 'train.batchSize, data.trainShortEdge or data.trainMaxSize' });
      break;
    }
    default: {
      const never: never = cfg;
      return [`unknown task ${String((never as { task?: unknown }).task)}`];
    }
  }
  // Every ResNet's stem (conv1, stride 2) writes 64 channels at half the input size, the first and often the
  // largest activation of the forward pass: a batch whose stem output alone exceeds the heap cannot train.
  const input = tensors[0];
  tensors.push({
    what: 'stem activation (conv1 output)',
    dims: [input.dims[0], Math.ceil(input.dims[1] / 2), Math.ceil(input.dims[2] / 2), 64],
    keys: input.keys,
  });
  const problems: string[] = [];
  for (const t of tensors) {
    if (t === tensors[tensors.length - 1] && problems.length > 0) break; // the stem is implied by a too-large input
    const bytes = t.dims.reduce((a, b) => a * b, 4);
    if (bytes > MAX_BATCH_TENSOR_BYTES) {
      problems.push(
        `the ${t.what} [${t.dims.join(', ')}] float32 takes ${bytes} bytes, more than the ${MAX_BATCH_TENSOR_BYTES} (4 GiB) ` +
          `the wasm backend's heap can hold; lower ${t.keys}`,
      );
    }
  }
  return problems;
}

/**
 * For an invalid detection config without `model.arch` that has Faster R-CNN's keys (`rpn`, `roiHeads`): the line
 * saying it was read as a RetinaNet's, which the errors about RetinaNet keys that follow would otherwise leave unsaid.
 */
function detectorArchHint(raw: object): string | undefined {
  const model = (raw as { task?: unknown; model?: unknown }).model;
  if ((raw as { task?: unknown }).task !== 'detection' || model === null || typeof model !== 'object' || 'arch' in model) return undefined;
  if (!('rpn' in model) && !('roiHeads' in model)) return undefined;
  return `/model: no 'arch', so it is read as a RetinaNet config; a Faster R-CNN config says "arch": "faster_rcnn"`;
}

/** Whether `task` names a config kind. */
function isTask(task: unknown): task is Config['task'] {
  return typeof task === 'string' && Object.hasOwn(validators, task);
}

/**
 * Validate a parsed config object.
 * @param source the file name used in error messages.
 * @throws ConfigError listing every problem (unknown keys, wrong types, values out of range, a training batch
 *   larger than {@link MAX_BATCH_TENSOR_BYTES}).
 */
export function validateConfig(raw: unknown, source: string): Config {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(source, ['the config must be a JSON object']);
  }
  const task = (raw as { task?: unknown }).task;
  if (!isTask(task)) {
    throw new ConfigError(source, [`/task: must be one of ${Object.keys(validators).map((t) => `"${t}"`).join(', ')}, got ${previewValue(task)}`]);
  }
  const validate: ValidateFunction<Config> = validators[task];
  let config: Config | undefined;
  try {
    if (validate(raw)) config = raw;
  } catch (e) {
    // Ajv's uniqueItems compares values recursively; a value nested thousands of levels deep overflows the stack.
    if (e instanceof RangeError) throw new ConfigError(source, [`a value is nested too deeply to validate (${e.message})`]);
    throw e;
  }
  if (config === undefined) {
    // Ajv reports failed if/then branches twice: keep the specific errors.
    const problems = [...new Set((validate.errors ?? []).filter((e) => e.keyword !== 'if').map(describe))];
    const hint = detectorArchHint(raw);
    throw new ConfigError(source, hint ? [hint, ...problems] : problems);
  }
  const tooLarge = batchTensorProblems(config);
  if (tooLarge.length > 0) throw new ConfigError(source, tooLarge);
  return config;
}

/**
 * Read and validate a JSON config file. Relative data paths in the config stay relative to the working
 * directory (as in detectron2 and mmdetection).
 * @param overrides `key=value` strings (`--set`, see {@link applyOverride}) applied in order before validation.
 * @throws Error when the file is missing or not JSON or an override is malformed; ConfigError when invalid (the
 *   source then names the overrides too).
 */
export function loadConfig(file: string, overrides: readonly string[] = []): Config {
  if (!fs.existsSync(file)) {
    throw new Error(`config file not found: ${file} (the bundled configs are in configs/<task>/*.json)`);
  }
  let raw: unknown;
  const bytes = fs.readFileSync(file);
  // A safetensors checkpoint starts with its header's length (8 bytes, little-endian) and then '{"'.
  if (bytes.length >= 10 && bytes[8] === 0x7b && bytes[9] === 0x22 && bytes.readBigUInt64LE(0) < BigInt(bytes.length)) {
    throw new Error(`${file} is a checkpoint (safetensors), not a JSON config: this command takes a config (configs/<task>/*.json); \`resvision predict\` also takes a checkpoint first`);
  }
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new ConfigError(file, [`not valid JSON: ${(e as Error).message.slice(0, 200)}`]);
  }
  for (const o of overrides) applyOverride(raw, o);
  return validateConfig(raw, overrides.length > 0 ? `${path.normalize(file)} with --set ${overrides.join(' ')}` : path.normalize(file));
}

/**
 * Apply one `--set key=value` to a parsed config before validation: `key` is a dotted path of existing object keys
 * (`train.batchSize`, `model.backbone.frozenStages`; the last key may be new, and the schema then refuses it if
 * unknown); `value` is read as JSON (`4`, `0.02`, `true`, `null`, `[800, 1333]`, `"x"`), else taken as a string
 * (`data.root=/data/coco`). The schema validates the result, so a wrong type or bound is the usual error naming the
 * key.
 * @throws Error naming the override when it has no `=`, an empty key, or a path through a missing key or a
 *   non-object.
 */
export function applyOverride(raw: unknown, override: string): void {
  const eq = override.indexOf('=');
  if (eq <= 0) throw new Error(`--set ${override}: expected key=value with a dotted key, e.g. train.batchSize=4`);
  const keys = override.slice(0, eq).split('.');
  const text = override.slice(eq + 1);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = text;
  }
  let node = raw as Record<string, unknown>;
  for (let i = 0; i < keys.length - 1; i++) {
    const next = typeof node === 'object' && node !== null ? node[keys[i]] : undefined;
    if (typeof next !== 'object' || next === null || Array.isArray(next)) {
      const at = keys.slice(0, i + 1).join('.');
      throw new Error(`--set ${override}: the config has no object at '${at}'${next === undefined ? '' : ` (it holds ${JSON.stringify(next)})`}`);
    }
    node = next as Record<string, unknown>;
  }
  const last = keys[keys.length - 1];
  if (!last || keys.some((k) => k === '')) throw new Error(`--set ${override}: empty key in '${override.slice(0, eq)}'`);
  node[last] = value;
}

/** Learning rate after linear scaling: `baseLr * batchSize / baseBatchSize` (Goyal et al. 2017). */
export function scaledLr(cfg: { optimizer: { baseLr: number; baseBatchSize: number }; train: { batchSize: number } }): number {
  return (cfg.optimizer.baseLr * cfg.train.batchSize) / cfg.optimizer.baseBatchSize;
}
