/**
 * Image resampling with Pillow's algorithm, bit for bit: separable convolution (horizontal pass, rounded to uint8,
 * then vertical pass) with the filter widened by the reduction factor when shrinking (antialiased), half-pixel
 * centres, 22-bit fixed-point weights. torchvision's transforms on PIL images (`Resize`, `RandomResizedCrop`) call
 * exactly this, so our presets give the pixels torchvision's ImageNet references give.
 *
 * Why not sharp's resize: libvips' upsampling is not half-pixel centred (a 5 → 10 px linear enlargement of
 * [0, 50, 100, 150, 200] gives [0, 0, 25, 50, ...] where PIL gives [0, 13, 38, 63, ...]) and its reductions box-shrink
 * first (`gap`), so outputs differ by up to ~120 grey levels on textures; this file costs a few ms per 224² output.
 *
 * Reference: Pillow `src/libImaging/Resample.c` (`precompute_coeffs`, `normalize_coeffs_8bpc`,
 * `ImagingResampleHorizontal_8bpc`, `ImagingResampleVertical_8bpc`, `bilinear_filter`, `bicubic_filter` a = -0.5),
 * Pillow `src/libImaging/Geometry.c` (NEAREST resize as an affine transform sampling at pixel centres).
 */

/**
 * Resampling filters (Pillow's names): `bilinear` (triangle, support 1; torchvision's default
 * `InterpolationMode.BILINEAR`), `bicubic` (Keys a = -0.5, support 2), `nearest` (for label masks:
 * source index floor((x + 0.5) * in / out)).
 */
export type ResizeKernel = 'bilinear' | 'bicubic' | 'nearest';

const PRECISION_BITS = 32 - 8 - 2;

function bilinearFilter(x: number): number {
  if (x < 0) x = -x;
  return x < 1 ? 1 - x : 0;
}

function bicubicFilter(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** Pixel window [start, start + size) of the output, one axis. */
interface Span {
  start: number;
  size: number;
}

interface Coeffs {
  ksize: number;
  /** [outCount] first input index per output. */
  xmin: Int32Array;
  /** [outCount] number of taps per output. */
  count: Int32Array;
  /** [outCount * ksize] fixed-point weights. */
  kk: Int32Array;
}

/** Pillow `precompute_coeffs` + `normalize_coeffs_8bpc` for outputs `span` of an `outSize` axis. */
function precomputeCoeffs(inSize: number, outSize: number, span: Span, filter: (x: number) => number, support0: number): Coeffs {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = support0 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const xmin = new Int32Array(span.size);
  const count = new Int32Array(span.size);
  const kk = new Int32Array(span.size * ksize);
  const w = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let o = 0; o < span.size; o++) {
    const xx = span.start + o;
    const center = (xx + 0.5) * scale;
    let lo = Math.trunc(center - support + 0.5);
    if (lo < 0) lo = 0;
    let hi = Math.trunc(center + support + 0.5);
    if (hi > inSize) hi = inSize;
    const n = hi - lo;
    let ww = 0;
    for (let x = 0; x < n; x++) {
      w[x] = filter((x + lo - center + 0.5) * ss);
      ww += w[x];
    }
    for (let x = 0; x < n; x++) {
      const k = ww !== 0 ? w[x] / ww : w[x];
      kk[o * ksize + x] = k < 0 ? Math.trunc(-0.5 + k * (1 << PRECISION_BITS)) : Math.trunc(0.5 + k * (1 << PRECISION_BITS));
    }
    xmin[o] = lo;
    count[o] = n;
  }
  return { ksize, xmin, count, kk };
}

/**
 * Pillow's fixed-point filter taps for resampling one axis of `inSize` pixels to `outSize` (all outputs).
 * @returns per output o: first input index `xmin[o]`, tap count `count[o]`, and the 22-bit fixed-point weights
 * `kk[o * ksize + t]` (t < count[o]).
 * Reference: Pillow `Resample.c` `precompute_coeffs` + `normalize_coeffs_8bpc`.
 */
export function pillowCoefficients(
  inSize: number, outSize: number, kernel: Exclude<ResizeKernel, 'nearest'>,
): { ksize: number; xmin: Int32Array; count: Int32Array; kk: Int32Array } {
  const [filter, support] = kernel === 'bilinear' ? [bilinearFilter, 1] : [bicubicFilter, 2];
  return precomputeCoeffs(inSize, outSize, { start: 0, size: outSize }, filter, support);
}

function clip8(v: number): number {
  if (v >= 1 << (PRECISION_BITS + 8)) return 255;
  if (v <= 0) return 0;
  return v >> PRECISION_BITS;
}

function checkArgs(src: Uint8Array, inH: number, inW: number, c: number, outH: number, outW: number, win: Span[]): void {
  if (src.length !== inH * inW * c) throw new Error(`resample: ${src.length} values for a ${inH}x${inW}x${c} image`);
  for (const [what, v] of [['height', outH], ['width', outW]] as const) {
    if (!(Number.isInteger(v) && v > 0)) throw new Error(`resample: output ${what} must be a positive integer, got ${v}`);
  }
  const [ys, xs] = win;
  if (!(ys.start >= 0 && xs.start >= 0 && ys.size > 0 && xs.size > 0 && ys.start + ys.size <= outH &&
        xs.start + xs.size <= outW)) {
    throw new Error(`resample: output window rows ${ys.start}+${ys.size}, cols ${xs.start}+${xs.size} is not inside ` +
      `${outH}x${outW}`);
  }
}

/**
 * Resample an HWC uint8 image to `outHeight` x `outWidth` with Pillow's `Image.resize(size, filter)` arithmetic,
 * optionally computing only the output window `window` (the pixels a following crop keeps; identical to resizing
 * everything and cropping).
 * @param src - [inH, inW, C] uint8, row-major; not modified.
 * @param window - output rows/cols to compute, pixels of the `outHeight` x `outWidth` result; default all.
 * @returns a new [window.height, window.width, C] uint8 array.
 * @throws when sizes do not match the data or the window leaves the output.
 * Reference: Pillow `Resample.c` `ImagingResampleInner` (horizontal pass first, then vertical), `Geometry.c`.
 */
export function resampleImage(
  src: Uint8Array,
  inHeight: number,
  inWidth: number,
  channels: number,
  outHeight: number,
  outWidth: number,
  kernel: ResizeKernel,
  window?: { top: number; left: number; height: number; width: number },
): Uint8Array {
  const ys: Span = window ? { start: window.top, size: window.height } : { start: 0, size: outHeight };
  const xs: Span = window ? { start: window.left, size: window.width } : { start: 0, size: outWidth };
  checkArgs(src, inHeight, inWidth, channels, outHeight, outWidth, [ys, xs]);
  const c = channels;
  if (kernel === 'nearest') {
    const out = new Uint8Array(ys.size * xs.size * c);
    const sx = inWidth / outWidth;
    const sy = inHeight / outHeight;
    for (let oy = 0; oy < ys.size; oy++) {
      const iy = Math.min(Math.floor((ys.start + oy + 0.5) * sy), inHeight - 1);
      for (let ox = 0; ox < xs.size; ox++) {
        const ix = Math.min(Math.floor((xs.start + ox + 0.5) * sx), inWidth - 1);
        const s = (iy * inWidth + ix) * c;
        const d = (oy * xs.size + ox) * c;
        for (let k = 0; k < c; k++) out[d + k] = src[s + k];
      }
    }
    return out;
  }
  const [filter, support] = kernel === 'bilinear' ? [bilinearFilter, 1] : [bicubicFilter, 2];
  const needH = outWidth !== inWidth;
  const needV = outHeight !== inHeight;
  // Rows of the source the vertical pass reads (all of them when there is no vertical pass).
  const cv = needV ? precomputeCoeffs(inHeight, outHeight, ys, filter, support) : null;
  const rowFirst = cv ? cv.xmin[0] : ys.start;
  const rowLast = cv ? cv.xmin[ys.size - 1] + cv.count[ys.size - 1] : ys.start + ys.size;
  const tmpRows = rowLast - rowFirst;

  // Horizontal pass: rows [rowFirst, rowLast) of src → tmp [tmpRows, xs.size, C], rounded to uint8.
  let tmp: Uint8Array;
  if (needH) {
    const ch = precomputeCoeffs(inWidth, outWidth, xs, filter, support);
    tmp = new Uint8Array(tmpRows * xs.size * c);
    const half = 1 << (PRECISION_BITS - 1);
    for (let r = 0; r < tmpRows; r++) {
      const srcRow = (rowFirst + r) * inWidth * c;
      const dstRow = r * xs.size * c;
      for (let o = 0; o < xs.size; o++) {
        const lo = ch.xmin[o];
        const n = ch.count[o];
        const kb = o * ch.ksize;
        for (let k = 0; k < c; k++) {
          let acc = half;
          let s = srcRow + lo * c + k;
          for (let t = 0; t < n; t++, s += c) acc += src[s] * ch.kk[kb + t];
          tmp[dstRow + o * c + k] = clip8(acc);
        }
      }
    }
  } else {
    // Same width: take the columns of the window directly.
    tmp = new Uint8Array(tmpRows * xs.size * c);
    for (let r = 0; r < tmpRows; r++) {
      const s = ((rowFirst + r) * inWidth + xs.start) * c;
      tmp.set(src.subarray(s, s + xs.size * c), r * xs.size * c);
    }
  }
  if (!cv) return tmp; // tmp holds exactly rows ys of the output

  // Vertical pass: tmp → out [ys.size, xs.size, C].
  const rowLen = xs.size * c;
  const out = new Uint8Array(ys.size * rowLen);
  const half = 1 << (PRECISION_BITS - 1);
  for (let o = 0; o < ys.size; o++) {
    const lo = cv.xmin[o] - rowFirst;
    const n = cv.count[o];
    const kb = o * cv.ksize;
    const dst = o * rowLen;
    for (let i = 0; i < rowLen; i++) {
      let acc = half;
      let s = lo * rowLen + i;
      for (let t = 0; t < n; t++, s += rowLen) acc += tmp[s] * cv.kk[kb + t];
      out[dst + i] = clip8(acc);
    }
  }
  return out;
}
