/**
 * The one training and evaluation harness of the tasks. A task states what differs (how to build its model, its
 * data, its evaluator and its pictures); the harness owns what is common: the SGD optimizer and its parameter
 * groups, the learning-rate schedule, the `Trainer` options, resume-or-initial-weights, the periodic evaluation,
 * opening a checkpoint with its architecture check, the out-of-memory explanation and the disposal of everything
 * it built, keeping the first error.
 *
 * Reference: detectron2 `engine/defaults.py` (`DefaultTrainer`: model, optimizer, loader and evaluator built from a
 * config, one loop), `evaluation/evaluator.py` (`inference_on_dataset(model, loader, evaluator)`).
 */
import * as fs from 'fs';
import type { Evaluator } from '../../datasets/evaluator';
import { stderrLog, type LogSink } from '../common/log';
import { scaledLr, validateConfig } from '../config/load';
import type { Config } from '../config/types';
import { loadCheckpoint, restoreModel } from '../engine/checkpoint';
import type { LrSchedule } from '../engine/lr_schedule';
import { SgdOptimizer, weightDecayGroups, type ParamGroup } from '../engine/optimizer';
import { startTaskProgress } from '../engine/task_progress';
import { safetensorsCheckpointIO, skippingBatchSource, Trainer, type TrainingCheckpointMeta, type TrainResult } from '../engine/trainer';
import type { Module } from '../nn/module';
import type { TaskModel } from '../nn/task_model';
import type { TaskTrainOptions, TaskTrainSummary } from './task';

/** The engine schedule of a config (base LR from the linear scaling rule, `optimizer.baseLr` at `baseBatchSize`). */
export function scheduleOf(cfg: Config): LrSchedule {
  return { baseLr: scaledLr(cfg), ...cfg.schedule };
}

/**
 * The optimizer's parameter groups by default: weight decay `optimizer.weightDecay`, and `normWeightDecay` on the
 * normalization layers' parameters when set (torchvision's `--norm-weight-decay`).
 * @returns groups over the model's trainable variables (owned by the model).
 */
export function defaultParamGroups(model: Module, cfg: Config): ParamGroup[] {
  const o = cfg.optimizer;
  return weightDecayGroups(model, { weightDecay: o.weightDecay, normWeightDecay: o.normWeightDecay ?? undefined });
}

/**
 * SGD over `groups` with the config's momentum, Nesterov flag, weight-decay mode and scaled learning rate.
 * @returns a new optimizer; the caller disposes it.
 */
export function buildOptimizer(cfg: Config, groups: ParamGroup[]): SgdOptimizer {
  const o = cfg.optimizer;
  return new SgdOptimizer(groups, { lr: scaledLr(cfg), momentum: o.momentum, nesterov: o.nesterov, weightDecayMode: o.weightDecayMode });
}

/** What an evaluation pass needs: the evaluator and the loop that feeds it (see {@link runInference}). */
export interface EvaluationPlan<M> {
  evaluator: Evaluator<never[], M>;
  /** Run the model over the split, updating `evaluator` (already reset). */
  feed(opts: { quiet: boolean }): Promise<void>;
}

/**
 * One evaluation pass: reset, feed, compute.
 * @returns the evaluator's metrics.
 */
export async function evaluate<M>(plan: EvaluationPlan<M>, opts: { quiet?: boolean } = {}): Promise<M> {
  plan.evaluator.reset();
  await plan.feed({ quiet: opts.quiet ?? false });
  return plan.evaluator.compute();
}

/** Options of {@link runInference}. */
export interface InferenceLoopOptions<S> {
  /** Images in the split, for the progress display. */
  total: number;
  quiet: boolean;
  /** Images in one item (a batch's size, or 1). */
  imagesIn(item: S): number;
  /**
   * Predict one item and update the evaluator; `firstIndex` is the split index of its first image. Runs before
   * `dispose`, which runs whether it succeeds or not.
   */
  process(item: S, firstIndex: number): Promise<void>;
  /** Release an item's tensors. */
  dispose?(item: S): void;
}

/**
 * The evaluation loop of every task (detectron2's `inference_on_dataset`): items (batches or single images) in
 * split order, each predicted and fed to the evaluator by `process`, with an `eval` progress display in images.
 */
export async function runInference<S>(items: AsyncIterable<S>, opts: InferenceLoopOptions<S>): Promise<void> {
  const progress = startTaskProgress('eval', opts.total, { quiet: opts.quiet, unit: 'images' });
  let done = 0;
  try {
    for await (const item of items) {
      const n = opts.imagesIn(item);
      try {
        await opts.process(item, done);
      } finally {
        opts.dispose?.(item);
      }
      done += n;
      progress.update(done);
    }
  } finally {
    progress.stop();
  }
}

/** Training phases named by an out-of-memory explanation. */
export type TaskPhase = 'training' | 'evaluation';

/** What a task hands the harness to train. The harness owns `model` from then on and disposes it. */
export interface TrainingPlan<B, M> {
  model: TaskModel<B, unknown, unknown>;
  /** Training batches, epoch by epoch (shuffled and seeded by the loader). */
  data: { epoch(epoch: number): AsyncIterable<B>; readonly batchesPerEpoch: number };
  /** The training data for messages (a folder, `split train2017 of ROOT`) and its number of images. */
  dataName: string;
  numImages: number;
  disposeBatch(batch: B): void;
  /** Optimizer groups; default {@link defaultParamGroups}. */
  paramGroups?: ParamGroup[];
  /** The resolved config stored in every checkpoint (the config plus what the data decided: class names). */
  runConfig: Config;
  /** Architecture name stored in checkpoints; restore errors name it. */
  architecture: string;
  /** Periodic evaluation on the validation split; absent: none. */
  evaluation?: EvaluationPlan<M>;
  /** Load the config's initial weights (when not resuming); a no-op without any. */
  loadInitialWeights(): Promise<void>;
  /** Replace an out-of-memory failure by a one-line error naming the settings to lower; other errors unchanged. */
  explainOutOfMemory?(e: unknown, phase: TaskPhase): unknown;
  /** Release what else the plan holds (worker threads), after the model. */
  close?(): Promise<void>;
}

/** How training ended, with the last validation metrics. */
export interface TrainingOutcome<M> {
  result: TrainResult;
  metrics?: M;
}

/**
 * Train as the config says: SGD over the plan's parameter groups, the config's schedule, checkpoints and
 * `metrics.jsonl` in `train.outputDir`, evaluation every `train.evalEvery` iterations and (unless `train.evalAtEnd`
 * is false) after the last step; resume from a checkpoint or start from the config's initial weights.
 * @returns how training ended and the last metrics.
 * @throws Error when the data holds fewer images than one batch, the errors of the plan's steps (weights that do not
 *   fit, unreadable images) and of the trainer (`NonFiniteLossError`), an out-of-memory failure explained by the
 *   plan. Everything the plan holds is released in every case; an error while releasing after a failure (a wasm
 *   abort leaves the backend unable to free anything) does not hide the first.
 */
export async function runTraining<B, M>(cfg: Config, plan: TrainingPlan<B, M>, opts: TaskTrainOptions = {}): Promise<TrainingOutcome<M>> {
  const { model } = plan;
  let optimizer: SgdOptimizer | undefined;
  let trainer: Trainer<B> | undefined;
  let failed: unknown;
  let phase: TaskPhase = 'training';
  try {
    if (plan.data.batchesPerEpoch === 0) {
      throw new Error(`${plan.dataName}: ${plan.numImages} images are fewer than one batch of ${cfg.train.batchSize}`);
    }
    optimizer = buildOptimizer(cfg, plan.paramGroups ?? defaultParamGroups(model, cfg));
    let lastMetrics: M | undefined;
    const evaluation = plan.evaluation;
    trainer = new Trainer<B>({
      model,
      computeLosses: (batch, ctx) => model.computeLosses(batch, ctx),
      data: skippingBatchSource(plan.data, plan.disposeBatch),
      disposeBatch: plan.disposeBatch,
      optimizer,
      schedule: scheduleOf(cfg),
      seed: cfg.train.seed,
      gradClip: cfg.optimizer.gradClipNorm !== null ? { kind: 'norm', maxNorm: cfg.optimizer.gradClipNorm } : undefined,
      outputDir: cfg.train.outputDir,
      checkpoint: cfg.train.checkpointEvery > 0 ? { io: safetensorsCheckpointIO, everyIters: cfg.train.checkpointEvery } : undefined,
      logEveryIters: cfg.train.logEvery,
      evaluation:
        evaluation && cfg.train.evalEvery > 0
          ? {
              everyIters: cfg.train.evalEvery,
              atEnd: ('evalAtEnd' in cfg.train ? cfg.train.evalAtEnd : undefined) ?? true,
              run: async () => {
                phase = 'evaluation';
                lastMetrics = await evaluate(evaluation, { quiet: true });
                phase = 'training';
                return evaluation.evaluator.summary(lastMetrics);
              },
            }
          : undefined,
      quiet: opts.quiet,
      config: plan.runConfig,
      architecture: plan.architecture,
      log: opts.log,
    });
    if (opts.resume) await trainer.resume(typeof opts.resume === 'string' ? opts.resume : undefined);
    else await plan.loadInitialWeights();
    const result = await trainer.train();
    return { result, metrics: lastMetrics };
  } catch (e) {
    failed = e;
    throw plan.explainOutOfMemory ? plan.explainOutOfMemory(e, phase) : e;
  } finally {
    try {
      trainer?.dispose();
      optimizer?.dispose();
      model.dispose();
      await plan.close?.();
    } catch (e) {
      if (failed === undefined) throw e;
    }
  }
}

/** The CLI's summary of a training run: how it ended, and the final evaluation formatted by `format`. */
export function trainSummary<M>(outcome: TrainingOutcome<M>, format: (metrics: M) => string): TaskTrainSummary {
  const { result, metrics } = outcome;
  return {
    status: result.status,
    iterations: result.nextIteration,
    lastCheckpoint: result.lastCheckpoint,
    report: metrics ? format(metrics) : undefined,
  };
}

/** What {@link openTaskCheckpoint} needs to know about a task's checkpoints. */
export interface CheckpointSpec<R extends Config, M extends Module> {
  /** The config's `task`: the checkpoint's stored config must name it. */
  task: R['task'];
  /** Whether the stored config holds what `build` needs (class names...); false: not a checkpoint of this task. */
  isRunConfig(stored: Partial<R>): boolean;
  /** Throws when the stored run does not fit the config (another model or class count), naming the file. */
  check?(stored: R, file: string): void;
  /** Build the model to restore into. */
  build(stored: R): M;
  /**
   * Checkpoint tensors the model may lack (an auxiliary head inference does not build); absent: the state must
   * match exactly.
   */
  skipUnexpected?(name: string): boolean;
}

/**
 * The config stored in a training checkpoint's metadata, validated, without what the run added (class names,
 * category ids): the config `resvision predict CHECKPOINT` and the exporters rebuild the model from.
 * @param meta the checkpoint's metadata (`loadCheckpoint(file).meta`).
 * @returns the config and the stored class names.
 * @throws Error naming the file when the metadata holds no config with class names; ConfigError when it does not
 *   validate (the source names the checkpoint).
 */
export function storedTaskConfig(file: string, meta: TrainingCheckpointMeta): { config: Config; classes: string[] } {
  const stored = meta.config as Record<string, unknown> | undefined;
  if (!stored || typeof stored !== 'object' || !('task' in stored) || !Array.isArray(stored.classes)) {
    throw new Error(`${file}: no config with class names in the checkpoint metadata; cannot rebuild its model (not written by resvision train?)`);
  }
  const { classes, categoryIds: _ids, ...rest } = stored;
  return { config: validateConfig(rest, `${file} (stored config)`), classes: classes as string[] };
}

/**
 * Open a checkpoint of a task and rebuild its model from the config and the run config stored in it.
 * @returns the restored model (the caller disposes it) and the stored run config.
 * @throws Error naming the file when it does not exist, is not a checkpoint of `spec.task`, does not fit the config
 *   (`spec.check`), or its tensors do not fit the model (the architecture recorded in it is named).
 */
export async function openTaskCheckpoint<R extends Config, M extends Module>(
  file: string,
  spec: CheckpointSpec<R, M>,
): Promise<{ model: M; run: R }> {
  if (!fs.existsSync(file)) throw new Error(`checkpoint not found: ${file}`);
  const ckpt = await loadCheckpoint<TrainingCheckpointMeta>(file);
  try {
    const stored = ckpt.meta.config as Partial<R> | undefined;
    if (!stored || stored.task !== spec.task || !spec.isRunConfig(stored)) {
      throw new Error(`${file}: not a ${spec.task} checkpoint (no ${spec.task} config with class names in its metadata)`);
    }
    const run = stored as R;
    spec.check?.(run, file);
    const model = spec.build(run);
    try {
      if (!spec.skipUnexpected) await restoreModel(model, ckpt, { strict: true });
      else {
        const r = await restoreModel(model, ckpt, { strict: false });
        const skip = spec.skipUnexpected;
        const bad = [...r.missing, ...r.unexpected.filter((n) => !skip(n)), ...r.shapeMismatched.map((s) => s.name)];
        if (bad.length > 0) throw new Error(`${file}: checkpoint of architecture '${ckpt.architecture}' does not fit this model: ${bad.slice(0, 8).join(', ')}`);
      }
    } catch (e) {
      model.dispose();
      throw e;
    }
    return { model, run };
  } finally {
    await ckpt.close();
  }
}

/**
 * Run `body` with a model (a tfjs module, or a model run by ONNX Runtime) and dispose the model afterwards; an error while disposing after a failure (a wasm abort
 * leaves the backend unable to free anything) does not hide the first, and `explain` rewrites the failure
 * (out of memory) before it propagates.
 */
export async function withModel<M extends { dispose(): void | Promise<void> }, T>(model: M, body: (model: M) => Promise<T>, explain: (e: unknown) => unknown = (e) => e): Promise<T> {
  let failed: unknown;
  try {
    return await body(model);
  } catch (e) {
    failed = e;
    throw explain(e);
  } finally {
    try {
      await model.dispose();
    } catch (e) {
      if (failed === undefined) throw e;
    }
  }
}

/** The log sink of a task call: the caller's, else stderr (nothing when `quiet`). */
export function taskLog(opts: { quiet?: boolean; log?: LogSink }): LogSink {
  return opts.log ?? (opts.quiet ? () => undefined : stderrLog);
}
