/**
 * `RoIAlign` and `RoIAlignGrad`: kernels of this project (tfjs has no RoIAlign, and `image.cropAndResize` has no
 * gradient), for any backend whose tensors can be read and written as typed arrays (wasm: zero-copy views of the
 * heap; cpu and others: `readSync` and `makeTensorInfo`).
 *
 * The arithmetic is torchvision's CPU kernel, statement for statement (`csrc/ops/cpu/roi_align_kernel.cpp`):
 * per RoI, `offset = aligned ? 0.5 : 0`, `start = box * spatialScale - offset`, size `end - start` (at least 1
 * when not aligned), bins `size / pooled`, a sampling grid of `samplingRatio` points per bin and axis (adaptive
 * `ceil(size / pooled)` when `samplingRatio <= 0`), sample `start + p * bin + (i + 0.5) * bin / grid`; each sample
 * is a bilinear interpolation that is 0 outside [-1, H] x [-1, W], clamps to [0, H - 1] x [0, W - 1] otherwise;
 * a bin is the mean of its samples. Sample coordinates are computed in float32 as torch does for float32
 * tensors, so the integer cells chosen are the same; sums are accumulated in float64.
 *
 * Layout differs from torchvision: features are NHWC (channels innermost, so each tap reads a contiguous row of
 * C values) and the output is [R, PH, PW, C].
 *
 * The gradient flows to the features only (scatter of each output gradient, times the bilinear weights / count,
 * to the four taps: torchvision's `roi_align_backward`); boxes and box indices get zero gradients, as torchvision
 * (which returns none for `rois`; Faster R-CNN detaches proposals anyway).
 *
 * Reference: He et al. 2017, "Mask R-CNN" (RoIAlign); torchvision `ops/roi_align.py`,
 * `csrc/ops/cpu/roi_align_kernel.cpp`.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Attributes of both kernels. */
export interface RoIAlignAttrs {
  /** Output bins [PH, PW]. */
  pooledHeight: number;
  pooledWidth: number;
  /** Feature-map pixels per input pixel (1 / stride). */
  spatialScale: number;
  /** Sampling points per bin and axis; <= 0 is adaptive (ceil(roiSize / pooled)). */
  samplingRatio: number;
  /** Half-pixel alignment (torchvision `aligned=True`): pixel centres are at +0.5. */
  aligned: boolean;
  /** [N, H, W, C] of the features (the gradient kernel's output shape). */
  featureShape: [number, number, number, number];
}

/** What this file uses of a backend: the wasm backend's heap views, or the generic read and write. */
interface TypedArrayBackend {
  typedArrayFromHeap?(t: tf.TensorInfo): Float32Array | Int32Array;
  makeOutput?(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  readSync(dataId: tf.TensorInfo['dataId']): unknown;
  makeTensorInfo?(shape: number[], dtype: tf.DataType, values?: Float32Array): tf.TensorInfo;
}

function readArray(b: TypedArrayBackend, t: tf.TensorInfo): Float32Array | Int32Array {
  if (b.typedArrayFromHeap) return b.typedArrayFromHeap(t);
  return b.readSync(t.dataId) as Float32Array | Int32Array;
}

/** A zero-filled float32 output and its writable view. */
function makeFloatOutput(b: TypedArrayBackend, shape: number[]): { info: tf.TensorInfo; view: Float32Array; commit: () => tf.TensorInfo } {
  const size = shape.reduce((a, c) => a * c, 1);
  if (b.typedArrayFromHeap && b.makeOutput) {
    const info = b.makeOutput(shape, 'float32');
    const view = b.typedArrayFromHeap(info) as Float32Array;
    view.fill(0);
    return { info, view, commit: () => info };
  }
  if (!b.makeTensorInfo) throw new Error('RoIAlign: this backend can neither expose nor create typed-array tensors');
  const view = new Float32Array(size);
  const make = b.makeTensorInfo.bind(b);
  return { info: undefined as unknown as tf.TensorInfo, view, commit: () => make(shape, 'float32', view) };
}

/**
 * Sampling taps of one RoI: for each bin (row-major PH x PW) and each of its samples, four feature-pixel indices
 * (y * W + x) and their bilinear weights already divided by the bin's sample count. Out-of-range samples have
 * weight 0 (and index 0).
 */
interface RoITaps {
  /** Samples per bin (grid h * grid w), the same for every bin of the RoI. */
  samplesPerBin: number;
  /** [PH * PW * samplesPerBin * 4] pixel indices y * W + x. */
  index: Int32Array;
  /** [PH * PW * samplesPerBin * 4] weights / count. */
  weight: Float64Array;
}

const f = Math.fround;

/** torchvision `pre_calc_for_bilinear_interpolate` for one RoI (box xyxy in input pixels). */
function roiTaps(x1: number, y1: number, x2: number, y2: number, height: number, width: number, a: RoIAlignAttrs): RoITaps {
  const { pooledHeight: ph, pooledWidth: pw, spatialScale, samplingRatio, aligned } = a;
  const offset = aligned ? 0.5 : 0;
  const startW = f(f(x1 * spatialScale) - offset);
  const startH = f(f(y1 * spatialScale) - offset);
  const endW = f(f(x2 * spatialScale) - offset);
  const endH = f(f(y2 * spatialScale) - offset);
  let roiW = f(endW - startW);
  let roiH = f(endH - startH);
  if (!aligned) {
    roiW = Math.max(roiW, 1);
    roiH = Math.max(roiH, 1);
  }
  const binH = f(roiH / ph);
  const binW = f(roiW / pw);
  const gridH = samplingRatio > 0 ? samplingRatio : Math.ceil(f(roiH / ph));
  const gridW = samplingRatio > 0 ? samplingRatio : Math.ceil(f(roiW / pw));
  const count = Math.max(gridH * gridW, 1);
  const spb = gridH * gridW;
  const index = new Int32Array(ph * pw * spb * 4);
  const weight = new Float64Array(ph * pw * spb * 4);
  let k = 0;
  for (let py = 0; py < ph; py++) {
    for (let px = 0; px < pw; px++) {
      for (let iy = 0; iy < gridH; iy++) {
        const yy = f(f(startH + f(py * binH)) + f(f(f(iy + 0.5) * binH) / gridH));
        for (let ix = 0; ix < gridW; ix++, k += 4) {
          const xx = f(f(startW + f(px * binW)) + f(f(f(ix + 0.5) * binW) / gridW));
          let y = yy;
          let x = xx;
          if (y < -1 || y > height || x < -1 || x > width) continue; // weights stay 0
          if (y <= 0) y = 0;
          if (x <= 0) x = 0;
          let yLow = Math.trunc(y);
          let xLow = Math.trunc(x);
          let yHigh: number;
          let xHigh: number;
          if (yLow >= height - 1) {
            yHigh = yLow = height - 1;
            y = yLow;
          } else yHigh = yLow + 1;
          if (xLow >= width - 1) {
            xHigh = xLow = width - 1;
            x = xLow;
          } else xHigh = xLow + 1;
          const ly = f(y - yLow);
          const lx = f(x - xLow);
          const hy = f(1 - ly);
          const hx = f(1 - lx);
          index[k] = yLow * width + xLow;
          index[k + 1] = yLow * width + xHigh;
          index[k + 2] = yHigh * width + xLow;
          index[k + 3] = yHigh * width + xHigh;
          weight[k] = f(hy * hx) / count;
          weight[k + 1] = f(hy * lx) / count;
          weight[k + 2] = f(ly * hx) / count;
          weight[k + 3] = f(ly * lx) / count;
        }
      }
    }
  }
  return { samplesPerBin: spb, index, weight };
}

function checkRois(boxes: Float32Array | Int32Array, boxIndices: Float32Array | Int32Array, n: number): void {
  for (let r = 0; r < boxIndices.length; r++) {
    const b = boxIndices[r];
    if (!(b >= 0 && b < n && Number.isInteger(b))) throw new Error(`RoIAlign: box ${r} has batch index ${b}, outside 0..${n - 1}`);
    for (let c = 0; c < 4; c++) {
      if (!Number.isFinite(boxes[4 * r + c])) throw new Error(`RoIAlign: box ${r} has a non-finite coordinate ${boxes[4 * r + c]}`);
    }
  }
}

/** The kernels' inputs (`features` for the forward, `dy` for the gradient). */
interface RoIInputs {
  features?: tf.TensorInfo;
  dy?: tf.TensorInfo;
  boxes: tf.TensorInfo;
  boxIndices: tf.TensorInfo;
}

/** Copies of the boxes and box indices, checked before any output is allocated (a throw then leaks nothing). */
function readRois(b: TypedArrayBackend, inputs: RoIInputs, n: number): { boxes: Float32Array; idx: Int32Array } {
  const boxes = Float32Array.from(readArray(b, inputs.boxes));
  const idx = Int32Array.from(readArray(b, inputs.boxIndices));
  checkRois(boxes, idx, n);
  return { boxes, idx };
}

/**
 * Forward kernel. Inputs `features` [N, H, W, C] float32, `boxes` [R, 4] float32 xyxy in input pixels,
 * `boxIndices` [R] int32 image of each box; attrs {@link RoIAlignAttrs}. Returns [R, PH, PW, C] float32.
 */
function roiAlignKernel(args: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): tf.TensorInfo {
  const { attrs, backend } = args;
  const inputs = args.inputs as unknown as RoIInputs & { features: tf.TensorInfo };
  const a = attrs as unknown as RoIAlignAttrs;
  const b = backend as TypedArrayBackend;
  const [n, h, w, c] = inputs.features.shape;
  const r = inputs.boxes.shape[0];
  const { boxes, idx } = readRois(b, inputs, n);
  // Allocating the output may grow the wasm heap, which detaches views taken before: read the features after.
  const out = makeFloatOutput(b, [r, a.pooledHeight, a.pooledWidth, c]);
  const feats = readArray(b, inputs.features);
  const bins = a.pooledHeight * a.pooledWidth;
  const y = out.view;
  const acc = new Float64Array(c);
  for (let i = 0; i < r; i++) {
    const t = roiTaps(boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3], h, w, a);
    const base = idx[i] * h * w;
    const taps = t.samplesPerBin * 4;
    for (let bin = 0; bin < bins; bin++) {
      acc.fill(0);
      for (let k = bin * taps; k < (bin + 1) * taps; k++) {
        const wt = t.weight[k];
        if (wt === 0) continue;
        const row = (base + t.index[k]) * c;
        for (let ch = 0; ch < c; ch++) acc[ch] += wt * feats[row + ch];
      }
      const o = (i * bins + bin) * c;
      for (let ch = 0; ch < c; ch++) y[o + ch] = acc[ch];
    }
  }
  return out.commit();
}

/**
 * Gradient kernel. Inputs `dy` [R, PH, PW, C] float32, `boxes`, `boxIndices` as the forward; attrs with
 * `featureShape`. Returns d features [N, H, W, C] float32.
 */
function roiAlignGradKernel(args: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): tf.TensorInfo {
  const { attrs, backend } = args;
  const inputs = args.inputs as unknown as RoIInputs & { dy: tf.TensorInfo };
  const a = attrs as unknown as RoIAlignAttrs;
  const b = backend as TypedArrayBackend;
  const [n, h, w, c] = a.featureShape;
  const r = inputs.boxes.shape[0];
  const { boxes, idx } = readRois(b, inputs, n);
  const out = makeFloatOutput(b, [n, h, w, c]);
  const dy = readArray(b, inputs.dy);
  const bins = a.pooledHeight * a.pooledWidth;
  const dx = out.view;
  for (let i = 0; i < r; i++) {
    const t = roiTaps(boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3], h, w, a);
    const base = idx[i] * h * w;
    const taps = t.samplesPerBin * 4;
    for (let bin = 0; bin < bins; bin++) {
      const o = (i * bins + bin) * c;
      for (let k = bin * taps; k < (bin + 1) * taps; k++) {
        const wt = t.weight[k];
        if (wt === 0) continue;
        const row = (base + t.index[k]) * c;
        for (let ch = 0; ch < c; ch++) dx[row + ch] += wt * dy[o + ch];
      }
    }
  }
  return out.commit();
}

const registeredOn = new Set<string>();
let gradientRegistered = false;

/**
 * Register `RoIAlign`, `RoIAlignGrad` and the gradient of `RoIAlign` for the backend `backendName`, once.
 * The kernels are new names, so registering them changes no existing behaviour.
 */
export function registerRoIAlignKernels(backendName: string): void {
  if (!gradientRegistered) {
    tf.registerGradient({
      kernelName: 'RoIAlign',
      inputsToSave: ['boxes', 'boxIndices'],
      gradFunc: (dy, saved, attrs) => {
        const [boxes, boxIndices] = saved;
        return {
          features: () => tf.engine().runKernel('RoIAlignGrad', { dy: dy as tf.Tensor, boxes, boxIndices }, attrs as tf.NamedAttrMap) as tf.Tensor,
          boxes: () => tf.zerosLike(boxes),
          boxIndices: () => tf.zerosLike(boxIndices),
        };
      },
    });
    gradientRegistered = true;
  }
  if (registeredOn.has(backendName)) return;
  for (const [kernelName, kernelFunc] of [
    ['RoIAlign', roiAlignKernel],
    ['RoIAlignGrad', roiAlignGradKernel],
  ] as const) {
    if (tf.getKernel(kernelName, backendName) == null) tf.registerKernel({ kernelName, backendName, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  }
  registeredOn.add(backendName);
}
