/**
 * The classification task end to end: ImageFolder data → ResNet + linear head → training engine → top-1/top-5
 * evaluation, and prediction. This module (like `src/cli`) assembles `datasets/`, `heads/` and the engine; the
 * building blocks themselves never import one another across those folders.
 *
 * Reference: torchvision references/classification/train.py (transforms, label smoothing, weight-decay groups).
 */
import * as tf from '@tensorflow/tfjs';
import * as fs from 'fs';
import * as path from 'path';
import { ClassificationEvaluator, ClassificationMetrics, imageFolderDataset, scanImageFolder } from '../../datasets/image_folder';
import { ClassificationBatch, collateClassification, DataLoader, disposeClassificationBatch } from '../../datasets/loader';
import { classificationEvalTransform, classificationTrainTransform } from '../../datasets/pipeline';
import { ResNetClassifier } from '../../heads/classification/model';
import { buildBackbone } from '../backbone/resnet';
import { scaledLr } from '../config/load';
import type { ClassificationConfig } from '../config/types';
import { loadCheckpoint, restoreModel } from '../engine/checkpoint';
import { LrSchedule } from '../engine/lr_schedule';
import { SgdOptimizer, weightDecayGroups } from '../engine/optimizer';
import { startTaskProgress } from '../engine/task_progress';
import { safetensorsCheckpointIO, skippingBatchSource, Trainer, TrainingCheckpointMeta, TrainResult } from '../engine/trainer';
import { loadTorchvisionWeights, WeightLoadReport } from '../weights/torchvision';
import type { TaskRunner } from './task';

/** The resolved config stored in a classification checkpoint: the config plus the class names it was trained on. */
export interface ClassificationRunConfig extends ClassificationConfig {
  classes: string[];
}

/**
 * Build the classifier a config describes (random initialization from `train.seed`).
 * @param numClasses K, the number of classes (from the config, or the class folders found).
 */
export function buildClassifier(cfg: ClassificationConfig, numClasses: number): ResNetClassifier {
  const b = cfg.model.backbone;
  const backbone = buildBackbone(b.name, {
    normLayer: b.normLayer,
    frozenStages: b.frozenStages,
    zeroInitResidual: b.zeroInitResidual,
    replaceStrideWithDilation: b.replaceStrideWithDilation,
    seed: cfg.train.seed,
  });
  return new ResNetClassifier(backbone, numClasses, cfg.train.seed + 1);
}

/**
 * Load the config's `model.weights` (torchvision or timm, .safetensors or .pth) into `model`. When the file's `fc`
 * does not fit K classes, only the backbone is loaded and the head keeps its initialization (fine-tuning).
 */
export async function loadInitialWeights(model: ResNetClassifier, file: string): Promise<WeightLoadReport> {
  if (!fs.existsSync(file)) throw new Error(`weights file not found: ${file}`);
  const report = await loadTorchvisionWeights(model, file, { strict: false });
  const fcMismatch = report.shapeMismatched.some((m) => m.name.startsWith('fc.'));
  const fcMissing = report.missing.some((n) => n.startsWith('fc.'));
  const other = [...report.missing.filter((n) => !n.startsWith('fc.')), ...report.shapeMismatched.filter((m) => !m.name.startsWith('fc.')).map((m) => m.name)];
  if (other.length > 0 || report.unexpected.length > 0) {
    throw new Error(
      `${file}: weights do not fit ${model.backbone.constructor.name}: missing or mismatched ${other.slice(0, 8).join(', ') || 'none'}; ` +
        `unexpected ${report.unexpected.slice(0, 8).join(', ') || 'none'}`,
    );
  }
  if (fcMismatch || fcMissing) {
    process.stderr.write(`${file}: classifier 'fc' not loaded (${fcMissing ? 'absent' : 'shape differs'}); it is trained from its initialization\n`);
  }
  return report;
}

/** The engine schedule of a config (base LR from the linear scaling rule). */
export function scheduleOf(cfg: ClassificationConfig): LrSchedule {
  return { baseLr: scaledLr(cfg), ...cfg.schedule };
}

function evalLoader(cfg: ClassificationConfig, folder: Awaited<ReturnType<typeof scanImageFolder>>) {
  const transform = classificationEvalTransform({ resizeSize: cfg.data.evalResizeSize, cropSize: cfg.data.evalCropSize });
  return new DataLoader(imageFolderDataset(folder, transform), {
    batchSize: cfg.train.batchSize,
    collate: collateClassification,
    shuffle: false,
    concurrency: cfg.train.numWorkers,
  });
}

/**
 * Top-1/top-5 evaluation of `model` on an ImageFolder split.
 * @param classes K class names in label order; the split's class folders must be the same.
 * @throws Error when the split's classes differ from `classes`.
 */
export async function evaluateOnFolder(
  model: ResNetClassifier,
  cfg: ClassificationConfig,
  splitRoot: string,
  classes: string[],
  opts: { quiet?: boolean } = {},
): Promise<ClassificationMetrics> {
  if (!fs.existsSync(splitRoot)) {
    throw new Error(`data folder not found: ${splitRoot} (data.root in the config, or --data, with --split naming a sub-folder)`);
  }
  const folder = await scanImageFolder(splitRoot);
  if (folder.classes.join('\u0000') !== classes.join('\u0000')) {
    throw new Error(`${splitRoot}: classes [${folder.classes.join(', ')}] differ from the model's [${classes.join(', ')}]`);
  }
  const loader = evalLoader(cfg, folder);
  const evaluator = new ClassificationEvaluator(classes);
  const progress = startTaskProgress('eval', folder.samples.length, { quiet: opts.quiet, unit: 'images' });
  let done = 0;
  for await (const batch of loader.epoch(0)) {
    try {
      const logits = model.forward(batch.images, { training: false });
      const [values, labels] = await Promise.all([logits.data(), batch.labels.data()]);
      logits.dispose();
      evaluator.update(values as Float32Array, labels as Int32Array);
    } finally {
      disposeClassificationBatch(batch);
    }
    done += batch.metas.length;
    progress.update(done);
  }
  progress.stop();
  return evaluator.result();
}

/** Options of `trainClassification`. */
export interface TrainClassificationOptions {
  /** Resume from this checkpoint, or from `<outputDir>/last_checkpoint` when `true`. */
  resume?: string | boolean;
  quiet?: boolean;
}

/**
 * Train a classifier as the config says, evaluating on `data.valSplit` every `train.evalEvery` iterations and at
 * the end, writing checkpoints and `metrics.jsonl` to `train.outputDir`.
 * @returns how training ended and the final validation metrics.
 * @throws Error for a missing data folder, an unreadable image (naming the file), a weights file that does not fit,
 *   a non-finite loss (naming the iteration and term).
 */
export async function trainClassification(
  cfg: ClassificationConfig,
  opts: TrainClassificationOptions = {},
): Promise<{ result: TrainResult; metrics?: ClassificationMetrics; classes: string[] }> {
  const trainRoot = path.join(cfg.data.root, cfg.data.trainSplit);
  const valRoot = path.join(cfg.data.root, cfg.data.valSplit);
  for (const d of [trainRoot, valRoot]) {
    if (!fs.existsSync(d)) throw new Error(`data folder not found: ${d} (data.root in the config, or --data, must be an ImageFolder root with ${cfg.data.trainSplit}/ and ${cfg.data.valSplit}/)`);
  }
  const folder = await scanImageFolder(trainRoot);
  const numClasses = cfg.model.numClasses ?? folder.classes.length;
  if (numClasses !== folder.classes.length) {
    throw new Error(`model.numClasses is ${numClasses} but ${trainRoot} has ${folder.classes.length} class folders`);
  }
  const runConfig: ClassificationRunConfig = { ...cfg, classes: folder.classes };
  const model = buildClassifier(cfg, numClasses);
  const trainLoader = new DataLoader(
    imageFolderDataset(folder, classificationTrainTransform({ size: cfg.data.trainCropSize })),
    { batchSize: cfg.train.batchSize, collate: collateClassification, shuffle: true, dropLast: true, seed: cfg.train.seed, concurrency: cfg.train.numWorkers },
  );
  if (trainLoader.batchesPerEpoch === 0) {
    throw new Error(`${trainRoot}: ${folder.samples.length} images are fewer than one batch of ${cfg.train.batchSize}`);
  }
  const o = cfg.optimizer;
  const optimizer = new SgdOptimizer(
    weightDecayGroups(model, { weightDecay: o.weightDecay, normWeightDecay: o.normWeightDecay ?? undefined }),
    { lr: scaledLr(cfg), momentum: o.momentum, nesterov: o.nesterov, weightDecayMode: o.weightDecayMode },
  );
  let lastMetrics: ClassificationMetrics | undefined;
  const trainer = new Trainer<ClassificationBatch>({
    model,
    computeLosses: (batch, ctx) =>
      model.computeLosses(batch.images, batch.labels, { training: ctx.training, labelSmoothing: cfg.loss.labelSmoothing }),
    data: skippingBatchSource(trainLoader, disposeClassificationBatch),
    disposeBatch: disposeClassificationBatch,
    optimizer,
    schedule: scheduleOf(cfg),
    seed: cfg.train.seed,
    gradClip: o.gradClipNorm !== null ? { kind: 'norm', maxNorm: o.gradClipNorm } : undefined,
    outputDir: cfg.train.outputDir,
    checkpoint: cfg.train.checkpointEvery > 0 ? { io: safetensorsCheckpointIO, everyIters: cfg.train.checkpointEvery } : undefined,
    logEveryIters: cfg.train.logEvery,
    evaluation:
      cfg.train.evalEvery > 0
        ? {
            everyIters: cfg.train.evalEvery,
            run: async () => {
              lastMetrics = await evaluateOnFolder(model, cfg, valRoot, folder.classes, { quiet: true });
              return { top1Percent: 100 * lastMetrics.top1, top5Percent: 100 * lastMetrics.top5 };
            },
          }
        : undefined,
    quiet: opts.quiet,
    config: runConfig,
    architecture: `${cfg.model.backbone.name} classifier`,
  });
  try {
    if (opts.resume) {
      await trainer.resume(typeof opts.resume === 'string' ? opts.resume : undefined);
    } else if (cfg.model.weights) {
      await loadInitialWeights(model, cfg.model.weights);
    }
    const result = await trainer.train();
    return { result, metrics: lastMetrics, classes: folder.classes };
  } finally {
    trainer.dispose();
    optimizer.dispose();
    model.dispose();
  }
}

/**
 * Open a classification checkpoint and rebuild its model.
 * @throws Error naming the file when it is not a classification checkpoint or does not fit the config's model.
 */
export async function loadClassifierCheckpoint(
  cfg: ClassificationConfig,
  file: string,
): Promise<{ model: ResNetClassifier; classes: string[] }> {
  if (!fs.existsSync(file)) throw new Error(`checkpoint not found: ${file}`);
  const ckpt = await loadCheckpoint<TrainingCheckpointMeta>(file);
  try {
    const stored = ckpt.meta.config as Partial<ClassificationRunConfig> | undefined;
    if (!stored || stored.task !== 'classification' || !Array.isArray(stored.classes)) {
      throw new Error(`${file}: not a classification checkpoint (no class names in its metadata)`);
    }
    const model = buildClassifier(cfg, stored.classes.length);
    try {
      await restoreModel(model, ckpt, { strict: true });
    } catch (e) {
      model.dispose();
      throw e;
    }
    return { model, classes: stored.classes };
  } finally {
    await ckpt.close();
  }
}

/** One image's top predictions. */
export interface ClassPrediction {
  file: string;
  /** Up to 5 entries, best first: class name, label and softmax probability 0..1. */
  top: { className: string; label: number; probability: number }[];
}

/**
 * Top-5 predictions for image files, with the config's evaluation transform.
 * @throws Error naming the file for an unreadable image.
 */
export async function predictClassification(model: ResNetClassifier, cfg: ClassificationConfig, classes: string[], files: string[]): Promise<ClassPrediction[]> {
  const transform = classificationEvalTransform({ resizeSize: cfg.data.evalResizeSize, cropSize: cfg.data.evalCropSize });
  const out: ClassPrediction[] = [];
  for (const file of files) {
    if (!fs.existsSync(file)) throw new Error(`image not found: ${file}`);
    const sample = await transform({ file, label: 0 }, undefined as never);
    const probs = tf.tidy(() => {
      const x = tf.tensor4d(sample.image.data, [1, sample.image.height, sample.image.width, 3]);
      return tf.softmax(model.forward(x, { training: false }));
    });
    const p = Array.from(await probs.data());
    probs.dispose();
    const order = p.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 5);
    out.push({ file, top: order.map(([v, i]) => ({ className: classes[i], label: i, probability: v })) });
  }
  return out;
}

/** The evaluation report: top-1/top-5, per-class accuracy and the confusion matrix, with class names. */
export function formatClassificationMetrics(m: ClassificationMetrics, classes: string[]): string {
  const pct = (v: number | null) => (v === null || Number.isNaN(v) ? '   n/a' : (100 * v).toFixed(2).padStart(6));
  const w = Math.max(5, ...classes.map((c) => c.length));
  const lines = [
    `images: ${m.count}   top-1: ${pct(m.top1).trim()}%   top-5: ${pct(m.top5).trim()}%   mean class accuracy: ${pct(m.meanClassAccuracy).trim()}%`,
    '',
    `${'class'.padEnd(w)}  images  acc (%)`,
    ...classes.map((c, k) => `${c.padEnd(w)}  ${String(m.perClassCount[k]).padStart(6)}  ${pct(m.perClassAccuracy[k])}`),
    '',
    'confusion matrix (rows: ground truth, columns: prediction)',
    `${''.padEnd(w)}  ${classes.map((c) => c.slice(0, 8).padStart(8)).join(' ')}`,
    ...classes.map((c, k) => `${c.padEnd(w)}  ${m.confusion[k].map((v) => String(v).padStart(8)).join(' ')}`),
  ];
  return lines.join('\n');
}

/** The classification task's entry points for the CLI. */
export const classificationTask: TaskRunner<ClassificationConfig> = {
  async train(cfg, opts) {
    const { result, metrics, classes } = await trainClassification(cfg, opts);
    return {
      status: result.status,
      iterations: result.nextIteration,
      lastCheckpoint: result.lastCheckpoint,
      report: metrics ? formatClassificationMetrics(metrics, classes) : undefined,
    };
  },
  async evaluate(cfg, checkpoint, opts) {
    const { model, classes } = await loadClassifierCheckpoint(cfg, checkpoint);
    try {
      const m = await evaluateOnFolder(model, cfg, path.join(cfg.data.root, cfg.data.valSplit), classes, { quiet: opts.quiet });
      return formatClassificationMetrics(m, classes);
    } finally {
      model.dispose();
    }
  },
  async predict(cfg, checkpoint, images, opts) {
    const { model, classes } = await loadClassifierCheckpoint(cfg, checkpoint);
    try {
      const preds = await predictClassification(model, cfg, classes, images);
      if (opts.json) return JSON.stringify(preds, null, 2);
      return preds
        .map((p) => [p.file, ...p.top.map((t) => `  ${(100 * t.probability).toFixed(2).padStart(6)}%  ${t.className}`)].join('\n'))
        .join('\n');
    } finally {
      model.dispose();
    }
  },
};
