/**
 * The training loop shared by every task: losses → gradients → clipping → SgdOptimizer step, with the learning-rate
 * schedule, periodic evaluation and checkpoints (the final checkpoint written before the final evaluation), exact resume, a JSONL metrics log, a progress bar, a clean stop on
 * SIGINT and a stop on a non-finite loss. Iteration-based, as detectron2's `SimpleTrainer`/`DefaultTrainer`
 * (detectron2/engine/train_loop.py, defaults.py); epochs are tracked for the data order only.
 *
 * Conventions:
 * - the step with index `it` (0-based) uses `learningRateAt(schedule, it)` and the per-step seed `stepSeed(seed, it)`;
 *   after it, `nextIteration = it + 1` steps are done. The run ends when `nextIteration = schedule.maxIter`.
 * - Exact resume: a checkpoint holds every parameter and buffer of the model (BatchNorm running statistics
 *   included), the optimizer's momentum buffers, and the data position (epoch, batch within the epoch). Schedules
 *   and per-step seeds are pure functions of the iteration, and the data source is a pure function of
 *   (epoch, batch index), so the resumed run repeats the uninterrupted one step for step.
 */
import * as fs from 'fs';
import * as path from 'path';
import { performance } from 'perf_hooks';
import * as tf from '@tensorflow/tfjs-core';
import { ForwardContext, Module } from '../nn/module';
import { loadCheckpoint, restoreModel, saveCheckpoint } from './checkpoint';
import { clipGradNorm, clipGradValue, NamedGrads } from './grad_clip';
import { JsonlLogger } from './logger';
import { LrSchedule, learningRateAt, validateLrSchedule } from './lr_schedule';
import { SgdOptimizer } from './optimizer';
import { createProgress, ProgressReporter } from './progress';
import { writeFileAtomicSync } from '../common/atomic_write';
import { stderrLog, type LogSink } from '../common/log';
import { SeedSequence } from '../common/seed';

/** What `computeLosses` receives for one training step. */
export interface StepContext extends ForwardContext {
  /** Always true for training steps. */
  training: true;
  /** Index of the step (0-based). */
  iteration: number;
  /** The step's 32-bit seed for any random op in the forward (dropout, stochastic depth); `stepSeed(seed, it)`. */
  seed: number;
}

/**
 * Where batches come from. A source is deterministic: the same (epoch, startBatch) gives the same batches, so a
 * resumed run sees the data an uninterrupted run would (shuffling is seeded by the epoch inside the source).
 */
export interface BatchSource<B> {
  /**
   * The batches of epoch `epoch` (0-based), skipping the first `startBatch` of them. The iterable ends at the end
   * of the epoch. The trainer owns each batch it pulls and disposes it after the step (`disposeBatch`).
   */
  epochBatches(epoch: number, startBatch: number): AsyncIterable<B>;
}

/**
 * A `BatchSource` over anything with `epoch(e)` (the data loader's one-epoch iterator): the first `startBatch`
 * batches of a resumed epoch are pulled and disposed, which costs their decoding; a loader that can start
 * mid-epoch should implement `epochBatches` itself.
 * @param source yields the batches of epoch `e` in a deterministic order.
 * @param disposeBatch releases a skipped batch; default `tf.dispose`.
 */
export function skippingBatchSource<B>(
  source: { epoch(epoch: number): AsyncIterable<B> },
  disposeBatch: (batch: B) => void = (b) => tf.dispose(b as unknown as tf.TensorContainer),
): BatchSource<B> {
  return {
    async *epochBatches(epoch: number, startBatch: number): AsyncGenerator<B, void, undefined> {
      let i = 0;
      for await (const b of source.epoch(epoch)) {
        if (i++ < startBatch) disposeBatch(b);
        else yield b;
      }
    },
  };
}

/** Training position and settings stored with every checkpoint. */
export interface TrainingCheckpointMeta {
  /** Always `'resvision.train'`. */
  kind: 'resvision.train';
  /** Steps completed; the resumed run continues with this step index. */
  nextIteration: number;
  /** Epoch of the next batch (0-based). */
  epoch: number;
  /** Batches of `epoch` already consumed. */
  batchInEpoch: number;
  /** Root seed of the run. */
  seed: number;
  schedule: LrSchedule;
  /** The task's resolved configuration, stored so that a run can be repeated from its checkpoint. */
  config?: unknown;
  /** Architecture name (e.g. `resnet18 classifier`), named by restore errors when a checkpoint does not fit. */
  architecture?: string;
  /** Why this checkpoint was written. */
  reason: 'periodic' | 'final' | 'interrupted';
}

/** What the trainer hands to `CheckpointIO.save`. */
export interface TrainingCheckpoint {
  /** The model; every state entry (parameters and buffers) is saved. */
  model: Module;
  /** Optimizer state as named tensors (owned by the optimizer; do not dispose). */
  optimizerState: Record<string, tf.Tensor>;
  meta: TrainingCheckpointMeta;
}

/**
 * The checkpoint store the trainer writes through: the safetensors checkpoints of `src/engine/checkpoint.ts` in a
 * run, an in-memory map in a test.
 */
export interface CheckpointIO {
  /** Write `ckpt` to `file` (the implementation writes a temporary file and renames it). */
  save(file: string, ckpt: TrainingCheckpoint): Promise<void>;
  /**
   * Read `file`, copy its model state into `model` (every state entry, shapes checked) and return the optimizer
   * state (new tensors; the caller disposes) and the meta.
   */
  load(file: string, model: Module): Promise<{ optimizerState: Record<string, tf.Tensor>; meta: TrainingCheckpointMeta }>;
}

/**
 * The `CheckpointIO` of a run: safetensors checkpoints (`src/engine/checkpoint.ts`), written to a temporary file and
 * renamed, every tensor stored bit for bit; restore is strict (same state names and shapes).
 */
export const safetensorsCheckpointIO: CheckpointIO = {
  async save(file, ckpt) {
    await saveCheckpoint(file, { model: ckpt.model, optimizerState: ckpt.optimizerState, meta: ckpt.meta });
  },
  async load(file, model) {
    const ckpt = await loadCheckpoint<TrainingCheckpointMeta>(file);
    try {
      await restoreModel(model, ckpt, { strict: true });
      return { optimizerState: await ckpt.readOptimizerState(), meta: ckpt.meta };
    } finally {
      await ckpt.close();
    }
  },
};

/** Gradient clipping applied between backward and the optimizer step. */
export type GradClipOptions =
  /** torch.nn.utils.clip_grad_norm_ over all trainable parameters; the pre-clip norm is logged as `gradNorm`. */
  | { kind: 'norm'; maxNorm: number; normType?: number | 'inf' }
  /** torch.nn.utils.clip_grad_value_. */
  | { kind: 'value'; clipValue: number };

/** A periodic evaluation supplied by the task. */
export interface EvaluationHook {
  /** Run after every `everyIters` completed steps (and after the last one, see `atEnd`). */
  everyIters: number;
  /**
   * Also evaluate after the last step (default true). It runs after the final checkpoint is written, so a long
   * evaluation never delays or risks the trained weights. `false`: no evaluation after the last step, even when
   * `maxIter` is a multiple of `everyIters`.
   */
  atEnd?: boolean;
  /**
   * Evaluate the model (the hook chooses `training: false` in its own forward calls).
   * @param nextIteration steps completed so far.
   * @returns metrics to log, e.g. `{ top1Percent: 71.2 }`.
   */
  run(nextIteration: number): Promise<Record<string, number>>;
}

/** Options of `Trainer`. */
export interface TrainerOptions<B> {
  /** The model; its `trainableParameters()` are differentiated and its state entries checkpointed. */
  model: Module;
  /**
   * The losses of one batch, summed into the total loss (weights belong inside). Keys are logged verbatim
   * (`classification`, `boxRegression`, ...).
   * @returns scalars float32; the trainer disposes them.
   */
  computeLosses(batch: B, ctx: StepContext): Record<string, tf.Scalar>;
  data: BatchSource<B>;
  /** Release a batch after its step. Default `tf.dispose(batch)`, which frees every tensor inside it. */
  disposeBatch?: (batch: B) => void;
  /** The optimizer over `model.trainableParameters()`; its `lr` is set before every step. */
  optimizer: SgdOptimizer;
  /** The learning-rate schedule; `schedule.maxIter` is the length of the run. */
  schedule: LrSchedule;
  /** Root seed: per-step seeds derive from it; stored in checkpoints. */
  seed: number;
  gradClip?: GradClipOptions;
  /** Folder for `metrics.jsonl`, checkpoints and `last_checkpoint`; absent: nothing written to disk. */
  outputDir?: string;
  /** Write a checkpoint after every `everyIters` steps and at the end. Requires `outputDir`. */
  checkpoint?: { io: CheckpointIO; everyIters: number };
  /** Log a metrics record after every `logEveryIters` steps (and the last). Default 20, detectron2's period. */
  logEveryIters?: number;
  evaluation?: EvaluationHook;
  /** No progress bar (it is shown only on a terminal anyway). */
  quiet?: boolean;
  /** Progress display to use instead of the default bar. */
  progress?: ProgressReporter;
  /** The task's resolved configuration, stored in checkpoint meta. */
  config?: unknown;
  /** Architecture name stored in checkpoint meta (restore errors name it). */
  architecture?: string;
  /** Install a SIGINT handler during `train()` (default true). */
  handleSigint?: boolean;
  /** Where warnings and notices go (a resumed schedule differs, nothing to do, SIGINT received). Default stderr. */
  log?: LogSink;
}

/** How `train()` ended. */
export interface TrainResult {
  /** `completed`: reached `maxIter`; `interrupted`: SIGINT or `stop()`, after writing a checkpoint. */
  status: 'completed' | 'interrupted';
  /** Steps completed. */
  nextIteration: number;
  /** The last checkpoint written by this call, if any. */
  lastCheckpoint?: string;
}

/** Thrown when a loss term is NaN or ±Inf; the parameters were not updated by that step. */
export class NonFiniteLossError extends Error {
  constructor(
    readonly iteration: number,
    readonly term: string,
    readonly losses: Record<string, number>,
    readonly lastCheckpoint: string | undefined,
  ) {
    super(
      `loss '${term}' is ${losses[term]} at iteration ${iteration} (losses: ${JSON.stringify(losses, (_k, v: unknown) =>
        typeof v === 'number' && !Number.isFinite(v) ? String(v) : v,
      )}); training stopped before the update. ` +
        (lastCheckpoint ? `The last good checkpoint is ${lastCheckpoint}.` : 'No checkpoint was written by this run.'),
    );
    this.name = 'NonFiniteLossError';
  }
}

/**
 * The seed of step `it`: a splitmix32 mix of (seed, it), a pure function so that resume needs no RNG state.
 * @returns an integer in [0, 2^32).
 */
export function stepSeed(seed: number, it: number): number {
  return new SeedSequence((Math.imul(seed | 0, 0x9e3779b1) ^ it) | 0).next();
}

/** Size of the wasm backend's heap in bytes, when the active backend is tfjs-backend-wasm; else null. */
export function wasmHeapBytes(): number | null {
  try {
    const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
    return b.wasm?.HEAPU8?.byteLength ?? null;
  } catch {
    return null;
  }
}

/** Heap size above which a reasonless wasm abort is taken for a failed allocation (3 GiB of the 4 GiB limit). */
const ABORT_AS_OOM_HEAP_BYTES = 3 * 2 ** 30;

/**
 * Whether `e` says that memory ran out: V8 refusing an allocation (`RangeError: Array buffer allocation failed`,
 * `WebAssembly.Memory.grow(): Maximum memory size exceeded`), an emscripten abort naming OOM or "Cannot enlarge
 * memory", or the bare `Aborted()` of tfjs-backend-wasm's release build (malloc aborts when the heap cannot grow
 * past the 4 GB of wasm32; the build prints no reason) or a `memory access out of bounds` trap (a kernel writing
 * through the null pointer a failed allocation returned) while the heap is above 3 GiB or of unknown size.
 * @param heapBytes the wasm heap size in bytes, null when unknown; default {@link wasmHeapBytes}.
 */
export function isOutOfMemoryError(e: unknown, heapBytes: number | null = wasmHeapBytes()): boolean {
  const text = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  if (/\bOOM\b|out of memory|Cannot enlarge memory|Memory\.grow|Maximum memory size exceeded|allocation failed/i.test(text)) return true;
  return /Aborted\(\)|memory access out of bounds/.test(text) && (heapBytes === null || heapBytes >= ABORT_AS_OOM_HEAP_BYTES);
}

/**
 * SIGINTs handled within this many milliseconds of the first are the same key press. A terminal's Ctrl-C reaches
 * every process of the foreground group, and runners forward it again to their child (`npm run` does, as does
 * `npx`), so one press arrives two or three times; while a step computes, the copies wait and are handled
 * together once it yields. Only a later SIGINT aborts without a checkpoint.
 */
export const SIGINT_SAME_PRESS_MS = 1000;

/** Name of the checkpoint file written after `nextIteration` steps (detectron2's `model_%07d`). */
export function checkpointFileName(nextIteration: number): string {
  return `model_${String(nextIteration).padStart(7, '0')}.safetensors`;
}

/** The file in `outputDir` that names the latest checkpoint (detectron2's `last_checkpoint`). */
export const LAST_CHECKPOINT_FILE = 'last_checkpoint';

/**
 * Temporaries of checkpoint writes: `writeSafetensors`' `.<name>.<pid>.<random>.tmp` next to `model_*.safetensors`,
 * and the pointer's `last_checkpoint.tmp`. A kill during a write leaves one behind (as large as a checkpoint).
 */
const CHECKPOINT_TEMPORARY = /^\.model_\d+\.safetensors\.(\d+)\.[0-9a-f]+\.tmp$/;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Delete the checkpoint temporaries in `dir` that no running process is writing: those of this process and of
 * processes that are gone (a kill or a crash during a write). Called when a run starts and when it resumes.
 * @returns the names deleted (none when `dir` does not exist).
 */
export function sweepCheckpointTemporaries(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const removed: string[] = [];
  for (const name of fs.readdirSync(dir)) {
    const m = CHECKPOINT_TEMPORARY.exec(name);
    if (!m && name !== `${LAST_CHECKPOINT_FILE}.tmp`) continue;
    if (m && Number(m[1]) !== process.pid && processAlive(Number(m[1]))) continue;
    fs.rmSync(path.join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}

/**
 * A checkpoint could not be written (disk full, permissions, a folder vanished). Nothing was replaced: the previous
 * checkpoint files and `last_checkpoint` are as they were.
 */
export class CheckpointWriteError extends Error {
  constructor(
    readonly file: string,
    readonly lastGoodCheckpoint: string | undefined,
    override readonly cause: unknown,
  ) {
    const code = (cause as NodeJS.ErrnoException)?.code;
    const why = code === 'ENOSPC' ? 'the disk is full' : code === 'EDQUOT' ? 'the disk quota is exhausted' : 'the write failed';
    super(
      `could not write checkpoint ${file}: ${why} (${cause instanceof Error ? cause.message : String(cause)}); nothing was replaced. ` +
        (lastGoodCheckpoint
          ? `The last good checkpoint is ${lastGoodCheckpoint}; free space and run again with --resume to continue from it.`
          : 'No checkpoint was written by this run.'),
    );
    this.name = 'CheckpointWriteError';
  }
}

/**
 * The training loop. Build it, optionally `resume()`, then `train()`; `dispose()` releases the optimizer state.
 *
 * Reference: detectron2 engine/train_loop.py (SimpleTrainer.run_step: data time, loss dict, non-finite check),
 * engine/hooks.py (PeriodicCheckpointer, EvalHook), torchvision references/classification/train.py.
 */
export class Trainer<B> {
  /** Steps completed (the index of the next step). */
  nextIteration = 0;
  /** Epoch of the next batch. */
  epoch = 0;
  /** Batches of `epoch` already consumed. */
  batchInEpoch = 0;
  private readonly opts: TrainerOptions<B>;
  private readonly logger: JsonlLogger;
  private readonly params: [string, tf.Variable][];
  private stopRequested = false;
  private resumed = false;
  private lastCheckpoint?: string;

  /** @throws Error on an invalid schedule, period or clipping option, or checkpoints without `outputDir`. */
  constructor(opts: TrainerOptions<B>) {
    validateLrSchedule(opts.schedule);
    for (const [k, v] of [
      ['logEveryIters', opts.logEveryIters],
      ['checkpoint.everyIters', opts.checkpoint?.everyIters],
      ['evaluation.everyIters', opts.evaluation?.everyIters],
    ] as const) {
      if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new Error(`Trainer: ${k} must be an integer ≥ 1, got ${v}`);
    }
    if (opts.checkpoint && !opts.outputDir) throw new Error('Trainer: checkpoints need an outputDir');
    if (!Number.isInteger(opts.seed)) throw new Error(`Trainer: seed must be an integer, got ${opts.seed}`);
    this.opts = opts;
    this.params = opts.model.trainableParameters();
    if (this.params.length === 0) throw new Error('Trainer: the model has no trainable parameters');
    const known = new Set(opts.optimizer.parameterNames());
    const missing = this.params.filter(([n]) => !known.has(n)).map(([n]) => n);
    if (missing.length > 0) {
      throw new Error(`Trainer: the optimizer does not hold trainable parameter(s) ${missing.slice(0, 5).join(', ')}`);
    }
    this.logger = new JsonlLogger(opts.outputDir ? path.join(opts.outputDir, 'metrics.jsonl') : undefined);
  }

  /** Every record logged by this trainer (also in `<outputDir>/metrics.jsonl`). */
  get records(): readonly Record<string, unknown>[] {
    return this.logger.records;
  }

  /**
   * Restore model, optimizer state and data position from a checkpoint.
   * @param file the checkpoint; default: the one named by `<outputDir>/last_checkpoint`.
   * @returns the checkpoint's meta.
   * @throws Error when no checkpoint is configured or found, or when its seed differs from this trainer's.
   */
  async resume(file?: string): Promise<TrainingCheckpointMeta> {
    const io = this.opts.checkpoint?.io;
    if (!io) throw new Error('Trainer.resume: no checkpoint io configured');
    const target = file ?? this.readLastCheckpointPointer();
    if (this.opts.outputDir) this.sweepTemporaries(this.opts.outputDir);
    const { optimizerState, meta } = await io.load(target, this.opts.model);
    try {
      if (meta.kind !== 'resvision.train') throw new Error(`${target}: not a training checkpoint (kind '${String(meta.kind)}')`);
      if (meta.seed !== this.opts.seed) {
        throw new Error(`${target}: written with seed ${meta.seed}, this trainer has seed ${this.opts.seed}`);
      }
      this.opts.optimizer.loadState(optimizerState);
    } finally {
      tf.dispose(optimizerState);
    }
    this.nextIteration = meta.nextIteration;
    this.epoch = meta.epoch;
    this.batchInEpoch = meta.batchInEpoch;
    this.lastCheckpoint = target;
    this.resumed = true;
    if (JSON.stringify(meta.schedule) !== JSON.stringify(this.opts.schedule)) {
      (this.opts.log ?? stderrLog)(
        `warning: ${target} was written with schedule ${JSON.stringify(meta.schedule)}; continuing with ` +
          `${JSON.stringify(this.opts.schedule)}, so the run will not reproduce an uninterrupted one`,
      );
    }
    this.logger.log({ type: 'resume', file: target, nextIteration: meta.nextIteration, epoch: meta.epoch });
    return meta;
  }

  /** Ask the running `train()` to stop after the current step and write a checkpoint (what SIGINT does). */
  stop(): void {
    this.stopRequested = true;
  }

  /**
   * Run steps until `schedule.maxIter`, a stop request, or a non-finite loss.
   *
   * @returns how the run ended and the last checkpoint written.
   * @throws NonFiniteLossError when a loss term is NaN/Inf (the offending step's update is not applied; no
   *   checkpoint is written, so the last good one stays the latest); any error of the data source, the losses,
   *   the evaluation hook or the checkpoint io.
   */
  async train(): Promise<TrainResult> {
    const o = this.opts;
    const maxIter = o.schedule.maxIter;
    if (!this.resumed && o.checkpoint && o.outputDir && fs.existsSync(path.join(o.outputDir, LAST_CHECKPOINT_FILE))) {
      throw new Error(
        `${o.outputDir} already holds a run (${LAST_CHECKPOINT_FILE} names ` +
          `${fs.readFileSync(path.join(o.outputDir, LAST_CHECKPOINT_FILE), 'utf8').trim()}): pass --resume to continue it, ` +
          'or --output-dir for a new run',
      );
    }
    if (o.checkpoint && o.outputDir) this.sweepTemporaries(o.outputDir);
    if (this.nextIteration >= maxIter) {
      (o.log ?? stderrLog)(`nothing to do: the run is already at iteration ${this.nextIteration} of ${maxIter}`);
    }
    const logEvery = o.logEveryIters ?? 20;
    const progress = o.progress ?? createProgress({ quiet: o.quiet });
    this.stopRequested = false;
    let firstSigintMs: number | undefined;
    const onSigint = (): void => {
      const now = performance.now();
      if (firstSigintMs === undefined) {
        firstSigintMs = now;
        this.stop();
        (o.log ?? stderrLog)('\nSIGINT: stopping after this step and writing a checkpoint (press again to abort)');
      } else if (now - firstSigintMs > SIGINT_SAME_PRESS_MS) {
        process.removeListener('SIGINT', onSigint);
        process.kill(process.pid, 'SIGINT');
      }
    };
    if (o.handleSigint ?? true) {
      process.on('SIGINT', onSigint);
      if (!o.quiet && this.nextIteration < maxIter) {
        (o.log ?? stderrLog)(`training iterations ${this.nextIteration + 1}..${maxIter}; Ctrl-C stops after the current step and writes a checkpoint`);
      }
    }
    let result: TrainResult | undefined;
    const startIteration = this.nextIteration;
    progress.start(maxIter, startIteration);
    // Window statistics for the log: wall time, data wait, steps.
    let windowStart = performance.now();
    let windowData = 0;
    let windowSteps = 0;
    let iterator: AsyncIterator<B> | undefined;
    const runStart = performance.now();
    try {
      while (this.nextIteration < maxIter) {
        if (!iterator) iterator = o.data.epochBatches(this.epoch, this.batchInEpoch)[Symbol.asyncIterator]();
        const t0 = performance.now();
        const next = await iterator.next();
        windowData += performance.now() - t0;
        if (next.done) {
          if (this.batchInEpoch === 0) throw new Error(`data source yielded no batch for epoch ${this.epoch}`);
          this.epoch++;
          this.batchInEpoch = 0;
          iterator = undefined;
          continue;
        }
        const it = this.nextIteration;
        const lr = learningRateAt(o.schedule, it);
        const { losses, total, gradNorm } = await this.step(next.value, it, lr);
        this.nextIteration = it + 1;
        this.batchInEpoch++;
        windowSteps++;
        const now = performance.now();
        const itPerSec = (windowSteps * 1000) / Math.max(now - windowStart, 1e-9);
        progress.update({ iteration: this.nextIteration, loss: total, lr, itPerSec });
        const last = this.nextIteration === maxIter;
        if (this.nextIteration % logEvery === 0 || last || this.stopRequested) {
          const windowMs = now - windowStart;
          this.logger.log({
            type: 'train',
            iteration: it,
            epoch: this.epoch,
            losses,
            totalLoss: total,
            lr,
            ...(gradNorm !== undefined ? { gradNorm } : {}),
            timeSec: (now - runStart) / 1000,
            itPerSec,
            dataTimeShare: windowMs > 0 ? windowData / windowMs : 0,
          });
          windowStart = now;
          windowData = 0;
          windowSteps = 0;
        }
        const ev = o.evaluation;
        // Periodic evaluation comes before the periodic checkpoint; after the last step the final checkpoint is
        // written first, then the final evaluation runs (unless `atEnd` is false).
        if (ev && !last && this.nextIteration % ev.everyIters === 0) {
          const metrics = await ev.run(this.nextIteration);
          this.logger.log({ type: 'eval', iteration: it, metrics });
        }
        const ck = o.checkpoint;
        if (ck && (last || this.nextIteration % ck.everyIters === 0 || this.stopRequested)) {
          await this.saveCheckpoint(last ? 'final' : this.stopRequested ? 'interrupted' : 'periodic');
        }
        if (ev && last && (ev.atEnd ?? true)) {
          const metrics = await ev.run(this.nextIteration);
          this.logger.log({ type: 'eval', iteration: it, metrics });
        }
        if (this.stopRequested && !last) {
          result = { status: 'interrupted', nextIteration: this.nextIteration, lastCheckpoint: this.lastCheckpoint };
          break;
        }
      }
      result ??= { status: 'completed', nextIteration: this.nextIteration, lastCheckpoint: this.lastCheckpoint };
      return result;
    } finally {
      if (iterator?.return) await iterator.return();
      progress.stop();
      process.removeListener('SIGINT', onSigint);
    }
  }

  /** One step: forward + backward, finiteness check, clipping, optimizer update. Batch disposed here. */
  private async step(
    batch: B,
    it: number,
    lr: number,
  ): Promise<{ losses: Record<string, number>; total: number; gradNorm?: number }> {
    const o = this.opts;
    const ctx: StepContext = { training: true, iteration: it, seed: stepSeed(o.seed, it) };
    let terms: Record<string, tf.Scalar> = {};
    let value: tf.Scalar | undefined;
    let grads: NamedGrads = {};
    let gradNorm: tf.Scalar | undefined;
    try {
      const varList = this.params.map(([, v]) => v);
      const res = tf.variableGrads(() => {
        const out = o.computeLosses(batch, ctx);
        const names = Object.keys(out);
        if (names.length === 0) throw new Error(`computeLosses returned no loss at iteration ${it}`);
        for (const n of names) {
          if (out[n].rank !== 0) throw new Error(`loss '${n}' must be a scalar, got shape [${out[n].shape}] at iteration ${it}`);
        }
        terms = out;
        for (const t of Object.values(out)) tf.keep(t);
        return (names.length === 1 ? tf.add(out[names[0]], 0) : tf.addN(Object.values(out))) as tf.Scalar;
      }, varList);
      value = res.value;
      // variableGrads keys gradients by tfjs variable name; map them back to the dotted parameter names.
      for (const [name, v] of this.params) {
        const g = res.grads[v.name];
        if (g) grads[name] = g;
      }
      const names = Object.keys(terms);
      const values = await Promise.all(names.map((n) => terms[n].data()));
      const losses: Record<string, number> = {};
      names.forEach((n, i) => (losses[n] = values[i][0]));
      const bad = names.find((n) => !Number.isFinite(losses[n]));
      if (bad !== undefined) {
        this.logger.log({ type: 'error', iteration: it, reason: 'non-finite loss', term: bad, losses });
        throw new NonFiniteLossError(it, bad, losses, this.lastCheckpoint);
      }
      const total = (await value.data())[0];
      if (o.gradClip) {
        const clip = o.gradClip;
        let clipped: NamedGrads;
        if (clip.kind === 'norm') {
          const r = clipGradNorm(grads, clip.maxNorm, clip.normType);
          clipped = r.grads;
          gradNorm = r.totalNorm;
        } else {
          clipped = clipGradValue(grads, clip.clipValue);
        }
        tf.dispose(grads);
        grads = clipped;
      }
      o.optimizer.lr = lr;
      o.optimizer.step(grads);
      return { losses, total, gradNorm: gradNorm ? (await gradNorm.data())[0] : undefined };
    } finally {
      tf.dispose(Object.values(terms));
      tf.dispose(grads);
      if (value) value.dispose();
      if (gradNorm) gradNorm.dispose();
      (o.disposeBatch ?? ((b: B) => tf.dispose(b as unknown as tf.TensorContainer)))(batch);
    }
  }

  private readLastCheckpointPointer(): string {
    if (!this.opts.outputDir) throw new Error('Trainer.resume: no file given and no outputDir to find last_checkpoint in');
    const pointer = path.join(this.opts.outputDir, LAST_CHECKPOINT_FILE);
    if (!fs.existsSync(pointer)) throw new Error(`Trainer.resume: ${pointer} does not exist (no checkpoint to resume from)`);
    return path.join(this.opts.outputDir, fs.readFileSync(pointer, 'utf8').trim());
  }

  /** Delete temporaries of interrupted checkpoint writes in `dir`, saying so on stderr. */
  private sweepTemporaries(dir: string): void {
    const removed = sweepCheckpointTemporaries(dir);
    if (removed.length > 0) {
      (this.opts.log ?? stderrLog)(
        `removed ${removed.length} unfinished checkpoint file(s) left in ${dir} by an interrupted write: ${removed.slice(0, 3).join(', ')}${removed.length > 3 ? ', ...' : ''}`,
      );
    }
  }

  /** @throws CheckpointWriteError naming the checkpoint and the last good one when the write fails (disk full). */
  private async saveCheckpoint(reason: TrainingCheckpointMeta['reason']): Promise<void> {
    const o = this.opts;
    const dir = o.outputDir!;
    const name = checkpointFileName(this.nextIteration);
    const file = path.join(dir, name);
    try {
      await this.writeCheckpoint(dir, name, reason);
    } catch (e) {
      try {
        fs.rmSync(path.join(dir, `${LAST_CHECKPOINT_FILE}.tmp`), { force: true });
      } catch {
        // the folder itself may be gone; the error below says what failed
      }
      this.logger.log({ type: 'error', iteration: this.nextIteration - 1, reason: 'checkpoint write failed', file: name });
      throw new CheckpointWriteError(file, this.lastCheckpoint, e);
    }
    this.lastCheckpoint = file;
    this.logger.log({ type: 'checkpoint', iteration: this.nextIteration - 1, file: name, reason });
  }

  private async writeCheckpoint(dir: string, name: string, reason: TrainingCheckpointMeta['reason']): Promise<void> {
    const o = this.opts;
    const file = path.join(dir, name);
    fs.mkdirSync(dir, { recursive: true });
    await o.checkpoint!.io.save(file, {
      model: o.model,
      optimizerState: o.optimizer.state(),
      meta: {
        kind: 'resvision.train',
        nextIteration: this.nextIteration,
        epoch: this.epoch,
        batchInEpoch: this.batchInEpoch,
        seed: o.seed,
        schedule: o.schedule,
        config: o.config,
        ...(o.architecture ? { architecture: o.architecture } : {}),
        reason,
      },
    });
    const pointer = path.join(dir, LAST_CHECKPOINT_FILE);
    fs.writeFileSync(pointer + '.tmp', name + '\n');
    fs.renameSync(pointer + '.tmp', pointer);
  }

  /** Release the optimizer state (the model belongs to the caller). */
  dispose(): void {
    this.opts.optimizer.dispose();
  }
}
