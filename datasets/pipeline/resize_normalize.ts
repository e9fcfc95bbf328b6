/**
 * One pass from decoded uint8 pixels to the model's float32 input: Pillow-exact resampling (bilinear or bicubic),
 * optional left-right mirror and per-channel normalization, without the intermediate uint8 images that
 * `resize` → `horizontalFlip` → `normalizeImage` allocate and walk.
 *
 * The output equals `normalizeImage(horizontalFlip(resize(image)))` bit for bit: the horizontal pass is Pillow's
 * (22-bit fixed-point weights, rounded to uint8 per row), the vertical pass is Pillow's and its uint8 result indexes a
 * 256-entry table per channel holding `(v / 255 - mean[c]) / std[c]` as `normalizeImage` stores it; the mirror
 * only changes where each output pixel is written. The loops are specialised for 3 channels and for the two taps of
 * an enlargement (the common detection case: 640 px images to an 800 px shorter side), with a general loop for
 * reductions.
 *
 * Reference: Pillow `src/libImaging/Resample.c` (`precompute_coeffs`, `normalize_coeffs_8bpc`,
 * `ImagingResampleHorizontal_8bpc`, `ImagingResampleVertical_8bpc`); torchvision `transforms.ToTensor` +
 * `transforms.Normalize`; `transforms.functional.hflip`.
 */
import sharp from 'sharp';
import type { RgbImage } from '../types';
import { IMAGENET_MEAN, IMAGENET_STD, type NormalizeOptions } from './normalize';
import { pillowCoefficients, type ResizeKernel } from './resample';

const PRECISION_BITS = 32 - 8 - 2;
const HALF = 1 << (PRECISION_BITS - 1);
const MAX_ACC = 1 << (PRECISION_BITS + 8);

/** Options of `resizeFlipNormalize`. */
export interface ResizeFlipNormalizeOptions extends NormalizeOptions {
  /** Output H, pixels (a positive integer). */
  height: number;
  /** Output W, pixels (a positive integer). */
  width: number;
  /** Resampling filter, `bilinear` (default) or `bicubic` (Pillow's). */
  kernel?: Exclude<ResizeKernel, 'nearest'>;
  /** Mirror left-right after resampling (output pixel x holds resampled pixel W-1-x). Default false. */
  flip?: boolean;
}

/** The 3 x 256 table `(v / 255 - mean[c]) / std[c]` as float32, the values `normalizeImage` stores. */
export function normalizeTable(opts: NormalizeOptions = {}): Float32Array {
  const mean = opts.mean ?? IMAGENET_MEAN;
  const std = opts.std ?? IMAGENET_STD;
  if (std.some((s) => !(s > 0))) throw new Error(`normalize: std must be > 0, got ${JSON.stringify(std)}`);
  const lut = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v / 255 - mean[c]) / std[c];
  }
  return lut;
}

/** Allocator of the float32 images this module returns, on the current thread (see `setFloat32OutputAllocator`). */
let allocateFloat32: (length: number) => Float32Array = (length) => new Float32Array(length);

/**
 * Choose where the float32 images of `resizeFlipNormalize`, `resizeFlipNormalizeSharp` and `flipNormalizeWindow`
 * are allocated on the calling thread. `ImageWorkerPool`'s threads allocate them in a `SharedArrayBuffer`: the
 * main thread then receives a view of the same memory, while a transferred `ArrayBuffer` would become 10 MB of new
 * external memory per image on the main thread, each accounted and swept by its garbage collector (measured with
 * `scripts/bench/detection_loader.ts`: 4-9 ms of main-thread GC per 800 px image).
 * @param alloc - returns a zero-filled Float32Array of exactly `length` values; null restores `new Float32Array`.
 */
export function setFloat32OutputAllocator(alloc: ((length: number) => Float32Array) | null): void {
  allocateFloat32 = alloc ?? ((length) => new Float32Array(length));
}

/** Per-thread scratch for the horizontal pass's uint8 rows: it never leaves `resizeFlipNormalize`, so each call
 * reuses it (grown when too small) instead of allocating a new buffer per image. */
let scratch = new Uint8Array(0);

/** The last normalization table and the mean/std it was made for (the presets pass the same arrays every call). */
let lastLut: { mean: readonly number[]; std: readonly number[]; lut: Float32Array } | null = null;

function cachedNormalizeTable(opts: NormalizeOptions): Float32Array {
  const mean = opts.mean ?? IMAGENET_MEAN;
  const std = opts.std ?? IMAGENET_STD;
  if (lastLut && lastLut.mean.length === mean.length && lastLut.std.length === std.length &&
      lastLut.mean.every((v, i) => v === mean[i]) && lastLut.std.every((v, i) => v === std[i])) {
    return lastLut.lut;
  }
  const lut = normalizeTable({ mean, std });
  lastLut = { mean: [...mean], std: [...std], lut };
  return lut;
}

/** Pillow's taps for the last few (input size, output size, filter) of this thread: detection datasets repeat a
 * handful of image sizes, and the taps are read only. */
const coefficientCache = new Map<string, ReturnType<typeof pillowCoefficients>>();

function cachedCoefficients(inSize: number, outSize: number, kernel: Exclude<ResizeKernel, 'nearest'>): ReturnType<typeof pillowCoefficients> {
  const key = `${inSize},${outSize},${kernel}`;
  let c = coefficientCache.get(key);
  if (!c) {
    if (coefficientCache.size >= 16) coefficientCache.delete(coefficientCache.keys().next().value!);
    c = pillowCoefficients(inSize, outSize, kernel);
    coefficientCache.set(key, c);
  }
  return c;
}

function clip8(v: number): number {
  return v >= MAX_ACC ? 255 : v <= 0 ? 0 : v >> PRECISION_BITS;
}

/**
 * Resample an RGB image with Pillow's arithmetic, mirror it (optionally) and normalize it, in one pass.
 * @param image - [H, W, 3] uint8 RGB, 0..255, row-major; not modified.
 * @param opts - output size, filter, flip, mean/std on 0..1 pixels (default ImageNet's).
 * @returns a new [height, width, 3] float32 image (caller owns), equal to
 * `normalizeImage(flip ? horizontalFlip(resize(image)) : resize(image))`.
 * @throws when the data length is not H*W*3, the output size is not positive integers, or `std` has an entry <= 0.
 * Reference: Pillow `Resample.c` `ImagingResampleInner` (horizontal pass first, then vertical; a pass is skipped when
 * its axis keeps its size), torchvision `Normalize`.
 */
export function resizeFlipNormalize(image: RgbImage<Uint8Array>, opts: ResizeFlipNormalizeOptions): RgbImage<Float32Array> {
  const { height: inH, width: inW, data: src } = image;
  const outH = opts.height;
  const outW = opts.width;
  if (src.length !== inH * inW * 3) throw new Error(`resizeFlipNormalize: ${src.length} values for a ${inH}x${inW}x3 image`);
  for (const [what, v] of [['height', outH], ['width', outW]] as const) {
    if (!(Number.isInteger(v) && v > 0)) throw new Error(`resizeFlipNormalize: output ${what} must be a positive integer, got ${v}`);
  }
  const kernel = opts.kernel ?? 'bilinear';
  const lut = cachedNormalizeTable(opts);
  const flip = opts.flip ?? false;
  const rowLen = outW * 3;

  // Horizontal pass over every source row (Pillow skips it when the width is unchanged).
  let tmp: Uint8Array;
  if (outW !== inW) {
    if (scratch.length < inH * rowLen) scratch = new Uint8Array(inH * rowLen);
    tmp = scratch;
    const ch = cachedCoefficients(inW, outW, kernel);
    const { xmin, count, kk, ksize } = ch;
    // Outputs with two non-negative taps summing to at most 1 (+ rounding) need no clipping (see the vertical pass).
    const twoTapsSafe = new Uint8Array(outW);
    for (let o = 0; o < outW; o++) {
      const k0 = kk[o * ksize];
      const k1 = kk[o * ksize + 1];
      twoTapsSafe[o] = count[o] === 2 && k0 >= 0 && k1 >= 0 && k0 + k1 <= (1 << PRECISION_BITS) + 2 ? 1 : 0;
    }
    for (let y = 0; y < inH; y++) {
      const s0 = y * inW * 3;
      let d = y * rowLen;
      for (let o = 0; o < outW; o++, d += 3) {
        const n = count[o];
        let s = s0 + xmin[o] * 3;
        const kb = o * ksize;
        if (n === 2 && twoTapsSafe[o] === 1) {
          const k0 = kk[kb];
          const k1 = kk[kb + 1];
          tmp[d] = (HALF + src[s] * k0 + src[s + 3] * k1) >> PRECISION_BITS;
          tmp[d + 1] = (HALF + src[s + 1] * k0 + src[s + 4] * k1) >> PRECISION_BITS;
          tmp[d + 2] = (HALF + src[s + 2] * k0 + src[s + 5] * k1) >> PRECISION_BITS;
        } else {
          let a0 = HALF;
          let a1 = HALF;
          let a2 = HALF;
          for (let t = 0; t < n; t++, s += 3) {
            const k = kk[kb + t];
            a0 += src[s] * k;
            a1 += src[s + 1] * k;
            a2 += src[s + 2] * k;
          }
          tmp[d] = clip8(a0);
          tmp[d + 1] = clip8(a1);
          tmp[d + 2] = clip8(a2);
        }
      }
    }
  } else {
    tmp = src;
  }

  // Vertical pass, fused with the mirror and the normalization table.
  const out = allocateFloat32(outH * rowLen);
  const cv = outH !== inH ? cachedCoefficients(inH, outH, kernel) : null;
  for (let o = 0; o < outH; o++) {
    const d0 = o * rowLen;
    // Output pixel x of this row is written at x (or W-1-x when mirrored): step +3 or -3 floats per pixel.
    let d = flip ? d0 + rowLen - 3 : d0;
    const step = flip ? -3 : 3;
    if (!cv) {
      let s = o * rowLen;
      for (let x = 0; x < outW; x++, s += 3, d += step) {
        out[d] = lut[tmp[s]];
        out[d + 1] = lut[256 + tmp[s + 1]];
        out[d + 2] = lut[512 + tmp[s + 2]];
      }
      continue;
    }
    const n = cv.count[o];
    const kb = o * cv.ksize;
    const r0 = cv.xmin[o] * rowLen;
    if (n === 2 && cv.kk[kb] >= 0 && cv.kk[kb + 1] >= 0 && cv.kk[kb] + cv.kk[kb + 1] <= (1 << PRECISION_BITS) + 2) {
      // Two non-negative taps summing to at most 1 (+ rounding): the sum stays in [0, 255.5 * 2^22), so clip8 is
      // the shift alone.
      const k0 = cv.kk[kb];
      const k1 = cv.kk[kb + 1];
      let a = r0;
      let b = r0 + rowLen;
      for (let x = 0; x < outW; x++, a += 3, b += 3, d += step) {
        out[d] = lut[(HALF + tmp[a] * k0 + tmp[b] * k1) >> PRECISION_BITS];
        out[d + 1] = lut[256 + ((HALF + tmp[a + 1] * k0 + tmp[b + 1] * k1) >> PRECISION_BITS)];
        out[d + 2] = lut[512 + ((HALF + tmp[a + 2] * k0 + tmp[b + 2] * k1) >> PRECISION_BITS)];
      }
    } else {
      for (let i = 0; i < rowLen; i += 3, d += step) {
        let a0 = HALF;
        let a1 = HALF;
        let a2 = HALF;
        let s = r0 + i;
        for (let t = 0; t < n; t++, s += rowLen) {
          const k = cv.kk[kb + t];
          a0 += tmp[s] * k;
          a1 += tmp[s + 1] * k;
          a2 += tmp[s + 2] * k;
        }
        out[d] = lut[clip8(a0)];
        out[d + 1] = lut[256 + clip8(a1)];
        out[d + 2] = lut[512 + clip8(a2)];
      }
    }
  }
  return { data: out, height: outH, width: outW };
}

/**
 * Mirror (optionally) and normalize the top-left `height` x `width` window of an HWC uint8 buffer whose rows are
 * `stride` pixels long (libvips' affine output is a few pixels larger than the window we keep).
 * @param src - [>= height, stride, 3] uint8; not modified.
 * @param lut - `normalizeTable(...)`.
 * @returns a new [height, width, 3] float32 image (caller owns).
 */
export function flipNormalizeWindow(
  src: Uint8Array, stride: number, height: number, width: number, flip: boolean, lut: Float32Array,
): Float32Array {
  if (stride < width || src.length < ((height - 1) * stride + width) * 3) {
    throw new Error(`flipNormalizeWindow: ${src.length} values cannot hold ${height} rows of ${width} px at stride ${stride}`);
  }
  const rowLen = width * 3;
  const out = allocateFloat32(height * rowLen);
  const step = flip ? -3 : 3;
  for (let y = 0; y < height; y++) {
    let s = y * stride * 3;
    let d = flip ? y * rowLen + rowLen - 3 : y * rowLen;
    for (let x = 0; x < width; x++, s += 3, d += step) {
      out[d] = lut[src[s]];
      out[d + 1] = lut[256 + src[s + 1]];
      out[d + 2] = lut[512 + src[s + 2]];
    }
  }
  return out;
}

/** The image with its border pixels repeated once on every side: [H + 2, W + 2, 3]. */
function extendEdges(image: RgbImage<Uint8Array>): Uint8Array {
  const { data, height: h, width: w } = image;
  const ew = w + 2;
  const out = new Uint8Array((h + 2) * ew * 3);
  for (let y = 0; y < h + 2; y++) {
    const sy = Math.min(Math.max(y - 1, 0), h - 1);
    const s = sy * w * 3;
    const d = y * ew * 3;
    out.set(data.subarray(s, s + w * 3), d + 3);
    out[d] = data[s]; out[d + 1] = data[s + 1]; out[d + 2] = data[s + 2];
    const e = s + (w - 1) * 3;
    const de = d + (w + 1) * 3;
    out[de] = data[e]; out[de + 1] = data[e + 1]; out[de + 2] = data[e + 2];
  }
  return out;
}

/**
 * `resizeFlipNormalize` with the resampling done by libvips (sharp) on its worker threads: an enlargement is an
 * affine map with half-pixel centres and edge replication (the sampling positions of Pillow's enlargement, so the
 * pixels differ from Pillow's by at most a rounding step: Pillow rounds to uint8 between its horizontal and vertical
 * passes, libvips interpolates both axes at once); a reduction is libvips' `reduce` (antialiased, the filter widened
 * by the reduction factor like Pillow's, but with its own border handling and fixed point).
 * @param image - [H, W, 3] uint8 RGB; not modified.
 * @returns a new [height, width, 3] float32 image (caller owns).
 * @throws as `resizeFlipNormalize`; sharp's errors for inputs libvips rejects.
 * Reference: libvips `vips_affine` (`idx`, `idy`, `odx`, `ody`: input/output offsets; -0.5 each maps output pixel
 * centres to input pixel centres), `vips_reduce`; Pillow `Resample.c` for the positions it matches.
 */
export async function resizeFlipNormalizeSharp(
  image: RgbImage<Uint8Array>, opts: ResizeFlipNormalizeOptions,
): Promise<RgbImage<Float32Array>> {
  const { height: inH, width: inW, data } = image;
  const { height: outH, width: outW } = opts;
  if (data.length !== inH * inW * 3) throw new Error(`resizeFlipNormalize: ${data.length} values for a ${inH}x${inW}x3 image`);
  for (const [what, v] of [['height', outH], ['width', outW]] as const) {
    if (!(Number.isInteger(v) && v > 0)) throw new Error(`resizeFlipNormalize: output ${what} must be a positive integer, got ${v}`);
  }
  const kernel = opts.kernel ?? 'bilinear';
  const lut = normalizeTable(opts);
  const flip = opts.flip ?? false;
  if (outH === inH && outW === inW) {
    return { data: flipNormalizeWindow(data, inW, outH, outW, flip, lut), height: outH, width: outW };
  }
  let out: { data: Buffer; info: { width: number; height: number; channels: number } };
  if (outH >= inH && outW >= inW) {
    // Extended image: original pixel x sits at x + 1. Output pixel centre X + 0.5 maps to input centre
    // (X + 0.5) / s - 0.5 of the original, i.e. X = s * (x_ext - 0.5) - 0.5 in libvips' affine convention.
    out = await sharp(extendEdges(image), { raw: { width: inW + 2, height: inH + 2, channels: 3 } })
      .affine([[outW / inW, 0], [0, outH / inH]], {
        idx: -0.5, idy: -0.5, odx: -0.5, ody: -0.5,
        interpolator: kernel === 'bilinear' ? sharp.interpolators.bilinear : sharp.interpolators.bicubic,
      })
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } else {
    out = await sharp(data, { raw: { width: inW, height: inH, channels: 3 } })
      .resize(outW, outH, { fit: 'fill', kernel: kernel === 'bilinear' ? 'linear' : 'cubic' })
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  }
  const { info } = out;
  if (info.channels !== 3 || info.width < outW || info.height < outH) {
    throw new Error(`resizeFlipNormalizeSharp: libvips returned ${info.height}x${info.width}x${info.channels} for a ` +
      `${outH}x${outW}x3 output`);
  }
  const px = new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.length);
  return { data: flipNormalizeWindow(px, info.width, outH, outW, flip, lut), height: outH, width: outW };
}
