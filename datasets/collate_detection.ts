/**
 * Batching of detection samples: normalized images of different sizes are padded at the bottom and right to one
 * size divisible by `sizeDivisibility` (FPN's coarsest stride), and stacked NHWC. Each image's `ImageMeta` records
 * its padding and valid region, so predictions map back to original pixels with `boxesToOriginal`. Targets stay per
 * image, as plain typed arrays (boxes are not moved by bottom/right padding).
 *
 * Reference: torchvision `models/detection/transform.py` (`GeneralizedRCNNTransform.batch_images`:
 * `size_divisible=32`, zero padding after normalization), detectron2 `structures/image_list.py`
 * (`ImageList.from_tensors`, `size_divisibility`, `image_sizes` kept).
 */
import * as tf from '@tensorflow/tfjs';
import { padBottomRightMeta } from './pipeline/geometry';
import type { DetectionSample, DetectionTarget, ImageMeta, RgbImage } from './types';

/** Options of the batch padding. */
export interface BatchPadOptions {
  /** The padded H and W are multiples of this, >= 1. Default 32. */
  sizeDivisibility?: number;
  /** Value of padded image pixels (after normalization). Default 0. */
  padValue?: number;
}

/** A detection batch. The consumer owns `images` (`disposeDetectionBatch`). */
export interface DetectionBatch {
  /** [N, H, W, 3] float32, NHWC, normalized; H, W = max over the batch rounded up to `sizeDivisibility`. */
  images: tf.Tensor4D;
  /** N targets, boxes xyxy in the padded batch's pixels (same as each sample's, padding is bottom/right). */
  targets: DetectionTarget[];
  /** N metas with padding and `validRegionXyxy` set. */
  metas: ImageMeta[];
}

/**
 * The padded batch size for images of the given sizes.
 * @returns `{height, width}` = per-axis max rounded up to a multiple of `sizeDivisibility`.
 */
export function paddedBatchSize(sizes: readonly { height: number; width: number }[], sizeDivisibility = 32): { height: number; width: number } {
  if (!(Number.isInteger(sizeDivisibility) && sizeDivisibility >= 1)) {
    throw new Error(`sizeDivisibility must be an integer >= 1, got ${sizeDivisibility}`);
  }
  const up = (v: number): number => Math.ceil(v / sizeDivisibility) * sizeDivisibility;
  return {
    height: up(Math.max(...sizes.map((s) => s.height))),
    width: up(Math.max(...sizes.map((s) => s.width))),
  };
}

/**
 * Copy normalized images into one zero-padded [N, H, W, 3] buffer (top-left aligned) and pad their metas.
 * @returns the buffer (float32, new) and the padded metas.
 * @throws when a sample is not normalized (uint8), naming its file.
 */
export function padImages(
  images: readonly RgbImage[], metas: readonly ImageMeta[], what: string, opts: BatchPadOptions = {},
): { data: Float32Array; height: number; width: number; metas: ImageMeta[] } {
  if (images.length === 0) throw new Error(`${what}: empty sample list`);
  const { height, width } = paddedBatchSize(images, opts.sizeDivisibility ?? 32);
  const per = height * width * 3;
  const data = new Float32Array(images.length * per);
  const pad = opts.padValue ?? 0;
  if (pad !== 0) data.fill(pad);
  const out: ImageMeta[] = [];
  images.forEach((img, n) => {
    if (!(img.data instanceof Float32Array)) {
      throw new Error(`${what}: '${metas[n].file}' is not normalized (uint8); apply normalizeSample`);
    }
    if (img.data.length !== img.height * img.width * 3) {
      throw new Error(`${what}: '${metas[n].file}' has ${img.data.length} values for ${img.height}x${img.width}x3`);
    }
    const row = img.width * 3;
    for (let y = 0; y < img.height; y++) data.set(img.data.subarray(y * row, (y + 1) * row), n * per + y * width * 3);
    out.push(padBottomRightMeta(metas[n], height, width));
  });
  return { data, height, width, metas: out };
}

/**
 * Stack normalized detection samples into a padded batch.
 * @param samples - N >= 1 samples, images [Hi, Wi, 3] float32 (any sizes), targets in their image's pixels.
 * @returns a new images tensor [N, H, W, 3] float32 (caller disposes), the targets (not copied), padded metas.
 * @throws when the list is empty or a sample is not normalized (naming the file).
 */
export function collateDetection(samples: readonly DetectionSample[], opts: BatchPadOptions = {}): DetectionBatch {
  const { data, height, width, metas } = padImages(samples.map((s) => s.image), samples.map((s) => s.meta), 'collateDetection', opts);
  return {
    images: tf.tensor4d(data, [samples.length, height, width, 3], 'float32'),
    targets: samples.map((s) => s.target),
    metas,
  };
}

/** `collateDetection` with fixed options, for `DataLoader`'s `collate`. */
export function detectionCollate(opts: BatchPadOptions = {}): (samples: DetectionSample[]) => DetectionBatch {
  return (samples) => collateDetection(samples, opts);
}

/** Dispose the tensors of a detection batch. */
export function disposeDetectionBatch(batch: DetectionBatch): void {
  batch.images.dispose();
}
