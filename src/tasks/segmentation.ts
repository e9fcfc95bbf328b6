/**
 * The semantic segmentation task end to end: VOC-layout (or CamVid-style) data → FCN / DeepLabV3 on a dilated
 * ResNet, or Semantic FPN → training engine → Pascal VOC mIoU, predicted masks as VOC palette PNGs, and colourised overlays. This
 * module states what is particular to segmentation; `./harness.ts` runs it.
 *
 * Inference maps predictions back to the original image: the image is resized (shorter side `data.evalShortEdge`
 * times each of `eval.scales`), the logits of each pass (whole image or sliding window, optionally also of the
 * flipped image) are resized bilinearly to the original size, turned into probabilities and averaged; the class
 * map is their argmax, scored against the mask file as it is. The passes are `inferSegmentation`
 * (`heads/segmentation/inference.ts`), the resized inputs `multiScaleInputs` (`datasets/pipeline`).
 *
 * Reference: torchvision `references/segmentation/train.py` (SGD, poly schedule, `criterion` with aux 0.5,
 * `evaluate`), `presets.py`; mmsegmentation `models/segmentors/encoder_decoder.py` (`whole_inference`,
 * `slide_inference`, `aug_test`: logits resized to the original shape, softmax, mean over scales and flips).
 */
import * as fs from 'fs';
import * as path from 'path';
import { disposeSegmentationBatch, segmentationCollate } from '../../datasets/collate_segmentation';
import { DataLoader } from '../../datasets/loader';
import { decodeImage } from '../../datasets/pipeline/decode';
import {
  loadSegmentationSample,
  multiScaleInputs,
  segmentationDataset,
  segmentationTrainTransform,
  type SegmentationRecord,
} from '../../datasets/pipeline/segmentation_presets';
import type { RgbImage, SegmentationSample } from '../../datasets/types';
import type { SegmentationMetrics } from '../../datasets/voc/miou';
import { scanVocSegmentation, VOC_SEG_CLASSES } from '../../datasets/voc/segmentation';
import { SegmentationEvaluator } from '../../datasets/voc/segmentation_evaluator';
import {
  inferSegmentation,
  type AsyncSegmentationPredictor,
  type SegmentationInferenceResult,
  type SegmentationPredictor,
  type SlidingWindow,
} from '../../heads/segmentation/inference';
import { SemanticFpn } from '../../heads/segmentation/semantic_fpn';
import type { Backbone } from '../backbone/features';
import type { LogSink } from '../common/log';
import { shardItems } from '../common/shard';
import type { SegmentationConfig } from '../config/types';
import { withLrMult, type ParamGroup } from '../engine/optimizer';
import { isOutOfMemoryError } from '../engine/trainer';
import { loadPretrained } from '../weights/pretrained';
import { defaultParamGroups, evaluate, openTaskCheckpoint, runInference, runTraining, taskLog, trainSummary, withModel, type EvaluationPlan, type TrainingOutcome } from './harness';
import { architecture, ARCHITECTURES, buildSegmentationModel, type SegmentationTaskModel } from './models';
import { writeOverlay, writePaletteMask, type LegendEntry } from './overlay';
import { requireOutDir, writeEvalPart, writePredictPart } from './shards';
import type { ModelSource, TaskRunner, TaskTrainOptions } from './task';
import { loadModelFromWeights } from './torchvision_weights';
import { handToOnnxRuntime, OnnxSegmenter, readOnnxFile } from '../export/onnx/task_models';

export { buildSegmentationModel, type SegmentationTaskModel };

/** The resolved config stored in a segmentation checkpoint: the config plus the class names it was trained with. */
export interface SegmentationRunConfig extends SegmentationConfig {
  classes: string[];
}

/** torchvision's name of the model a config builds (`fcn_resnet50`, `deeplabv3_resnet101`, ...), for messages. */
export function segmentationModelName(cfg: SegmentationConfig): string {
  return architecture(cfg).modelName(cfg);
}

/**
 * The K class names of a config: `data.classNames`, else the 21 VOC names when K = 21, else `class_0..class_{K-1}`.
 * @throws Error when `data.classNames` does not hold `model.numClasses` names.
 */
export function segmentationClassNames(cfg: SegmentationConfig): string[] {
  const k = cfg.model.numClasses;
  if (cfg.data.classNames) {
    if (cfg.data.classNames.length !== k) {
      throw new Error(`data.classNames has ${cfg.data.classNames.length} names but model.numClasses is ${k}`);
    }
    return [...cfg.data.classNames];
  }
  return k === VOC_SEG_CLASSES.length ? [...VOC_SEG_CLASSES] : Array.from({ length: k }, (_, i) => `class_${i}`);
}

/**
 * List the records of split `split` (a key of `data.splits`): ids or image/mask pairs from its list file, or every
 * mask file in its mask folder. Masks are read as class indices with `data.ignoreIndex` → 255 and checked to be
 * below K when loaded.
 * @throws Error naming the split and the keys of `data.splits` when it is not one of them; the errors of
 *   `scanVocSegmentation` (missing files with list and line).
 */
export async function scanSegmentationSplit(cfg: SegmentationConfig, split: string): Promise<SegmentationRecord[]> {
  const s = cfg.data.splits[split];
  if (!s) throw new Error(`split '${split}' is not in data.splits (${Object.keys(cfg.data.splits).join(', ')})`);
  if (!fs.existsSync(cfg.data.root)) throw new Error(`data folder not found: ${cfg.data.root} (pass --data ROOT, or set data.root in the config)`);
  const set = await scanVocSegmentation(cfg.data.root, {
    splitFile: s.list ?? undefined,
    imagesDir: s.imagesDir,
    masksDir: s.masksDir,
    imageExt: cfg.data.imageExt,
    maskExt: cfg.data.maskExt,
    classes: segmentationClassNames(cfg),
    mask: { encoding: { kind: cfg.data.maskEncoding }, ignoreIndex: cfg.data.ignoreIndex, numClasses: cfg.model.numClasses },
  });
  return set.records;
}

/**
 * The ResNet trunk of a segmentation model, where ImageNet weights go: the dilated backbone of FCN / DeepLabV3
 * (state `backbone.*`), the FPN's body of Semantic FPN (`backbone.body.*`).
 */
export function segmentationTrunk(model: SegmentationTaskModel): Backbone {
  return model instanceof SemanticFpn ? model.backbone.body : model.backbone;
}

/**
 * Load the config's initial weights: `model.weights` (a torchvision `fcn_*` / `deeplabv3_*` state dict; a classifier
 * whose class count differs keeps its initialization, as when fine-tuning to another dataset) and/or
 * `model.backboneWeights` (an ImageNet ResNet state dict, torchvision's `weights_backbone`; `fc.*` ignored), loaded
 * into the ResNet trunk ({@link segmentationTrunk}).
 * @throws Error naming the file when a tensor other than the last classifier layers is missing, unexpected or of
 *   another shape; Error naming `model.weights` when the architecture has no torchvision weight family (Semantic
 *   FPN; the config schema refuses it first).
 */
export async function loadSegmentationInitialWeights(model: SegmentationTaskModel, cfg: SegmentationConfig, log: LogSink): Promise<void> {
  const { weights, backboneWeights } = cfg.model;
  const family = architecture(cfg).weightFamily;
  if (weights && !family) {
    throw new Error(`model.weights is ${weights}: torchvision publishes no ${segmentationModelName(cfg)} weights; start from model.backboneWeights (an ImageNet ResNet)`);
  }
  if (backboneWeights) {
    if (!fs.existsSync(backboneWeights)) throw new Error(`model.backboneWeights not found: ${backboneWeights}`);
    await loadPretrained(segmentationTrunk(model), backboneWeights, {
      family: ARCHITECTURES.classifier.weightFamily,
      classifierKeys: [],
      modelName: `a ${segmentationModelName(cfg)} backbone`,
      log,
    });
  }
  if (weights && family) {
    if (!fs.existsSync(weights)) throw new Error(`model.weights not found: ${weights}`);
    await loadPretrained(model, weights, {
      family,
      classifierKeys: model.classifierKeys,
      // torchvision's checkpoints without `aux_loss` lack the auxiliary head: it starts from its initialization.
      optionalKeys: ['aux_classifier.'],
      modelName: segmentationModelName(cfg),
      log,
    });
  }
}

/**
 * Learning-rate multiplier of the auxiliary head's parameters (`aux_classifier.*`): torchvision's segmentation
 * reference trains them with `lr * 10` (`references/segmentation/train.py`, `params_to_optimize`), the backbone and
 * the main classifier with `lr`; the poly schedule scales every group alike.
 */
export const AUX_LR_MULT = 10;

/**
 * The optimizer's parameter groups of a segmentation model: the weight-decay groups of `optimizer.weightDecay` /
 * `normWeightDecay`, each split so that the auxiliary head's parameters get {@link AUX_LR_MULT} (Semantic FPN has
 * none: every parameter steps with the learning rate, as in detectron2 and mmsegmentation).
 * @returns groups for `new SgdOptimizer(groups, ...)`; variables owned by the model.
 * Reference: torchvision `references/segmentation/train.py` (`params_to_optimize`).
 */
export function segmentationParamGroups(model: SegmentationTaskModel, cfg: SegmentationConfig): ParamGroup[] {
  return withLrMult(defaultParamGroups(model, cfg), (name) => name.startsWith('aux_classifier.'), AUX_LR_MULT);
}

/**
 * Replace a wasm out-of-memory abort (see `isOutOfMemoryError`) by a one-line error saying what to lower; other
 * errors pass unchanged.
 * @param what `training` (names `train.batchSize` and `data.trainCropSize`) or `evaluation` (names
 *   `data.evalShortEdge` and `eval.slidingWindow`).
 */
export function explainOutOfMemory(e: unknown, cfg: SegmentationConfig, what: 'training' | 'evaluation'): unknown {
  if (!isOutOfMemoryError(e)) return e;
  const hint =
    what === 'training'
      ? `lower train.batchSize (now ${cfg.train.batchSize}) or data.trainCropSize (now ${cfg.data.trainCropSize})`
      : `set data.evalShortEdge (now ${cfg.data.evalShortEdge ?? 'null: the original size'}) lower or use eval.slidingWindow`;
  const err = new Error(
    `out of memory during ${what} of ${segmentationModelName(cfg)} (output stride ${cfg.model.outputStride}): the wasm heap is limited to 4 GB; ${hint}`,
  );
  (err as Error & { cause?: unknown }).cause = e;
  return err;
}

/** How {@link segmentImage} runs the network on one image. */
export interface SegmentationInferenceOptions {
  /** Shorter side at scale 1, pixels; null: the original size. */
  shortEdge: number | null;
  /** Multipliers of the shorter side; the probabilities of all passes are averaged. */
  scales: readonly number[];
  /** Also run on the horizontally flipped image (its logits flipped back). */
  flip: boolean;
  /** Windows of `cropSize` x `cropSize` every `stride` pixels, logits averaged where they overlap; null: whole image. */
  slidingWindow: SlidingWindow | null;
}

/**
 * Per-pixel classes of one image at its original size: the image resized to each scale and normalized
 * (`multiScaleInputs`), then the multi-scale, flip and sliding-window inference beside the model
 * (`inferSegmentation`, what `SegmentationModel.predict` runs).
 * @param image [H, W, 3] uint8 RGB, the original image. Not modified.
 * @returns [H * W] uint8 class indices 0..K-1, row-major, and the [H * W * K] float32 mean probabilities.
 * @throws Error on an empty `scales`, a non-positive scale or window option.
 */
export function segmentImage(model: SegmentationPredictor | AsyncSegmentationPredictor, image: RgbImage<Uint8Array>, opts: SegmentationInferenceOptions): Promise<SegmentationInferenceResult> {
  const scaled = multiScaleInputs(image, opts.shortEdge, opts.scales);
  return inferSegmentation(model, { scaled, height: image.height, width: image.width, flip: opts.flip, slidingWindow: opts.slidingWindow });
}

/** The inference options of a config (`data.evalShortEdge` and the `eval` section). */
export function inferenceOptions(cfg: SegmentationConfig): SegmentationInferenceOptions {
  return { shortEdge: cfg.data.evalShortEdge, scales: cfg.eval.scales, flip: cfg.eval.flip, slidingWindow: cfg.eval.slidingWindow };
}

/** The samples of `records` in order, decoding the next image while the caller works on this one. */
async function* prefetchSamples(records: readonly SegmentationRecord[]): AsyncGenerator<SegmentationSample<Uint8Array>> {
  let next = records.length > 0 ? loadSegmentationSample(records[0]) : undefined;
  next?.catch(() => undefined);
  for (let i = 0; i < records.length; i++) {
    const sample = await next!;
    next = i + 1 < records.length ? loadSegmentationSample(records[i + 1]) : undefined;
    next?.catch(() => undefined);
    yield sample;
  }
}

/**
 * mIoU evaluation of `model` on records: each image inferred at its original size ({@link segmentImage}), one
 * confusion matrix over all pixels (ignored pixels left out).
 * @param classes K class names (label order).
 * @param opts.outDir write each prediction as `<outDir>/<imageId>.png`, a VOC palette PNG of class indices at the
 *   original size (what `resvision eval-seg --pred` reads).
 * @throws (when fed) Error naming the file for unreadable images or masks, and a mask whose size differs from its
 *   image's.
 */
export function segmentationEvaluation(
  model: SegmentationPredictor | AsyncSegmentationPredictor,
  cfg: SegmentationConfig,
  records: readonly SegmentationRecord[],
  classes: readonly string[],
  opts: { outDir?: string } = {},
): EvaluationPlan<SegmentationMetrics> & { evaluator: SegmentationEvaluator } {
  const evaluator = new SegmentationEvaluator(classes, 255);
  const infer = inferenceOptions(cfg);
  return {
    evaluator,
    feed: async ({ quiet }) => {
      if (opts.outDir) fs.mkdirSync(opts.outDir, { recursive: true });
      await runInference(prefetchSamples(records), {
        total: records.length,
        quiet,
        imagesIn: () => 1,
        process: async (sample, i) => {
          const { mask } = await segmentImage(model, sample.image, infer);
          evaluator.update(sample.target.mask, mask, `mask '${records[i].maskFile}'`);
          if (opts.outDir) writePaletteMask(path.join(opts.outDir, `${records[i].imageId}.png`), mask, sample.image.height, sample.image.width);
        },
      });
    },
  };
}

/**
 * mIoU evaluation of `model` on records (see {@link segmentationEvaluation}), with the config's class names.
 * @returns the metrics (fractions).
 */
export function evaluateSegmentationRecords(
  model: SegmentationTaskModel,
  cfg: SegmentationConfig,
  records: readonly SegmentationRecord[],
  opts: { quiet?: boolean; outDir?: string } = {},
): Promise<SegmentationMetrics> {
  return evaluate(segmentationEvaluation(model, cfg, records, segmentationClassNames(cfg), opts), opts);
}

/**
 * Train a segmentation model as the config says (SGD over {@link segmentationParamGroups}: the auxiliary head at 10x
 * the learning rate), evaluating mIoU on `data.valSplit` every `train.evalEvery` iterations and, unless
 * `train.evalAtEnd` is false, after the last step (once the final checkpoint is written), writing checkpoints and
 * `metrics.jsonl` to `train.outputDir` (see `runTraining`).
 * @returns how training ended, the last validation metrics and the class names.
 * @throws Error for a DeepLabV3 model with `train.batchSize` 1 (its image-pooling BatchNorm sees one value per
 *   channel; torch raises too), missing data, fewer images than a batch, weights that do not fit, a non-finite loss;
 *   a one-line error naming the settings to lower when the wasm heap runs out ({@link explainOutOfMemory}).
 */
export async function trainSegmentation(
  cfg: SegmentationConfig,
  opts: TaskTrainOptions = {},
): Promise<TrainingOutcome<SegmentationMetrics> & { classes: string[] }> {
  const classes = segmentationClassNames(cfg);
  if (cfg.model.head.type === 'deeplabv3' && cfg.train.batchSize < 2) {
    throw new Error(
      `train.batchSize is ${cfg.train.batchSize}: ${segmentationModelName(cfg)} needs at least 2 images per batch in training ` +
        '(the ASPP image-pooling BatchNorm normalizes a 1x1 map, one value per channel with a single image)',
    );
  }
  const trainRecords = await scanSegmentationSplit(cfg, cfg.data.trainSplit);
  const valRecords = cfg.train.evalEvery > 0 ? await scanSegmentationSplit(cfg, cfg.data.valSplit) : [];
  const d = cfg.data;
  const transform = segmentationTrainTransform({ shortEdge: d.trainShortEdge, cropSize: d.trainCropSize, flipProbability: d.flipProbability });
  const runConfig: SegmentationRunConfig = { ...cfg, classes };
  const model = buildSegmentationModel(cfg);
  const log = taskLog(opts);
  const outcome = await runTraining(cfg, {
    model,
    data: new DataLoader(segmentationDataset(trainRecords, transform), {
      batchSize: cfg.train.batchSize,
      collate: segmentationCollate({ sizeDivisibility: model.sizeDivisibility }),
      shuffle: true,
      dropLast: true,
      seed: cfg.train.seed,
      concurrency: cfg.train.numWorkers,
    }),
    dataName: `split '${d.trainSplit}' of ${d.root}`,
    numImages: trainRecords.length,
    disposeBatch: disposeSegmentationBatch,
    paramGroups: segmentationParamGroups(model, cfg),
    runConfig,
    architecture: `${segmentationModelName(cfg)} (output stride ${cfg.model.outputStride}${cfg.model.aux ? ', aux' : ''})`,
    evaluation: cfg.train.evalEvery > 0 ? segmentationEvaluation(model, cfg, valRecords, classes) : undefined,
    loadInitialWeights: () => loadSegmentationInitialWeights(model, cfg, log),
    // Out of memory in a training step or in an evaluation pass: the message says which settings to lower.
    explainOutOfMemory: (e, phase) => explainOutOfMemory(e, cfg, phase),
  }, opts);
  return { ...outcome, classes };
}

/**
 * The model name of a stored run config: checkpoints written before segmentation configs composed `backbone` and
 * `head` stored torchvision's name as `model.name`.
 */
function storedModelName(stored: SegmentationRunConfig): string {
  const legacy = (stored.model as { name?: unknown }).name;
  return typeof legacy === 'string' ? legacy : segmentationModelName(stored);
}

/**
 * Open a segmentation checkpoint and rebuild its model for inference (no auxiliary head; its weights are skipped).
 * The output stride may differ from training's (the weights do not depend on it).
 * @throws Error naming the file when it is not a segmentation checkpoint, or its model name or class count differs
 *   from the config's, or its tensors do not fit.
 */
export async function loadSegmentationCheckpoint(
  cfg: SegmentationConfig,
  file: string,
): Promise<{ model: SegmentationTaskModel; classes: string[] }> {
  const { model, run } = await openTaskCheckpoint<SegmentationRunConfig, SegmentationTaskModel>(file, {
    task: 'segmentation',
    isRunConfig: (stored) => Array.isArray(stored.classes) && stored.model !== undefined,
    check: (stored) => {
      const storedName = storedModelName(stored);
      if (storedName !== segmentationModelName(cfg) || stored.classes.length !== cfg.model.numClasses) {
        throw new Error(
          `${file}: checkpoint of ${storedName} with ${stored.classes.length} classes; the config asks for ` +
            `${segmentationModelName(cfg)} with model.numClasses ${cfg.model.numClasses}`,
        );
      }
    },
    build: () => buildSegmentationModel(cfg, { aux: false }),
    skipUnexpected: (name) => name.startsWith('aux_classifier.'),
  });
  return { model, classes: run.classes };
}

/** One image's prediction. */
export interface SegmentationPrediction {
  file: string;
  height: number;
  width: number;
  /** Classes present in the prediction, by decreasing area: name, index and share of the image's pixels (0..1). */
  classes: { className: string; label: number; fraction: number }[];
  /** The palette PNG of class indices written, if any. */
  maskFile?: string;
  /** The colourised overlay written, if any. */
  overlayFile?: string;
}

/**
 * The legend of an overlay: one entry per class, in the given order, with its share in percent to one decimal
 * (`Road 41.3%`); classes whose share prints as 0.0% (absent, or a few stray pixels) are left out, and the
 * `transparent` classes (drawn uncoloured) are marked `clear`.
 * @param classes name, index and share (0..1) of the classes predicted.
 */
export function segmentationLegend(
  classes: readonly { className: string; label: number; fraction: number }[],
  transparent: readonly number[],
): LegendEntry[] {
  return classes
    .map((c) => ({ label: c.label, text: `${c.className} ${(100 * c.fraction).toFixed(1)}%`, clear: transparent.includes(c.label) }))
    .filter((e) => !e.text.endsWith(' 0.0%'));
}

/**
 * The overlay file of an input image: `<stem>_overlay.jpg` for a JPEG input, `<stem>_overlay.png` for anything
 * else (PNG inputs stay lossless).
 */
export function overlayFileName(imageFile: string): string {
  const ext = path.extname(imageFile).toLowerCase();
  const stem = path.basename(imageFile).slice(0, path.basename(imageFile).length - ext.length);
  return `${stem}_overlay${ext === '.jpg' || ext === '.jpeg' ? '.jpg' : '.png'}`;
}

/**
 * Segment image files with the config's inference options; with `outDir`, write `<outDir>/<stem>.png` (VOC palette
 * PNG of class indices) and the overlay {@link overlayFileName} (class colours blended over the image, classes named
 * `background` left clear, with a legend of the classes whose share shows as at least 0.1%; a clear class's swatch
 * is an empty outline).
 * @throws Error naming the file for a missing or unreadable image.
 */
export async function predictSegmentation(
  model: SegmentationPredictor | AsyncSegmentationPredictor,
  cfg: SegmentationConfig,
  classes: readonly string[],
  files: readonly string[],
  outDir?: string,
): Promise<SegmentationPrediction[]> {
  if (outDir) fs.mkdirSync(outDir, { recursive: true });
  const transparent = classes.flatMap((c, k) => (c === 'background' ? [k] : []));
  const out: SegmentationPrediction[] = [];
  for (const file of files) {
    if (!fs.existsSync(file)) throw new Error(`image not found: ${file}`);
    const { image } = await decodeImage(file);
    const { mask } = await segmentImage(model, image, inferenceOptions(cfg));
    const counts = new Float64Array(classes.length);
    for (let i = 0; i < mask.length; i++) counts[mask[i]]++;
    const present = [...counts.keys()]
      .filter((k) => counts[k] > 0)
      .sort((a, b) => counts[b] - counts[a] || a - b)
      .map((k) => ({ className: classes[k], label: k, fraction: counts[k] / mask.length }));
    const pred: SegmentationPrediction = { file, height: image.height, width: image.width, classes: present };
    if (outDir) {
      const stem = path.basename(file).replace(/\.[^.]*$/, '');
      pred.maskFile = path.join(outDir, `${stem}.png`);
      pred.overlayFile = path.join(outDir, overlayFileName(file));
      writePaletteMask(pred.maskFile, mask, image.height, image.width);
      const legend = segmentationLegend(present, transparent);
      await writeOverlay(pred.overlayFile, image.data, mask, image.height, image.width, legend, { transparentClasses: transparent });
    }
    out.push(pred);
  }
  return out;
}

/** A segmentation model for inference, to release after use (a tfjs module, or an ONNX Runtime session). */
type DisposableSegmenter = (SegmentationPredictor | AsyncSegmentationPredictor) & { dispose(): void | Promise<void> };

/**
 * The segmentation model of a checkpoint, or of a torchvision state dict for inference: K from its `classifier.4`
 * (the config's `model.numClasses` is replaced), class names as {@link segmentationClassNames} gives them for K (the
 * 21 VOC classes for torchvision's COCO_WITH_VOC_LABELS weights); the file's auxiliary head, if any, is not built.
 * Run by tfjs, or by ONNX Runtime (`engine: 'onnx'`: exported in memory). A `resvision export` file runs in ONNX
 * Runtime with its class names; the config's model (built and disposed) gives its size divisibility.
 * @throws as {@link loadSegmentationCheckpoint}, `loadModelFromWeights` and `readOnnxFile`; Error naming the file when
 *   its class count differs from the config's `model.numClasses`.
 */
async function openSegmenter(cfg: SegmentationConfig, source: ModelSource, log: LogSink): Promise<{ model: DisposableSegmenter; classes: string[] }> {
  if ('onnx' in source) {
    const file = readOnnxFile(source.onnx, ['segmentation']);
    if (file.classes.length !== cfg.model.numClasses) {
      throw new Error(`${source.onnx}: a model of ${file.classes.length} classes; the config asks for model.numClasses ${cfg.model.numClasses}`);
    }
    return { model: await handToOnnxRuntime(buildSegmentationModel(cfg, { aux: false }), (m) => OnnxSegmenter.create(m, file)), classes: file.classes };
  }
  let opened: { model: SegmentationTaskModel; classes: string[] };
  if ('checkpoint' in source) opened = await loadSegmentationCheckpoint(cfg, source.checkpoint);
  else {
    const withK = (k: number): SegmentationConfig => ({ ...cfg, model: { ...cfg.model, numClasses: k } });
    const { model, space } = await loadModelFromWeights(cfg, source.weights, (k) => buildSegmentationModel(withK(k), { aux: false }), log);
    try {
      opened = { model, classes: segmentationClassNames(withK(space.numClasses)) };
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  if (source.engine !== 'onnx') return opened;
  return { model: await handToOnnxRuntime(opened.model, (m) => OnnxSegmenter.create(m)), classes: opened.classes };
}

/** The segmentation task's entry points for the CLI. */
export const segmentationTask: TaskRunner<SegmentationConfig> = {
  async train(cfg, opts) {
    const outcome = await trainSegmentation(cfg, opts);
    return trainSummary(outcome, (m) => new SegmentationEvaluator(outcome.classes).format(m));
  },
  async evaluate(cfg, source, opts) {
    const all = await scanSegmentationSplit(cfg, cfg.data.valSplit);
    const records = opts.shard ? shardItems(all, opts.shard) : all;
    const { model, classes } = await openSegmenter(cfg, source, taskLog(opts));
    return withModel(
      model,
      async () => {
        const plan = segmentationEvaluation(model, cfg, records, classes, { outDir: opts.outDir });
        const metrics = await evaluate(plan, opts);
        if (opts.shard) {
          const run = { shard: opts.shard, numImages: records.length, totalImages: all.length, classes: [...classes] };
          return writeEvalPart(cfg, source, requireOutDir(opts), run, plan.evaluator.exportState());
        }
        const table = plan.evaluator.format(metrics);
        return opts.outDir ? `${table}\nwrote ${records.length} prediction PNGs (VOC palette, class indices) to ${opts.outDir}` : table;
      },
      (e) => explainOutOfMemory(e, cfg, 'evaluation'),
    );
  },
  async predict(cfg, source, images, opts) {
    const { model, classes } = await openSegmenter(cfg, source, taskLog(opts));
    return withModel(
      model,
      async () => {
        const preds = await predictSegmentation(model, cfg, classes, opts.shard ? shardItems(images, opts.shard) : images, opts.outDir);
        if (opts.shard) return writePredictPart(cfg, source, requireOutDir(opts, 'predict'), opts.shard, images, preds);
        if (opts.json) return JSON.stringify(preds, null, 2);
        return preds
          .map((p) =>
            [
              `${p.file} (${p.width}x${p.height})`,
              // A class with a few stray pixels shows as <0.01%, not as 0.00%.
              ...p.classes.map((c) => `  ${(100 * c.fraction < 0.005 ? '<0.01' : (100 * c.fraction).toFixed(2)).padStart(6)}%  ${c.className}`),
              ...(p.maskFile ? [`  mask ${p.maskFile}`, `  overlay ${p.overlayFile}`] : []),
            ].join('\n'),
          )
          .join('\n');
      },
      (e) => explainOutOfMemory(e, cfg, 'evaluation'),
    );
  },
};
