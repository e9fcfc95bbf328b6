/**
 * Evaluation in shards: `resvision eval --shard k/N --out DIR` evaluates image i of the split when i mod N = k
 * (`src/common/shard.ts`) and writes the evaluator's state to `DIR/eval-part-<k>-of-<N>.json`; `resvision merge`
 * reads the N parts, refuses a set that is not exactly shards 0..N-1 of one evaluation, adds the states into one
 * evaluator built as one run builds it, and prints the report of one run: the same numbers, bit for bit (see
 * `MergeableEvaluator` in `datasets/evaluator.ts`).
 *
 * Prediction in shards works the same way: `resvision predict --shard k/N --out DIR` predicts image i of its
 * (expanded, sorted) image list when i mod N = k and writes the per-image predictions to
 * `DIR/predict-part-<k>-of-<N>.json`; `resvision merge` interleaves the N lists back into list order and prints what
 * one `predict --json` run prints, character for character.
 *
 * A part states what it is (task, the resolved config and its SHA-256, the model file's SHA-256, the split, k, N and
 * its image count), so that parts of another config, model or split are told apart from a missing or repeated
 * shard. This module loads no tensor library: `merge` runs anywhere the ground truth can be read.
 *
 * Reference: detectron2 `evaluation/coco_evaluation.py` (`COCOEvaluator.evaluate`: per-process predictions gathered
 * to one process, then evaluated once), torchvision `references/detection/coco_eval.py`
 * (`CocoEvaluator.synchronize_between_processes`).
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { DetectionEvaluator, type DetectionState } from '../../datasets/detection_evaluator';
import { formatSplitIssues, loadDetectionSplit } from '../../datasets/detection_split';
import { ClassificationEvaluator, type ClassificationState } from '../../datasets/image_folder/classification_eval';
import type { SegmentationState } from '../../datasets/voc/miou';
import { SegmentationEvaluator } from '../../datasets/voc/segmentation_evaluator';
import { writeJsonAtomic } from '../common/atomic_write';
import type { LogSink } from '../common/log';
import { formatShard, shardIndices, type Shard } from '../common/shard';
import type { Config } from '../config/types';
import { detectionEvaluationReport } from './detection_report';
import type { ModelSource } from './task';

/** The `format` field of a part file. */
export const EVAL_PART_FORMAT = 'resvision-eval-part';

/** The `format` field of a prediction part file. */
export const PREDICT_PART_FORMAT = 'resvision-predict-part';

/** What a part is: everything that must agree between the parts of one evaluation, and which shard it holds. */
export interface EvalPartHeader {
  format: typeof EVAL_PART_FORMAT;
  version: 1;
  task: Config['task'];
  /** The resolved config (after `--data`, `--split`, `--set`), as the evaluation ran it. */
  config: Config;
  /** SHA-256 of `JSON.stringify(config)`, hex. */
  configSha256: string;
  /** The model evaluated: `--checkpoint`, `--weights` or `--onnx`, the file's name and SHA-256 (hex). */
  model: { source: 'checkpoint' | 'weights' | 'onnx'; file: string; sha256: string };
  /** The split evaluated (`data.valSplit`). */
  split: string;
  shard: Shard;
  /** Images of the split in this shard. */
  numImages: number;
  /** Images in the split. */
  totalImages: number;
  /**
   * Classification, segmentation: the K class names of the evaluator. Detection: the class list the split was
   * listed with (the checkpoint's classes; `data.classes` or null, all of the split's, for `--weights`).
   */
  classes: string[] | null;
}

/** A part file's content: its header and the evaluator's state. */
export type EvalPart =
  | (EvalPartHeader & { task: 'classification'; state: ClassificationState })
  | (EvalPartHeader & { task: 'segmentation'; state: SegmentationState })
  | (EvalPartHeader & { task: 'detection'; state: DetectionState });

/** One image's predictions as `predict --json` prints them (the task's record: classes, boxes or class fractions). */
export type ImagePredictionRecord = { file: string } & Record<string, unknown>;

/** A prediction part file's content. */
export interface PredictPart {
  format: typeof PREDICT_PART_FORMAT;
  version: 1;
  task: Config['task'];
  /** The resolved config (after `--set` and `--score-thresh`), as the prediction ran it. */
  config: Config;
  /** SHA-256 of `JSON.stringify(config)`, hex. */
  configSha256: string;
  /** The model: `--checkpoint` (or a checkpoint as the first argument), `--weights` or `--onnx`, name and SHA-256. */
  model: EvalPartHeader['model'];
  shard: Shard;
  /** Images of the list in this shard. */
  numImages: number;
  /** Images in the whole list (after folders are expanded). */
  totalImages: number;
  /** SHA-256 of `JSON.stringify(list)`, the whole image list in order, hex: the list every shard split. */
  imagesSha256: string;
  /** The shard's images' predictions, in list order, as `predict --json` prints them. */
  predictions: ImagePredictionRecord[];
}

/** `eval-part-<k>-of-<N>.json`. */
export function evalPartFileName(s: Shard): string {
  return `eval-part-${s.index}-of-${s.count}.json`;
}

/** `predict-part-<k>-of-<N>.json`. */
export function predictPartFileName(s: Shard): string {
  return `predict-part-${s.index}-of-${s.count}.json`;
}

const PART_FILE = /^(eval|predict)-part-\d+-of-\d+\.json$/;

/** SHA-256 of a file, hex, read in chunks. */
async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** SHA-256 of the config as it is serialized into a part. */
function configSha256(cfg: Config): string {
  return createHash('sha256').update(JSON.stringify(cfg)).digest('hex');
}

/** The model a part was computed with: the kind of source, the file's name and SHA-256. */
async function modelOf(source: ModelSource): Promise<EvalPartHeader['model']> {
  const kind = 'checkpoint' in source ? 'checkpoint' : 'weights' in source ? 'weights' : 'onnx';
  const modelFile = 'checkpoint' in source ? source.checkpoint : 'weights' in source ? source.weights : source.onnx;
  return { source: kind as EvalPartHeader['model']['source'], file: path.basename(modelFile), sha256: await sha256File(modelFile) };
}

/** What a task passes to {@link writeEvalPart} about its shard. */
export interface ShardRun {
  shard: Shard;
  numImages: number;
  totalImages: number;
  classes: string[] | null;
}

/**
 * Write the part of shard `run.shard` of an evaluation atomically to `outDir/eval-part-<k>-of-<N>.json`.
 * @param state the evaluator's `exportState()`.
 * @returns the line `eval` prints: the file, the shard and its images.
 * @throws Error naming the file when it cannot be written.
 */
export async function writeEvalPart(
  cfg: Config,
  source: ModelSource,
  outDir: string,
  run: ShardRun,
  state: ClassificationState | SegmentationState | DetectionState,
): Promise<string> {
  const part = {
    format: EVAL_PART_FORMAT,
    version: 1,
    task: cfg.task,
    config: cfg,
    configSha256: configSha256(cfg),
    model: await modelOf(source),
    split: cfg.data.valSplit,
    shard: run.shard,
    numImages: run.numImages,
    totalImages: run.totalImages,
    classes: run.classes,
    state,
  } as EvalPart;
  const file = path.join(outDir, evalPartFileName(run.shard));
  await writeJsonAtomic(file, part);
  return `wrote ${file} (shard ${formatShard(run.shard)}: ${run.numImages} of ${run.totalImages} images of split ${cfg.data.valSplit}); combine the ${run.shard.count} parts with \`resvision merge\``;
}

/**
 * The `outDir` of a sharded run.
 * @param command `eval` or `predict`, named in the error.
 * @throws Error when absent (the part has nowhere to go).
 */
export function requireOutDir(opts: { outDir?: string; shard?: Shard }, command: 'eval' | 'predict' = 'eval'): string {
  if (opts.outDir === undefined) throw new Error(`${command} --shard ${opts.shard ? formatShard(opts.shard) : ''}: give --out DIR, the folder the part is written to`);
  return opts.outDir;
}

/**
 * The part files named by `args`: files as given, folders searched (not recursively) for
 * `eval-part-<k>-of-<N>.json` and `predict-part-<k>-of-<N>.json`.
 */
function partFiles(args: readonly string[]): string[] {
  const files: string[] = [];
  for (const a of args) {
    if (!fs.existsSync(a)) throw new Error(`merge: ${a} not found (give part files or the folders \`resvision eval|predict --shard k/N --out DIR\` wrote them to)`);
    if (!fs.statSync(a).isDirectory()) {
      files.push(a);
      continue;
    }
    const found = fs.readdirSync(a).filter((f) => PART_FILE.test(f)).sort().map((f) => path.join(a, f));
    if (found.length === 0) throw new Error(`merge: the folder ${a} holds no eval-part-<k>-of-<N>.json or predict-part-<k>-of-<N>.json`);
    files.push(...found);
  }
  return files;
}

/** Read and check one part file, of either kind. @throws Error naming the file when it is not a part. */
function readPart(file: string): EvalPart | PredictPart {
  let v: unknown;
  try {
    v = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`merge: ${file}: not readable as JSON (${(e as Error).message})`);
  }
  const p = v as (Partial<EvalPart> & Partial<PredictPart>) | null;
  if (!p || typeof p !== 'object' || (p.format !== EVAL_PART_FORMAT && p.format !== PREDICT_PART_FORMAT)) {
    throw new Error(
      `merge: ${file}: not an evaluation part or a prediction part (no "format": "${EVAL_PART_FORMAT}" or "${PREDICT_PART_FORMAT}"; parts are written by \`resvision eval|predict --shard k/N --out DIR\`)`,
    );
  }
  if (p.version !== 1) throw new Error(`merge: ${file}: part version ${String(p.version)}, this resvision reads version 1`);
  const s = p.shard;
  const content = p.format === EVAL_PART_FORMAT ? p.state : p.predictions;
  if (!s || !Number.isInteger(s.index) || !Number.isInteger(s.count) || s.index < 0 || s.index >= s.count || !content || !p.config || !p.model) {
    const what = p.format === EVAL_PART_FORMAT ? 'state' : 'predictions';
    throw new Error(`merge: ${file}: incomplete part (shard, config, model or ${what} missing or invalid)`);
  }
  if (p.format === PREDICT_PART_FORMAT && (!Array.isArray(p.predictions) || typeof p.imagesSha256 !== 'string')) {
    throw new Error(`merge: ${file}: incomplete part (predictions not a list, or imagesSha256 missing)`);
  }
  return p as EvalPart | PredictPart;
}

/** Read the parts named by `args`. @throws as {@link readPart}; Error naming two files when evaluation and prediction parts are mixed. */
function readParts(args: readonly string[]): { file: string; part: EvalPart | PredictPart }[] {
  const parts = partFiles(args).map((file) => ({ file, part: readPart(file) }));
  const other = parts.find((p) => p.part.format !== parts[0].part.format);
  if (other) {
    const kind = (p: EvalPart | PredictPart) => (p.format === EVAL_PART_FORMAT ? 'an evaluation part' : 'a prediction part');
    throw new Error(`merge: ${parts[0].file} is ${kind(parts[0].part)} but ${other.file} is ${kind(other.part)}; merge the parts of one run`);
  }
  return parts;
}

/** What every part says about its shard. */
interface ShardedPart {
  shard: Shard;
  numImages: number;
  totalImages: number;
}

/**
 * Check that `parts` are exactly shards 0..N-1 of one run: equal `keys` (else an error naming what differs and the
 * two files), no shard twice, none missing, image counts adding up to the whole.
 * @param runs 'evaluations' or 'predict runs', in the message on a difference.
 * @param whole the whole the counts add up to, in the message ('split val', 'the image list').
 * @returns the parts in shard order.
 */
function checkShardSet<P extends ShardedPart>(
  parts: { file: string; part: P }[],
  keys: [string, (p: P) => string][],
  runs: string,
  whole: (p: P) => string,
): { file: string; part: P }[] {
  const first = parts[0];
  for (const { file, part } of parts.slice(1)) {
    for (const [what, get] of keys) {
      if (get(part) !== get(first.part)) {
        throw new Error(`merge: ${first.file} and ${file} are parts of different ${runs}: ${what} ${get(first.part)} vs ${get(part)}`);
      }
    }
  }
  const files = parts.map((p) => p.file);
  const n = first.part.shard.count;
  const byIndex = new Map<number, string>();
  for (const { file, part } of parts) {
    const other = byIndex.get(part.shard.index);
    if (other !== undefined) throw new Error(`merge: shard ${formatShard(part.shard)} is given twice: ${other} and ${file}`);
    byIndex.set(part.shard.index, file);
  }
  const missing = Array.from({ length: n }, (_, k) => k).filter((k) => !byIndex.has(k));
  if (missing.length > 0) {
    throw new Error(`merge: shard${missing.length > 1 ? 's' : ''} ${missing.map((k) => `${k}/${n}`).join(', ')} missing; given: ${files.join(', ')}`);
  }
  const images = parts.reduce((a, p) => a + p.part.numImages, 0);
  if (images !== first.part.totalImages) {
    throw new Error(`merge: the parts hold ${images} images but ${whole(first.part)} has ${first.part.totalImages}: ${files.join(', ')}`);
  }
  return [...parts].sort((a, b) => a.part.shard.index - b.part.shard.index);
}

/**
 * Read the parts named by `args` and check that they are exactly shards 0..N-1 of one evaluation.
 * @returns the parts in shard order, with their files.
 * @throws one Error naming the files: a file that is not a part; parts that differ in task, config, model, split or
 *   N (naming what differs); a shard given twice; shards missing (naming them and the parts given); image counts
 *   that do not add up to the split; prediction parts among them.
 */
export function readEvalParts(args: readonly string[]): { file: string; part: EvalPart }[] {
  return checkEvalParts(readParts(args));
}

function checkEvalParts(parts: { file: string; part: EvalPart | PredictPart }[]): { file: string; part: EvalPart }[] {
  if (parts[0].part.format !== EVAL_PART_FORMAT) throw new Error(`merge: ${parts[0].file} is a prediction part, not an evaluation part`);
  return checkShardSet(
    parts as { file: string; part: EvalPart }[],
    [
      ['task', (p) => p.task],
      ['split', (p) => p.split],
      ['shard count N', (p) => String(p.shard.count)],
      ['config (SHA-256)', (p) => p.configSha256],
      ['model (SHA-256)', (p) => `${p.model.source} ${p.model.sha256}`],
      ['split size', (p) => String(p.totalImages)],
    ],
    'evaluations',
    (p) => `split ${p.split}`,
  );
}

/** Options of {@link mergeEvalParts}. */
export interface MergeOptions {
  /**
   * Detection: write the COCO results (and the VOC ground truth as COCO) here, as `eval --out` does; of prediction
   * parts, `detections.json`, as `predict --out` does.
   */
  outDir?: string;
  /** Where notes go (detection: annotation problems fixed while listing the split again). */
  log?: LogSink;
}

/**
 * Merge shards 0..N-1 of one evaluation (see {@link readEvalParts}) and return the report one `resvision eval` run
 * prints: the states are added into one evaluator built as that run builds it (detection: on the split listed again
 * from the config in the parts, so its ground truth must be readable here).
 * @throws as {@link readEvalParts}; Error naming the file whose state does not fit (another class count, a record
 *   given twice); the errors of `loadDetectionSplit`.
 */
export async function mergeEvalParts(args: readonly string[], opts: MergeOptions = {}): Promise<string> {
  return mergeEval(readEvalParts(args), opts);
}

async function mergeEval(parts: { file: string; part: EvalPart }[], opts: MergeOptions): Promise<string> {
  const p0 = parts[0].part;
  const add = <S>(ev: { mergeState(s: S): void }, state: (p: EvalPart) => S): void => {
    for (const { file, part } of parts) {
      try {
        ev.mergeState(state(part));
      } catch (e) {
        throw new Error(`merge: ${file}: ${(e as Error).message}`);
      }
    }
  };
  switch (p0.task) {
    case 'classification': {
      const ev = new ClassificationEvaluator(p0.classes ?? [], { topK: p0.state.ks });
      add(ev, (p) => p.state as ClassificationState);
      return ev.format(ev.compute());
    }
    case 'segmentation': {
      const ev = new SegmentationEvaluator(p0.classes ?? [], p0.state.ignoreIndex);
      add(ev, (p) => p.state as SegmentationState);
      return ev.format(ev.compute());
    }
    case 'detection': {
      const cfg = p0.config as Extract<Config, { task: 'detection' }>;
      const split = await loadDetectionSplit(cfg.data, cfg.data.valSplit, p0.classes, 'eval');
      const issues = formatSplitIssues(cfg.data.valSplit, split.issues);
      if (issues) opts.log?.(issues);
      const ev = new DetectionEvaluator(split, cfg.data.valSplit);
      add(ev, (p) => p.state as DetectionState);
      return detectionEvaluationReport(cfg, ev.compute(), split, opts.outDir);
    }
    default: {
      const never: never = p0;
      throw new Error(`merge: ${parts[0].file}: unknown task '${(never as EvalPart).task}'`);
    }
  }
}

/** SHA-256 of an image list as a prediction part records it. */
function imagesSha256(images: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify(images)).digest('hex');
}

/**
 * Write the part of shard `shard` of a prediction atomically to `outDir/predict-part-<k>-of-<N>.json`.
 * @param images the whole image list the shard was taken from (see `shardItems`).
 * @param predictions the shard's predictions, in list order, as `predict --json` prints them.
 * @returns the line `predict` prints: the file, the shard and its images.
 * @throws Error naming the file when it cannot be written.
 */
export async function writePredictPart(
  cfg: Config,
  source: ModelSource,
  outDir: string,
  shard: Shard,
  images: readonly string[],
  predictions: readonly { file: string }[],
): Promise<string> {
  const part: PredictPart = {
    format: PREDICT_PART_FORMAT,
    version: 1,
    task: cfg.task,
    config: cfg,
    configSha256: configSha256(cfg),
    model: await modelOf(source),
    shard,
    numImages: predictions.length,
    totalImages: images.length,
    imagesSha256: imagesSha256(images),
    predictions: predictions as ImagePredictionRecord[],
  };
  const file = path.join(outDir, predictPartFileName(shard));
  await writeJsonAtomic(file, part);
  return `wrote ${file} (shard ${formatShard(shard)}: ${predictions.length} of ${images.length} images); combine the ${shard.count} parts with \`resvision merge\``;
}

/**
 * Read the prediction parts named by `args` and check that they are exactly shards 0..N-1 of one prediction.
 * @returns the parts in shard order, with their files.
 * @throws one Error naming the files: a file that is not a part; parts that differ in task, config, model, image
 *   list or N (naming what differs); a shard given twice; shards missing; image counts that do not add up to the
 *   list; evaluation parts among them.
 */
export function readPredictParts(args: readonly string[]): { file: string; part: PredictPart }[] {
  return checkPredictParts(readParts(args));
}

function checkPredictParts(parts: { file: string; part: EvalPart | PredictPart }[]): { file: string; part: PredictPart }[] {
  if (parts[0].part.format !== PREDICT_PART_FORMAT) throw new Error(`merge: ${parts[0].file} is an evaluation part, not a prediction part`);
  return checkShardSet(
    parts as { file: string; part: PredictPart }[],
    [
      ['task', (p) => p.task],
      ['shard count N', (p) => String(p.shard.count)],
      ['config (SHA-256)', (p) => p.configSha256],
      ['model (SHA-256)', (p) => `${p.model.source} ${p.model.sha256}`],
      ['image count', (p) => String(p.totalImages)],
      ['image list (SHA-256)', (p) => p.imagesSha256],
    ],
    'predict runs',
    () => 'the image list',
  );
}

/**
 * Merge shards 0..N-1 of one prediction (see {@link readPredictParts}): image i of the list is prediction
 * floor(i / N) of shard i mod N. Returns what one `resvision predict --json` run over the whole list prints (given
 * the same `--out`, the same output paths in the records), character for character. With `outDir`, a detection
 * merge writes `outDir/detections.json` as that run does.
 * @throws as {@link readPredictParts}; Error naming the file whose prediction count is not its shard's image count;
 *   Error when the merged records' files are not the image list the parts were run on.
 */
export async function mergePredictParts(args: readonly string[], opts: MergeOptions = {}): Promise<string> {
  return mergePredict(readPredictParts(args), opts);
}

async function mergePredict(parts: { file: string; part: PredictPart }[], opts: MergeOptions): Promise<string> {
  const { totalImages, shard: { count: n } } = parts[0].part;
  for (const { file, part } of parts) {
    const expected = shardIndices(totalImages, part.shard).length;
    if (part.numImages !== expected || part.predictions.length !== expected) {
      throw new Error(`merge: ${file}: shard ${formatShard(part.shard)} of ${totalImages} images holds ${expected} images, the part says ${part.numImages} and has ${part.predictions.length} predictions`);
    }
  }
  const merged = Array.from({ length: totalImages }, (_, i) => parts[i % n].part.predictions[Math.floor(i / n)]);
  if (imagesSha256(merged.map((p) => p.file)) !== parts[0].part.imagesSha256) {
    throw new Error(`merge: the predictions' files, in shard order, are not the image list the parts were run on: ${parts.map((p) => p.file).join(', ')}`);
  }
  if (opts.outDir !== undefined && parts[0].part.task === 'detection') await writeJsonAtomic(path.join(opts.outDir, 'detections.json'), merged);
  return JSON.stringify(merged, null, 2);
}

/**
 * Merge the parts named by `args`, evaluation parts ({@link mergeEvalParts}) or prediction parts
 * ({@link mergePredictParts}), as the first part's format says.
 * @throws as those; Error naming two files when the two kinds are mixed.
 */
export async function mergeParts(args: readonly string[], opts: MergeOptions = {}): Promise<string> {
  const parts = readParts(args);
  return parts[0].part.format === PREDICT_PART_FORMAT ? mergePredict(checkPredictParts(parts), opts) : mergeEval(checkEvalParts(parts), opts);
}
