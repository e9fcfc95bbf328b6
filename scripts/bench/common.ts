/**
 * Helpers shared by the benchmark scripts: command-line options, median timing, peak RSS, the SGD training step and
 * the detector benchmark body, running a Python reference implementation (torchvision, NumPy/PIL) that prints its
 * result as the last line of JSON, and printing the report with the reference side by side.
 */
import * as tf from '@tensorflow/tfjs-core';
import { execFileSync } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import type { BackendInfo } from '../../src/engine/backend';
import { SgdOptimizer } from '../../src/engine/optimizer';

/** torchvision ResNet-50 (v1.5) convolutions at 224x224: [H, Cin, Cout, k, stride, count]. */
export const RESNET50_CONVS: [number, number, number, number, number, number][] = [
  [224, 3, 64, 7, 2, 1],
  [56, 64, 64, 1, 1, 1], [56, 64, 64, 3, 1, 3], [56, 64, 256, 1, 1, 4], [56, 256, 64, 1, 1, 2],
  [56, 256, 128, 1, 1, 1], [56, 128, 128, 3, 2, 1], [28, 128, 512, 1, 1, 4], [56, 256, 512, 1, 2, 1],
  [28, 512, 128, 1, 1, 3], [28, 128, 128, 3, 1, 3],
  [28, 512, 256, 1, 1, 1], [28, 256, 256, 3, 2, 1], [14, 256, 1024, 1, 1, 6], [28, 512, 1024, 1, 2, 1],
  [14, 1024, 256, 1, 1, 5], [14, 256, 256, 3, 1, 5],
  [14, 1024, 512, 1, 1, 1], [14, 512, 512, 3, 2, 1], [7, 512, 2048, 1, 1, 3], [14, 1024, 2048, 1, 2, 1],
  [7, 2048, 512, 1, 1, 2], [7, 512, 512, 3, 1, 2],
];

/** Multiply-adds of a torchvision ResNet-50 forward pass on one size x size image: the convolutions and the fc. */
export function resnet50Macs(size = 224): number {
  let macs = 2048 * 1000;
  for (const [h, cin, cout, k, s, count] of RESNET50_CONVS) {
    const ho = Math.floor((((h * size) / 224) + 2 * ((k - 1) >> 1) - k) / s) + 1;
    macs += count * ho * ho * k * k * cin * cout;
  }
  return macs;
}

/** The value after `--name` on the command line, or `fallback` when the option is absent. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

/**
 * Median wall time of `fn` in milliseconds over `repeats` runs, after `warmup` untimed runs (the first runs of a
 * model compile kernels and grow the heap).
 */
export async function medianMs(fn: () => Promise<void>, warmup: number, repeats: number): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/**
 * Run a Python reference script with `/usr/bin/python3` and parse the JSON object on its last line of output.
 * @returns the parsed object, or `{ error }` saying why the reference could not run (no python3, no torch, ...),
 *   so that a benchmark still prints its own numbers on machines without the reference.
 */
export function pythonReference(script: string, args: string[]): Record<string, unknown> {
  try {
    const out = execFileSync('/usr/bin/python3', [script, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
  } catch (e) {
    return { error: `reference unavailable: ${String((e as Error).message).split('\n')[0]}` };
  }
}

/** The largest resident set size seen by `sample()` (bytes, from `process.memoryUsage().rss`), starting now. */
export class PeakRss {
  private bytes = process.memoryUsage().rss;

  /** Record the current RSS; an arrow property so it can be passed as a callback. */
  readonly sample = (): void => {
    this.bytes = Math.max(this.bytes, process.memoryUsage().rss);
  };

  /** The peak so far in MB (2^20 bytes), rounded. */
  get mb(): number {
    return Math.round(this.bytes / 2 ** 20);
  }
}

/** A model with torchvision-named trainable variables (every model class of the project). */
export interface Trainable {
  trainableParameters(): [string, tf.Variable][];
}

/**
 * Median wall time in ms of one SGD training step (lr 0.01, momentum 0.9, weight decay 1e-4, the settings of every
 * benchmark and of its torch reference): gradients of `loss` with respect to `model`'s trainable variables, the
 * update, and an `await data()` of the loss so the step has finished. `afterStep` runs after each step (RSS
 * sampling). The optimizer's slots are disposed before returning.
 */
export async function sgdStepMs(
  model: Trainable,
  loss: () => tf.Scalar,
  warmup: number,
  repeats: number,
  afterStep: () => void = () => {},
): Promise<number> {
  const params = model.trainableParameters();
  const opt = new SgdOptimizer(params, { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
  try {
    return await medianMs(
      async () => {
        const { value, grads } = tf.variableGrads(loss, params.map(([, v]) => v));
        opt.step(grads);
        await value.data();
        value.dispose();
        tf.dispose(grads);
        afterStep();
      },
      warmup,
      repeats,
    );
  } finally {
    opt.dispose();
  }
}

/** What a detector benchmark needs of a model: inference with post-processing, and the summed training loss. */
export interface BenchDetector extends Trainable {
  /** Detections for `images` ([1, H, W, 3] float32, normalized, padded; `size` the unpadded image in pixels). */
  predict(images: tf.Tensor4D, size: { height: number; width: number }): Promise<unknown>;
  /** The sum of all training losses for `images` and `targets` (boxes xyxy in input pixels, labels 0..K-1). */
  totalLoss(images: tf.Tensor4D, targets: { boxes: Float32Array; labels: Int32Array }[], size: { height: number; width: number }): tf.Scalar;
  dispose(): void;
}

/**
 * The detector benchmark of faster_rcnn.ts and retinanet.ts, from the 1-minute load average on: builds the model,
 * puts an H x W image (H = `short`, W = round(4/3 H)) in a random [1, pad32(H), pad32(W), 3] batch, times inference
 * at batch 1 (median of `repeats` after one warm-up) and one SGD step at batch 1 on two ground-truth boxes, records
 * peak RSS and the live tensor count before/after, disposes the model, then runs the torch reference
 * `torchScript` (scripts/bench/, arguments H W REPEATS THREADS) and prints the report with the ratios.
 */
export async function runDetectorBenchmark(
  names: { benchmark: string; model: string; torchScript: string },
  build: () => BenchDetector,
  backend: BackendInfo,
  opts: { short: number; repeats: number; torchThreads: number },
): Promise<void> {
  const { short, repeats, torchThreads } = opts;
  const h = short;
  const w = Math.round((short * 4) / 3);
  const loadBefore = os.loadavg()[0];
  const rss = new PeakRss();
  const model = build();
  const size = { height: h, width: w };
  const tensorsBefore = tf.memory().numTensors;
  const x = tf.randomNormal([1, pad32(h), pad32(w), 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const inferenceMs = await medianMs(
    async () => {
      await model.predict(x, size);
      rss.sample();
    },
    1,
    repeats,
  );
  const targets = [{ boxes: Float32Array.from([10, 10, 60, 70, 100, 100, 150, 140]), labels: Int32Array.from([0, 1]) }];
  const trainMs = await sgdStepMs(
    model,
    () => {
      const loss = model.totalLoss(x, targets, size);
      rss.sample();
      return loss;
    },
    1,
    repeats,
    rss.sample,
  );
  x.dispose();
  const tensorsAfter = tf.memory().numTensors;
  model.dispose();
  const ours = {
    ...backendFields(backend),
    inference_b1_ms: inferenceMs,
    train_step_b1_ms: trainMs,
    peak_rss_mb: rss.mb,
    num_tensors_before: tensorsBefore,
    num_tensors_after: tensorsAfter,
  };
  printReport(
    { benchmark: names.benchmark, model: names.model, input: { height: h, width: w, padded: [pad32(h), pad32(w)] } },
    repeats,
    loadBefore,
    ours,
    () => pythonReference(path.join(__dirname, names.torchScript), [h, w, repeats, torchThreads].map(String)),
    { inference_ratio: 'inference_b1_ms', train_step_ratio: 'train_step_b1_ms' },
  );
}

/** The first fields of a benchmark's `resvision` record: implementation, tfjs backend, its package version, threads. */
export function backendFields(backend: BackendInfo): { impl: 'resvision'; backend: string; version: string; threads: number } {
  return { impl: 'resvision', backend: backend.name, version: backend.version, threads: backend.threads };
}

/** `v` rounded up to a multiple of 32 (the batch collate's padding, the backbone's largest stride). */
export function pad32(v: number): number {
  return Math.ceil(v / 32) * 32;
}

/**
 * Print a benchmark's JSON object (2-space indent): `head` (benchmark name, model, input), then `repeats`, the core
 * count, the 1-minute load average before the run (`loadBefore`), after it and after the reference, our record, the
 * reference's, and each ratio of `ratios` (name → key of both records: ours / reference) when the reference ran.
 * `reference` is called between the two last load readings; `derived` adds fields computed from the reference.
 */
export function printReport(
  head: Record<string, unknown>,
  repeats: number,
  loadBefore: number,
  ours: Record<string, unknown>,
  reference: () => Record<string, unknown>,
  ratios: Record<string, string>,
  derived: (ref: Record<string, unknown>) => Record<string, unknown> = () => ({}),
): void {
  const loadAfter = os.loadavg()[0];
  const ref = reference();
  const keys = Object.entries(ratios);
  const ran = keys.length > 0 && keys[0][1] in ref;
  const ratioValues = ran ? Object.fromEntries(keys.map(([name, key]) => [name, (ours[key] as number) / (ref[key] as number)])) : {};
  process.stdout.write(`${JSON.stringify({
    ...head,
    repeats,
    cpus: os.cpus().length,
    load_avg_1m: { before: loadBefore, after: loadAfter, after_reference: os.loadavg()[0] },
    resvision: ours,
    reference: ref,
    ...ratioValues,
    ...derived(ref),
  }, null, 2)}\n`);
}

/** Run a benchmark's `main`, printing the stack and exiting with status 1 on failure. */
export function runMain(main: () => Promise<void>): void {
  main().catch((e) => {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(1);
  });
}
