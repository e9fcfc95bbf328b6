/**
 * The images the inference API takes, turned into the one form the data pipeline works on: 8-bit RGB, HWC,
 * row-major (`RgbImage<Uint8Array>`, see `datasets/types.ts`). From there the task's own transforms (Pillow-exact
 * resize, normalization, padding) run exactly as the CLI's `predict` runs them on a decoded file.
 *
 * Portable: no Node module. The Node entry (`./node.ts`) adds file paths and encoded bytes.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { RgbImage } from '../../datasets/types';

/**
 * Pixels with their size, as the DOM's `ImageData` holds them: `data` is [H, W, 4] RGBA (alpha dropped, not
 * composited, as PIL's `convert('RGB')`) or [H, W, 3] RGB, row-major, integers 0..255.
 */
export interface PixelBuffer {
  data: Uint8ClampedArray | Uint8Array | ArrayLike<number>;
  width: number;
  height: number;
}

/**
 * What `tf.browser.fromPixels` reads in a browser: an `HTMLImageElement`, `HTMLCanvasElement`, `HTMLVideoElement`,
 * `ImageBitmap` or `OffscreenCanvas` (typed loosely: the project compiles without the DOM library).
 */
export interface BrowserPixelSource {
  readonly width: number;
  readonly height: number;
}

/**
 * An image for `detect` / `segment` / `classify` / `extract`:
 * - a `tf.Tensor3D` [H, W, 3] (or [H, W, 4], alpha dropped), RGB, integer values 0..255 of any dtype (not disposed);
 * - a {@link PixelBuffer} (`ImageData`-like);
 * - in a browser, an element `tf.browser.fromPixels` reads.
 */
export type ImageInput = tf.Tensor3D | PixelBuffer | BrowserPixelSource;

/** Thrown for an input that is not an image the API reads; the message says what was expected and what came. */
export class ImageInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageInputError';
  }
}

/**
 * Copy [H * W * channels] integer pixels into [H * W * 3] uint8 RGB, checking the range.
 * @param what names the input in the error message.
 * @throws ImageInputError for a value that is not an integer in 0..255.
 */
function rgbOf(values: ArrayLike<number>, height: number, width: number, channels: number, what: string): Uint8Array {
  const out = new Uint8Array(height * width * 3);
  for (let p = 0, n = height * width; p < n; p++) {
    for (let c = 0; c < 3; c++) {
      const v = values[p * channels + c];
      if (!(Number.isInteger(v) && v >= 0 && v <= 255)) {
        throw new ImageInputError(`${what}: pixel ${p} channel ${c} is ${v}; expected integers 0..255 (uint8 range, not normalized)`);
      }
      out[p * 3 + c] = v;
    }
  }
  return out;
}

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

/** Whether tfjs can read browser pixels here (a DOM is present). */
function hasBrowserPixels(): boolean {
  return typeof (globalThis as { document?: unknown }).document !== 'undefined' && typeof tf.browser?.fromPixels === 'function';
}

/**
 * The pixels of an image input as 8-bit RGB.
 * @param input see {@link ImageInput}; a tensor is read, not disposed.
 * @returns [H, W, 3] uint8 RGB, HWC, a new buffer the caller owns.
 * @throws ImageInputError for a tensor whose rank is not 3 or whose last dimension is not 3 or 4, values outside
 *   0..255 or not integers, a pixel buffer whose length is not H * W * 4 (or * 3), or anything else (naming it).
 */
export async function toRgbImage(input: ImageInput): Promise<RgbImage<Uint8Array>> {
  if (input instanceof tf.Tensor) {
    const t = input as tf.Tensor;
    if (t.rank !== 3 || (t.shape[2] !== 3 && t.shape[2] !== 4)) {
      throw new ImageInputError(`image tensor of shape [${t.shape}]: expected a Tensor3D [H, W, 3] (HWC RGB, values 0..255)`);
    }
    const [h, w, c] = t.shape as [number, number, number];
    if (h === 0 || w === 0) throw new ImageInputError(`image tensor of shape [${t.shape}] is empty`);
    return { data: rgbOf(await t.data(), h, w, c, `image tensor [${t.shape}] ${t.dtype}`), height: h, width: w };
  }
  if (typeof input === 'object' && input !== null && 'data' in input) {
    const { data, width, height } = input as PixelBuffer;
    if (!isPositiveInt(width) || !isPositiveInt(height) || data === null || typeof data !== 'object' || typeof (data as ArrayLike<number>).length !== 'number') {
      throw new ImageInputError(`pixel buffer: expected { data, width, height } with positive integer sizes, got width ${width}, height ${height}`);
    }
    const channels = data.length / (width * height);
    if (channels !== 4 && channels !== 3) {
      throw new ImageInputError(`pixel buffer ${width}x${height} (WxH) has ${data.length} values; expected ${width * height * 4} (RGBA) or ${width * height * 3} (RGB)`);
    }
    return { data: rgbOf(data, height, width, channels, `pixel buffer ${width}x${height}`), height, width };
  }
  if (typeof input === 'object' && input !== null && hasBrowserPixels()) {
    const t = tf.browser.fromPixels(input as Parameters<typeof tf.browser.fromPixels>[0], 3);
    try {
      return await toRgbImage(t);
    } finally {
      t.dispose();
    }
  }
  const kind = input === null ? 'null' : typeof input === 'object' ? (input as object).constructor?.name ?? 'object' : typeof input;
  throw new ImageInputError(`unsupported image input (${kind}): expected a Tensor3D [H, W, 3] with values 0..255, ImageData-like { data, width, height }` +
    `${hasBrowserPixels() ? ', or an element tf.browser.fromPixels reads' : ''}`);
}
