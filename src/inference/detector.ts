/**
 * Object detection from code: a trained detector and its classes, `detect(image)` returning boxes in the image's own
 * pixels. The steps are those of `resvision predict` (`predictDetection` in `src/tasks/detection.ts`), on the same
 * functions: shortest-edge resize to `data.evalShortEdge` / `data.evalMaxSize` with Pillow's arithmetic, ImageNet
 * normalization, bottom/right zero padding to the model's size divisibility (`collateDetection`), the model's
 * post-processing, boxes mapped back to original pixels (`detectionsToOriginal`), the score threshold.
 *
 * Reference: @tensorflow-models/coco-ssd (`load()` then `model.detect(img)`); torchvision
 * `GeneralizedRCNNTransform` (resize, pad, boxes mapped back).
 */
import { collateDetection, disposeDetectionBatch } from '../../datasets/collate_detection';
import { identityMeta } from '../../datasets/pipeline/geometry';
import { normalizeSample } from '../../datasets/pipeline/normalize';
import { resize, resizeShortestEdgeSize } from '../../datasets/pipeline/transforms';
import type { RgbImage } from '../../datasets/types';
import type { DetectionPredictInput } from '../../heads/detection/model';
import { detectionsToOriginal, type Detections } from '../../heads/detection/postprocess';
import type { Module } from '../nn/module';
import type { DetectionRunConfig, PredictedBox } from '../tasks/detection';
import { architecture } from '../tasks/models';
import { openCheckpointSource, restoreInto, runConfigOf, type CheckpointLoadOptions, type CheckpointSource, type OpenedCheckpoint } from './checkpoint_source';
import { toRgbImage, type ImageInput } from './image_input';

/** What the detector needs of a detection model (`RetinaNet`, and any detector of the architecture table). */
export interface DetectionModel extends Module {
  readonly numClasses: number;
  /** The padded input's height and width are multiples of this. */
  readonly sizeDivisibility: number;
  predict(input: DetectionPredictInput): Promise<Detections[]>;
}

/** Options of {@link Detector.detect}. */
export interface DetectOptions {
  /** Keep detections scoring at least this (0..1); default the checkpoint config's `predict.scoreThresh`. */
  scoreThreshold?: number;
}

/** Turns an image input into 8-bit RGB pixels (the portable one: {@link toRgbImage}). */
export type ImageDecoder<I> = (input: I) => Promise<RgbImage<Uint8Array>>;

/** A trained detector with its classes. Owns its model: call `dispose()` when done. */
export class Detector<I = ImageInput> {
  /** @param config the run config stored in the checkpoint (class names, category ids, eval sizes). */
  constructor(
    readonly model: DetectionModel,
    readonly config: DetectionRunConfig,
    private readonly decode: ImageDecoder<I>,
  ) {}

  /** K class names, in label order. */
  get classes(): readonly string[] {
    return this.config.classes;
  }

  /**
   * Detect objects in one image.
   * @param image see {@link ImageInput} (in Node also a file path or encoded bytes); a tensor is not disposed.
   * @returns detections with score >= the threshold, highest first: class name, label 0..K-1, the training data's
   *   category id, sigmoid score 0..1, `boxXyxy` in continuous pixels of the given image. No tensor outlives the call.
   * @throws ImageInputError for an input that is not an image (wrong rank, values outside 0..255).
   */
  async detect(image: I, opts: DetectOptions = {}): Promise<PredictedBox[]> {
    const rgb = await this.decode(image);
    const cfg = this.config;
    const size = resizeShortestEdgeSize(rgb.height, rgb.width, cfg.data.evalShortEdge, cfg.data.evalMaxSize);
    const target = { boxes: new Float32Array(0), labels: new Int32Array(0) };
    const sample = normalizeSample(resize({ image: rgb, meta: identityMeta('image', rgb.height, rgb.width), target }, size));
    const batch = collateDetection([sample], { sizeDivisibility: this.model.sizeDivisibility });
    let det: Detections;
    try {
      const m = batch.metas[0];
      const imageSizes = [{ height: m.validRegionXyxy[3] - m.validRegionXyxy[1], width: m.validRegionXyxy[2] - m.validRegionXyxy[0] }];
      [det] = await this.model.predict({ images: batch.images, imageSizes });
    } finally {
      disposeDetectionBatch(batch);
    }
    const orig = detectionsToOriginal(det, batch.metas[0]);
    const threshold = opts.scoreThreshold ?? cfg.predict.scoreThresh;
    const out: PredictedBox[] = [];
    orig.labels.forEach((label, i) => {
      if (orig.scores[i] < threshold) return;
      const b = orig.boxes.subarray(4 * i, 4 * i + 4);
      out.push({ className: cfg.classes[label], label, categoryId: cfg.categoryIds[label], score: orig.scores[i], boxXyxy: [b[0], b[1], b[2], b[3]] });
    });
    return out;
  }

  /** Release the model's weights. */
  dispose(): void {
    this.model.dispose();
  }
}

/**
 * Build a detector from an opened checkpoint: the architecture of its stored config, its weights.
 * @throws Error naming the checkpoint when it is not a detection checkpoint or its weights do not fit.
 */
export async function detectorFromCheckpoint<I>(ckpt: OpenedCheckpoint, decode: ImageDecoder<I>): Promise<Detector<I>> {
  const run = runConfigOf<DetectionRunConfig>(ckpt, 'detection', ['classes', 'categoryIds']);
  const model = architecture(run).build(run, run.classes.length) as DetectionModel;
  return new Detector(await restoreInto(model, ckpt), run, decode);
}

/**
 * Load a detector trained by `resvision train` (a detection checkpoint).
 * @param source the checkpoint's bytes, its URL, or a `tf.io.IOHandler` (see {@link CheckpointSource}).
 * @returns the detector; the caller disposes it.
 * @throws Error naming the source when it cannot be read, is not a detection checkpoint, or does not fit its model.
 */
export async function loadDetector(source: CheckpointSource, opts: CheckpointLoadOptions = {}): Promise<Detector> {
  return detectorFromCheckpoint(await openCheckpointSource(source, opts), toRgbImage);
}
