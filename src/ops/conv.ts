/**
 * 2-D convolution with torch.nn.functional.conv2d's options (stride, explicit symmetric padding, dilation, groups)
 * on NHWC tensors and HWIO kernels, differentiable in both arguments for every combination of options.
 *
 * tfjs 4.22 refuses conv2d gradients when dilation > 1, has no grouped convolution, and its wasm backend lacks the
 * filter gradient. The gradients here are built from forward convolutions only, so that on wasm every FLOP runs in
 * XNNPACK's convolution or matrix-multiply kernels:
 *  - input gradient: the transposed convolution, split by output phase (the sub-pixel decomposition of a strided
 *    transposed convolution: Shi et al. 2016, "Is the deconvolution layer the same as a convolutional layer?"),
 *    so that a stride-s convolution's input gradient costs the same FLOPs as its forward pass instead of s^2 times;
 *  - filter gradient: a forward convolution of the input with the output gradient as its filter (batch and
 *    channel roles swapped, forward stride used as dilation), or a matrix product for 1x1 kernels.
 * Reference semantics: PyTorch `torch/nn/functional.py` conv2d and `aten/src/ATen/native/Convolution.cpp`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { groupedConv2dFilterGrad, groupedConv2dPadded } from '../kernels/grouped_conv2d_wasm';

/** Options of {@link conv2d}; each field means what it means in torch.nn.functional.conv2d. */
export interface Conv2dOpOptions {
  /** Stride in pixels, one value or [strideH, strideW]. Default 1. */
  stride?: number | [number, number];
  /**
   * Zero padding: a number or [padH, padW] pads that many pixels on both sides (torch's explicit symmetric
   * padding); `'same'` is tfjs/TensorFlow SAME (extra pixel at the bottom/right); `'valid'` is no padding.
   * Default 0.
   */
  padding?: number | [number, number] | 'same' | 'valid';
  /** Dilation of the kernel taps, one value or [dilationH, dilationW]. Default 1. */
  dilation?: number | [number, number];
  /** Number of channel groups; Cin and Cout must both be divisible by it. Default 1. */
  groups?: number;
}

/**
 * Resolved geometry of one convolution: strides, dilations and explicit pads in pixels (top, bottom, left,
 * right). Pads are non-negative in a forward convolution.
 */
export interface ConvGeometry {
  strides: [number, number];
  dilations: [number, number];
  pads: [number, number, number, number];
}

function pair(v: number | [number, number], name: string): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2 || !p.every((e) => Number.isInteger(e) && e >= 0)) {
    throw new Error(`conv2d: ${name} must be a non-negative integer or a pair of them, got ${JSON.stringify(v)}`);
  }
  return p;
}

/**
 * Resolve torch-style options to a {@link ConvGeometry} for an input of height/width [H, W] and kernel [kh, kw].
 *
 * @throws Error naming the option when stride/dilation are not positive integers or the kernel does not fit.
 */
export function resolveConvGeometry(
  inHW: [number, number],
  kernelHW: [number, number],
  opts: Conv2dOpOptions,
): ConvGeometry {
  const strides = pair(opts.stride ?? 1, 'stride');
  const dilations = pair(opts.dilation ?? 1, 'dilation');
  if (strides[0] < 1 || strides[1] < 1) throw new Error(`conv2d: stride must be >= 1, got [${strides}]`);
  if (dilations[0] < 1 || dilations[1] < 1) throw new Error(`conv2d: dilation must be >= 1, got [${dilations}]`);
  const padding = opts.padding ?? 0;
  let pads: [number, number, number, number];
  if (padding === 'valid') pads = [0, 0, 0, 0];
  else if (padding === 'same') {
    // TensorFlow SAME: out = ceil(in / stride), the odd pixel of padding goes to the bottom/right.
    const p = [0, 1].map((i) => {
      const eff = dilations[i] * (kernelHW[i] - 1) + 1;
      const out = Math.ceil(inHW[i] / strides[i]);
      const total = Math.max(0, (out - 1) * strides[i] + eff - inHW[i]);
      return [Math.floor(total / 2), total - Math.floor(total / 2)];
    });
    pads = [p[0][0], p[0][1], p[1][0], p[1][1]];
  } else {
    const [ph, pw] = pair(padding, 'padding');
    pads = [ph, ph, pw, pw];
  }
  for (const i of [0, 1]) {
    const eff = dilations[i] * (kernelHW[i] - 1) + 1;
    if (inHW[i] + pads[2 * i] + pads[2 * i + 1] < eff) {
      throw new Error(
        `conv2d: padded input ${['height', 'width'][i]} ${inHW[i] + pads[2 * i] + pads[2 * i + 1]} is smaller than ` +
          `the dilated kernel extent ${eff}`,
      );
    }
  }
  return { strides, dilations, pads };
}

/** Pad (positive amounts) or crop (negative amounts) H and W of an NHWC tensor. */
function padOrCrop(x: tf.Tensor4D, top: number, bottom: number, left: number, right: number): tf.Tensor4D {
  let y = x;
  const [n, h, w, c] = x.shape;
  const ct = Math.max(0, -top);
  const cb = Math.max(0, -bottom);
  const cl = Math.max(0, -left);
  const cr = Math.max(0, -right);
  if (ct || cb || cl || cr) y = tf.slice(y, [0, ct, cl, 0], [n, h - ct - cb, w - cl - cr, c]);
  const pt = Math.max(0, top);
  const pb = Math.max(0, bottom);
  const pl = Math.max(0, left);
  const pr = Math.max(0, right);
  if (pt || pb || pl || pr) y = tf.pad(y, [[0, 0], [pt, pb], [pl, pr], [0, 0]]);
  return y;
}

/**
 * Forward dense convolution through the backend's `Conv2D` kernel (XNNPACK on wasm), with explicit pads and any
 * combination of stride and dilation (the tfjs op refuses stride > 1 together with dilation > 1; the kernels
 * do not).
 *
 * @param x [N, H, W, Cin] float32. @param w [kh, kw, Cin, Cout] float32 (HWIO).
 * @returns [N, Ho, Wo, Cout] float32, new tensor owned by the caller. Not recorded for gradients when
 *   stride and dilation are both > 1 (use {@link conv2d}).
 */
export function conv2dForward(x: tf.Tensor4D, w: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
  const [t, b, l, r] = g.pads;
  const pad = [[0, 0], [t, b], [l, r], [0, 0]] as tf.backend_util.ExplicitPadding;
  if (t === 0 && b === 0 && l === 0 && r === 0) {
    return tf.engine().runKernel('Conv2D', { x, filter: w }, {
      strides: g.strides, pad: 'valid', dataFormat: 'NHWC', dilations: g.dilations,
    } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  }
  return tf.engine().runKernel('Conv2D', { x, filter: w }, {
    strides: g.strides, pad, dataFormat: 'NHWC', dilations: g.dilations,
  } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

/**
 * Forward depthwise convolution through the backend's `DepthwiseConv2dNative` kernel (XNNPACK on wasm).
 *
 * @param x [N, H, W, C] float32. @param w [kh, kw, C, M] float32 (channel multiplier M).
 * @returns [N, Ho, Wo, C*M] float32, output channel c*M+m from input channel c; caller owns it.
 */
export function depthwiseForward(x: tf.Tensor4D, w: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
  return tf.tidy(() => {
    const [t, b, l, r] = g.pads;
    const xp = padOrCrop(x, t, b, l, r);
    let filter = w;
    let dilations = g.dilations;
    if ((g.strides[0] > 1 || g.strides[1] > 1) && (dilations[0] > 1 || dilations[1] > 1)) {
      // The depthwise kernels refuse stride > 1 with dilation > 1: use the zero-inserted kernel instead.
      filter = dilateKernel(w, dilations);
      dilations = [1, 1];
    }
    return tf.engine().runKernel('DepthwiseConv2dNative', { x: xp, filter }, {
      strides: g.strides, pad: 'valid', dataFormat: 'NHWC', dilations,
    } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  });
}

/**
 * Insert d-1 zeros between kernel taps: [kh, kw, I, O] -> [d0*(kh-1)+1, d1*(kw-1)+1, I, O]. A convolution with
 * dilation d equals an undilated one with this kernel.
 */
function dilateKernel(w: tf.Tensor4D, d: [number, number]): tf.Tensor4D {
  const [kh, kw, i, o] = w.shape;
  const p = tf.pad(tf.reshape(w, [kh, 1, kw, 1, i, o]), [[0, 0], [0, d[0] - 1], [0, 0], [0, d[1] - 1], [0, 0], [0, 0]]);
  return tf.slice(tf.reshape(p, [kh * d[0], kw * d[1], i, o]) as tf.Tensor4D, [0, 0, 0, 0], [d[0] * (kh - 1) + 1, d[1] * (kw - 1) + 1, i, o]);
}

/** One output phase of a strided transposed convolution along one axis. */
interface PhaseAxis {
  /** Phase r: the input rows s*q + r, q in [0, count). */
  r: number;
  count: number;
  /** Kernel taps used by this phase, already flipped (largest offset first). */
  taps: number[];
  /** Dilation of the taps within the phase. */
  dilation: number;
  /** Pad (or crop if negative) of dy before the phase's stride-1 correlation. */
  padBefore: number;
  padAfter: number;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * Split the input gradient along one axis into `s` phases. For forward y[o] = sum_k x[o*s + k*d - p] w[k],
 * dx[s*q + r] = sum over taps k with (k*d - p - r) divisible by s of dy[q - (k*d - p - r)/s] w[k]: a stride-1
 * correlation of dy with the phase's flipped taps, whose offsets are spaced by d / gcd(d, s).
 */
function phasesAlongAxis(k: number, s: number, d: number, p: number, inSize: number, outSize: number): PhaseAxis[] {
  const phases: PhaseAxis[] = [];
  for (let r = 0; r < s; r++) {
    const count = Math.ceil((inSize - r) / s);
    if (count <= 0) continue;
    const taps: number[] = [];
    for (let kk = 0; kk < k; kk++) if ((((kk * d - p - r) % s) + s) % s === 0) taps.push(kk);
    taps.reverse();
    const dilation = taps.length > 1 ? d / gcd(d, s) : 1;
    const mLast = taps.length ? (taps[0] * d - p - r) / s : 0;
    const padBefore = mLast;
    const padAfter = count + (taps.length - 1) * dilation - mLast - outSize;
    phases.push({ r, count, taps, dilation, padBefore, padAfter });
  }
  return phases;
}

/**
 * Gradient of a dense (`depthwise=false`) or depthwise (`depthwise=true`) convolution with respect to its input,
 * as forward convolutions of dy (one per output phase when strided).
 *
 * @param dy [N, Ho, Wo, Cout] float32 (dense) or [N, Ho, Wo, C*M] (depthwise).
 * @param w [kh, kw, Cin/groups, Cout] (dense, HWIO) or [kh, kw, C, M] (depthwise).
 * @param xShape [N, H, W, Cin] of the forward input.
 * @param groups channel groups of a dense (`depthwise=false`) convolution: each phase is then a grouped
 *   convolution of dy with the per-group transposed taps.
 * @returns [N, H, W, Cin] float32, new tensor owned by the caller.
 */
export function convBackpropInput(
  dy: tf.Tensor4D,
  w: tf.Tensor4D,
  xShape: [number, number, number, number],
  g: ConvGeometry,
  depthwise = false,
  groups = 1,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, wd, cin] = xShape;
    const [kh, kw] = w.shape;
    const [sh, sw] = g.strides;
    const phY = phasesAlongAxis(kh, sh, g.dilations[0], g.pads[0], h, dy.shape[1]);
    const phX = phasesAlongAxis(kw, sw, g.dilations[1], g.pads[2], wd, dy.shape[2]);
    const mult = depthwise ? w.shape[3] : 1;
    const phaseOut = (py: PhaseAxis, px: PhaseAxis): tf.Tensor4D => {
      const sub = selectTaps(w, py.taps, px.taps); // [Jy, Jx, Cin, Cout] or [Jy, Jx, C, M]
      const geom: ConvGeometry = { strides: [1, 1], dilations: [py.dilation, px.dilation], pads: [0, 0, 0, 0] };
      if (!depthwise && groups > 1) {
        // Group g of dx: dy's channels g*Cog..(g+1)*Cog-1 with taps w[., ., ci, g*Cog+co] transposed to [co, ci].
        const [jy, jx, cinG, cout] = sub.shape;
        const wt = tf.transpose(tf.reshape(sub, [jy * jx, cinG, groups, cout / groups]), [0, 3, 2, 1]);
        const wT = tf.reshape(wt, [jy, jx, cout / groups, cin]) as tf.Tensor4D; // [Jy, Jx, Cog, G*Cg]
        const pads: [number, number, number, number] = [py.padBefore, py.padAfter, px.padBefore, px.padAfter];
        if (Math.min(...pads) >= 0) return groupedConv2dPadded(dy, wT, geom, groups, pads); // padded in the kernel
        return groupedConv2dPadded(padOrCrop(dy, ...pads), wT, geom, groups); // [N, Qy, Qx, Cin]
      }
      const dyp = padOrCrop(dy, py.padBefore, py.padAfter, px.padBefore, px.padAfter);
      if (!depthwise) {
        return conv2dForward(dyp, tf.transpose(sub, [0, 1, 3, 2]), geom); // [N, Qy, Qx, Cin]
      }
      // dx[c] = sum_m corr(dy[c*M + m], w[., ., c, m]): a depthwise convolution over the C*M channels, then a sum.
      const [jy, jx] = sub.shape;
      const z = depthwiseForward(dyp, tf.reshape(sub, [jy, jx, cin * mult, 1]), geom);
      if (mult === 1) return z;
      return tf.sum(tf.reshape(z, [n, py.count, px.count, cin, mult]), 4) as tf.Tensor4D;
    };
    if (sh === 1 && sw === 1) {
      if (phY[0].taps.length === 0 || phX[0].taps.length === 0) return tf.zeros([n, h, wd, cin]) as tf.Tensor4D;
      return phaseOut(phY[0], phX[0]);
    }
    const qy = Math.ceil(h / sh);
    const qx = Math.ceil(wd / sw);
    // Interleave: phase (ry, rx) [N, Qy_r, Qx_r, Cin] -> [N, Qy_r, 1, Qx_r, 1, Cin], zero-padded to
    // [N, qy, sh, qx, sw, Cin] with its values at (ry, rx), so that the phases sum to dx laid out as [N, qy*sh, qx*sw, Cin].
    // (Pads and adds are fast wasm kernels; depthToSpace, 6-D transposes and gathers are scalar loops there.)
    const parts: tf.Tensor[] = [];
    for (const py of phY) {
      for (const px of phX) {
        if (py.taps.length === 0 || px.taps.length === 0) continue;
        const o = phaseOut(py, px);
        const o6 = tf.reshape(o, [n, py.count, 1, px.count, 1, cin]);
        parts.push(tf.pad(o6, [[0, 0], [0, qy - py.count], [py.r, sh - 1 - py.r], [0, qx - px.count], [px.r, sw - 1 - px.r], [0, 0]]));
      }
    }
    if (parts.length === 0) return tf.zeros([n, h, wd, cin]) as tf.Tensor4D;
    const full = tf.reshape(parts.length === 1 ? parts[0] : tf.addN(parts), [n, qy * sh, qx * sw, cin]) as tf.Tensor4D;
    return padOrCrop(full, 0, h - qy * sh, 0, wd - qx * sw);
  });
}

/**
 * The kernel taps at rows `rows` and columns `cols` (in that order): [rows.length, cols.length, I, O].
 * Built from contiguous slices and one concat (wasm's gather and reverse are scalar loops).
 */
function selectTaps(w: tf.Tensor4D, rows: number[], cols: number[]): tf.Tensor4D {
  const [kh, kw, i, o] = w.shape;
  const identity = rows.length === kh && cols.length === kw && rows.every((r, j) => r === j) && cols.every((c, j) => c === j);
  if (identity) return w;
  const w2 = tf.reshape(w, [kh * kw, i * o]);
  const taps: tf.Tensor[] = [];
  for (const r of rows) for (const c of cols) taps.push(tf.slice(w2, [r * kw + c, 0], [1, i * o]));
  const sel = taps.length === 1 ? taps[0] : tf.concat(taps, 0);
  return tf.reshape(sel, [rows.length, cols.length, i, o]);
}

/**
 * Gradient of a dense convolution with respect to its filter.
 *
 * 1x1 kernels without padding: a matrix product of the (strided) input and dy. Otherwise, from 4 images on: a
 * forward convolution of the transposed input [Cin, H, W, N] with dy as the filter [Ho, Wo, N, Cout], with stride =
 * forward dilation and dilation = forward stride, giving [Cin, kh, kw, Cout]. Below 4 images (detection and
 * segmentation training) that convolution has N input channels per filter tap, which XNNPACK's kernels run far
 * below their speed (a RetinaNet P3 head convolution at batch 1: 2.8x its forward time), so each tap is one matrix
 * product instead ({@link perTapFilterGrad}).
 *
 * @param x [N, H, W, Cin] float32. @param dy [N, Ho, Wo, Cout] float32.
 * @param filterShape [kh, kw, Cin, Cout].
 * @returns [kh, kw, Cin, Cout] float32, new tensor owned by the caller.
 */
export function convBackpropFilter(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  g: ConvGeometry,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, cin, cout] = filterShape;
    const [n, ho, wo] = dy.shape;
    const [sh, sw] = g.strides;
    const [dh, dw] = g.dilations;
    if (kh === 1 && kw === 1 && g.pads.every((p) => p === 0)) {
      let xs: tf.Tensor4D = x;
      if (sh > 1 || sw > 1) {
        // x[:, ::sh, ::sw, :] as a 1x1 max-pool (XNNPACK; wasm's strided slice is a scalar loop).
        xs = tf.maxPool(x, [1, 1], [sh, sw], 'valid');
      }
      if (xs.shape[1] !== ho || xs.shape[2] !== wo) {
        xs = tf.slice(xs, [0, 0, 0, 0], [n, ho, wo, cin]);
      }
      const m = n * ho * wo;
      const x2 = tf.reshape(xs, [m, cin]);
      const dy2 = tf.reshape(dy, [m, cout]);
      // XNNPACK's matmul is fast with a row-major left operand: transpose the narrower operand explicitly.
      const dw2 = cin <= cout ? tf.matMul(tf.transpose(x2), dy2) : tf.transpose(tf.matMul(tf.transpose(dy2), x2));
      return tf.reshape(dw2, filterShape);
    }
    const needH = (kh - 1) * dh + (ho - 1) * sh + 1;
    const needW = (kw - 1) * dw + (wo - 1) * sw + 1;
    if (n < PER_TAP_MAX_BATCH && cin >= 16) {
      const xp = padOrCrop(x, g.pads[0], needH - x.shape[1] - g.pads[0], g.pads[2], needW - x.shape[2] - g.pads[2]);
      return perTapFilterGrad(xp, dy, filterShape, g);
    }
    const xt = tf.transpose(x, [3, 1, 2, 0]) as tf.Tensor4D; // [Cin, H, W, N]
    const xp = padOrCrop(xt, g.pads[0], needH - x.shape[1] - g.pads[0], g.pads[2], needW - x.shape[2] - g.pads[2]);
    const f = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [Ho, Wo, N, Cout]
    const o = conv2dForward(xp, f, { strides: [dh, dw], dilations: [sh, sw], pads: [0, 0, 0, 0] }); // [Cin, kh, kw, Cout]
    return tf.transpose(o, [1, 2, 0, 3]) as tf.Tensor4D;
  });
}

/** Batches below this size take {@link perTapFilterGrad} for kernels larger than 1x1 (see convBackpropFilter). */
const PER_TAP_MAX_BATCH = 4;

/**
 * Filter gradient as one matrix product per kernel tap: dW[ky, kx] = X(ky, kx)^T dY, where X(ky, kx) [N*Ho*Wo, Cin]
 * holds the input pixels that tap reads, xPadded[n, oy*sh + ky*dh, ox*sw + kx*dw, :]. Each product is taken as
 * dY^T X(ky, kx) ([Cout, Cin], dY^T made once), since XNNPACK's matMul is fast with a row-major left operand, and the
 * taps' [Cout, Cin] blocks are transposed together at the end. Tap by tap, so at most one X(ky, kx) is alive.
 *
 * @param xPadded [N, Hp, Wp, Cin] float32, the input with the forward padding applied and cropped to what the taps
 *   read (Hp = (kh-1)*dh + (Ho-1)*sh + 1, Wp likewise). @param dy [N, Ho, Wo, Cout] float32.
 * @param filterShape [kh, kw, Cin, Cout]. @param g the forward strides and dilations.
 * @returns [kh, kw, Cin, Cout] float32, new tensor owned by the caller.
 */
function perTapFilterGrad(
  xPadded: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  g: ConvGeometry,
): tf.Tensor4D {
  const [kh, kw, cin, cout] = filterShape;
  const [n, ho, wo] = dy.shape;
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilations;
  const m = n * ho * wo;
  const dyT = tf.tidy(() => tf.transpose(tf.reshape(dy, [m, cout]))); // [Cout, M]
  const taps: tf.Tensor[] = [];
  try {
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        taps.push(tf.tidy(() => {
          let xs = tf.slice(xPadded, [0, ky * dh, kx * dw, 0], [n, (ho - 1) * sh + 1, (wo - 1) * sw + 1, cin]) as tf.Tensor4D;
          // x[:, ::sh, ::sw, :] as a 1x1 max-pool (XNNPACK; wasm's strided slice is a scalar loop).
          if (sh > 1 || sw > 1) xs = tf.maxPool(xs, [1, 1], [sh, sw], 'valid');
          return tf.matMul(dyT, tf.reshape(xs, [m, cin])); // [Cout, Cin]
        }));
      }
    }
    return tf.tidy(() => tf.reshape(tf.transpose(tf.stack(taps), [0, 2, 1]), filterShape) as tf.Tensor4D);
  } finally {
    tf.dispose([dyT, ...taps]);
  }
}

/**
 * Gradient of a depthwise convolution with respect to its filter: a depthwise convolution of the input with dy
 * as the filter, batch folded into channels ([1, H, W, N*C] with filter [Ho, Wo, N*C, M]), then a sum over N.
 *
 * @param x [N, H, W, C] float32. @param dy [N, Ho, Wo, C*M] float32. @param filterShape [kh, kw, C, M].
 * @returns [kh, kw, C, M] float32, new tensor owned by the caller.
 */
export function depthwiseBackpropFilter(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  g: ConvGeometry,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, c, m] = filterShape;
    const [n, h, wd] = x.shape;
    const [, ho, wo] = dy.shape;
    const [sh, sw] = g.strides;
    const [dh, dw] = g.dilations;
    const needH = (kh - 1) * dh + (ho - 1) * sh + 1;
    const needW = (kw - 1) * dw + (wo - 1) * sw + 1;
    const xt = tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [1, h, wd, n * c]) as tf.Tensor4D; // [1, H, W, N*C]
    const xp = padOrCrop(xt, g.pads[0], needH - h - g.pads[0], g.pads[2], needW - wd - g.pads[2]);
    // [Ho, Wo, N, C*M] has the memory order of [Ho, Wo, N*C, M]; a 4-D transpose (5-D ones are scalar loops on wasm).
    const f = tf.reshape(tf.transpose(dy, [1, 2, 0, 3]), [ho, wo, n * c, m]) as tf.Tensor4D;
    const o = depthwiseForward(xp, f, { strides: [dh, dw], dilations: [sh, sw], pads: [0, 0, 0, 0] }); // [1, kh, kw, N*C*M]
    if (n === 1) return tf.reshape(o, filterShape);
    return tf.sum(tf.reshape(o, [kh, kw, n, c, m]), 2) as tf.Tensor4D;
  });
}

/** Dense convolution with explicit geometry, differentiable in x and w for any stride/dilation/padding. */
function denseConv(x: tf.Tensor4D, w: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const x4 = args[0] as tf.Tensor4D;
    const w4 = args[1] as tf.Tensor4D;
    const save = args[2] as tf.GradSaveFunc;
    save([x4, w4]);
    return {
      value: conv2dForward(x4, w4, g),
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
        return [
          convBackpropInput(dy, ws, xs.shape, g, false),
          convBackpropFilter(xs, dy, ws.shape, g),
        ];
      },
    };
  });
  return f(x, w) as tf.Tensor4D;
}

/** Depthwise convolution with explicit geometry, differentiable in x and w for any stride/dilation/padding. */
function depthwiseConv(x: tf.Tensor4D, w: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const x4 = args[0] as tf.Tensor4D;
    const w4 = args[1] as tf.Tensor4D;
    const save = args[2] as tf.GradSaveFunc;
    save([x4, w4]);
    return {
      value: depthwiseForward(x4, w4, g),
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
        return [
          convBackpropInput(dy, ws, xs.shape, g, true),
          depthwiseBackpropFilter(xs, dy, ws.shape, g),
        ];
      },
    };
  });
  return f(x, w) as tf.Tensor4D;
}

/**
 * Grouped convolution (1 < groups < Cin) with explicit geometry, differentiable in x and w: forward and filter
 * gradient in the SIMD kernels of `src/kernels/grouped_conv2d_wasm.ts`, input gradient as grouped forward
 * convolutions of dy (one per output phase, as for dense convolutions).
 */
function groupedConv(x: tf.Tensor4D, w: tf.Tensor4D, g: ConvGeometry, groups: number): tf.Tensor4D {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const x4 = args[0] as tf.Tensor4D;
    const w4 = args[1] as tf.Tensor4D;
    const save = args[2] as tf.GradSaveFunc;
    save([x4, w4]);
    const [t, b, l, r] = g.pads;
    const value = tf.tidy(() =>
      Math.min(t, b, l, r) >= 0
        ? groupedConv2dPadded(x4, w4, g, groups, [t, b, l, r]) // padded in the kernel
        : groupedConv2dPadded(padOrCrop(x4, t, b, l, r), w4, g, groups),
    );
    return {
      value,
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
        return [
          convBackpropInput(dy, ws, xs.shape, g, false, groups),
          tf.tidy(() =>
            Math.min(t, b, l, r) >= 0
              ? groupedConv2dFilterGrad(xs, dy, ws.shape, g, groups, [t, b, l, r]) // padded in the kernel
              : groupedConv2dFilterGrad(padOrCrop(xs, t, b, l, r), dy, ws.shape, g, groups),
          ),
        ];
      },
    };
  });
  return f(x, w) as tf.Tensor4D;
}

/**
 * 2-D convolution, torch.nn.functional.conv2d semantics on NHWC tensors: stride, explicit symmetric padding (or
 * TensorFlow `'same'`/`'valid'`), dilation and groups. Gradients with respect to `x` and `w` are exact for every
 * combination (stride together with dilation included), on every backend; on wasm all arithmetic runs in
 * XNNPACK convolution / matmul kernels.
 *
 * Groups: input channel block g (Cin/groups channels) is convolved with w[:, :, :, g*Cout/groups : (g+1)*Cout/groups]
 * to give output channel block g, as torch (whose OIHW weight [Cout, Cin/groups, kh, kw] maps to this HWIO
 * layout by a transpose [2, 3, 1, 0]).
 *
 * @param x [N, H, W, Cin] float32, NHWC. Not disposed.
 * @param w [kh, kw, Cin/groups, Cout] float32, HWIO. Not disposed.
 * @param opts stride, padding, dilation, groups (see {@link Conv2dOpOptions}).
 * @returns [N, Ho, Wo, Cout] float32 with Ho = floor((H + padTop + padBottom - dilationH*(kh-1) - 1)/strideH) + 1
 *   (and likewise Wo); new tensor owned by the caller.
 * @throws Error when ranks are not 4, channels do not match `w` and `groups`, or options are invalid.
 *
 * Reference: PyTorch `torch.nn.functional.conv2d` (`aten/src/ATen/native/Convolution.cpp`).
 */
export function conv2d(x: tf.Tensor4D, w: tf.Tensor4D, opts: Conv2dOpOptions = {}): tf.Tensor4D {
  if (x.rank !== 4) throw new Error(`conv2d: x must be NHWC [N, H, W, Cin], got shape [${x.shape}]`);
  if (w.rank !== 4) throw new Error(`conv2d: w must be HWIO [kh, kw, Cin/groups, Cout], got shape [${w.shape}]`);
  const groups = opts.groups ?? 1;
  const [n, h, wd, cin] = x.shape;
  const [kh, kw, cinG, cout] = w.shape;
  if (!Number.isInteger(groups) || groups < 1) throw new Error(`conv2d: groups must be a positive integer, got ${groups}`);
  if (cin % groups !== 0 || cout % groups !== 0) {
    throw new Error(`conv2d: Cin=${cin} and Cout=${cout} must both be divisible by groups=${groups}`);
  }
  if (cinG * groups !== cin) {
    throw new Error(
      `conv2d: w [${w.shape}] expects Cin/groups=${cinG} input channels per group, but x [${x.shape}] with ` +
        `groups=${groups} has ${cin / groups}`,
    );
  }
  const g = resolveConvGeometry([h, wd], [kh, kw], opts);
  return tf.tidy(() => {
    if (groups === 1) return denseConv(x, w, g);
    const coutG = cout / groups;
    if (cinG === 1) {
      // Depthwise: output channel c*M + m reads input channel c, the same order as torch's groups == Cin.
      return depthwiseConv(x, tf.reshape(w, [kh, kw, cin, coutG]), g);
    }
    if (tf.getBackend() === 'webgpu') {
      // The grouped SIMD kernels run on the wasm heap; on a GPU, one dense convolution per group keeps the data on
      // the device (tfjs' conv2d has no groups argument).
      const xs = tf.split(x, groups, 3) as tf.Tensor4D[];
      const ws = tf.split(w, groups, 3) as tf.Tensor4D[];
      return tf.concat(xs.map((xi, i) => denseConv(xi, ws[i], g)), 3) as tf.Tensor4D;
    }
    return groupedConv(x, w, g, groups);
  });
}
