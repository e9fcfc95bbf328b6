/**
 * The classification transforms of torchvision's ImageNet reference scripts, per image: read the header, plan the
 * window, decode + crop in one libvips pipeline, resample only the kept pixels (Pillow-exact), flip, normalize.
 *
 * - train: RandomResizedCrop(size) + RandomHorizontalFlip(0.5) + Normalize(ImageNet).
 * - eval: Resize(resizeSize) on the shorter side + CenterCrop(cropSize) + Normalize(ImageNet).
 *
 * Reference: torchvision `references/classification/presets.py` (`ClassificationPresetTrain`,
 * `ClassificationPresetEval`, defaults crop 224, resize 256, bilinear).
 */
import type { SeedSequence } from '../../src/common/seed';
import type { ClassificationSample } from '../types';
import { decodeImage, readImageFile } from './decode';
import type { ResizeKernel } from './resample';
import { normalizeSample, type NormalizeOptions } from './normalize';
import {
  centerCropWindow,
  horizontalFlip,
  randomResizedCropWindow,
  resizeShorterSideSize,
  type RandomResizedCropOptions,
} from './transforms';

/** A classification item as listed by an adapter. */
export interface ClassificationItem {
  file: string;
  /** Contiguous 0..K-1. */
  label: number;
}

/**
 * A full classification transform: file → normalized sample.
 * @param rng - per-sample random stream (the data loader derives one per sample position); eval transforms ignore it.
 * @returns image [H, W, 3] float32 normalized, the item's label, and the geometry.
 */
export type ClassificationTransform = (item: ClassificationItem, rng: SeedSequence) => Promise<ClassificationSample<Float32Array>>;

/** Options of `classificationTrainTransform`. */
export interface ClassificationTrainOptions extends RandomResizedCropOptions, NormalizeOptions {
  /** Output side, pixels (square output), default 224. */
  size?: number;
  /** Probability of a horizontal flip, 0..1, default 0.5. */
  flipProbability?: number;
  /** Resampling filter, default `bilinear` (torchvision's default), Pillow-exact. */
  kernel?: ResizeKernel;
}

/**
 * torchvision's training preset: RandomResizedCrop(size, scale, ratio) → RandomHorizontalFlip(p) → Normalize.
 * Randomness: the crop window draws from `rng` first (see `randomResizedCropWindow`), then one draw for the flip.
 * @returns a transform producing [size, size, 3] float32 samples.
 */
export function classificationTrainTransform(opts: ClassificationTrainOptions = {}): ClassificationTransform {
  const size = opts.size ?? 224;
  const p = opts.flipProbability ?? 0.5;
  const kernel = opts.kernel ?? 'bilinear';
  return async (item, rng) => {
    const enc = await readImageFile(item.file);
    const crop = randomResizedCropWindow(enc.height, enc.width, rng, opts);
    const flip = rng.uniform() < p;
    let s: ClassificationSample<Uint8Array> = {
      ...(await decodeImage(enc, { crop, resize: { height: size, width: size }, kernel })),
      label: item.label,
    };
    if (flip) s = horizontalFlip(s);
    return normalizeSample(s, opts);
  };
}

/** Options of `classificationEvalTransform`. */
export interface ClassificationEvalOptions extends NormalizeOptions {
  /** Shorter side after resizing, pixels, default 256. */
  resizeSize?: number;
  /** Side of the central square crop, pixels, default 224. */
  cropSize?: number;
  /** Resampling filter, default `bilinear`, Pillow-exact. */
  kernel?: ResizeKernel;
}

/**
 * torchvision's evaluation preset: Resize(resizeSize) (shorter side, `resizeShorterSideSize`) → CenterCrop(cropSize)
 * → Normalize. Deterministic; `rng` is not used.
 * @returns a transform producing [cropSize, cropSize, 3] float32 samples.
 * @throws (from the transform) when `cropSize` exceeds the resized image.
 */
export function classificationEvalTransform(opts: ClassificationEvalOptions = {}): ClassificationTransform {
  const resizeSize = opts.resizeSize ?? 256;
  const cropSize = opts.cropSize ?? 224;
  const kernel = opts.kernel ?? 'bilinear';
  return async (item) => {
    const enc = await readImageFile(item.file);
    const resized = resizeShorterSideSize(enc.height, enc.width, resizeSize);
    const postCrop = centerCropWindow(resized.height, resized.width, { height: cropSize, width: cropSize });
    const s: ClassificationSample<Uint8Array> = {
      ...(await decodeImage(enc, { resize: resized, postCrop, kernel })),
      label: item.label,
    };
    return normalizeSample(s, opts);
  };
}
