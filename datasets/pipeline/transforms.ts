/**
 * Geometric transforms: resize (fixed size, shorter side à la torchvision, shortest edge à la detectron2), crop,
 * center crop, RandomResizedCrop and horizontal flip.
 *
 * Two layers:
 * - planners (`*Size`, `*Window`): pure functions of the image size (and a `SeedSequence` for random ones) that
 *   return the size or integer window to use. The classification presets feed them to `decodeImage` so decode, crop
 *   and resize run in one libvips pipeline per image.
 * - sample transforms: pure functions `sample → new sample` on decoded uint8 samples. They update `meta`, and
 *   move a detection target (boxes scale, shift and mirror with the image) or a segmentation target (the mask is
 *   resampled with nearest neighbour) along. The input sample is not modified.
 *
 * Reference: torchvision `transforms/transforms.py` (`RandomResizedCrop.get_params`, `CenterCrop`, `Resize`),
 * torchvision `transforms/functional.py` (`_compute_resized_output_size`, `center_crop`), detectron2
 * `data/transforms/augmentation_impl.py` (`ResizeShortestEdge.get_output_shape`).
 */
import type { SeedSequence } from '../../src/common/seed';
import type { DetectionTarget, ImageSample, RgbImage, SegmentationTarget } from '../types';
import { resampleImage, type ResizeKernel } from './resample';
import { cropMeta, flipMeta, resizeMeta, type CropWindow } from './geometry';

/** An output size, pixels. */
export interface ImageSize {
  height: number;
  width: number;
}

/** Python's `round()` on floats: nearest integer, ties to even (torchvision's crop arithmetic uses it). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x); // ties toward +inf
  const v = Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  return v === 0 ? 0 : v; // no -0
}

function checkSize(what: string, v: number): void {
  if (!(Number.isInteger(v) && v > 0)) throw new Error(`${what} must be a positive integer, got ${v}`);
}

/**
 * Output size of torchvision `Resize(size)` with an int `size`: the shorter side becomes `size`, the longer side
 * `floor(size * long / short)`; with `maxSize`, if the longer side would exceed it, the longer side becomes
 * `maxSize` and the shorter `floor(maxSize * short / long)`.
 * @throws when `maxSize <= size` (as torchvision), or sizes are not positive integers.
 * Reference: torchvision `transforms/functional.py` `_compute_resized_output_size`.
 */
export function resizeShorterSideSize(height: number, width: number, size: number, maxSize?: number): ImageSize {
  checkSize('resize size', size);
  const [short, long] = width <= height ? [width, height] : [height, width];
  let newShort = size;
  let newLong = Math.floor((size * long) / short);
  if (maxSize !== undefined) {
    if (maxSize <= size) throw new Error(`resize: maxSize (${maxSize}) must be larger than size (${size})`);
    if (newLong > maxSize) {
      newShort = Math.floor((maxSize * newShort) / newLong);
      newLong = maxSize;
    }
  }
  return width <= height ? { height: newLong, width: newShort } : { height: newShort, width: newLong };
}

/**
 * Output size of detectron2 `ResizeShortestEdge`: scale so the shorter edge is `shortEdge`, then shrink so the
 * longer edge is at most `maxSize`; each side rounded half up (`int(x + 0.5)`).
 * Reference: detectron2 `data/transforms/augmentation_impl.py` `ResizeShortestEdge.get_output_shape`.
 */
export function resizeShortestEdgeSize(height: number, width: number, shortEdge: number, maxSize: number): ImageSize {
  checkSize('shortEdge', shortEdge);
  const scale = shortEdge / Math.min(height, width);
  let newH = height < width ? shortEdge : scale * height;
  let newW = height < width ? scale * width : shortEdge;
  if (Math.max(newH, newW) > maxSize) {
    const s = maxSize / Math.max(newH, newW);
    newH *= s;
    newW *= s;
  }
  return { height: Math.floor(newH + 0.5), width: Math.floor(newW + 0.5) };
}

/**
 * The centered window of size `crop` inside an image of `height` x `width`.
 * Offsets as torchvision: `top = round((H - cropH) / 2)`, `left = round((W - cropW) / 2)`, Python rounding.
 * @throws when the crop is larger than the image (torchvision pads instead; we ask the caller to resize first).
 * Reference: torchvision `transforms/functional.py` `center_crop`.
 */
export function centerCropWindow(height: number, width: number, crop: ImageSize): CropWindow {
  checkSize('center crop height', crop.height);
  checkSize('center crop width', crop.width);
  if (crop.height > height || crop.width > width) {
    throw new Error(`center crop ${crop.height}x${crop.width} (HxW) is larger than the image ${height}x${width}`);
  }
  return {
    top: roundHalfEven((height - crop.height) / 2),
    left: roundHalfEven((width - crop.width) / 2),
    height: crop.height,
    width: crop.width,
  };
}

/** Options of RandomResizedCrop. */
export interface RandomResizedCropOptions {
  /** Range of the crop's area as a fraction of the image area, 0..1 (default [0.08, 1]). */
  scale?: [number, number];
  /** Range of the crop's aspect ratio width / height (default [3/4, 4/3]); sampled log-uniformly. */
  ratio?: [number, number];
}

/**
 * The crop window of torchvision `RandomResizedCrop`: up to 10 attempts of area ~ U(scale) * H*W and
 * log-ratio ~ U(log ratio); `w = round(sqrt(area * r))`, `h = round(sqrt(area / r))`; the first that fits is placed
 * uniformly (`top ~ U{0..H-h}`, `left ~ U{0..W-w}`). Fallback: the whole image, cropped centrally to the nearest
 * allowed ratio.
 * @param rng - consumed in the order area, ratio (per attempt), then top, left; the only source of randomness.
 * Reference: torchvision `transforms/transforms.py` `RandomResizedCrop.get_params` (same arithmetic; torch's
 * generator is replaced by `SeedSequence`, so the windows are not torch's for the same seed).
 */
export function randomResizedCropWindow(
  height: number,
  width: number,
  rng: SeedSequence,
  opts: RandomResizedCropOptions = {},
): CropWindow {
  const [sMin, sMax] = opts.scale ?? [0.08, 1.0];
  const [rMin, rMax] = opts.ratio ?? [3 / 4, 4 / 3];
  if (!(sMin <= sMax && rMin <= rMax && sMin > 0 && rMin > 0)) {
    throw new Error(`RandomResizedCrop: scale ${JSON.stringify([sMin, sMax])} and ratio ` +
      `${JSON.stringify([rMin, rMax])} must be positive (min, max) ranges`);
  }
  const area = height * width;
  const logR0 = Math.log(rMin);
  const logR1 = Math.log(rMax);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * (sMin + rng.uniform() * (sMax - sMin));
    const aspect = Math.exp(logR0 + rng.uniform() * (logR1 - logR0));
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = rng.int(height - h + 1);
      const left = rng.int(width - w + 1);
      return { top, left, height: h, width: w };
    }
  }
  const inRatio = width / height;
  let w: number;
  let h: number;
  if (inRatio < rMin) {
    w = width;
    h = roundHalfEven(w / rMin);
  } else if (inRatio > rMax) {
    h = height;
    w = roundHalfEven(h * rMax);
  } else {
    w = width;
    h = height;
  }
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w };
}

// ---------------------------------------------------------------------------------------------------------------
// Sample transforms

function uint8Image(sample: ImageSample, what: string): RgbImage<Uint8Array> {
  const img = sample.image;
  if (!(img.data instanceof Uint8Array)) {
    throw new Error(`${what}: '${sample.meta.file}' is already normalized (float32); geometric transforms take ` +
      `uint8 images, normalize last`);
  }
  if (img.data.length !== img.height * img.width * 3) {
    throw new Error(`${what}: '${sample.meta.file}' has ${img.data.length} values for ${img.height}x${img.width}x3`);
  }
  return img as RgbImage<Uint8Array>;
}

function isDetection(t: DetectionTarget | SegmentationTarget): t is DetectionTarget {
  return 'boxes' in t;
}

/** Copy rows [top, top+h) and columns [left, left+w) of an HWC array with `c` channels. */
function cropPixels(data: Uint8Array, width: number, c: number, win: CropWindow): Uint8Array {
  const out = new Uint8Array(win.height * win.width * c);
  const rowLen = win.width * c;
  for (let y = 0; y < win.height; y++) {
    const src = ((win.top + y) * width + win.left) * c;
    out.set(data.subarray(src, src + rowLen), y * rowLen);
  }
  return out;
}

/** Mirror an HWC array with `c` channels left-right. */
function flipPixels(data: Uint8Array, height: number, width: number, c: number): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    const row = y * width * c;
    for (let x = 0; x < width; x++) {
      const src = row + x * c;
      const dst = row + (width - 1 - x) * c;
      for (let k = 0; k < c; k++) out[dst + k] = data[src + k];
    }
  }
  return out;
}

/**
 * Resample a uint8 sample to `size` (aspect ratio not kept). Boxes scale by (W'/W, H'/H); a mask is resampled
 * with nearest neighbour.
 * @param sample - image [H, W, 3] uint8; not modified.
 * @param kernel - `bilinear` (default) or `bicubic`, Pillow-exact (see `resample.ts`).
 * @returns a new sample of size `size`.
 * Reference: torchvision `transforms.Resize` with a (h, w) size; detectron2 `ResizeTransform.apply_box`.
 */
export function resize<S extends ImageSample>(sample: S, size: ImageSize, kernel: ResizeKernel = 'bilinear'): S {
  const img = uint8Image(sample, 'resize');
  checkSize('resize height', size.height);
  checkSize('resize width', size.width);
  const same = size.height === img.height && size.width === img.width;
  const data = same ? img.data.slice() : resampleImage(img.data, img.height, img.width, 3, size.height, size.width, kernel);
  const out: S = { ...sample, image: { data, ...size }, meta: resizeMeta(sample.meta, size.height, size.width) };
  if (sample.target) {
    const t = sample.target;
    if (isDetection(t)) {
      const sx = size.width / img.width;
      const sy = size.height / img.height;
      const boxes = new Float32Array(t.boxes.length);
      for (let i = 0; i < boxes.length; i += 4) {
        boxes[i] = t.boxes[i] * sx;
        boxes[i + 1] = t.boxes[i + 1] * sy;
        boxes[i + 2] = t.boxes[i + 2] * sx;
        boxes[i + 3] = t.boxes[i + 3] * sy;
      }
      out.target = { ...t, boxes };
    } else {
      const mask = same ? t.mask.slice() : resampleImage(t.mask, img.height, img.width, 1, size.height, size.width, 'nearest');
      out.target = { ...t, mask };
    }
  }
  return out;
}

/**
 * detectron2 `ResizeShortestEdge(shortEdge, maxSize)` (see `resizeShortestEdgeSize`), then `resize`; boxes scale
 * with the image.
 * Reference: detectron2 `data/transforms/augmentation_impl.py` `ResizeShortestEdge`.
 */
export function resizeShortestEdge<S extends ImageSample>(
  sample: S, shortEdge: number, maxSize: number, kernel: ResizeKernel = 'bilinear',
): S {
  return resize(sample, resizeShortestEdgeSize(sample.image.height, sample.image.width, shortEdge, maxSize), kernel);
}

/**
 * Cut the integer window `win` out of a uint8 sample. Boxes shift by (-left, -top) and are clipped to the window
 * (boxes left empty are kept; filtering is the adapter's choice); a mask is cut the same way.
 * @throws when the window leaves the image.
 * Reference: torchvision `transforms.functional.crop`; detectron2 `CropTransform.apply_box` + `clip`.
 */
export function crop<S extends ImageSample>(sample: S, win: CropWindow): S {
  const img = uint8Image(sample, 'crop');
  const meta = cropMeta(sample.meta, win); // validates the window
  const out: S = { ...sample, image: { data: cropPixels(img.data, img.width, 3, win), height: win.height, width: win.width }, meta };
  if (sample.target) {
    const t = sample.target;
    if (isDetection(t)) {
      const boxes = new Float32Array(t.boxes.length);
      const clip = (v: number, hi: number): number => Math.min(Math.max(v, 0), hi);
      for (let i = 0; i < boxes.length; i += 4) {
        boxes[i] = clip(t.boxes[i] - win.left, win.width);
        boxes[i + 1] = clip(t.boxes[i + 1] - win.top, win.height);
        boxes[i + 2] = clip(t.boxes[i + 2] - win.left, win.width);
        boxes[i + 3] = clip(t.boxes[i + 3] - win.top, win.height);
      }
      out.target = { ...t, boxes };
    } else {
      out.target = { ...t, mask: cropPixels(t.mask, img.width, 1, win) };
    }
  }
  return out;
}

/**
 * torchvision `CenterCrop(size)` (see `centerCropWindow` for the offsets).
 * @throws when `size` is larger than the image.
 */
export function centerCrop<S extends ImageSample>(sample: S, size: ImageSize): S {
  return crop(sample, centerCropWindow(sample.image.height, sample.image.width, size));
}

/**
 * Mirror a uint8 sample left-right: pixel x goes to W-1-x; a box [x0, y0, x1, y1] becomes [W-x1, y0, W-x0, y1];
 * a mask is mirrored.
 * Reference: torchvision `transforms.functional.hflip`; detectron2 `HFlipTransform.apply_coords` (x → W - x).
 */
export function horizontalFlip<S extends ImageSample>(sample: S): S {
  const img = uint8Image(sample, 'horizontal flip');
  const out: S = {
    ...sample,
    image: { data: flipPixels(img.data, img.height, img.width, 3), height: img.height, width: img.width },
    meta: flipMeta(sample.meta),
  };
  if (sample.target) {
    const t = sample.target;
    if (isDetection(t)) {
      const boxes = new Float32Array(t.boxes.length);
      for (let i = 0; i < boxes.length; i += 4) {
        boxes[i] = img.width - t.boxes[i + 2];
        boxes[i + 1] = t.boxes[i + 1];
        boxes[i + 2] = img.width - t.boxes[i];
        boxes[i + 3] = t.boxes[i + 3];
      }
      out.target = { ...t, boxes };
    } else {
      out.target = { ...t, mask: flipPixels(t.mask, img.height, img.width, 1) };
    }
  }
  return out;
}
