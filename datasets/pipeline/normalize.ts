/**
 * Per-channel normalization of uint8 RGB images to float32, the input the models take.
 *
 * Reference: torchvision `transforms.ToTensor` (v / 255) followed by `transforms.Normalize(mean, std)`;
 * the ImageNet statistics of torchvision's reference training scripts (`references/classification/presets.py`).
 */
import type { ImageSample, RgbImage } from '../types';

/** ImageNet RGB mean on 0..1 pixels (torchvision). */
export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
/** ImageNet RGB standard deviation on 0..1 pixels (torchvision). */
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

/** Mean and standard deviation per RGB channel, on 0..1 pixels. */
export interface NormalizeOptions {
  /** Default `IMAGENET_MEAN`. */
  mean?: readonly [number, number, number];
  /** Default `IMAGENET_STD`; every entry must be > 0. */
  std?: readonly [number, number, number];
}

/**
 * `out[y, x, c] = (in[y, x, c] / 255 - mean[c]) / std[c]`, computed in float64 and stored as float32.
 * @param image - [H, W, 3] uint8 RGB, 0..255; not modified.
 * @returns a new [H, W, 3] float32 image (caller owns).
 * @throws when `std` has a non-positive entry or the data length is not H*W*3.
 */
export function normalizeImage(image: RgbImage<Uint8Array>, opts: NormalizeOptions = {}): RgbImage<Float32Array> {
  const mean = opts.mean ?? IMAGENET_MEAN;
  const std = opts.std ?? IMAGENET_STD;
  if (std.some((s) => !(s > 0))) throw new Error(`normalize: std must be > 0, got ${JSON.stringify(std)}`);
  const n = image.height * image.width * 3;
  if (image.data.length !== n) {
    throw new Error(`normalize: ${image.data.length} values for an image of ${image.height}x${image.width}x3`);
  }
  // Per channel, out = v * a + b with a = 1 / (255 std), b = -mean / std: a lookup table of 256 values per channel.
  const lut = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v / 255 - mean[c]) / std[c];
  }
  const src = image.data;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 3) {
    out[i] = lut[src[i]];
    out[i + 1] = lut[256 + src[i + 1]];
    out[i + 2] = lut[512 + src[i + 2]];
  }
  return { data: out, height: image.height, width: image.width };
}

/**
 * `normalizeImage` on a sample's image; meta and target are carried over unchanged.
 * @throws when the sample is already float32.
 */
export function normalizeSample<S extends ImageSample<Uint8Array>>(
  sample: S, opts: NormalizeOptions = {},
): Omit<S, 'image'> & { image: RgbImage<Float32Array> } {
  if (!(sample.image.data instanceof Uint8Array)) {
    throw new Error(`normalize: '${sample.meta.file}' is already normalized`);
  }
  return { ...sample, image: normalizeImage(sample.image, opts) };
}
