/**
 * `ResizeBilinearGrad` for the wasm and cpu backends that honours `halfPixelCenters`.
 *
 * tfjs 4.22's own gradient kernels (wasm and cpu) read only `alignCorners`: with `halfPixelCenters=true` (torch's
 * `F.interpolate(mode='bilinear', align_corners=False)`, which every segmentation decoder here uses) they scatter
 * each output gradient to the taps of the legacy mapping `src = dst * in / out` instead of the forward's
 * `src = (dst + 0.5) * in / out - 0.5`. The gradient's total is right (each output's weights sum to 1), but it lands
 * on the wrong pixels, shifted by up to half an input pixel: measured against torch on Panoptic FPN's semantic
 * head, the gradients of the first convolutions were off by ~30% of their scale.
 *
 * This kernel repeats the forward kernel's source coordinates (tfjs `ResizeBilinear`: `floor` clamped at 0, `ceil`
 * clamped at size - 1, fraction from the unclamped floor) and scatters `dy` times the same four weights, channel
 * innermost (NHWC).
 *
 * Reference: tfjs-backend-cpu `kernels/ResizeBilinear.ts` (forward mapping); torch
 * `aten/src/ATen/native/UpSampleBilinear2d.cpp` (`upsample_bilinear2d_backward`).
 */
import * as tf from '@tensorflow/tfjs-core';

/** What this file uses of a backend: the wasm backend's heap views, or the cpu backend's read and write. */
interface BackendLike {
  makeOutput?(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap?(t: tf.TensorInfo): Float32Array;
  readSync(dataId: tf.TensorInfo['dataId']): unknown;
  makeTensorInfo?(shape: number[], dtype: tf.DataType, values?: Float32Array): tf.TensorInfo;
}

/** Source taps of one output coordinate: the two input indices and the weight of the second. */
function taps(out: number, inSize: number, outSize: number, alignCorners: boolean, halfPixelCenters: boolean): { lo: number; hi: number; frac: number } {
  const effIn = alignCorners && outSize > 1 ? inSize - 1 : inSize;
  const effOut = alignCorners && outSize > 1 ? outSize - 1 : outSize;
  const ratio = effIn / effOut;
  const src = halfPixelCenters ? ratio * (out + 0.5) - 0.5 : ratio * out;
  const lo = Math.max(0, Math.floor(src));
  return { lo, hi: Math.min(inSize - 1, Math.ceil(src)), frac: src - lo };
}

/** Scatter `dy` [N, Ho, Wo, C] into `dx` [N, H, W, C] (zero-filled) with the forward's bilinear weights. */
function scatter(dy: ArrayLike<number>, dx: Float32Array, inShape: number[], outShape: number[], alignCorners: boolean, halfPixelCenters: boolean): void {
  const [n, h, w, c] = inShape;
  const [, ho, wo] = outShape;
  const cols = Array.from({ length: wo }, (_, x) => taps(x, w, wo, alignCorners, halfPixelCenters));
  let o = 0;
  for (let bi = 0; bi < n; bi++) {
    for (let y = 0; y < ho; y++) {
      const r = taps(y, h, ho, alignCorners, halfPixelCenters);
      const top = (bi * h + r.lo) * w;
      const bottom = (bi * h + r.hi) * w;
      for (let x = 0; x < wo; x++, o += c) {
        const q = cols[x];
        const wTl = (1 - r.frac) * (1 - q.frac);
        const wTr = (1 - r.frac) * q.frac;
        const wBl = r.frac * (1 - q.frac);
        const wBr = r.frac * q.frac;
        const tl = (top + q.lo) * c;
        const tr = (top + q.hi) * c;
        const bl = (bottom + q.lo) * c;
        const br = (bottom + q.hi) * c;
        for (let ch = 0; ch < c; ch++) {
          const g = dy[o + ch];
          dx[tl + ch] += g * wTl;
          dx[tr + ch] += g * wTr;
          dx[bl + ch] += g * wBl;
          dx[br + ch] += g * wBr;
        }
      }
    }
  }
}

/**
 * Inputs `dy` [N, Ho, Wo, C] float32 and `images` [N, H, W, C] (the forward input; only its shape is read); attrs
 * `alignCorners`, `halfPixelCenters` as for tf.image.resizeBilinear. Returns d images [N, H, W, C] float32.
 */
const kernelFunc: tf.KernelFunc = ({ inputs, attrs, backend }) => {
  const dyInfo = inputs.dy as tf.TensorInfo;
  const images = inputs.images as tf.TensorInfo;
  const { alignCorners, halfPixelCenters } = attrs as unknown as { alignCorners: boolean; halfPixelCenters: boolean };
  const b = backend as unknown as BackendLike;
  if (b.makeOutput && b.typedArrayFromHeap) {
    const dxInfo = b.makeOutput(images.shape, 'float32');
    const dx = b.typedArrayFromHeap(dxInfo);
    dx.fill(0);
    scatter(b.typedArrayFromHeap(dyInfo), dx, images.shape, dyInfo.shape, alignCorners, halfPixelCenters);
    return dxInfo;
  }
  const dx = new Float32Array(images.shape.reduce((a, v) => a * v, 1));
  scatter(b.readSync(dyInfo.dataId) as Float32Array, dx, images.shape, dyInfo.shape, alignCorners, halfPixelCenters);
  return b.makeTensorInfo!(images.shape, 'float32', dx);
};

/** The wasm registration (zero-copy heap views). */
export const resizeBilinearGradConfig: tf.KernelConfig = { kernelName: 'ResizeBilinearGrad', backendName: 'wasm', kernelFunc };

/** The cpu registration (the stock cpu kernel has the same defect). */
export const resizeBilinearGradCpuConfig: tf.KernelConfig = { kernelName: 'ResizeBilinearGrad', backendName: 'cpu', kernelFunc };
