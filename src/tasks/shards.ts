/**
 * Evaluation in shards: `resvision eval --shard k/N --out DIR` evaluates image i of the split when i mod N = k
 * (`src/common/shard.ts`) and writes the evaluator's state to `DIR/eval-part-<k>-of-<N>.json`; `resvision merge`
 * reads the N parts, refuses a set that is not exactly shards 0..N-1 of one evaluation, adds the states into one
 * evaluator built as one run builds it, and prints the report of one run: the same numbers, bit for bit (see
 * `MergeableEvaluator` in `datasets/evaluator.ts`).
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
import { formatShard, type Shard } from '../common/shard';
import type { Config } from '../config/types';
import { detectionEvaluationReport } from './detection_report';
import type { ModelSource } from './task';

/** The `format` field of a part file. */
export const EVAL_PART_FORMAT = 'resvision-eval-part';

/** What a part is: everything that must agree between the parts of one evaluation, and which shard it holds. */
export interface EvalPartHeader {
  format: typeof EVAL_PART_FORMAT;
  version: 1;
  task: Config['task'];
  /** The resolved config (after `--data`, `--split`, `--set`), as the evaluation ran it. */
  config: Config;
  /** SHA-256 of `JSON.stringify(config)`, hex. */
  configSha256: string;
  /** The model evaluated: `--checkpoint` or `--weights`, the file's name and SHA-256 (hex). */
  model: { source: 'checkpoint' | 'weights'; file: string; sha256: string };
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

/** `eval-part-<k>-of-<N>.json`. */
export function evalPartFileName(s: Shard): string {
  return `eval-part-${s.index}-of-${s.count}.json`;
}

const PART_FILE = /^eval-part-\d+-of-\d+\.json$/;

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
  const kind = 'checkpoint' in source ? 'checkpoint' : 'weights' in source ? 'weights' : 'onnx';
  const modelFile = 'checkpoint' in source ? source.checkpoint : 'weights' in source ? source.weights : source.onnx;
  const part = {
    format: EVAL_PART_FORMAT,
    version: 1,
    task: cfg.task,
    config: cfg,
    configSha256: configSha256(cfg),
    model: { source: kind, file: path.basename(modelFile), sha256: await sha256File(modelFile) },
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

/** The `outDir` of a sharded evaluation. @throws Error when absent (the part has nowhere to go). */
export function requireOutDir(opts: { outDir?: string; shard?: Shard }): string {
  if (opts.outDir === undefined) throw new Error(`eval --shard ${opts.shard ? formatShard(opts.shard) : ''}: give --out DIR, the folder the part is written to`);
  return opts.outDir;
}

/** The part files named by `args`: files as given, folders searched (not recursively) for `eval-part-<k>-of-<N>.json`. */
function partFiles(args: readonly string[]): string[] {
  const files: string[] = [];
  for (const a of args) {
    if (!fs.existsSync(a)) throw new Error(`merge: ${a} not found (give part files or the folders \`resvision eval --shard k/N --out DIR\` wrote them to)`);
    if (!fs.statSync(a).isDirectory()) {
      files.push(a);
      continue;
    }
    const found = fs.readdirSync(a).filter((f) => PART_FILE.test(f)).sort().map((f) => path.join(a, f));
    if (found.length === 0) throw new Error(`merge: the folder ${a} holds no eval-part-<k>-of-<N>.json`);
    files.push(...found);
  }
  return files;
}

/** Read and check one part file. @throws Error naming the file when it is not a part. */
function readPart(file: string): EvalPart {
  let v: unknown;
  try {
    v = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`merge: ${file}: not readable as JSON (${(e as Error).message})`);
  }
  const p = v as Partial<EvalPart> | null;
  if (!p || typeof p !== 'object' || p.format !== EVAL_PART_FORMAT) {
    throw new Error(`merge: ${file}: not an evaluation part (no "format": "${EVAL_PART_FORMAT}"; parts are written by \`resvision eval --shard k/N --out DIR\`)`);
  }
  if (p.version !== 1) throw new Error(`merge: ${file}: part version ${String(p.version)}, this resvision reads version 1`);
  const s = p.shard;
  if (!s || !Number.isInteger(s.index) || !Number.isInteger(s.count) || s.index < 0 || s.index >= s.count || !p.state || !p.config || !p.model) {
    throw new Error(`merge: ${file}: incomplete part (shard, config, model or state missing or invalid)`);
  }
  return p as EvalPart;
}

/**
 * Read the parts named by `args` and check that they are exactly shards 0..N-1 of one evaluation.
 * @returns the parts in shard order, with their files.
 * @throws one Error naming the files: a file that is not a part; parts that differ in task, config, model, split or
 *   N (naming what differs); a shard given twice; shards missing (naming them and the parts given); image counts
 *   that do not add up to the split.
 */
export function readEvalParts(args: readonly string[]): { file: string; part: EvalPart }[] {
  const files = partFiles(args);
  const parts = files.map((file) => ({ file, part: readPart(file) }));
  const first = parts[0];
  const key: [string, (p: EvalPart) => string][] = [
    ['task', (p) => p.task],
    ['split', (p) => p.split],
    ['shard count N', (p) => String(p.shard.count)],
    ['config (SHA-256)', (p) => p.configSha256],
    ['model (SHA-256)', (p) => `${p.model.source} ${p.model.sha256}`],
    ['split size', (p) => String(p.totalImages)],
  ];
  for (const { file, part } of parts.slice(1)) {
    for (const [what, get] of key) {
      if (get(part) !== get(first.part)) {
        throw new Error(`merge: ${first.file} and ${file} are parts of different evaluations: ${what} ${get(first.part)} vs ${get(part)}`);
      }
    }
  }
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
    throw new Error(`merge: the parts hold ${images} images but split ${first.part.split} has ${first.part.totalImages}: ${files.join(', ')}`);
  }
  return parts.sort((a, b) => a.part.shard.index - b.part.shard.index);
}

/** Options of {@link mergeEvalParts}. */
export interface MergeOptions {
  /** Detection: write the COCO results (and the VOC ground truth as COCO) here, as `eval --out` does. */
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
  const parts = readEvalParts(args);
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
