/**
 * Batching of semantic segmentation samples: images padded (bottom/right, 0 after normalization) and masks padded
 * with 255 (ignore) to one size divisible by `sizeDivisibility`, stacked NHWC / NHW.
 *
 * Reference: torchvision `references/segmentation/utils.py` (`cat_list`: images filled with 0, targets with 255),
 * detectron2 `ImageList.from_tensors` (`size_divisibility`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { padImages, type BatchPadOptions } from './collate_detection';
import { IGNORE_LABEL, type ImageMeta, type SegmentationSample } from './types';

/** A segmentation batch. The consumer owns the tensors (`disposeSegmentationBatch`). */
export interface SegmentationBatch {
  /** [N, H, W, 3] float32, NHWC, normalized, zero-padded. */
  images: tf.Tensor4D;
  /** [N, H, W] int32, class 0..K-1 or 255 (ignore, also on padding). tfjs has no uint8 tensors. */
  masks: tf.Tensor3D;
  metas: ImageMeta[];
}

/**
 * Stack normalized segmentation samples into a padded batch.
 * @param samples - N >= 1 samples, images [Hi, Wi, 3] float32, masks [Hi * Wi] uint8.
 * @returns new tensors (caller disposes) and padded metas.
 * @throws when the list is empty, a sample is not normalized, or a mask's length differs from its image's H*W.
 */
export function collateSegmentation(samples: readonly SegmentationSample[], opts: BatchPadOptions = {}): SegmentationBatch {
  const { data, height, width, metas } = padImages(samples.map((s) => s.image), samples.map((s) => s.meta), 'collateSegmentation', opts);
  const masks = new Int32Array(samples.length * height * width).fill(IGNORE_LABEL);
  samples.forEach((s, n) => {
    const { height: h, width: w } = s.image;
    if (s.target.mask.length !== h * w) {
      throw new Error(`collateSegmentation: '${s.meta.file}' mask has ${s.target.mask.length} values for ${h}x${w}`);
    }
    for (let y = 0; y < h; y++) {
      const dst = (n * height + y) * width;
      for (let x = 0; x < w; x++) masks[dst + x] = s.target.mask[y * w + x];
    }
  });
  return {
    images: tf.tensor4d(data, [samples.length, height, width, 3], 'float32'),
    masks: tf.tensor3d(masks, [samples.length, height, width], 'int32'),
    metas,
  };
}

/** `collateSegmentation` with fixed options, for `DataLoader`'s `collate`. */
export function segmentationCollate(opts: BatchPadOptions = {}): (samples: SegmentationSample[]) => SegmentationBatch {
  return (samples) => collateSegmentation(samples, opts);
}

/** Dispose the tensors of a segmentation batch. */
export function disposeSegmentationBatch(batch: SegmentationBatch): void {
  batch.images.dispose();
  batch.masks.dispose();
}
