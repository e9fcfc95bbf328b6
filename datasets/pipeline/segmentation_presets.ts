/**
 * Semantic segmentation transforms of torchvision's segmentation references: random resize of the shorter side
 * (a range, or a choice among sizes), random horizontal flip, random crop padded with 0 (image) and 255 (mask) when
 * the image is smaller than the crop, colour jitter, normalize; evaluation resizes the shorter side only. Masks are
 * only ever resampled with nearest neighbour.
 *
 * Reference: torchvision `references/segmentation/presets.py` (`SegmentationPresetTrain`: `RandomResize(0.5 * base,
 * 2.0 * base)`, `RandomHorizontalFlip`, `RandomCrop(crop_size)`; `SegmentationPresetEval`: `RandomResize(base,
 * base)`), `references/segmentation/transforms.py` (`pad_if_smaller` with fill 0 / 255, `RandomCrop`).
 */
import type { SeedSequence } from '../../src/common/seed';
import type { MapDataset } from '../loader';
import { IGNORE_LABEL, type RgbImage, type SegmentationSample } from '../types';
import { decodeImage } from './decode';
import { colorJitter, type ColorJitterOptions } from './detection_presets';
import { padBottomRightMeta } from './geometry';
import { normalizeSample, type NormalizeOptions } from './normalize';
import { readLabelMask, type LabelMaskOptions } from './png_index';
import type { ResizeKernel } from './resample';
import { crop, horizontalFlip, resize, resizeShorterSideSize } from './transforms';

export { multiScaleInputs } from './multi_scale';

/** One image of a segmentation dataset: image file, mask file and how to read the mask. */
export interface SegmentationRecord {
  /** Image path. */
  file: string;
  /** Label mask path (PNG). */
  maskFile: string;
  /** The dataset's id of the image (file stem), for messages. */
  imageId: string;
  /** How the mask encodes classes (encoding, ignore value, mapping, K). */
  mask: LabelMaskOptions;
  /** The list file or folder the record comes from, for messages. */
  source: string;
}

/**
 * Decode a record's image (RGB uint8) and read its mask as class indices (255 = ignore).
 * @returns image [H, W, 3] uint8, mask [H * W] uint8, identity meta.
 * @throws naming both files when the mask's size differs from the image's; the errors of `decodeImage` and
 * `readLabelMask` (naming the file).
 */
export async function loadSegmentationSample(record: SegmentationRecord): Promise<SegmentationSample<Uint8Array>> {
  const [{ image, meta }, m] = await Promise.all([decodeImage(record.file), readLabelMask(record.maskFile, record.mask)]);
  if (m.height !== image.height || m.width !== image.width) {
    throw new Error(`mask '${record.maskFile}' is ${m.height}x${m.width} (HxW) but its image '${record.file}' ` +
      `(id '${record.imageId}') is ${image.height}x${image.width}`);
  }
  return { image, target: { mask: m.mask }, meta };
}

/**
 * Pad a uint8 segmentation sample at the bottom and right to `height` x `width`: image with 0, mask with 255
 * (ignore). Must be the last geometric step (the meta records the padding).
 * @returns a new sample (or the input when no padding is needed).
 * @throws when the sample is larger than the target size, or normalized already.
 * Reference: torchvision `references/segmentation/transforms.py` `pad_if_smaller` (fill 0 image, 255 target).
 */
export function padSegmentation<S extends SegmentationSample>(sample: S, height: number, width: number): S {
  const img = sample.image;
  if (!(img.data instanceof Uint8Array)) throw new Error(`padSegmentation: '${sample.meta.file}' is already normalized`);
  if (img.height === height && img.width === width) return sample;
  const meta = padBottomRightMeta(sample.meta, height, width); // validates sizes
  const data = new Uint8Array(height * width * 3);
  const mask = new Uint8Array(height * width).fill(IGNORE_LABEL);
  for (let y = 0; y < img.height; y++) {
    data.set(img.data.subarray(y * img.width * 3, (y + 1) * img.width * 3), y * width * 3);
    mask.set(sample.target.mask.subarray(y * img.width, (y + 1) * img.width), y * width);
  }
  return { ...sample, image: { data, height, width } as RgbImage<Uint8Array>, target: { ...sample.target, mask }, meta };
}

/**
 * torchvision `RandomCrop(size)` after `pad_if_smaller`: a window of min(size, H) x min(size, W) at a uniform
 * offset, then bottom/right padding to size x size (the same distribution as padding first, since padding is
 * bottom/right and a padded axis has a single offset).
 * @param rng - draws top, then left.
 */
export function randomCropSegmentation<S extends SegmentationSample>(sample: S, size: number, rng: SeedSequence): S {
  if (!(Number.isInteger(size) && size > 0)) throw new Error(`random crop: size must be a positive integer, got ${size}`);
  const H = sample.image.height;
  const W = sample.image.width;
  const h = Math.min(size, H);
  const w = Math.min(size, W);
  const top = rng.int(H - h + 1);
  const left = rng.int(W - w + 1);
  const cut = h === H && w === W ? sample : crop(sample, { top, left, height: h, width: w });
  return padSegmentation(cut, size, size);
}

/** A full segmentation transform: record → normalized sample. */
export type SegmentationTransform = (record: SegmentationRecord, rng: SeedSequence) => Promise<SegmentationSample<Float32Array>>;

/** How the training preset picks the shorter side. */
export type ShortEdgeSampling =
  /** A fixed size, pixels. */
  | number
  /** One of these sizes, uniformly (multi-scale choice). */
  | readonly number[]
  /** A uniform integer in [min, max] (torchvision `RandomResize`). */
  | { min: number; max: number };

/** Options of `segmentationTrainTransform`. */
export interface SegmentationTrainOptions extends NormalizeOptions {
  /** Shorter side after resizing. Default `{min: 260, max: 1040}` (0.5x and 2x torchvision's base size 520). */
  shortEdge?: ShortEdgeSampling;
  /** Square crop side, pixels (padded with 0 / 255 when the image is smaller). Default 480. */
  cropSize?: number;
  /** Probability of a horizontal flip, 0..1. Default 0.5. */
  flipProbability?: number;
  /** Colour jitter. Default off. */
  colorJitter?: ColorJitterOptions;
  /** Resampling filter of the image (the mask is always nearest). Default `bilinear`. */
  kernel?: ResizeKernel;
}

function drawShortEdge(s: ShortEdgeSampling, rng: SeedSequence): number {
  if (typeof s === 'number') return s;
  if (Array.isArray(s)) return s.length === 1 ? s[0] : s[rng.int(s.length)];
  const r = s as { min: number; max: number };
  return r.min + rng.int(r.max - r.min + 1);
}

function checkShortEdge(s: ShortEdgeSampling): void {
  const vals = typeof s === 'number' ? [s] : Array.isArray(s) ? [...s] : [(s as { min: number }).min, (s as { max: number }).max];
  const ok = vals.length > 0 && vals.every((v) => Number.isInteger(v) && v > 0) &&
    (typeof s !== 'object' || Array.isArray(s) || (s as { min: number; max: number }).min <= (s as { max: number }).max);
  if (!ok) throw new Error(`segmentation preset: shortEdge must be a positive integer, a non-empty list of them or {min <= max}, got ${JSON.stringify(s)}`);
}

/**
 * torchvision's segmentation training preset: RandomResize(shorter side) → RandomHorizontalFlip → RandomCrop(pad 0 /
 * 255) → [colour jitter] → Normalize.
 * @returns a transform producing `cropSize` x `cropSize` samples; its `rng` draws, in order: the short edge, the
 * flip, the crop (top, left), the colour jitter.
 */
export function segmentationTrainTransform(opts: SegmentationTrainOptions = {}): SegmentationTransform {
  const sampling = opts.shortEdge ?? { min: 260, max: 1040 };
  checkShortEdge(sampling);
  const cropSize = opts.cropSize ?? 480;
  const p = opts.flipProbability ?? 0.5;
  const kernel = opts.kernel ?? 'bilinear';
  return async (record, rng) => {
    const edge = drawShortEdge(sampling, rng);
    const flip = rng.uniform() < p;
    let s = await loadSegmentationSample(record);
    s = resize(s, resizeShorterSideSize(s.image.height, s.image.width, edge), kernel);
    if (flip) s = horizontalFlip(s);
    s = randomCropSegmentation(s, cropSize, rng);
    if (opts.colorJitter) s = colorJitter(s, rng, opts.colorJitter);
    return normalizeSample(s, opts);
  };
}

/** Options of `segmentationEvalTransform`. */
export interface SegmentationEvalOptions extends NormalizeOptions {
  /** Shorter side after resizing, pixels; `null` keeps the original size (mIoU at full resolution). Default 520. */
  shortEdge?: number | null;
  kernel?: ResizeKernel;
}

/** torchvision's segmentation evaluation preset: Resize(shorter side) → Normalize. Deterministic. */
export function segmentationEvalTransform(opts: SegmentationEvalOptions = {}): SegmentationTransform {
  const edge = opts.shortEdge === undefined ? 520 : opts.shortEdge;
  if (edge !== null) checkShortEdge(edge);
  const kernel = opts.kernel ?? 'bilinear';
  return async (record) => {
    let s = await loadSegmentationSample(record);
    if (edge !== null) s = resize(s, resizeShorterSideSize(s.image.height, s.image.width, edge), kernel);
    return normalizeSample(s, opts);
  };
}

/** Records as a `MapDataset`: `get(i, rng) = transform(records[i], rng)`. */
export function segmentationDataset(
  records: readonly SegmentationRecord[], transform: SegmentationTransform,
): MapDataset<SegmentationSample<Float32Array>> {
  return {
    length: records.length,
    get: (index, rng) => {
      const r = records[index];
      if (!r) return Promise.reject(new RangeError(`segmentation dataset: index ${index} outside 0..${records.length - 1}`));
      return transform(r, rng);
    },
  };
}
