/**
 * Batching of detection samples: normalized images of different sizes are padded at the bottom and right to one
 * size divisible by `sizeDivisibility` (FPN's coarsest stride), and stacked NHWC. Each image's `ImageMeta` records
 * its padding and valid region, so predictions map back to original pixels with `boxesToOriginal` (`src/ops/boxes.ts`). Targets stay per
 * image, as plain typed arrays (boxes are not moved by bottom/right padding).
 *
 * Reference: torchvision `models/detection/transform.py` (`GeneralizedRCNNTransform.batch_images`:
 * `size_divisible=32`, zero padding after normalization), detectron2 `structures/image_list.py`
 * (`ImageList.from_tensors`, `size_divisibility`, `image_sizes` kept).
 */
import * as tf from '@tensorflow/tfjs-core';
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
  /**
   * Per image, the content size before padding, pixels (detectron2's `ImageList.image_sizes`, torchvision's
   * `image_sizes`): two-stage detectors clip proposals to it.
   */
  imageSizes: { height: number; width: number }[];
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

/** Check that every image is normalized float32 of its stated size; the error names the file. */
function checkImages(images: readonly RgbImage[], metas: readonly ImageMeta[], what: string): void {
  if (images.length === 0) throw new Error(`${what}: empty sample list`);
  for (let n = 0; n < images.length; n++) {
    const img = images[n];
    if (!(img.data instanceof Float32Array)) {
      throw new Error(`${what}: '${metas[n].file}' is not normalized (uint8); apply normalizeSample`);
    }
    if (img.data.length !== img.height * img.width * 3) {
      throw new Error(`${what}: '${metas[n].file}' has ${img.data.length} values for ${img.height}x${img.width}x3`);
    }
  }
}

/**
 * Write the images top-left aligned into `out` ([N, height, width, 3], any prior content) and set every other
 * value to `pad`: each value of `out` is written once (no zero-fill pass before the copy).
 */
function writePadded(out: Float32Array, images: readonly RgbImage[], height: number, width: number, pad: number): void {
  const per = height * width * 3;
  const outRow = width * 3;
  for (let n = 0; n < images.length; n++) {
    const { data, height: h, width: w } = images[n];
    const row = w * 3;
    const base = n * per;
    for (let y = 0; y < h; y++) {
      const d = base + y * outRow;
      out.set(data.subarray(y * row, y * row + row), d);
      if (row < outRow) out.fill(pad, d + row, d + outRow);
    }
    if (h < height) out.fill(pad, base + h * outRow, base + per);
  }
}

/**
 * Copy normalized images into one zero-padded [N, H, W, 3] buffer (top-left aligned) and pad their metas.
 * @returns the buffer (float32, new) and the padded metas.
 * @throws when a sample is not normalized (uint8), naming its file.
 */
export function padImages(
  images: readonly RgbImage[], metas: readonly ImageMeta[], what: string, opts: BatchPadOptions = {},
): { data: Float32Array; height: number; width: number; metas: ImageMeta[] } {
  checkImages(images, metas, what);
  const { height, width } = paddedBatchSize(images, opts.sizeDivisibility ?? 32);
  const data = new Float32Array(images.length * height * width * 3);
  writePadded(data, images, height, width, opts.padValue ?? 0);
  return { data, height, width, metas: metas.map((m) => padBottomRightMeta(m, height, width)) };
}

/** The parts of the wasm backend (`@tensorflow/tfjs-backend-wasm` `BackendWasm`) that let a tensor be filled in place. */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}

/**
 * A new uninitialized float32 tensor in the wasm backend's heap and a view of its values, so the batch is written
 * there directly (the generic path builds the batch in a JS buffer that `tf.tensor` then copies into the heap:
 * one full copy of the batch more). Null on other backends.
 * Reference: `tfjs-backend-wasm` `BackendWasm.makeOutput` / `typedArrayFromHeap` (as its `Fill` kernel uses them).
 */
function wasmTensorInPlace(shape: [number, number, number, number]): { tensor: tf.Tensor4D; values: Float32Array } | null {
  if (tf.getBackend() !== 'wasm') return null;
  const backend = tf.backend() as unknown as Partial<WasmHeapBackend>;
  if (typeof backend.makeOutput !== 'function' || typeof backend.typedArrayFromHeap !== 'function') return null;
  const info = backend.makeOutput(shape, 'float32');
  const tensor = tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor4D;
  // Taken after the allocation: a heap growth during `makeOutput` replaces the heap's ArrayBuffer.
  const values = backend.typedArrayFromHeap(info);
  if (values.length !== shape[0] * shape[1] * shape[2] * shape[3]) {
    tensor.dispose();
    return null;
  }
  return { tensor, values };
}

/**
 * Stack normalized detection samples into a padded batch.
 * @param samples - N >= 1 samples, images [Hi, Wi, 3] float32 (any sizes), targets in their image's pixels.
 * @returns a new images tensor [N, H, W, 3] float32 (caller disposes), the targets (not copied), padded metas and
 *   the content size of each image.
 * @throws when the list is empty or a sample is not normalized (naming the file).
 */
export function collateDetection(samples: readonly DetectionSample[], opts: BatchPadOptions = {}): DetectionBatch {
  const images = samples.map((s) => s.image);
  const metas = samples.map((s) => s.meta);
  checkImages(images, metas, 'collateDetection');
  const { height, width } = paddedBatchSize(images, opts.sizeDivisibility ?? 32);
  const padded = metas.map((m) => padBottomRightMeta(m, height, width));
  const shape: [number, number, number, number] = [samples.length, height, width, 3];
  const inPlace = wasmTensorInPlace(shape);
  let tensor: tf.Tensor4D;
  if (inPlace) {
    writePadded(inPlace.values, images, height, width, opts.padValue ?? 0);
    tensor = inPlace.tensor;
  } else {
    const data = new Float32Array(shape[0] * height * width * 3);
    writePadded(data, images, height, width, opts.padValue ?? 0);
    tensor = tf.tensor4d(data, shape, 'float32');
  }
  return {
    images: tensor,
    targets: samples.map((s) => s.target),
    metas: padded,
    imageSizes: images.map((im) => ({ height: im.height, width: im.width })),
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
