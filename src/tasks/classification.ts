/**
 * The classification task end to end: ImageFolder data → ResNet + linear head → training engine → top-1/top-5
 * evaluation, and prediction. This module (like `src/cli`) assembles `datasets/`, `heads/` and the engine; the
 * building blocks themselves never import one another across those folders.
 *
 * Reference: torchvision references/classification/train.py (transforms, label smoothing, weight-decay groups).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import * as path from 'path';
import { ClassificationEvaluator, ClassificationMetrics, imageFolderDataset, scanImageFolder } from '../../datasets/image_folder';
import { collateClassification, DataLoader, disposeClassificationBatch } from '../../datasets/loader';
import { classificationEvalTransform, classificationTrainTransform } from '../../datasets/pipeline';
import { ResNetClassifier } from '../../heads/classification/model';
import type { LogSink } from '../common/log';
import { shardItems, type Shard } from '../common/shard';
import type { ClassificationConfig } from '../config/types';
import { loadPretrained } from '../weights/pretrained';
import type { WeightLoadReport } from '../weights/torchvision';
import { ARCHITECTURES, buildClassifier } from './models';
import { evaluate, openTaskCheckpoint, runInference, runTraining, taskLog, trainSummary, withModel, type EvaluationPlan, type TrainingOutcome } from './harness';
import type { ModelSource, TaskRunner, TaskTrainOptions } from './task';
import { requireOutDir, writeEvalPart, writePredictPart } from './shards';
import { loadModelFromWeights } from './torchvision_weights';
import { handToOnnxRuntime, OnnxClassifier, readOnnxFile } from '../export/onnx/task_models';

export { buildClassifier };

/** The resolved config stored in a classification checkpoint: the config plus the class names it was trained on. */
export interface ClassificationRunConfig extends ClassificationConfig {
  classes: string[];
}

/**
 * Load the config's `model.weights` (torchvision or timm, .safetensors or .pth) into `model`. When the file's `fc`
 * does not fit K classes, only the backbone is loaded and the head keeps its initialization (fine-tuning).
 * @throws Error naming the file when it is missing or a tensor outside `fc` does not fit.
 */
export function loadInitialWeights(model: ResNetClassifier, file: string, log: LogSink): Promise<WeightLoadReport> {
  return loadPretrained(model, file, { family: ARCHITECTURES.classifier.weightFamily, classifierKeys: model.classifierKeys, modelName: model.backbone.constructor.name, log });
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
 * The top-1/top-5 evaluation of `model` on an ImageFolder split: its evaluator and the loop feeding it, and how many
 * images it feeds of the split's.
 * @param classes K class names in label order; the split's class folders must be the same.
 * @param shard feed only the images of this shard (image i of the folder when i mod N = k); absent: all.
 * @throws Error when the folder is missing or its classes differ from `classes`.
 */
export async function folderEvaluation(
  model: ClassifierPredictor,
  cfg: ClassificationConfig,
  splitRoot: string,
  classes: string[],
  shard?: Shard,
): Promise<EvaluationPlan<ClassificationMetrics> & { evaluator: ClassificationEvaluator; numImages: number; totalImages: number }> {
  if (!fs.existsSync(splitRoot)) {
    throw new Error(`data folder not found: ${splitRoot} (data.root in the config, or --data, with --split naming a sub-folder)`);
  }
  const folder = await scanImageFolder(splitRoot);
  if (folder.classes.join('\u0000') !== classes.join('\u0000')) {
    throw new Error(`${splitRoot}: classes [${folder.classes.join(', ')}] differ from the model's [${classes.join(', ')}]`);
  }
  const samples = shard ? shardItems(folder.samples, shard) : folder.samples;
  const loader = evalLoader(cfg, { ...folder, samples });
  const evaluator = new ClassificationEvaluator(classes);
  return {
    numImages: samples.length,
    totalImages: folder.samples.length,
    evaluator,
    feed: ({ quiet }) =>
      runInference(loader.epoch(0), {
        total: samples.length,
        quiet,
        imagesIn: (batch) => batch.metas.length,
        dispose: disposeClassificationBatch,
        process: async (batch) => {
          const [{ logits }, labels] = await Promise.all([model.predict(batch.images), batch.labels.data()]);
          evaluator.update(logits, labels as Int32Array);
        },
      }),
  };
}

/** Top-1/top-5 evaluation of `model` on an ImageFolder split (see {@link folderEvaluation}). */
export async function evaluateOnFolder(
  model: ResNetClassifier,
  cfg: ClassificationConfig,
  splitRoot: string,
  classes: string[],
  opts: { quiet?: boolean } = {},
): Promise<ClassificationMetrics> {
  return evaluate(await folderEvaluation(model, cfg, splitRoot, classes), opts);
}

/**
 * Train a classifier as the config says, evaluating on `data.valSplit` every `train.evalEvery` iterations and at
 * the end, writing checkpoints and `metrics.jsonl` to `train.outputDir` (see `runTraining`).
 * @returns how training ended, the final validation metrics and the class names.
 * @throws Error for a missing data folder, an unreadable image (naming the file), a weights file that does not fit,
 *   a non-finite loss (naming the iteration and term).
 */
export async function trainClassification(
  cfg: ClassificationConfig,
  opts: TaskTrainOptions = {},
): Promise<TrainingOutcome<ClassificationMetrics> & { classes: string[] }> {
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
  const log = taskLog(opts);
  const outcome = await runTraining(cfg, {
    model,
    data: new DataLoader(
      imageFolderDataset(folder, classificationTrainTransform({ size: cfg.data.trainCropSize })),
      { batchSize: cfg.train.batchSize, collate: collateClassification, shuffle: true, dropLast: true, seed: cfg.train.seed, concurrency: cfg.train.numWorkers },
    ),
    dataName: trainRoot,
    numImages: folder.samples.length,
    disposeBatch: disposeClassificationBatch,
    runConfig,
    architecture: `${cfg.model.backbone.name} classifier`,
    evaluation: cfg.train.evalEvery > 0 ? await folderEvaluation(model, cfg, valRoot, folder.classes) : undefined,
    loadInitialWeights: async () => {
      if (cfg.model.weights) await loadInitialWeights(model, cfg.model.weights, log);
    },
  }, opts);
  return { ...outcome, classes: folder.classes };
}

/**
 * Open a classification checkpoint and rebuild its model.
 * @throws Error naming the file when it is not a classification checkpoint or does not fit the config's model.
 */
export async function loadClassifierCheckpoint(
  cfg: ClassificationConfig,
  file: string,
): Promise<{ model: ResNetClassifier; classes: string[] }> {
  const { model, run } = await openTaskCheckpoint<ClassificationRunConfig, ResNetClassifier>(file, {
    task: 'classification',
    isRunConfig: (stored) => Array.isArray(stored.classes),
    build: (stored) => buildClassifier(cfg, stored.classes.length),
  });
  return { model, classes: run.classes };
}

/** What evaluation and prediction call on a classifier: `ResNetClassifier`, or `OnnxClassifier` (ONNX Runtime). */
export type ClassifierPredictor = Pick<ResNetClassifier, 'predict'>;

/** A model to release after use (a tfjs module, or an ONNX Runtime session). */
type Disposable = { dispose(): void | Promise<void> };

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
export async function predictClassification(model: ClassifierPredictor, cfg: ClassificationConfig, classes: string[], files: string[]): Promise<ClassPrediction[]> {
  const transform = classificationEvalTransform({ resizeSize: cfg.data.evalResizeSize, cropSize: cfg.data.evalCropSize });
  const out: ClassPrediction[] = [];
  for (const file of files) {
    if (!fs.existsSync(file)) throw new Error(`image not found: ${file}`);
    const sample = await transform({ file, label: 0 }, undefined as never);
    const x = tf.tensor4d(sample.image.data, [1, sample.image.height, sample.image.width, 3]);
    const p = Array.from(await model.predict(x).finally(() => x.dispose()).then((r) => r.probs));
    const order = p.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 5);
    out.push({ file, top: order.map(([v, i]) => ({ className: classes[i], label: i, probability: v })) });
  }
  return out;
}

/**
 * The classifier of a checkpoint, or of a torchvision state dict (K from its `fc`; ImageNet's class names for 1000
 * classes, see `loadModelFromWeights`), run by tfjs or by ONNX Runtime (`engine: 'onnx'`: exported in memory); or
 * of a `resvision export` file (class names from its metadata).
 * @throws as {@link loadClassifierCheckpoint}, `loadModelFromWeights` and `readOnnxFile`; Error saying how to
 *   install onnxruntime-node when ONNX Runtime is asked for and absent.
 */
async function openClassifier(cfg: ClassificationConfig, source: ModelSource, log: LogSink): Promise<{ model: ClassifierPredictor & Disposable; classes: string[] }> {
  if ('onnx' in source) {
    const file = readOnnxFile(source.onnx, ['classifier']);
    return { model: await OnnxClassifier.create(file, file.classes.length), classes: file.classes };
  }
  const { model, classes } = 'checkpoint' in source
    ? await loadClassifierCheckpoint(cfg, source.checkpoint)
    : await loadModelFromWeights(cfg, source.weights, (k) => buildClassifier(cfg, k), log).then(({ model: m, space }) => ({ model: m, classes: space.names }));
  if (source.engine !== 'onnx') return { model, classes };
  return { model: await handToOnnxRuntime(model, (m) => OnnxClassifier.create(m, m.numClasses)), classes };
}

/** The classification task's entry points for the CLI. */
export const classificationTask: TaskRunner<ClassificationConfig> = {
  async train(cfg, opts) {
    const outcome = await trainClassification(cfg, opts);
    return trainSummary(outcome, (m) => new ClassificationEvaluator(outcome.classes).format(m));
  },
  async evaluate(cfg, source, opts) {
    const { model, classes } = await openClassifier(cfg, source, taskLog(opts));
    return withModel(model, async () => {
      const plan = await folderEvaluation(model, cfg, path.join(cfg.data.root, cfg.data.valSplit), classes, opts.shard);
      const metrics = await evaluate(plan, opts);
      if (!opts.shard) return plan.evaluator.format(metrics);
      return writeEvalPart(cfg, source, requireOutDir(opts), { shard: opts.shard, numImages: plan.numImages, totalImages: plan.totalImages, classes }, plan.evaluator.exportState());
    });
  },
  async predict(cfg, source, images, opts) {
    const { model, classes } = await openClassifier(cfg, source, taskLog(opts));
    return withModel(model, async () => {
      const preds = await predictClassification(model, cfg, classes, opts.shard ? shardItems(images, opts.shard) : images);
      if (opts.shard) return writePredictPart(cfg, source, requireOutDir(opts, 'predict'), opts.shard, images, preds);
      if (opts.json) return JSON.stringify(preds, null, 2);
      return preds
        .map((p) => [p.file, ...p.top.map((t) => `  ${(100 * t.probability).toFixed(2).padStart(6)}%  ${t.className}`)].join('\n'))
        .join('\n');
    });
  },
};
