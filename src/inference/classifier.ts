/**
 * Image classification from code: a trained classifier and its classes, `classify(image)` returning the top classes.
 * The steps are those of `resvision predict` (`classificationEvalTransform`, torchvision's evaluation preset): resize
 * of the shorter side to `data.evalResizeSize` and a central `data.evalCropSize` square (Pillow's bilinear
 * arithmetic, only the kept pixels computed), ImageNet normalization, softmax.
 *
 * Reference: @tensorflow-models/mobilenet (`load()` then `model.classify(img, topk)`); torchvision
 * `references/classification/presets.py` (`ClassificationPresetEval`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { normalizeImage } from '../../datasets/pipeline/normalize';
import { resampleImage } from '../../datasets/pipeline/resample';
import { centerCropWindow, resizeShorterSideSize } from '../../datasets/pipeline/transforms';
import type { RgbImage } from '../../datasets/types';
import type { ResNetClassifier } from '../../heads/classification/model';
import type { ClassificationRunConfig } from '../tasks/classification';
import { architecture } from '../tasks/models';
import { openCheckpointSource, restoreInto, runConfigOf, type CheckpointLoadOptions, type CheckpointSource, type OpenedCheckpoint } from './checkpoint_source';
import type { ImageDecoder } from './detector';
import { toRgbImage, type ImageInput } from './image_input';

/**
 * torchvision's evaluation preset on decoded pixels: Resize(resizeSize) of the shorter side, CenterCrop(cropSize),
 * Normalize (ImageNet mean and std). The same arithmetic as `classificationEvalTransform` on a file.
 * @param image [H, W, 3] uint8 RGB; not modified.
 * @returns [cropSize, cropSize, 3] float32 normalized RGB (new buffer).
 * @throws Error when the crop is larger than the resized image.
 */
export function classificationEvalInput(image: RgbImage<Uint8Array>, resizeSize: number, cropSize: number): RgbImage<Float32Array> {
  const { height: H, width: W } = image;
  const resized = resizeShorterSideSize(H, W, resizeSize);
  const win = centerCropWindow(resized.height, resized.width, { height: cropSize, width: cropSize });
  const pixels = resampleImage(image.data, H, W, 3, resized.height, resized.width, 'bilinear', win);
  return normalizeImage({ data: pixels, height: cropSize, width: cropSize });
}

/** One class of {@link Classifier.classify}'s answer. */
export interface ClassScore {
  className: string;
  /** Class index 0..K-1. */
  label: number;
  /** Softmax probability 0..1. */
  probability: number;
}

/** Options of {@link Classifier.classify}. */
export interface ClassifyOptions {
  /** How many classes to return, best first; default 5 (as `resvision predict`), at most K. */
  topK?: number;
}

/** A trained classifier with its classes. Owns its model: call `dispose()` when done. */
export class Classifier<I = ImageInput> {
  constructor(
    readonly model: ResNetClassifier,
    readonly config: ClassificationRunConfig,
    private readonly decode: ImageDecoder<I>,
  ) {}

  /** K class names, in label order. */
  get classes(): readonly string[] {
    return this.config.classes;
  }

  /**
   * The most probable classes of one image.
   * @param image see {@link ImageInput} (in Node also a file path or encoded bytes); a tensor is not disposed.
   * @returns up to `topK` classes by decreasing probability (ties: lower label first). No tensor outlives the call.
   * @throws ImageInputError for an input that is not an image; Error when `topK` is not a positive integer or the
   *   image is smaller than the crop after resizing.
   */
  async classify(image: I, opts: ClassifyOptions = {}): Promise<ClassScore[]> {
    const topK = opts.topK ?? 5;
    if (!Number.isInteger(topK) || topK < 1) throw new Error(`classify: topK must be a positive integer, got ${topK}`);
    const rgb = await this.decode(image);
    const x = classificationEvalInput(rgb, this.config.data.evalResizeSize, this.config.data.evalCropSize);
    const input = tf.tensor4d(x.data, [1, x.height, x.width, 3]);
    let probs: Float32Array;
    try {
      probs = (await this.model.predict(input)).probs;
    } finally {
      input.dispose();
    }
    return Array.from(probs, (p, i) => [p, i] as const)
      .sort((a, b) => b[0] - a[0] || a[1] - b[1])
      .slice(0, topK)
      .map(([p, i]) => ({ className: this.config.classes[i], label: i, probability: p }));
  }

  /** Release the model's weights. */
  dispose(): void {
    this.model.dispose();
  }
}

/**
 * Build a classifier from an opened checkpoint: the architecture of its stored config, its weights.
 * @throws Error naming the checkpoint when it is not a classification checkpoint or its weights do not fit.
 */
export async function classifierFromCheckpoint<I>(ckpt: OpenedCheckpoint, decode: ImageDecoder<I>): Promise<Classifier<I>> {
  const run = runConfigOf<ClassificationRunConfig>(ckpt, 'classification', ['classes']);
  const model = architecture(run).build(run, run.classes.length) as ResNetClassifier;
  return new Classifier(await restoreInto(model, ckpt), run, decode);
}

/**
 * Load a classifier trained by `resvision train` (a classification checkpoint).
 * @param source the checkpoint's bytes, its URL, or a `tf.io.IOHandler` (see {@link CheckpointSource}).
 * @returns the classifier; the caller disposes it.
 * @throws Error naming the source when it cannot be read, is not a classification checkpoint, or does not fit.
 */
export async function loadClassifier(source: CheckpointSource, opts: CheckpointLoadOptions = {}): Promise<Classifier> {
  return classifierFromCheckpoint(await openCheckpointSource(source, opts), toRgbImage);
}
