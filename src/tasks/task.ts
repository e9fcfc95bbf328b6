/**
 * What every task (classification, detection, segmentation) offers the command line. The CLI resolves a config's
 * `task` through the one table in `src/tasks/index.ts` and calls these functions; each task module assembles its
 * dataset adapter, model, loss, evaluator and the shared training engine.
 */
import type { LogSink } from '../common/log';
import type { Shard } from '../common/shard';
import type { Config } from '../config/types';
import type { InferenceEngine } from '../export/onnx/task_models';

/** Options of `TaskRunner.train`. */
export interface TaskTrainOptions {
  /** Resume from this checkpoint, or from `<outputDir>/last_checkpoint` when `true`. */
  resume?: string | boolean;
  /** No progress bars, and no notes (annotation problems fixed, a classifier left at its initialization). */
  quiet?: boolean;
  /** Where notes and warnings go; default stderr (nothing when `quiet`, except the trainer's warnings). */
  log?: LogSink;
}

/** How a training run ended, for the CLI's closing line. */
export interface TaskTrainSummary {
  status: 'completed' | 'interrupted';
  iterations: number;
  lastCheckpoint?: string;
  /** Text of the final evaluation (the task's table), if one ran. */
  report?: string;
}

/** Options of `TaskRunner.evaluate`. */
export interface TaskEvalOptions {
  quiet?: boolean;
  /** Where notes go (annotation problems fixed while listing); default stderr, nothing when `quiet`. */
  log?: LogSink;
  /** Folder for the task's prediction files (detection results JSON, segmentation PNGs); absent: none written. */
  outDir?: string;
  /**
   * Evaluate only shard `k/N` of the split (image i when i mod N = k) and write the evaluator's state to
   * `outDir/eval-part-<k>-of-<N>.json` (required then) instead of reporting; `resvision merge` combines the parts
   * (`./shards.ts`). Segmentation still writes the shard's prediction PNGs to `outDir`.
   */
  shard?: Shard;
}

/** Options of `TaskRunner.predict`. */
export interface TaskPredictOptions {
  /** Folder for pictures and prediction files; absent: print only. */
  outDir?: string;
  /** Print JSON instead of text. */
  json?: boolean;
  /** Where notes go (the label space of a state dict); default stderr. */
  log?: LogSink;
  /**
   * Predict only shard `k/N` of the image list (image i when i mod N = k) and write the predictions, as `json`
   * prints them, to `outDir/predict-part-<k>-of-<N>.json` (required then); `resvision merge` combines the parts
   * (`./shards.ts`). Pictures are still written to `outDir`; detection leaves `detections.json` to the merge.
   */
  shard?: Shard;
}

/**
 * Where `evaluate` and `predict` take the model from: a checkpoint `resvision train` wrote (model, class names and
 * category ids stored in it), or a whole-model torchvision state dict (`--weights`: the class count from its
 * classifier tensor, the class names and category ids of torchvision's label space; see `./torchvision_weights.ts`),
 * run by tfjs or, with `engine: 'onnx'`, exported in memory and run by ONNX Runtime; or an `.onnx` file written by
 * `resvision export` (`--onnx`: class names from its metadata, run by ONNX Runtime).
 */
export type ModelSource = (({ checkpoint: string } | { weights: string }) & { engine?: InferenceEngine }) | { onnx: string };

/** One task's entry points. `C` is its config type. */
export interface TaskRunner<C extends Config> {
  /** Train as the config says; evaluate on its validation split periodically and at the end. */
  train(cfg: C, opts: TaskTrainOptions): Promise<TaskTrainSummary>;
  /** Evaluate a checkpoint or state dict on the config's validation split and return the report text. */
  evaluate(cfg: C, source: ModelSource, opts: TaskEvalOptions): Promise<string>;
  /** Predict image files with a checkpoint or state dict; returns the text (or JSON) to print. */
  predict(cfg: C, source: ModelSource, images: string[], opts: TaskPredictOptions): Promise<string>;
}
