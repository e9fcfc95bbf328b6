/**
 * The detection task end to end: COCO-format or Pascal VOC data → ResNet + FPN + RetinaNet → training engine → COCO
 * mAP (pycocotools' 12 summary lines; for VOC data also VOC AP), and prediction with drawn boxes. This module
 * (like `src/cli`) assembles `datasets/`, `heads/` and the engine.
 *
 * Data flow: an adapter lists records (boxes xyxy in original pixels, contiguous labels 0..K-1 in the run's class
 * order) → `detectionTrainTransform` / `detectionEvalTransform` (shortest-edge resize, flip, normalize) →
 * `collateDetection` (bottom/right zero padding to a multiple of 32, `ImageMeta` per image) → `RetinaNet`
 * (`computeLosses` / `predict`) → `detectionsToOriginal` → `toCocoResults` with the split's category ids → `CocoEval`.
 *
 * Reference: torchvision `references/detection/train.py` (loop, `evaluate`), `coco_utils.py` / `coco_eval.py`
 * (results with the dataset's category ids, `COCOeval(..., 'bbox')`); detectron2 `configs/COCO-Detection/
 * retinanet_R_50_FPN_1x.yaml` (schedule, frozen stem and res2, FrozenBN), `evaluation/pascal_voc_evaluation.py`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Coco } from '../../datasets/coco/coco';
import { CocoEval } from '../../datasets/coco/cocoeval';
import { CocoDetection } from '../../datasets/coco/dataset';
import { collateDetection, DetectionBatch, detectionCollate, disposeDetectionBatch } from '../../datasets/collate_detection';
import { formatIssue, type DatasetIssue } from '../../datasets/dataset_issues';
import { DataLoader } from '../../datasets/loader';
import { decodeImage } from '../../datasets/pipeline/decode';
import { ImageWorkerPool } from '../../datasets/pipeline/image_worker_pool';
import {
  detectionDataset,
  detectionEvalTransform,
  detectionTrainTransform,
  type DetectionRecord,
  type DetectionTransform,
} from '../../datasets/pipeline/detection_presets';
import { normalizeSample } from '../../datasets/pipeline/normalize';
import { resize, resizeShortestEdgeSize } from '../../datasets/pipeline/transforms';
import type { DetectionSample, DetectionTarget } from '../../datasets/types';
import { vocToCoco, writeJsonAtomic } from '../../datasets/voc/convert_voc2coco';
import { scanVocDetection, vocGroundTruth, type VocDetectionOptions } from '../../datasets/voc/detection';
import { evaluateVocDetection, type VocDetection, type VocDetectionResult, type VocImageGt } from '../../datasets/voc/voc_ap';
import { vocBoxFromXyxy } from '../../datasets/voc/xml';
import { RetinaNet } from '../../heads/detection/model';
import { CocoDetectionResult, Detections, detectionsToOriginal, toCocoResults } from '../../heads/detection/postprocess';
import { buildBackbone } from '../backbone/resnet';
import { scaledLr } from '../config/load';
import type { DetectionConfig } from '../config/types';
import { loadCheckpoint, restoreModel } from '../engine/checkpoint';
import { LrSchedule } from '../engine/lr_schedule';
import { SgdOptimizer, weightDecayGroups } from '../engine/optimizer';
import { startTaskProgress } from '../engine/task_progress';
import { isOutOfMemoryError, safetensorsCheckpointIO, skippingBatchSource, Trainer, TrainingCheckpointMeta, TrainResult } from '../engine/trainer';
import { loadTorchvisionWeights, WeightLoadReport } from '../weights/torchvision';
import { drawDetections } from './draw';
import type { TaskRunner } from './task';

/**
 * The resolved config stored in a detection checkpoint: the config plus the class names (label order) and the
 * category id of each class in the training annotations (COCO ids; 1..K for VOC data).
 */
export interface DetectionRunConfig extends DetectionConfig {
  classes: string[];
  categoryIds: number[];
}

// ---------------------------------------------------------------------------------------------------------------
// Model

/**
 * Build the RetinaNet a config describes (random initialization from `train.seed`). The backbone returns exactly
 * the FPN's `inLevels`; channels and strides come from its feature specs.
 * @param numClasses K, the number of classes (no background).
 * @throws Error when `model.backbone.outLevels` is given and differs from `model.fpn.inLevels`, and the errors of
 *   `RetinaNet` (missing level, anchor sizes not one list per pyramid level).
 */
export function buildDetector(cfg: DetectionConfig, numClasses: number): RetinaNet {
  const b = cfg.model.backbone;
  const m = cfg.model;
  if (b.outLevels && b.outLevels.join() !== m.fpn.inLevels.join()) {
    throw new Error(`model.backbone.outLevels [${b.outLevels}] differs from model.fpn.inLevels [${m.fpn.inLevels}]; leave it out for detection`);
  }
  const body = buildBackbone(b.name, {
    normLayer: b.normLayer,
    frozenStages: b.frozenStages,
    zeroInitResidual: b.zeroInitResidual,
    replaceStrideWithDilation: b.replaceStrideWithDilation,
    outLevels: m.fpn.inLevels,
    seed: cfg.train.seed,
  });
  try {
    return new RetinaNet(body, {
      numClasses,
      inLevels: m.fpn.inLevels,
      fpnChannels: m.fpn.channels,
      p6p7Source: m.fpn.p6p7Source,
      anchorSizes: m.anchors.sizes,
      aspectRatios: m.anchors.aspectRatios,
      fgIouThresh: m.matcher.fgIouThresh,
      bgIouThresh: m.matcher.bgIouThresh,
      boxLoss: cfg.loss.boxLoss,
      focalAlpha: cfg.loss.focalAlpha,
      focalGamma: cfg.loss.focalGamma,
      postprocess: m.postprocess,
      seed: cfg.train.seed + 1,
    });
  } catch (e) {
    body.dispose();
    throw e;
  }
}

/**
 * Load the config's `model.weights` into a detector:
 * - an ImageNet ResNet state dict (torchvision or timm names, `fc.*` ignored) goes into `model.backbone.body`;
 * - a torchvision RetinaNet state dict (`backbone.body.*`, `backbone.fpn.*`, `head.*`) loads whole; when its
 *   classifier (`cls_logits`) has another number of classes, that layer keeps its initialization (fine-tuning).
 * @throws Error naming the file when it is neither, or when backbone/FPN tensors are missing or do not fit.
 */
export async function loadDetectorInitialWeights(model: RetinaNet, file: string): Promise<WeightLoadReport> {
  if (!fs.existsSync(file)) throw new Error(`weights file not found: ${file}`);
  const bodyReport = await loadTorchvisionWeights(model.backbone.body, file, { strict: false });
  const problems = (r: WeightLoadReport, allowed: (n: string) => boolean): string[] => [
    ...r.missing.filter((n) => !allowed(n)),
    ...r.shapeMismatched.filter((m) => !allowed(m.name)).map((m) => m.name),
  ];
  if (bodyReport.loaded.length > 0) {
    const bad = problems(bodyReport, () => false);
    if (bad.length > 0) {
      throw new Error(`${file}: ImageNet weights do not fit the ${model.backbone.body.constructor.name} backbone: missing or mismatched ${bad.slice(0, 8).join(', ')}`);
    }
    return bodyReport;
  }
  const report = await loadTorchvisionWeights(model, file, { strict: false, family: 'retinanet' });
  if (report.loaded.length === 0) {
    throw new Error(`${file}: neither ImageNet ResNet weights (conv1.weight, layer1.*) nor a torchvision RetinaNet state dict (backbone.body.*)`);
  }
  const isClassifier = (n: string) => n.startsWith('head.classification_head.cls_logits.');
  const bad = problems(report, isClassifier);
  if (bad.length > 0 || report.unexpected.length > 0) {
    throw new Error(`${file}: RetinaNet weights do not fit: missing or mismatched ${bad.slice(0, 8).join(', ') || 'none'}; unexpected ${report.unexpected.slice(0, 8).join(', ') || 'none'}`);
  }
  if (report.shapeMismatched.some((m) => isClassifier(m.name))) {
    process.stderr.write(`${file}: 'head.classification_head.cls_logits' has another number of classes; it is trained from its initialization\n`);
  }
  return report;
}

/** The engine schedule of a config (base LR from the linear scaling rule). */
export function detectionSchedule(cfg: DetectionConfig): LrSchedule {
  return { baseLr: scaledLr(cfg), ...cfg.schedule };
}

// ---------------------------------------------------------------------------------------------------------------
// Data

/** One split of the config's data, listed in the run's label space, with its evaluation ground truth. */
export interface DetectionSplit {
  /** `train` or `eval`: training splits drop crowd boxes (and empty images with `data.filterEmpty`). */
  purpose: 'train' | 'eval';
  /** Records, boxes xyxy original pixels, labels 0..K-1 in `classes` order. */
  records: DetectionRecord[];
  /** K class names, label order. */
  classes: string[];
  /** COCO ground truth of the split (VOC data: converted with `vocToCoco`); records[i] is image `cocoImageIds[i]`. */
  gt: Coco;
  cocoImageIds: number[];
  /** Category id in `gt` of each label; -1 when the split's categories lack that class (its detections are not scored). */
  categoryIds: number[];
  /** VOC ground truth (inclusive coordinates) and AP variant, for VOC data. */
  voc?: { gt: VocImageGt[]; imageIds: string[]; use07Metric: boolean };
  /** Problems fixed while listing (boxes clipped or dropped), one line each. */
  issues: DatasetIssue[];
}

function withLabels(t: DetectionTarget, labels: Int32Array): DetectionTarget {
  return { ...t, labels };
}

/**
 * List split `split` of the config's data.
 * - COCO: `<root>/<annotationsDir>/instances_<split>.json`, images in `<root>/<imagesDir ?? split>/`. Labels follow
 *   `classes` by category name (default: the file's categories in increasing id order).
 * - VOC: `<root>/ImageSets/Main/<split>.txt`, `<annotationsDir>/<id>.xml`, `<imagesDir>/<id><imageExt>`. Labels
 *   follow `classes` (default: the names found in the split, sorted).
 * Boxes of zero extent are dropped and boxes reaching outside the image clipped, each reported in `issues`.
 * @param classes the run's class names, or null to take them from this split.
 * @throws Error naming the file and record for an object whose class is not in `classes`, a missing file, or an
 *   annotation error of the adapter.
 */
export async function loadDetectionSplit(
  cfg: DetectionConfig,
  split: string,
  classes: readonly string[] | null,
  purpose: 'train' | 'eval',
): Promise<DetectionSplit> {
  const d = cfg.data;
  if (!fs.existsSync(d.root)) {
    throw new Error(`data root not found: ${d.root} (${path.resolve(d.root)}; relative paths start at the current folder): pass --data ROOT or set data.root in the config`);
  }
  switch (d.format) {
    case 'coco': {
      const annFile = path.join(d.root, d.annotationsDir, `instances_${split}.json`);
      const imageDir = path.join(d.root, d.imagesDir ?? split);
      if (!fs.existsSync(annFile)) throw new Error(`COCO annotations not found: ${annFile} (data.annotationsDir + instances_<split>.json)`);
      const ds = CocoDetection.fromFile(annFile, imageDir, {
        dropCrowd: purpose === 'train',
        filterEmpty: purpose === 'train' && d.filterEmpty,
        annotationIdProblems: 'warn', // evaluated as pycocotools does, with one warning line
      });
      const names = classes ? [...classes] : ds.classes;
      const runLabel = new Map(names.map((n, i) => [n, i] as const));
      const fileToRun = ds.classes.map((n) => runLabel.get(n) ?? -1);
      const records = ds.records.map((r) => {
        const labels = Int32Array.from(r.target.labels, (l, k) => {
          const to = fileToRun[l];
          if (to < 0) {
            throw new Error(`${annFile}: annotation id ${r.annotationIds[k]} (image id ${r.imageId}) has category '${ds.classes[l]}' ` +
              `(id ${ds.labelToCategoryId[l]}), which is not among the config's ${names.length} classes [${names.join(', ')}]`);
          }
          return to;
        });
        return { ...r, target: withLabels(r.target, labels) };
      });
      const catByName = new Map(ds.classes.map((n, i) => [n, ds.labelToCategoryId[i]] as const));
      return {
        purpose,
        records,
        classes: names,
        gt: ds.coco,
        cocoImageIds: records.map((r) => r.imageId),
        categoryIds: names.map((n) => catByName.get(n) ?? -1),
        issues: ds.issues,
      };
    }
    case 'voc': {
      const opts: VocDetectionOptions = {
        annotationsDir: d.annotationsDir,
        imagesDir: d.imagesDir,
        imageExt: d.imageExt,
        split,
        classes: classes ? [...classes] : 'found',
        unknownClasses: d.unknownClasses ?? 'error',
        degenerateBoxes: 'drop',
      };
      const set = await scanVocDetection(d.root, opts);
      // Objects of other classes skipped on request are not problems of the data: not reported one by one.
      const issues = opts.unknownClasses === 'skip' ? set.issues.filter((i) => i.code !== 'unknown-class') : set.issues;
      let records: DetectionRecord[] = set.records;
      if (purpose === 'train' && d.filterEmpty) records = records.filter((r) => r.target.labels.length > 0);
      const gtJson = await vocToCoco(d.root, { ...opts, classes: set.classes });
      if (gtJson.images.length !== set.records.length) {
        throw new Error(`VOC '${d.root}' split ${split}: ${gtJson.images.length} images converted but ${set.records.length} listed`);
      }
      const vocIds = set.records.map((r) => r.imageId);
      const idOf = new Map(vocIds.map((id, i) => [id, i + 1] as const));
      return {
        purpose,
        records,
        classes: set.classes,
        gt: new Coco(gtJson, `${path.join(set.root, 'ImageSets', 'Main', `${split}.txt`)} (VOC converted to COCO)`),
        cocoImageIds: records.map((r) => idOf.get(r.imageId as string)!),
        categoryIds: set.classes.map((_, i) => i + 1),
        voc: { gt: vocGroundTruth(set), imageIds: vocIds, use07Metric: d.use07Metric },
        issues,
      };
    }
    default: {
      const never: never = d;
      throw new Error(`unknown data format ${JSON.stringify((never as { format: unknown }).format)}`);
    }
  }
}

/** The issues of a split as a short report (the first `max` lines and a count), or '' when there are none. */
export function formatSplitIssues(split: string, issues: readonly DatasetIssue[], max = 5): string {
  if (issues.length === 0) return '';
  const counts = new Map<string, number>();
  for (const i of issues) counts.set(i.code, (counts.get(i.code) ?? 0) + 1);
  const head = `split ${split}: ${issues.length} annotation problem(s) handled while listing (${[...counts].map(([c, n]) => `${n} ${c}`).join(', ')})`;
  const lines = issues.slice(0, max).map((i) => `  ${formatIssue(i)}`);
  if (issues.length > max) lines.push(`  ... and ${issues.length - max} more`);
  return [head, ...lines].join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// Evaluation

/** What `evaluateDetector` measures. */
export interface DetectionMetrics {
  /** Images evaluated. */
  images: number;
  /** `[12]` COCOeval stats: AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl (fractions; -1 undefined). */
  stats: number[];
  /** pycocotools' 12 summary lines. */
  lines: string[];
  /** AP (IoU 0.50:0.95, area all, 100 detections) per class, fractions, -1 where the class has no ground truth. */
  perClass: { className: string; categoryId: number; ap: number }[];
  /** VOC AP at IoU 0.5 (VOC data only). */
  voc?: VocDetectionResult;
  /** The detections in the COCO results format (original pixels, the split's category ids). */
  results: CocoDetectionResult[];
}

/** Content size (before batch padding) of each image of a batch, from its meta. */
function contentSizes(batch: DetectionBatch): { height: number; width: number }[] {
  return batch.metas.map((m) => ({ height: m.validRegionXyxy[3] - m.validRegionXyxy[1], width: m.validRegionXyxy[2] - m.validRegionXyxy[0] }));
}

/** Keep the detections whose label has a category id (>= 0). */
function scoredOnly(det: Detections, categoryIds: readonly number[]): Detections {
  const keep: number[] = [];
  det.labels.forEach((l, i) => {
    if ((categoryIds[l] ?? -1) >= 0) keep.push(i);
  });
  if (keep.length === det.labels.length) return det;
  const boxes = new Float32Array(keep.length * 4);
  keep.forEach((i, k) => boxes.set(det.boxes.subarray(i * 4, i * 4 + 4), k * 4));
  return { boxes, scores: Float32Array.from(keep, (i) => det.scores[i]), labels: Int32Array.from(keep, (i) => det.labels[i]) };
}

/**
 * COCO box evaluation (and VOC AP for VOC data) of `model` on a listed split, with the config's evaluation
 * transform (shortest edge `data.evalShortEdge`, `data.evalMaxSize`) and post-processing.
 * @param split from `loadDetectionSplit(cfg, name, classes, 'eval')`; its classes are the model's.
 * @returns the 12 COCO numbers and lines, per-class AP, VOC AP, and the results records.
 * @throws Error naming the file for an unreadable image or a size different from the annotation's.
 */
export async function evaluateDetector(
  model: RetinaNet,
  cfg: DetectionConfig,
  split: DetectionSplit,
  opts: { quiet?: boolean; pool?: ImageWorkerPool } = {},
): Promise<DetectionMetrics> {
  if (split.classes.length !== model.numClasses) {
    throw new Error(`evaluateDetector: the split has ${split.classes.length} classes but the model ${model.numClasses}`);
  }
  const ownPool = opts.pool ? undefined : new ImageWorkerPool({ threads: cfg.train.numWorkers });
  try {
    return await evaluateWithPool(model, cfg, split, opts.pool ?? ownPool!, opts.quiet);
  } finally {
    await ownPool?.close();
  }
}

/**
 * The loader of the detection tasks: images decoded, resized, mirrored and normalized on `pool`'s threads
 * (`train.numWorkers` of them), twice as many images in flight as threads (torch's `prefetch_factor` 2).
 */
function detectionLoader(
  records: readonly DetectionRecord[],
  transform: DetectionTransform,
  cfg: DetectionConfig,
  opts: { shuffle: boolean },
): DataLoader<DetectionSample<Float32Array>, DetectionBatch> {
  return new DataLoader(detectionDataset(records, transform), {
    batchSize: cfg.train.batchSize,
    collate: detectionCollate({ sizeDivisibility: 32 }),
    shuffle: opts.shuffle,
    dropLast: opts.shuffle,
    seed: cfg.train.seed,
    concurrency: 2 * cfg.train.numWorkers,
  });
}

async function evaluateWithPool(
  model: RetinaNet, cfg: DetectionConfig, split: DetectionSplit, pool: ImageWorkerPool, quiet: boolean | undefined,
): Promise<DetectionMetrics> {
  const loader = detectionLoader(split.records,
    detectionEvalTransform({ shortEdge: cfg.data.evalShortEdge, maxSize: cfg.data.evalMaxSize, pool }), cfg, { shuffle: false });
  const results: CocoDetectionResult[] = [];
  const vocDets: VocDetection[] = [];
  const progress = startTaskProgress('eval', split.records.length, { quiet, unit: 'images' });
  let done = 0;
  for await (const batch of loader.epoch(0)) {
    let dets: Detections[];
    try {
      dets = await model.predict(batch.images, contentSizes(batch));
    } finally {
      disposeDetectionBatch(batch);
    }
    dets.forEach((d, j) => {
      const idx = done + j;
      const det = detectionsToOriginal(scoredOnly(d, split.categoryIds), batch.metas[j]);
      results.push(...toCocoResults(det, split.cocoImageIds[idx], split.categoryIds));
      if (split.voc) {
        const imageId = String(split.records[idx].imageId);
        det.labels.forEach((l, k) => {
          vocDets.push({ imageId, className: split.classes[l], score: det.scores[k], boxXyxy: vocBoxFromXyxy(det.boxes.subarray(4 * k, 4 * k + 4)) });
        });
      }
    });
    done += batch.metas.length;
    progress.update(done);
  }
  progress.stop();
  const dt = results.length > 0
    ? split.gt.loadRes(results)
    : new Coco({ images: split.gt.dataset.images, categories: split.gt.dataset.categories, annotations: [] }, '<no detections>');
  const E = new CocoEval(split.gt, dt, 'bbox');
  E.params.catIds = split.categoryIds.filter((c) => c >= 0);
  E.params.imgIds = split.cocoImageIds.slice();
  E.evaluate();
  E.accumulate();
  const { stats, lines } = E.summarize();
  const apByCat = new Map(E.perCategoryAp().map((r) => [r.categoryId, r.ap] as const));
  const perClass = split.classes.map((className, k) => ({ className, categoryId: split.categoryIds[k], ap: apByCat.get(split.categoryIds[k]) ?? -1 }));
  const voc = split.voc
    ? evaluateVocDetection(
      split.voc.gt.filter((g) => split.records.some((r) => r.imageId === g.imageId)),
      vocDets,
      { classNames: split.classes, use07Metric: split.voc.use07Metric, iouThreshold: 0.5 },
    )
    : undefined;
  return { images: split.records.length, stats, lines, perClass, voc, results };
}

/** The evaluation report: pycocotools' 12 lines, per-class COCO AP, and VOC AP (VOC data). */
export function formatDetectionMetrics(m: DetectionMetrics, split: string): string {
  const w = Math.max(5, ...m.perClass.map((c) => c.className.length));
  const pct = (v: number) => (v < 0 || Number.isNaN(v) ? '   n/a' : (100 * v).toFixed(2).padStart(6));
  const out = [`split ${split}: ${m.images} images, ${m.results.length} detections`, ...m.lines, ''];
  // Per-class values in percent (the 12 lines above are pycocotools' fractions).
  const header = m.voc ? `${'class'.padEnd(w)}  COCO AP %  VOC AP50 %` : `${'class'.padEnd(w)}  COCO AP %`;
  out.push(header);
  m.perClass.forEach((c, k) => {
    const voc = m.voc ? `  ${pct(m.voc.perClass[k].ap).padStart(10)}` : '';
    out.push(`${c.className.padEnd(w)}  ${pct(c.ap).padStart(9)}${voc}`);
  });
  if (m.voc) {
    const n = m.voc.perClass.length;
    out.push(`VOC mAP@0.5 (${n} ${n === 1 ? 'class' : 'classes'}): ${pct(m.voc.mAP).trim()}%`);
  }
  return out.join('\n');
}

/** The numbers an evaluation logs to `metrics.jsonl` (percent). */
function loggedMetrics(m: DetectionMetrics): Record<string, number> {
  const names = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl'];
  const out: Record<string, number> = {};
  names.forEach((n, i) => (out[n] = m.stats[i] < 0 ? -1 : 100 * m.stats[i]));
  if (m.voc) out.vocMAP50 = 100 * m.voc.mAP;
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Training

/** Options of `trainDetection`. */
export interface TrainDetectionOptions {
  /** Resume from this checkpoint, or from `<outputDir>/last_checkpoint` when `true`. */
  resume?: string | boolean;
  quiet?: boolean;
}

/**
 * Train a RetinaNet as the config says, evaluating COCO mAP on `data.valSplit` every `train.evalEvery` iterations
 * and at the end, writing checkpoints and `metrics.jsonl` to `train.outputDir`.
 * @returns how training ended, the final validation metrics and the run config (with classes).
 * @throws Error for a missing data folder, an object of a class outside the config (naming file and record), an
 *   unreadable image, weights that do not fit; `NonFiniteLossError` for a NaN/Inf loss (naming iteration and term).
 */
export async function trainDetection(
  cfg: DetectionConfig,
  opts: TrainDetectionOptions = {},
): Promise<{ result: TrainResult; metrics?: DetectionMetrics; run: DetectionRunConfig }> {
  const say = (s: string) => {
    if (s && !opts.quiet) process.stderr.write(`${s}\n`);
  };
  const train = await loadDetectionSplit(cfg, cfg.data.trainSplit, cfg.data.classes, 'train');
  say(formatSplitIssues(cfg.data.trainSplit, train.issues));
  const val = cfg.train.evalEvery > 0 ? await loadDetectionSplit(cfg, cfg.data.valSplit, train.classes, 'eval') : undefined;
  if (val) say(formatSplitIssues(cfg.data.valSplit, val.issues));
  if (!cfg.model.weights && !opts.resume && cfg.model.backbone.normLayer === 'frozen') {
    say('warning: model.weights is null and the backbone uses frozen BatchNorm: with its initial statistics it is an identity and ' +
      "a randomly initialized ResNet's features explode. Pass --weights (ImageNet ResNet weights), or train from scratch with " +
      'normLayer "batch" and frozenStages 0 (what torchvision does without pretrained weights).');
  }
  const run: DetectionRunConfig = { ...cfg, classes: train.classes, categoryIds: train.categoryIds };
  const model = buildDetector(cfg, train.classes.length);
  const d = cfg.data;
  const pool = new ImageWorkerPool({ threads: cfg.train.numWorkers });
  const trainLoader = detectionLoader(train.records,
    detectionTrainTransform({ shortEdge: d.trainShortEdge, maxSize: d.trainMaxSize, flipProbability: d.flipProbability, pool }),
    cfg, { shuffle: true });
  if (trainLoader.batchesPerEpoch === 0) {
    model.dispose();
    await pool.close();
    throw new Error(`split ${d.trainSplit} of ${d.root}: ${train.records.length} images are fewer than one batch of ${cfg.train.batchSize}`);
  }
  const o = cfg.optimizer;
  const optimizer = new SgdOptimizer(
    weightDecayGroups(model, { weightDecay: o.weightDecay, normWeightDecay: o.normWeightDecay ?? undefined }),
    { lr: scaledLr(cfg), momentum: o.momentum, nesterov: o.nesterov, weightDecayMode: o.weightDecayMode },
  );
  let lastMetrics: DetectionMetrics | undefined;
  const trainer = new Trainer<DetectionBatch>({
    model,
    computeLosses: (batch, ctx) => model.computeLosses(batch.images, batch.targets, ctx),
    data: skippingBatchSource(trainLoader, disposeDetectionBatch),
    disposeBatch: disposeDetectionBatch,
    optimizer,
    schedule: detectionSchedule(cfg),
    seed: cfg.train.seed,
    gradClip: o.gradClipNorm !== null ? { kind: 'norm', maxNorm: o.gradClipNorm } : undefined,
    outputDir: cfg.train.outputDir,
    checkpoint: cfg.train.checkpointEvery > 0 ? { io: safetensorsCheckpointIO, everyIters: cfg.train.checkpointEvery } : undefined,
    logEveryIters: cfg.train.logEvery,
    evaluation: val
      ? {
        everyIters: cfg.train.evalEvery,
        run: async () => {
          lastMetrics = await evaluateDetector(model, cfg, val, { quiet: true, pool });
          return loggedMetrics(lastMetrics);
        },
      }
      : undefined,
    quiet: opts.quiet,
    config: run,
    architecture: `retinanet ${cfg.model.backbone.name} fpn`,
  });
  try {
    if (opts.resume) {
      await trainer.resume(typeof opts.resume === 'string' ? opts.resume : undefined);
    } else if (cfg.model.weights) {
      await loadDetectorInitialWeights(model, cfg.model.weights);
    }
    const result = await trainer.train();
    return { result, metrics: lastMetrics, run };
  } catch (e) {
    throw explainDetectionOutOfMemory(e, cfg);
  } finally {
    trainer.dispose();
    optimizer.dispose();
    model.dispose();
    await pool.close();
  }
}

/**
 * Replace a wasm out-of-memory failure (see `isOutOfMemoryError`) by a one-line error naming the settings that set
 * the memory of a detection step; other errors pass unchanged. The classification head's outputs and focal-loss
 * terms are [N, R, K] float32 (R anchors over all levels), so the batch size, the input size and the class count
 * all scale it.
 */
export function explainDetectionOutOfMemory(e: unknown, cfg: DetectionConfig): unknown {
  if (!isOutOfMemoryError(e)) return e;
  const err = new Error(
    `out of memory in RetinaNet ${cfg.model.backbone.name} (the wasm heap is limited to 4 GB): lower train.batchSize ` +
      `(now ${cfg.train.batchSize}) or data.trainShortEdge / data.trainMaxSize (now [${cfg.data.trainShortEdge.join(', ')}] / ${cfg.data.trainMaxSize})`,
  );
  (err as Error & { cause?: unknown }).cause = e;
  return err;
}

// ---------------------------------------------------------------------------------------------------------------
// Checkpoints and prediction

/**
 * Open a detection checkpoint and rebuild its model with the classes it was trained on.
 * @throws Error naming the file when it is not a detection checkpoint or does not fit the config's model.
 */
export async function loadDetectorCheckpoint(
  cfg: DetectionConfig,
  file: string,
): Promise<{ model: RetinaNet; classes: string[]; categoryIds: number[] }> {
  if (!fs.existsSync(file)) throw new Error(`checkpoint not found: ${file}`);
  const ckpt = await loadCheckpoint<TrainingCheckpointMeta>(file);
  try {
    const stored = ckpt.meta.config as Partial<DetectionRunConfig> | undefined;
    if (!stored || stored.task !== 'detection' || !Array.isArray(stored.classes) || !Array.isArray(stored.categoryIds)) {
      throw new Error(`${file}: not a detection checkpoint (no class names in its metadata)`);
    }
    const model = buildDetector(cfg, stored.classes.length);
    try {
      await restoreModel(model, ckpt, { strict: true });
    } catch (e) {
      model.dispose();
      throw e;
    }
    return { model, classes: stored.classes, categoryIds: stored.categoryIds };
  } finally {
    await ckpt.close();
  }
}

/** One detection of `predict`, in original-image pixels. */
export interface PredictedBox {
  className: string;
  /** Class index 0..K-1. */
  label: number;
  /** Category id in the training annotations (COCO id; 1..K for VOC data). */
  categoryId: number;
  /** Sigmoid score 0..1. */
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
 * `outDir/detections.json` (the returned list).
 * @throws Error naming the file for a missing or unreadable image, or when an output would overwrite its input.
 */
export async function predictDetection(
  model: RetinaNet,
  cfg: DetectionConfig,
  classes: readonly string[],
  categoryIds: readonly number[],
  files: readonly string[],
  outDir?: string,
): Promise<ImagePrediction[]> {
  if (outDir) fs.mkdirSync(outDir, { recursive: true });
  const out: ImagePrediction[] = [];
  for (const file of files) {
    if (!fs.existsSync(file)) throw new Error(`image not found: ${file}`);
    const decoded = await decodeImage(file);
    const size = resizeShortestEdgeSize(decoded.image.height, decoded.image.width, cfg.data.evalShortEdge, cfg.data.evalMaxSize);
    const sample = normalizeSample(resize({ ...decoded, target: { boxes: new Float32Array(0), labels: new Int32Array(0) } }, size));
    const batch = collateDetection([sample], { sizeDivisibility: 32 });
    let det: Detections;
    try {
      [det] = await model.predict(batch.images, contentSizes(batch));
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
  if (outDir) await writeJsonAtomic(path.join(outDir, 'detections.json'), out);
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

/** The detection task's entry points for the CLI. */
export const detectionTask: TaskRunner<DetectionConfig> = {
  async train(cfg, opts) {
    const { result, metrics } = await trainDetection(cfg, opts);
    return {
      status: result.status,
      iterations: result.nextIteration,
      lastCheckpoint: result.lastCheckpoint,
      report: metrics ? formatDetectionMetrics(metrics, cfg.data.valSplit) : undefined,
    };
  },
  async evaluate(cfg, checkpoint, opts) {
    const { model, classes } = await loadDetectorCheckpoint(cfg, checkpoint);
    try {
      const split = await loadDetectionSplit(cfg, cfg.data.valSplit, classes, 'eval');
      if (!opts.quiet) {
        const issues = formatSplitIssues(cfg.data.valSplit, split.issues);
        if (issues) process.stderr.write(`${issues}\n`);
      }
      const m = await evaluateDetector(model, cfg, split, { quiet: opts.quiet });
      const report = formatDetectionMetrics(m, cfg.data.valSplit);
      if (!opts.outDir) return report;
      fs.mkdirSync(opts.outDir, { recursive: true });
      const resultsFile = path.join(opts.outDir, `results_${cfg.data.valSplit}.json`);
      await writeJsonAtomic(resultsFile, m.results);
      const written = [resultsFile];
      if (cfg.data.format === 'voc') {
        const gtFile = path.join(opts.outDir, `gt_${cfg.data.valSplit}_coco.json`);
        await writeJsonAtomic(gtFile, split.gt.dataset);
        written.push(gtFile);
      }
      return `${report}\nwrote ${written.join(', ')}`;
    } finally {
      model.dispose();
    }
  },
  async predict(cfg, checkpoint, images, opts) {
    const { model, classes, categoryIds } = await loadDetectorCheckpoint(cfg, checkpoint);
    try {
      const preds = await predictDetection(model, cfg, classes, categoryIds, images, opts.outDir);
      return opts.json ? JSON.stringify(preds, null, 2) : formatPredictions(preds, cfg.predict.scoreThresh);
    } finally {
      model.dispose();
    }
  },
};
