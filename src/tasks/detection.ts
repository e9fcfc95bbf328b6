/**
 * The detection task end to end: COCO-format or Pascal VOC data → ResNet + FPN + RetinaNet or Faster R-CNN (the
 * config's `model.arch`) → training engine → COCO mAP (pycocotools' 12 summary lines; for VOC data also VOC AP), and
 * prediction with drawn boxes. This module states what is particular to detection; `./harness.ts` runs it.
 *
 * Data flow: an adapter lists records (boxes xyxy in original pixels, contiguous labels 0..K-1 in the run's class
 * order) → `detectionTrainTransform` / `detectionEvalTransform` (shortest-edge resize, flip, normalize) →
 * `collateDetection` (bottom/right zero padding to the model's `sizeDivisibility`, `ImageMeta` and content size per
 * image) → `Detector` (`computeLosses` / `predict`) → `detectionsToOriginal` → `DetectionEvaluator` (COCO results with the
 * split's category ids, `CocoEval`, VOC AP). Splits are listed by `loadDetectionSplit` (`datasets/detection_split.ts`);
 * training and the evaluation loop are the harness's (`./harness.ts`).
 *
 * Reference: torchvision `references/detection/train.py` (loop, `evaluate`), `coco_utils.py` / `coco_eval.py`
 * (results with the dataset's category ids, `COCOeval(..., 'bbox')`); detectron2 `configs/COCO-Detection/
 * retinanet_R_50_FPN_1x.yaml`, `faster_rcnn_R_50_FPN_1x.yaml` (schedule, frozen stem and res2, FrozenBN),
 * `evaluation/pascal_voc_evaluation.py`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { LabelMap, labelMapByCategoryId, labelMapByName } from '../../datasets/category_map';
import { collateDetection, DetectionBatch, detectionCollate, disposeDetectionBatch } from '../../datasets/collate_detection';
import { DetectionEvaluator, formatDetectionMetrics, type DetectionMetrics } from '../../datasets/detection_evaluator';
import { formatSplitIssues, loadDetectionSplit, type DetectionSplit } from '../../datasets/detection_split';
import { DataLoader } from '../../datasets/loader';
import { decodeImage } from '../../datasets/pipeline/decode';
import {
  detectionDataset,
  detectionEvalTransform,
  detectionTrainTransform,
  type DetectionRecord,
  type DetectionTransform,
} from '../../datasets/pipeline/detection_presets';
import { ImageWorkerPool } from '../../datasets/pipeline/image_worker_pool';
import { normalizeSample } from '../../datasets/pipeline/normalize';
import { resize, resizeShortestEdgeSize } from '../../datasets/pipeline/transforms';
import type { DetectionSample } from '../../datasets/types';
import { FasterRCNN } from '../../heads/detection/faster_rcnn';
import type { RetinaNet } from '../../heads/detection/model';
import { Detections, detectionsToOriginal } from '../../heads/detection/postprocess';
import { writeJsonAtomic } from '../common/atomic_write';
import type { LogSink } from '../common/log';
import { shardIndices, shardItems } from '../common/shard';
import type { DetectionConfig } from '../config/types';
import { isOutOfMemoryError } from '../engine/trainer';
import { loadPretrained } from '../weights/pretrained';
import { loadTorchvisionWeights, type WeightLoadReport } from '../weights/torchvision';
import { detectionEvaluationReport } from './detection_report';
import { drawDetections } from './draw';
import { ARCHITECTURES, buildDetector, isFasterRCNNConfig, type Detector, type DetectorOf } from './models';
import { evaluate, openTaskCheckpoint, runInference, runTraining, taskLog, trainSummary, withModel, type EvaluationPlan, type TrainingOutcome } from './harness';
import { requireOutDir, writeEvalPart, writePredictPart } from './shards';
import type { ModelSource, TaskEvalOptions, TaskRunner, TaskTrainOptions } from './task';
import { loadModelFromWeights, type WeightsLabelSpace } from './torchvision_weights';
import { handToOnnxRuntime, OnnxRetinaNet, readOnnxFile, type InferenceEngine } from '../export/onnx/task_models';

export { buildDetector, isFasterRCNNConfig, type Detector, type DetectorOf };

/**
 * The resolved config stored in a detection checkpoint: the config plus the class names (label order) and the
 * category id of each class in the training annotations (COCO ids; 1..K for VOC data).
 */
export type DetectionRunConfig = DetectionConfig & {
  classes: string[];
  categoryIds: number[];
};

/** The detector a config builds, as the table names it (`ARCHITECTURES`), and as messages name it. */
function detectorOf(cfg: DetectionConfig): { arch: 'retinanet' | 'faster_rcnn'; name: string } {
  return isFasterRCNNConfig(cfg) ? { arch: 'faster_rcnn', name: 'Faster R-CNN' } : { arch: 'retinanet', name: 'RetinaNet' };
}

// ---------------------------------------------------------------------------------------------------------------
// Model

/**
 * Load the config's `model.weights` into a detector:
 * - an ImageNet ResNet state dict (torchvision or timm names, `fc.*` ignored) goes into `model.backbone.body`;
 * - a torchvision state dict of the same detector loads whole: RetinaNet (`backbone.body.*`, `backbone.fpn.*`,
 *   `head.*`) or Faster R-CNN (`backbone.*`, `rpn.head.*`, `roi_heads.*`); when its classifier layers
 *   (`model.classifierKeys`: RetinaNet's `cls_logits`, Faster R-CNN's `box_predictor`) have another number of
 *   classes, they keep their initialization (fine-tuning).
 * @throws Error naming the file when it is neither, or when backbone/FPN/head tensors are missing or do not fit.
 */
export async function loadDetectorInitialWeights(model: Detector, file: string, log: LogSink): Promise<WeightLoadReport> {
  if (!fs.existsSync(file)) throw new Error(`weights file not found: ${file}`);
  const body = model.backbone.body;
  const bodyReport = await loadTorchvisionWeights(body, file, { strict: false });
  if (bodyReport.loaded.length > 0) {
    const bad = [...bodyReport.missing, ...bodyReport.shapeMismatched.map((m) => m.name)];
    if (bad.length > 0) {
      throw new Error(`${file}: ImageNet weights do not fit the ${body.constructor.name} backbone: missing or mismatched ${bad.slice(0, 8).join(', ')}`);
    }
    return bodyReport;
  }
  const name = model instanceof FasterRCNN ? 'Faster R-CNN' : 'RetinaNet';
  const family = ARCHITECTURES[model instanceof FasterRCNN ? 'faster_rcnn' : 'retinanet'].weightFamily;
  const opts = { family, classifierKeys: model.classifierKeys, modelName: name, log } as const;
  const report = await loadTorchvisionWeights(model, file, { strict: false, family });
  if (report.loaded.length === 0) {
    throw new Error(`${file}: neither ImageNet ResNet weights (conv1.weight, layer1.*) nor a torchvision ${name} state dict (backbone.body.*)`);
  }
  return loadPretrained(model, file, opts);
}

/**
 * Replace a wasm out-of-memory failure (see `isOutOfMemoryError`) by a one-line error naming the detector and the
 * settings that set the memory of a detection step; other errors pass unchanged. The backbone and FPN activations
 * scale with the batch size and the input size (Faster R-CNN's FPN adds P2, at stride 4); RetinaNet's
 * classification outputs and focal-loss terms are [N, R, K] float32 (R anchors over all levels).
 */
export function explainDetectionOutOfMemory(e: unknown, cfg: DetectionConfig): unknown {
  if (!isOutOfMemoryError(e)) return e;
  const err = new Error(
    `out of memory in ${detectorOf(cfg).name} ${cfg.model.backbone.name} (the wasm heap is limited to 4 GB): lower train.batchSize ` +
      `(now ${cfg.train.batchSize}) or data.trainShortEdge / data.trainMaxSize (now [${cfg.data.trainShortEdge.join(', ')}] / ${cfg.data.trainMaxSize})`,
  );
  (err as Error & { cause?: unknown }).cause = e;
  return err;
}

// ---------------------------------------------------------------------------------------------------------------
// Data and evaluation

/**
 * The loader of the detection tasks: images decoded, resized, mirrored and normalized on `pool`'s threads
 * (`train.numWorkers` of them), twice as many images in flight as threads (torch's `prefetch_factor` 2), padded to
 * the model's size divisibility.
 */
function detectionLoader(
  records: readonly DetectionRecord[],
  transform: DetectionTransform,
  cfg: DetectionConfig,
  opts: { shuffle: boolean; sizeDivisibility: number },
): DataLoader<DetectionSample<Float32Array>, DetectionBatch> {
  return new DataLoader(detectionDataset(records, transform), {
    batchSize: cfg.train.batchSize,
    collate: detectionCollate({ sizeDivisibility: opts.sizeDivisibility }),
    shuffle: opts.shuffle,
    dropLast: opts.shuffle,
    seed: cfg.train.seed,
    concurrency: 2 * cfg.train.numWorkers,
  });
}

/**
 * COCO box evaluation (and VOC AP for VOC data) of `model` on a listed split, with the config's evaluation
 * transform (shortest edge `data.evalShortEdge`, `data.evalMaxSize`) and post-processing: the evaluator and the loop
 * feeding it detections in original pixels.
 * @param split from `loadDetectionSplit(cfg.data, name, classes, 'eval')`; its classes are the model's, unless
 *   `labels` maps the model's labels onto them.
 * @param pool the decoding threads (owned by the caller).
 * @param labels the split label of each model label (detections of the others dropped and counted), for a model of
 *   another label space (torchvision's COCO category ids); absent: the model's labels are the split's.
 * @param indices the records to feed, increasing (a shard of the split); absent: all.
 * @throws Error when the split's classes are not the model's, or `labels` does not map the model's K labels.
 */
export function detectionEvaluation(
  model: DetectionPredictor,
  cfg: DetectionConfig,
  split: DetectionSplit,
  splitName: string,
  pool: ImageWorkerPool,
  labels?: LabelMap,
  indices?: readonly number[],
): EvaluationPlan<DetectionMetrics> & { evaluator: DetectionEvaluator } {
  if (labels ? labels.toTarget.length !== model.numClasses : split.classes.length !== model.numClasses) {
    throw new Error(`evaluateDetector: the ${labels ? 'label map' : 'split'} has ${labels ? labels.toTarget.length : split.classes.length} classes but the model ${model.numClasses}`);
  }
  const evaluator = new DetectionEvaluator(split, splitName);
  const transform = detectionEvalTransform({ shortEdge: cfg.data.evalShortEdge, maxSize: cfg.data.evalMaxSize, pool });
  const records = indices ? indices.map((i) => split.records[i]) : split.records;
  const recordIndex = (i: number): number => (indices ? indices[i] : i);
  return {
    evaluator,
    feed: ({ quiet }) =>
      runInference(detectionLoader(records, transform, cfg, { shuffle: false, sizeDivisibility: model.sizeDivisibility }).epoch(0), {
        total: records.length,
        quiet,
        imagesIn: (batch) => batch.metas.length,
        dispose: disposeDetectionBatch,
        process: async (batch, first) => {
          const dets = await model.predict({ images: batch.images, imageSizes: batch.imageSizes });
          dets.forEach((d, j) => {
            const det = detectionsToOriginal(d, batch.metas[j]);
            evaluator.update(recordIndex(first + j), labels ? labels.apply(det) : det);
          });
        },
      }),
  };
}

/**
 * COCO box evaluation (and VOC AP for VOC data) of `model` on a listed split (see {@link detectionEvaluation}).
 * @returns the 12 COCO numbers and lines, per-class AP, VOC AP, and the results records.
 * @throws Error naming the file for an unreadable image or a size different from the annotation's.
 */
export async function evaluateDetector(
  model: DetectionPredictor,
  cfg: DetectionConfig,
  split: DetectionSplit,
  opts: { quiet?: boolean; pool?: ImageWorkerPool; splitName?: string; labels?: LabelMap } = {},
): Promise<DetectionMetrics> {
  const ownPool = opts.pool ? undefined : new ImageWorkerPool({ threads: cfg.train.numWorkers });
  try {
    return await evaluate(detectionEvaluation(model, cfg, split, opts.splitName ?? cfg.data.valSplit, opts.pool ?? ownPool!, opts.labels), opts);
  } finally {
    await ownPool?.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Training

/**
 * Train the detector of `model.arch` (RetinaNet or Faster R-CNN) as the config says, evaluating COCO mAP on `data.valSplit` every `train.evalEvery` iterations
 * and at the end, writing checkpoints and `metrics.jsonl` to `train.outputDir` (see `runTraining`).
 * @returns how training ended, the final validation metrics and the run config (with classes).
 * @throws Error for a missing data folder, an object of a class outside the config (naming file and record), an
 *   unreadable image, weights that do not fit; `NonFiniteLossError` for a NaN/Inf loss (naming iteration and term);
 *   a one-line error naming the settings to lower when the wasm heap runs out ({@link explainDetectionOutOfMemory}).
 */
export async function trainDetection(
  cfg: DetectionConfig,
  opts: TaskTrainOptions = {},
): Promise<TrainingOutcome<DetectionMetrics> & { run: DetectionRunConfig }> {
  const log = taskLog(opts);
  const say = (s: string) => {
    if (s) log(s);
  };
  const d = cfg.data;
  const train = await loadDetectionSplit(d, d.trainSplit, d.classes, 'train');
  say(formatSplitIssues(d.trainSplit, train.issues));
  const val = cfg.train.evalEvery > 0 ? await loadDetectionSplit(d, d.valSplit, train.classes, 'eval') : undefined;
  if (val) say(formatSplitIssues(d.valSplit, val.issues));
  if (!cfg.model.weights && !opts.resume && cfg.model.backbone.normLayer === 'frozen') {
    say('warning: model.weights is null and the backbone uses frozen BatchNorm: with its initial statistics it is an identity and ' +
      "a randomly initialized ResNet's features explode. Pass --weights (ImageNet ResNet weights), or train from scratch with " +
      'normLayer "batch" and frozenStages 0 (what torchvision does without pretrained weights).');
  }
  const run: DetectionRunConfig = { ...cfg, classes: train.classes, categoryIds: train.categoryIds };
  const model = buildDetector(cfg, train.classes.length);
  const pool = new ImageWorkerPool({ threads: cfg.train.numWorkers });
  const outcome = await runTraining(cfg, {
    model,
    data: detectionLoader(train.records,
      detectionTrainTransform({ shortEdge: d.trainShortEdge, maxSize: d.trainMaxSize, flipProbability: d.flipProbability, pool }),
      cfg, { shuffle: true, sizeDivisibility: model.sizeDivisibility }),
    dataName: `split ${d.trainSplit} of ${d.root}`,
    numImages: train.records.length,
    disposeBatch: disposeDetectionBatch,
    runConfig: run,
    architecture: `${detectorOf(cfg).arch} ${cfg.model.backbone.name} fpn`,
    evaluation: val ? detectionEvaluation(model, cfg, val, d.valSplit, pool) : undefined,
    loadInitialWeights: async () => {
      if (cfg.model.weights) await loadDetectorInitialWeights(model, cfg.model.weights, log);
    },
    explainOutOfMemory: (e) => explainDetectionOutOfMemory(e, cfg),
    close: () => pool.close(),
  }, opts);
  return { ...outcome, run };
}

// ---------------------------------------------------------------------------------------------------------------
// Checkpoints and prediction

/**
 * Open a detection checkpoint and rebuild its model with the classes it was trained on.
 * @throws Error naming the file when it is not a detection checkpoint, was trained as another detector than the
 *   config's `model.arch` (checkpoints written before there was a choice are RetinaNets), or does not fit the
 *   config's model.
 */
export async function loadDetectorCheckpoint<C extends DetectionConfig>(
  cfg: C,
  file: string,
): Promise<{ model: DetectorOf<C>; classes: string[]; categoryIds: number[] }> {
  const { model, run } = await openTaskCheckpoint<DetectionRunConfig, Detector>(file, {
    task: 'detection',
    isRunConfig: (stored) => Array.isArray(stored.classes) && Array.isArray(stored.categoryIds),
    check: (stored, f) => {
      // A stored config without `model.arch` is a RetinaNet's (written before there was a choice).
      const [was, is] = [detectorOf(stored), detectorOf(cfg)];
      if (was.arch !== is.arch) {
        throw new Error(`${f}: a ${was.name} checkpoint (model.arch "${was.arch}"), but the config builds ${is.name} (model.arch "${is.arch}"); use the config it was trained with`);
      }
    },
    build: (stored) => buildDetector(cfg, stored.classes.length),
  });
  // `check` refused a checkpoint of another architecture than the config's.
  return { model: model as DetectorOf<C>, classes: run.classes, categoryIds: run.categoryIds };
}

/** One detection of `predict`, in original-image pixels. */
export interface PredictedBox {
  className: string;
  /** Class index 0..K-1. */
  label: number;
  /** Category id in the training annotations (COCO id; 1..K for VOC data). */
  categoryId: number;
  /** Score 0..1: RetinaNet's sigmoid, Faster R-CNN's softmax over the classes and background. */
  score: number;
  /** `[x1, y1, x2, y2]`, continuous pixels of the original (EXIF-oriented) image. */
  boxXyxy: [number, number, number, number];
}

/** Detections of one image file. */
export interface ImagePrediction {
  file: string;
  /** The drawn picture, when an output folder was given. */
  output?: string;
  /** Original size, pixels. */
  height: number;
  width: number;
  /** Detections with score >= `predict.scoreThresh`, highest first. */
  detections: PredictedBox[];
}

/**
 * Detect objects in image files with the config's evaluation transform; with `outDir`, draw them (boxes, class
 * names, scores) into `outDir/<name>` (PNG or JPEG as the input; other formats as PNG) and write
 * `outDir/detections.json` (the returned list) unless `listFile` is false (a shard of the list: the merge writes it).
 * @throws Error naming the file for a missing or unreadable image, or when an output would overwrite its input.
 */
export async function predictDetection(
  model: DetectionPredictor,
  cfg: DetectionConfig,
  classes: readonly string[],
  categoryIds: readonly number[],
  files: readonly string[],
  outDir?: string,
  listFile = true,
): Promise<ImagePrediction[]> {
  if (outDir) fs.mkdirSync(outDir, { recursive: true });
  const out: ImagePrediction[] = [];
  for (const file of files) {
    if (!fs.existsSync(file)) throw new Error(`image not found: ${file}`);
    const decoded = await decodeImage(file);
    const size = resizeShortestEdgeSize(decoded.image.height, decoded.image.width, cfg.data.evalShortEdge, cfg.data.evalMaxSize);
    const sample = normalizeSample(resize({ ...decoded, target: { boxes: new Float32Array(0), labels: new Int32Array(0) } }, size));
    const batch = collateDetection([sample], { sizeDivisibility: model.sizeDivisibility });
    let det: Detections;
    try {
      [det] = await model.predict({ images: batch.images, imageSizes: batch.imageSizes });
    } finally {
      disposeDetectionBatch(batch);
    }
    const orig = detectionsToOriginal(det, batch.metas[0]);
    const detections: PredictedBox[] = [];
    orig.labels.forEach((label, i) => {
      if (orig.scores[i] < cfg.predict.scoreThresh) return;
      const b = orig.boxes.subarray(4 * i, 4 * i + 4);
      detections.push({
        className: classes[label],
        label,
        categoryId: categoryIds[label],
        score: orig.scores[i],
        boxXyxy: [b[0], b[1], b[2], b[3]],
      });
    });
    const rec: ImagePrediction = { file, height: decoded.meta.originalHeight, width: decoded.meta.originalWidth, detections };
    if (outDir) {
      const ext = path.extname(file).toLowerCase();
      const name = ['.png', '.jpg', '.jpeg'].includes(ext) ? path.basename(file) : `${path.basename(file, path.extname(file))}.png`;
      const target = path.join(outDir, name);
      if (path.resolve(target) === path.resolve(file)) throw new Error(`predict: the output ${target} would overwrite its input; choose another --out folder`);
      await drawDetections(file, target, detections.map((p) => ({ boxXyxy: p.boxXyxy, label: p.label, text: `${p.className} ${p.score.toFixed(2)}` })));
      rec.output = target;
    }
    out.push(rec);
  }
  if (outDir && listFile) await writeJsonAtomic(path.join(outDir, 'detections.json'), out);
  return out;
}

/**
 * Text listing of predictions: per image its file, then one line per detection.
 * @param scoreThresh the score threshold the detections passed, named on each image's line.
 */
export function formatPredictions(preds: readonly ImagePrediction[], scoreThresh: number): string {
  return preds
    .map((p) => [
      `${p.file}: ${p.detections.length} detection(s) with score >= ${scoreThresh}${p.output ? ` → ${p.output}` : ''}`,
      ...p.detections.map((d) => `  ${d.className.padEnd(12)} ${d.score.toFixed(3)}  [${d.boxXyxy.map((v) => v.toFixed(1)).join(', ')}]`),
    ].join('\n'))
    .join('\n');
}

/**
 * Build the config's detector with the class count of a torchvision state dict (RetinaNet or Faster R-CNN, as
 * `model.arch` says) and load the file strictly.
 * @returns the detector (the caller disposes it) and the file's label space: class names and the category id of
 *   each label (torchvision's COCO weights: COCO ids).
 * @throws Error naming the file when it lacks the classifier tensor of the config's detector, or any tensor is
 *   missing, unexpected or of another shape.
 */
export function loadDetectorFromWeights(cfg: DetectionConfig, file: string, log: LogSink): Promise<{ model: Detector; space: WeightsLabelSpace }> {
  return loadModelFromWeights<Detector>(cfg, file, (k) => buildDetector(cfg, k), log);
}

/**
 * The map from a state dict's labels to a split's classes: by category id on COCO-format data (the split's ids are
 * COCO's own), by class name on VOC data (its ids are 1..K in the split's class order; COCO's and VOC's names of the
 * same class are matched through `COCO_TO_VOC_NAMES`).
 */
export function labelMapToSplit(space: WeightsLabelSpace, split: DetectionSplit, format: DetectionConfig['data']['format']): { labels: LabelMap; by: string } {
  if (format === 'voc') {
    const names = space.names.map((n, l) => (space.categoryIds[l] < 0 ? '' : n));
    return { labels: new LabelMap(labelMapByName(names, split.classes)), by: 'class name' };
  }
  return { labels: new LabelMap(labelMapByCategoryId(space.categoryIds, split.categoryIds)), by: 'category id' };
}

/**
 * Evaluate shard `opts.shard` of the split (see `TaskEvalOptions.shard`) and write its part; otherwise the report of
 * the whole split (see {@link detectionEvaluationReport}).
 */
async function evaluateDetectorOrShard(
  model: DetectionPredictor,
  cfg: DetectionConfig,
  split: DetectionSplit,
  source: ModelSource,
  splitClasses: string[] | null,
  opts: TaskEvalOptions,
  labels?: LabelMap,
): Promise<string> {
  if (!opts.shard) return detectionEvaluationReport(cfg, await evaluateDetector(model, cfg, split, { quiet: opts.quiet, labels }), split, opts.outDir);
  const outDir = requireOutDir(opts);
  const indices = shardIndices(split.records.length, opts.shard);
  const pool = new ImageWorkerPool({ threads: cfg.train.numWorkers });
  try {
    const plan = detectionEvaluation(model, cfg, split, cfg.data.valSplit, pool, labels, indices);
    plan.evaluator.reset();
    await plan.feed({ quiet: opts.quiet ?? false });
    const run = { shard: opts.shard, numImages: indices.length, totalImages: split.records.length, classes: splitClasses };
    return await writeEvalPart(cfg, source, outDir, run, plan.evaluator.exportState());
  } finally {
    await pool.close();
  }
}

/**
 * Evaluate a torchvision detector state dict on the config's validation split, listed in its own classes
 * (`data.classes`, else all of the split's): detections are mapped onto them ({@link labelMapToSplit}); those of
 * categories the split lacks are dropped, and how many is said through the log.
 * @throws as {@link loadDetectorFromWeights} and `loadDetectionSplit`; Error when no label of the file maps to a
 *   class of the split.
 */
export async function evaluateDetectionWeights(cfg: DetectionConfig, file: string, opts: TaskEvalOptions & { engine?: InferenceEngine }): Promise<string> {
  const log = taskLog(opts);
  checkEngine(cfg, opts.engine);
  const loaded = await loadDetectorFromWeights(cfg, file, log);
  const { space } = loaded;
  const model = await onEngine(loaded.model, opts.engine);
  return withModel(model, async () => {
    const split = await loadDetectionSplit(cfg.data, cfg.data.valSplit, cfg.data.classes ?? null, 'eval');
    const issues = formatSplitIssues(cfg.data.valSplit, split.issues);
    if (issues) log(issues);
    const { labels, by } = labelMapToSplit(space, split, cfg.data.format);
    if (labels.mapped === 0) {
      throw new Error(`${file}: none of its ${space.numClasses} classes is among the ${split.classes.length} classes of split ${cfg.data.valSplit} [${split.classes.slice(0, 8).join(', ')}] (matched by ${by})`);
    }
    log(`${file}: ${labels.mapped} of its ${space.numClasses} classes map to the ${split.classes.length} classes of split ${cfg.data.valSplit} by ${by}`);
    const report = await evaluateDetectorOrShard(model, cfg, split, { weights: file }, cfg.data.classes ?? null, opts, labels);
    log(`${file}: ${labels.dropped} detections of classes split ${cfg.data.valSplit} lacks were dropped before scoring`);
    return report;
  }, (e) => explainDetectionOutOfMemory(e, cfg));
}

/** What evaluation and prediction call on a detector: `RetinaNet`, `FasterRCNN`, or `OnnxRetinaNet` (ONNX Runtime). */
export type DetectionPredictor = Pick<RetinaNet, 'numClasses' | 'sizeDivisibility' | 'predict'>;

/** A detector to release after use (a tfjs module, or an ONNX Runtime session). */
type DisposablePredictor = DetectionPredictor & { dispose(): void | Promise<void> };

/** @throws Error when ONNX Runtime is asked to run a Faster R-CNN (its graph cannot be exported). */
function checkEngine(cfg: DetectionConfig, engine: InferenceEngine | undefined): void {
  if (engine === 'onnx' && isFasterRCNNConfig(cfg)) {
    throw new Error('--engine onnx runs RetinaNet detectors only: Faster R-CNN has no ONNX export (proposal selection and RoIAlign run outside the graph); use --engine tfjs');
  }
}

/** The detector on its engine: itself for tfjs, exported in memory and handed to ONNX Runtime for `onnx`. */
async function onEngine(model: Detector, engine: InferenceEngine | undefined): Promise<DisposablePredictor> {
  if (engine !== 'onnx') return model;
  if (model instanceof FasterRCNN) {
    model.dispose();
    throw new Error('--engine onnx runs RetinaNet detectors only');
  }
  return handToOnnxRuntime(model, (m) => OnnxRetinaNet.create(m));
}

/**
 * The detector of a checkpoint or a state dict on the source's engine, or of a `resvision export` file (run by ONNX
 * Runtime; the config's RetinaNet, built and disposed, gives what the graph does not carry: strides, anchors per
 * location, thresholds). A file without category ids gets 1..K (VOC's convention), which the log says.
 * @throws as `loadDetectorCheckpoint`, `loadDetectorFromWeights` and `readOnnxFile`; Error for a Faster R-CNN
 *   config run by ONNX Runtime.
 */
async function openDetector(cfg: DetectionConfig, source: ModelSource, log: LogSink): Promise<{ model: DisposablePredictor; classes: string[]; categoryIds: number[] }> {
  if ('onnx' in source) {
    checkEngine(cfg, 'onnx');
    const file = readOnnxFile(source.onnx, ['retinanet']);
    const categoryIds = file.categoryIds ?? file.classes.map((_, i) => i + 1);
    if (!file.categoryIds) log(`${source.onnx}: no resvision.categoryIds in its metadata; category ids 1..${file.classes.length} in class order`);
    const model = await handToOnnxRuntime(buildDetector(cfg, file.classes.length) as RetinaNet, (m) => OnnxRetinaNet.create(m, file));
    return { model, classes: file.classes, categoryIds };
  }
  checkEngine(cfg, source.engine);
  const { model, classes, categoryIds } = 'weights' in source
    ? await loadDetectorFromWeights(cfg, source.weights, log).then(({ model: m, space }) => ({ model: m, classes: space.names, categoryIds: space.categoryIds }))
    : await loadDetectorCheckpoint(cfg, source.checkpoint);
  return { model: await onEngine(model, source.engine), classes, categoryIds };
}

/** The detection task's entry points for the CLI. */
export const detectionTask: TaskRunner<DetectionConfig> = {
  async train(cfg, opts) {
    return trainSummary(await trainDetection(cfg, opts), (m) => formatDetectionMetrics(m, cfg.data.valSplit));
  },
  async evaluate(cfg, source, opts) {
    if ('weights' in source) return evaluateDetectionWeights(cfg, source.weights, { ...opts, engine: source.engine });
    const { model, classes } = await openDetector(cfg, source, taskLog(opts));
    return withModel(model, async () => {
      const split = await loadDetectionSplit(cfg.data, cfg.data.valSplit, classes, 'eval');
      const issues = formatSplitIssues(cfg.data.valSplit, split.issues);
      if (issues) taskLog(opts)(issues);
      return evaluateDetectorOrShard(model, cfg, split, source, classes, opts);
    });
  },
  async predict(cfg, source, images, opts) {
    const { model, classes, categoryIds } = await openDetector(cfg, source, taskLog(opts));
    return withModel(model, async () => {
      const files = opts.shard ? shardItems(images, opts.shard) : images;
      const preds = await predictDetection(model, cfg, classes, categoryIds, files, opts.outDir, !opts.shard);
      if (opts.shard) return writePredictPart(cfg, source, requireOutDir(opts, 'predict'), opts.shard, images, preds);
      return opts.json ? JSON.stringify(preds, null, 2) : formatPredictions(preds, cfg.predict.scoreThresh);
    });
  },
};
