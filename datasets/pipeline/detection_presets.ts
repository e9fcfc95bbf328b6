/**
 * Detection transforms in the shape of detectron2's default training/test augmentation and torchvision's detection
 * references: decode → (photometric jitter) → ResizeShortestEdge (one short edge, or a random choice among several for
 * multi-scale training) → random horizontal flip → normalize. Boxes move with the image; batch padding happens in
 * `collateDetection` (`datasets/collate_detection.ts`), which keeps each image's valid region in its `ImageMeta`.
 *
 * Also here: the photometric jitter (brightness, contrast, saturation) shared with the segmentation presets, as
 * torchvision's `ColorJitter` on uint8 tensors (`transforms/_functional_tensor.py`).
 *
 * How a sample is made: the transform draws every random choice first (short edge, jitter, flip), on the calling
 * thread and in a fixed order, and describes the pixel work as a plain-data `DetectionImageJob`; the job (decode,
 * jitter, then `resizeFlipNormalize`: resample, mirror and normalize in one pass) runs on the calling thread or on
 * an `ImageWorkerPool`. Boxes and `ImageMeta` are computed on the calling thread from the record's size. So the
 * output for a seed is the same wherever and in whatever order jobs run.
 *
 * Reference: detectron2 `data/detection_utils.py` (`build_augmentation`: `ResizeShortestEdge(min_size_train,
 * max_size_train, sample_style='choice')` + `RandomFlip`; test: `ResizeShortestEdge(min_size_test, max_size_test)`;
 * `check_image_size`), torchvision `references/detection/presets.py`, `transforms/transforms.py` (`ColorJitter`).
 */
import type { SeedSequence } from '../../src/common/seed';
import type { DetectionSample, DetectionTarget, ImageSample, RgbImage } from '../types';
import type { MapDataset } from '../loader';
import { decodeImage, decodeRgb, followsStoredPixels, readImageFile, warnExifOrientationIgnored } from './decode';
import { flipMeta, identityMeta, resizeMeta } from './geometry';
import type { ImageWorkerPool } from './image_worker_pool';
import { IMAGENET_MEAN, IMAGENET_STD, type NormalizeOptions } from './normalize';
import type { ResizeKernel } from './resample';
import { resizeFlipNormalize, resizeFlipNormalizeSharp } from './resize_normalize';
import { resizeShortestEdgeSize, type ImageSize } from './transforms';

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
 * Decode a record's image (RGB uint8, EXIF-oriented unless the tag swaps sides and the annotation gives the stored
 * size: then as stored, with a warning once per dataset) and pair it with its target; no geometric change.
 * @returns image [H, W, 3] uint8, target in the same pixels (the record's arrays, not copied), identity meta.
 * @throws naming the file and image id when the decoded size differs from the annotation's (detectron2
 * `check_image_size`); `ImageDecodeError` when the file cannot be decoded.
 */
export async function loadDetectionSample(record: DetectionRecord): Promise<DetectionSample<Uint8Array>> {
  const enc = await readImageFile(record.file);
  const stored = followsStoredPixels(enc.orientation, enc, record);
  if (stored) warnExifOrientationIgnored(record.source, record.file, enc.orientation);
  const { image, meta } = await decodeImage(enc, { exifOrientation: stored ? 'ignore' : 'apply' });
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

/** The random part of a colour jitter: the order of the adjustments and their factors (plain data). */
export interface ColorJitterDraw {
  /** A permutation of [0, 1, 2] = brightness, contrast, saturation. */
  order: number[];
  /** [brightness, contrast, saturation] factors; 1 for a disabled adjustment. */
  factors: number[];
}

/**
 * Draw the parameters of torchvision `ColorJitter(brightness, contrast, saturation)` (no hue).
 * @param rng - draws, in order: the permutation (Fisher-Yates over [0, 1, 2]), then the brightness, contrast and
 * saturation factors ~ U[max(0, 1 - v), 1 + v] (only for the enabled ones).
 * @returns the draw, or null (and nothing drawn) when every range is 0.
 * @throws when a range is negative or not finite.
 * Reference: torchvision `transforms/transforms.py` `ColorJitter.get_params`.
 */
export function drawColorJitter(rng: SeedSequence, opts: ColorJitterOptions): ColorJitterDraw | null {
  const ranges = [opts.brightness ?? 0, opts.contrast ?? 0, opts.saturation ?? 0];
  for (const v of ranges) {
    if (!(v >= 0 && Number.isFinite(v))) throw new Error(`colorJitter: ranges must be finite and >= 0, got ${JSON.stringify(opts)}`);
  }
  if (ranges.every((v) => v === 0)) return null;
  const order = rng.shuffle([0, 1, 2]).filter((k) => ranges[k] > 0);
  const factors = ranges.map((v) => (v > 0 ? Math.max(0, 1 - v) + rng.uniform() * (1 + v - Math.max(0, 1 - v)) : 1));
  return { order, factors };
}

/**
 * Apply a drawn colour jitter to a uint8 image: the adjustments in `draw.order`, each with its factor.
 * @param image - [H, W, 3] uint8; not modified. @returns a new image.
 * Reference: torchvision `transforms/transforms.py` `ColorJitter.forward`.
 */
export function applyColorJitter(image: RgbImage<Uint8Array>, draw: ColorJitterDraw): RgbImage<Uint8Array> {
  let img = image;
  for (const k of draw.order) {
    img = k === 0 ? adjustBrightness(img, draw.factors[0]) : k === 1 ? adjustContrast(img, draw.factors[1]) : adjustSaturation(img, draw.factors[2]);
  }
  return img;
}

/**
 * torchvision `ColorJitter(brightness, contrast, saturation)` (no hue) on a uint8 sample: a random order of the three
 * adjustments, each with a factor ~ U[max(0, 1 - v), 1 + v]. Geometry and target are unchanged.
 * @param rng - draws as `drawColorJitter`. The same seed gives the same result; not torch's numbers.
 * @returns a new sample, or the input when every range is 0.
 * Reference: torchvision `transforms/transforms.py` `ColorJitter.get_params` / `forward`.
 */
export function colorJitter<S extends ImageSample>(sample: S, rng: SeedSequence, opts: ColorJitterOptions): S {
  const draw = drawColorJitter(rng, opts);
  if (!draw) return sample;
  if (!(sample.image.data instanceof Uint8Array)) {
    throw new Error(`colorJitter: '${sample.meta.file}' is already normalized; jitter uint8 images`);
  }
  return { ...sample, image: applyColorJitter(sample.image as RgbImage<Uint8Array>, draw) };
}

// ---------------------------------------------------------------------------------------------------------------
// Pixel jobs (main thread or worker threads)

/**
 * How the detection presets resample: `pillow` is Pillow's arithmetic bit for bit (`resizeFlipNormalize`, on the
 * thread running the job); `sharp` is libvips (`resizeFlipNormalizeSharp`: on enlargements within one grey level
 * of Pillow, see that function).
 */
export type DetectionResample = 'pillow' | 'sharp';

/**
 * Everything one image needs after the random draws: plain data, so it can run on a worker thread.
 */
export interface DetectionImageJob {
  /** Image path. */
  file: string;
  /** For messages: the dataset's image id and the annotation file. */
  imageId: number | string;
  source: string;
  /** H, W the annotation states (checked against the decoded image), pixels. */
  expectedHeight: number;
  expectedWidth: number;
  /** Output H, W, pixels. */
  height: number;
  width: number;
  /** Mirror left-right after resizing. */
  flip: boolean;
  /** Colour jitter applied to the decoded uint8 image before resizing, or null. */
  jitter: ColorJitterDraw | null;
  /** Resampling filter. */
  kernel: Exclude<ResizeKernel, 'nearest'>;
  /** Resampler. */
  resample: DetectionResample;
  /** Normalization on 0..1 pixels. */
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

/**
 * Decode → [colour jitter] → resize → [mirror] → normalize, for one job, on the calling thread (sharp's decode and
 * libvips resampling run on libuv's pool).
 * @returns [job.height, job.width, 3] float32 pixels (new; caller owns).
 * @throws naming the file and image id when the decoded size differs from the annotation's (detectron2
 * `check_image_size`); `ImageDecodeError` when the file cannot be decoded.
 */
export async function runDetectionImageJob(job: DetectionImageJob): Promise<Float32Array> {
  const image = await decodeRgb(job.file, { height: job.expectedHeight, width: job.expectedWidth });
  if (image.exifOrientationIgnored !== undefined) warnExifOrientationIgnored(job.source, job.file, image.exifOrientationIgnored);
  if (image.height !== job.expectedHeight || image.width !== job.expectedWidth) {
    throw new Error(`image '${job.file}' (image id ${JSON.stringify(job.imageId)} in '${job.source}') is ` +
      `${image.height}x${image.width} (HxW) after decoding, but the annotation says ` +
      `${job.expectedHeight}x${job.expectedWidth}`);
  }
  const img = job.jitter ? applyColorJitter(image, job.jitter) : image;
  const opts = { height: job.height, width: job.width, kernel: job.kernel, flip: job.flip, mean: job.mean, std: job.std };
  switch (job.resample) {
    case 'pillow':
      return resizeFlipNormalize(img, opts).data;
    case 'sharp':
      return (await resizeFlipNormalizeSharp(img, opts)).data;
    default: {
      const never: never = job.resample;
      throw new Error(`detection preset: unknown resample ${JSON.stringify(never)}`);
    }
  }
}

/** Boxes scaled by (sx, sy), then mirrored in a width-`w` image when `flip` (x → w - x). */
function moveBoxes(boxes: Float32Array, sx: number, sy: number, flip: boolean, w: number): Float32Array {
  const out = new Float32Array(boxes.length);
  for (let i = 0; i < boxes.length; i += 4) {
    // Rounded to float32 after scaling, as `resize` stores them before `horizontalFlip` mirrors them.
    const x0 = Math.fround(boxes[i] * sx);
    const x1 = Math.fround(boxes[i + 2] * sx);
    out[i] = flip ? w - x1 : x0;
    out[i + 1] = boxes[i + 1] * sy;
    out[i + 2] = flip ? w - x0 : x1;
    out[i + 3] = boxes[i + 3] * sy;
  }
  return out;
}

/**
 * Run a job (on `pool` when given, else here) and assemble the sample: target boxes scaled and mirrored with the
 * image (in float32, as `resize` then `horizontalFlip` compute them), meta recording the scale and the mirror.
 */
async function runJob(
  job: DetectionImageJob, target: DetectionTarget, pool: ImageWorkerPool | undefined,
): Promise<DetectionSample<Float32Array>> {
  const data = pool ? await pool.runDetectionJob(job) : await runDetectionImageJob(job);
  let meta = resizeMeta(identityMeta(job.file, job.expectedHeight, job.expectedWidth), job.height, job.width);
  if (job.flip) meta = flipMeta(meta);
  const sx = job.width / job.expectedWidth;
  const sy = job.height / job.expectedHeight;
  const boxes = moveBoxes(target.boxes, sx, sy, job.flip, job.width);
  return { image: { data, height: job.height, width: job.width }, target: { ...target, boxes }, meta };
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
  /** Resampling filter of the image, default `bilinear`. */
  kernel?: Exclude<ResizeKernel, 'nearest'>;
  /**
   * Resampler, default `pillow`: Pillow's arithmetic bit for bit (torchvision's pixels), fused with the mirror and
   * the normalization in one pass. It is the default because it is both exact and the cheaper of the two: about
   * 22-28 ms of CPU per 640 px JPEG → 800 px float image in a padded batch (decode and tensor included) against
   * 28-34 ms for `sharp` (`scripts/bench/detection_loader.ts`, 2 worker threads; torchvision's PIL + ToTensor +
   * Normalize took 19-21 ms in the same runs).
   * `sharp` resamples with libvips (`resizeFlipNormalizeSharp`: within one grey level of Pillow on enlargements,
   * mean 0.1 on bccd and coco-tiny; reductions use libvips' own antialiased filter and differ more), an option for
   * comparison and for pipelines that want libvips' threads to do the resampling.
   */
  resample?: DetectionResample;
  /**
   * Worker threads that run decode, jitter, resize, mirror and normalize (`ImageWorkerPool`); owned by the caller,
   * who closes it. Default none: the work runs on the calling thread (sharp's decode still on libuv's pool). Use a
   * pool for training: the main thread runs the model step, and pixel work there would delay it. The random draws
   * stay on the calling thread, so the samples for a seed are the same with or without a pool.
   */
  pool?: ImageWorkerPool;
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
  const base = jobBase(opts);
  return async (record, rng) => {
    // Every draw happens here, before any pixel work, in a fixed order: the result for a seed does not depend on
    // where or when the job runs.
    const edge = edges.length === 1 ? edges[0] : edges[rng.int(edges.length)];
    const jitter = opts.colorJitter ? drawColorJitter(rng, opts.colorJitter) : null;
    const flip = rng.uniform() < p;
    let target = record.target;
    if (opts.dropDifficult && target.difficult) {
      const d = target.difficult;
      target = filterTarget(target, (i) => d[i] === 0);
    }
    const size = outputSize(record, edge, maxSize);
    return runJob({ ...base, ...recordFields(record), ...size, flip, jitter }, target, opts.pool);
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
  const base = jobBase(opts);
  return async (record) => {
    const size = outputSize(record, edges[0], maxSize);
    return runJob({ ...base, ...recordFields(record), ...size, flip: false, jitter: null }, record.target, opts.pool);
  };
}

/** The job fields fixed by the preset's options. */
function jobBase(opts: DetectionPresetOptions): Pick<DetectionImageJob, 'kernel' | 'resample' | 'mean' | 'std'> {
  const resample = opts.resample ?? 'pillow';
  if (resample !== 'pillow' && resample !== 'sharp') {
    throw new Error(`detection preset: resample must be 'pillow' or 'sharp', got ${JSON.stringify(resample)}`);
  }
  const kernel = opts.kernel ?? 'bilinear';
  if (kernel !== 'bilinear' && kernel !== 'bicubic') {
    throw new Error(`detection preset: kernel must be 'bilinear' or 'bicubic', got ${JSON.stringify(kernel)}`);
  }
  const std = opts.std ?? IMAGENET_STD;
  if (std.some((v) => !(v > 0))) throw new Error(`normalize: std must be > 0, got ${JSON.stringify(std)}`);
  return { kernel, resample, mean: opts.mean ?? IMAGENET_MEAN, std };
}

function recordFields(r: DetectionRecord): Pick<DetectionImageJob, 'file' | 'imageId' | 'source' | 'expectedHeight' | 'expectedWidth'> {
  return { file: r.file, imageId: r.imageId, source: r.source, expectedHeight: r.height, expectedWidth: r.width };
}

/** detectron2 `ResizeShortestEdge` output size from the record's (annotated) size; checked after decoding. */
function outputSize(r: DetectionRecord, edge: number, maxSize: number): ImageSize {
  if (!(Number.isInteger(r.height) && Number.isInteger(r.width) && r.height > 0 && r.width > 0)) {
    throw new Error(`image '${r.file}' (image id ${JSON.stringify(r.imageId)} in '${r.source}'): the annotation ` +
      `gives size ${r.height}x${r.width} (HxW), expected positive integers`);
  }
  return resizeShortestEdgeSize(r.height, r.width, edge, maxSize);
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
