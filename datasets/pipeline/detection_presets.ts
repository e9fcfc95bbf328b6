/**
 * Detection transforms in the shape of detectron2's default training/test augmentation and torchvision's detection
 * references: decode → (photometric jitter) → ResizeShortestEdge (one short edge, or a random choice among several for
 * multi-scale training) → random horizontal flip → normalize. Boxes move with the image; batch padding happens in
 * `collateDetection` (`datasets/collate_detection.ts`), which keeps each image's valid region in its `ImageMeta`.
 *
 * Also here: the photometric jitter (brightness, contrast, saturation) shared with the segmentation presets, as
 * torchvision's `ColorJitter` on uint8 tensors (`transforms/_functional_tensor.py`).
 *
 * Reference: detectron2 `data/detection_utils.py` (`build_augmentation`: `ResizeShortestEdge(min_size_train,
 * max_size_train, sample_style='choice')` + `RandomFlip`; test: `ResizeShortestEdge(min_size_test, max_size_test)`;
 * `check_image_size`), torchvision `references/detection/presets.py`, `transforms/transforms.py` (`ColorJitter`).
 */
import type { SeedSequence } from '../../src/engine/seed';
import type { DetectionSample, DetectionTarget, ImageSample, RgbImage } from '../types';
import type { MapDataset } from '../loader';
import { decodeImage } from './decode';
import { normalizeSample, type NormalizeOptions } from './normalize';
import type { ResizeKernel } from './resample';
import { horizontalFlip, resize, resizeShortestEdgeSize } from './transforms';

/**
 * One image of a detection dataset as an adapter lists it (COCO, VOC): where the file is, the size the annotation
 * claims, and the ground truth in original-image pixels.
 */
export interface DetectionRecord {
  /** Image path. */
  file: string;
  /** The dataset's id of the image (COCO `image_id`, VOC file stem), for messages and evaluation. */
  imageId: number | string;
  /** H the annotation states, pixels (checked against the decoded image). */
  height: number;
  /** W the annotation states, pixels. */
  width: number;
  /** Boxes xyxy in original-image pixels, contiguous labels, crowd/difficult flags. */
  target: DetectionTarget;
  /** The annotation file the record comes from, for messages. */
  source: string;
}

/**
 * Decode a record's image (RGB uint8, EXIF-oriented) and pair it with its target; no geometric change.
 * @returns image [H, W, 3] uint8, target in the same pixels (the record's arrays, not copied), identity meta.
 * @throws naming the file and image id when the decoded size differs from the annotation's (detectron2
 * `check_image_size`); `ImageDecodeError` when the file cannot be decoded.
 */
export async function loadDetectionSample(record: DetectionRecord): Promise<DetectionSample<Uint8Array>> {
  const { image, meta } = await decodeImage(record.file);
  if (image.height !== record.height || image.width !== record.width) {
    throw new Error(`image '${record.file}' (image id ${JSON.stringify(record.imageId)} in '${record.source}') is ` +
      `${image.height}x${image.width} (HxW) after decoding, but the annotation says ${record.height}x${record.width}`);
  }
  return { image, target: record.target, meta };
}

// ---------------------------------------------------------------------------------------------------------------
// Photometric jitter (uint8, torchvision tensor semantics)

/** Ranges of the colour jitter; each factor is drawn from U[max(0, 1 - v), 1 + v] (0 or absent = off). */
export interface ColorJitterOptions {
  brightness?: number;
  contrast?: number;
  saturation?: number;
}

/** `clamp(a * x + (1 - a) * y, 0, 255)` then truncation to uint8 (torchvision `_blend` on uint8 tensors). */
function blendInto(out: Uint8Array, x: ArrayLike<number>, y: (i: number) => number, ratio: number): void {
  for (let i = 0; i < out.length; i++) {
    const v = ratio * x[i] + (1 - ratio) * y(i);
    out[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.floor(v);
  }
}

/** ITU-R 601-2 luma of uint8 RGB, truncated to uint8 as torchvision `rgb_to_grayscale` on uint8 tensors. */
function grayscale(img: RgbImage<Uint8Array>): Uint8Array {
  const n = img.height * img.width;
  const g = new Uint8Array(n);
  const d = img.data;
  for (let p = 0; p < n; p++) {
    const v = 0.2989 * d[p * 3] + 0.587 * d[p * 3 + 1] + 0.114 * d[p * 3 + 2];
    g[p] = v >= 255 ? 255 : Math.floor(v);
  }
  return g;
}

/**
 * Brightness: `clamp(factor * x, 0, 255)`, truncated to uint8.
 * @param image - [H, W, 3] uint8; not modified. @returns a new image.
 * Reference: torchvision `_functional_tensor.adjust_brightness` (`_blend(img, zeros, factor)`).
 */
export function adjustBrightness(image: RgbImage<Uint8Array>, factor: number): RgbImage<Uint8Array> {
  const out = new Uint8Array(image.data.length);
  blendInto(out, image.data, () => 0, factor);
  return { data: out, height: image.height, width: image.width };
}

/**
 * Contrast: blend with the mean of the grayscale image (a float over all pixels of the uint8 gray image).
 * @param image - [H, W, 3] uint8; not modified. @returns a new image.
 * Reference: torchvision `_functional_tensor.adjust_contrast`
 * (`mean = rgb_to_grayscale(img).to(float).mean()`, `_blend(img, mean, factor)`).
 */
export function adjustContrast(image: RgbImage<Uint8Array>, factor: number): RgbImage<Uint8Array> {
  const g = grayscale(image);
  let sum = 0;
  for (let i = 0; i < g.length; i++) sum += g[i];
  const mean = g.length > 0 ? sum / g.length : 0;
  const out = new Uint8Array(image.data.length);
  blendInto(out, image.data, () => mean, factor);
  return { data: out, height: image.height, width: image.width };
}

/**
 * Saturation: blend with the image's own grayscale.
 * @param image - [H, W, 3] uint8; not modified. @returns a new image.
 * Reference: torchvision `_functional_tensor.adjust_saturation` (`_blend(img, rgb_to_grayscale(img), factor)`).
 */
export function adjustSaturation(image: RgbImage<Uint8Array>, factor: number): RgbImage<Uint8Array> {
  const g = grayscale(image);
  const out = new Uint8Array(image.data.length);
  blendInto(out, image.data, (i) => g[Math.floor(i / 3)], factor);
  return { data: out, height: image.height, width: image.width };
}

/**
 * torchvision `ColorJitter(brightness, contrast, saturation)` (no hue) on a uint8 sample: a random order of the three
 * adjustments, each with a factor ~ U[max(0, 1 - v), 1 + v]. Geometry and target are unchanged.
 * @param rng - draws, in order: the permutation (Fisher-Yates over [0, 1, 2]), then the brightness, contrast and
 * saturation factors (only for the enabled ones). The same seed gives the same result; not torch's numbers.
 * @returns a new sample, or the input when every range is 0.
 * Reference: torchvision `transforms/transforms.py` `ColorJitter.get_params` / `forward`.
 */
export function colorJitter<S extends ImageSample>(sample: S, rng: SeedSequence, opts: ColorJitterOptions): S {
  const ranges = [opts.brightness ?? 0, opts.contrast ?? 0, opts.saturation ?? 0];
  for (const v of ranges) {
    if (!(v >= 0 && Number.isFinite(v))) throw new Error(`colorJitter: ranges must be finite and >= 0, got ${JSON.stringify(opts)}`);
  }
  if (ranges.every((v) => v === 0)) return sample;
  if (!(sample.image.data instanceof Uint8Array)) {
    throw new Error(`colorJitter: '${sample.meta.file}' is already normalized; jitter uint8 images`);
  }
  const order = rng.shuffle([0, 1, 2]);
  const factors = ranges.map((v) => (v > 0 ? Math.max(0, 1 - v) + rng.uniform() * (1 + v - Math.max(0, 1 - v)) : 1));
  let img = sample.image as RgbImage<Uint8Array>;
  for (const k of order) {
    if (ranges[k] === 0) continue;
    img = k === 0 ? adjustBrightness(img, factors[0]) : k === 1 ? adjustContrast(img, factors[1]) : adjustSaturation(img, factors[2]);
  }
  return { ...sample, image: img };
}

// ---------------------------------------------------------------------------------------------------------------
// Presets

/** A full detection transform: record → normalized sample with its boxes in the output's pixels. */
export type DetectionTransform = (record: DetectionRecord, rng: SeedSequence) => Promise<DetectionSample<Float32Array>>;

/** Options of `detectionTrainTransform` / `detectionEvalTransform`. */
export interface DetectionPresetOptions extends NormalizeOptions {
  /**
   * Shorter side after resizing, pixels. A list means multi-scale training: one entry drawn uniformly per image
   * (detectron2 `sample_style='choice'`). Default 800.
   */
  shortEdge?: number | readonly number[];
  /** Longest side cap, pixels. Default 1333. */
  maxSize?: number;
  /** Probability of a horizontal flip (train only), 0..1. Default 0.5. */
  flipProbability?: number;
  /** Colour jitter (train only). Default off. */
  colorJitter?: ColorJitterOptions;
  /** Resampling filter of the image (Pillow-exact), default `bilinear`. */
  kernel?: ResizeKernel;
  /** Drop objects marked `difficult` from the target (train only). Default false (kept, flagged). */
  dropDifficult?: boolean;
}

/** Keep only the objects for which `keep(i)` holds. */
export function filterTarget(t: DetectionTarget, keep: (i: number) => boolean): DetectionTarget {
  const idx: number[] = [];
  for (let i = 0; i < t.labels.length; i++) if (keep(i)) idx.push(i);
  if (idx.length === t.labels.length) return t;
  const boxes = new Float32Array(idx.length * 4);
  idx.forEach((j, k) => boxes.set(t.boxes.subarray(j * 4, j * 4 + 4), k * 4));
  const out: DetectionTarget = { boxes, labels: Int32Array.from(idx, (j) => t.labels[j]) };
  if (t.iscrowd) out.iscrowd = Uint8Array.from(idx, (j) => t.iscrowd![j]);
  if (t.difficult) out.difficult = Uint8Array.from(idx, (j) => t.difficult![j]);
  return out;
}

function shortEdges(opts: DetectionPresetOptions): number[] {
  const s = opts.shortEdge ?? 800;
  const list = typeof s === 'number' ? [s] : [...s];
  if (list.length === 0 || list.some((v) => !(Number.isInteger(v) && v > 0))) {
    throw new Error(`detection preset: shortEdge must be a positive integer or a non-empty list of them, got ${JSON.stringify(s)}`);
  }
  return list;
}

/**
 * detectron2's default training augmentation: [colour jitter] → ResizeShortestEdge(choice of `shortEdge`, `maxSize`)
 * → RandomFlip(p) → Normalize. Images and boxes in the output's pixels; `meta` maps them back.
 * @param opts - see `DetectionPresetOptions`.
 * @returns a transform; its `rng` draws, in order: short-edge choice (only with several), colour jitter (when on),
 * flip.
 * @throws (from the transform) when the image size differs from the record's, or cannot be decoded.
 */
export function detectionTrainTransform(opts: DetectionPresetOptions = {}): DetectionTransform {
  const edges = shortEdges(opts);
  const maxSize = opts.maxSize ?? 1333;
  const p = opts.flipProbability ?? 0.5;
  const kernel = opts.kernel ?? 'bilinear';
  return async (record, rng) => {
    const edge = edges.length === 1 ? edges[0] : edges[rng.int(edges.length)];
    let s = await loadDetectionSample(record);
    if (opts.dropDifficult && s.target.difficult) {
      const d = s.target.difficult;
      s = { ...s, target: filterTarget(s.target, (i) => d[i] === 0) };
    }
    if (opts.colorJitter) s = colorJitter(s, rng, opts.colorJitter);
    s = resize(s, resizeShortestEdgeSize(s.image.height, s.image.width, edge, maxSize), kernel);
    if (rng.uniform() < p) s = horizontalFlip(s);
    return normalizeSample(s, opts);
  };
}

/**
 * detectron2's test augmentation: ResizeShortestEdge(`shortEdge`, `maxSize`) → Normalize. Deterministic; a list of
 * short edges is an error here (test-time multi-scale is a separate loop).
 */
export function detectionEvalTransform(opts: DetectionPresetOptions = {}): DetectionTransform {
  const edges = shortEdges(opts);
  if (edges.length !== 1) throw new Error(`detectionEvalTransform: one shortEdge expected, got ${JSON.stringify(edges)}`);
  const maxSize = opts.maxSize ?? 1333;
  const kernel = opts.kernel ?? 'bilinear';
  return async (record) => {
    const s = await loadDetectionSample(record);
    const size = resizeShortestEdgeSize(s.image.height, s.image.width, edges[0], maxSize);
    return normalizeSample(resize(s, size, kernel), opts);
  };
}

/**
 * Records as a `MapDataset` for `DataLoader`: `get(i, rng) = transform(records[i], rng)`.
 * @throws RangeError (from `get`) for an index outside 0..length-1.
 */
export function detectionDataset(
  records: readonly DetectionRecord[], transform: DetectionTransform,
): MapDataset<DetectionSample<Float32Array>> {
  return {
    length: records.length,
    get: (index, rng) => {
      if (!(Number.isInteger(index) && index >= 0 && index < records.length)) {
        return Promise.reject(new RangeError(`detection dataset: index ${index} outside 0..${records.length - 1}`));
      }
      return transform(records[index], rng);
    },
  };
}
