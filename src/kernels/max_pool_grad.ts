/**
 * `MaxPoolGrad` for the wasm backend: each output gradient goes to the first maximum of its pooling window
 * (row-major window order, padding excluded), computed in one pass over heap views with the channel loop
 * innermost (NHWC), so each window tap reads one contiguous row of C values.
 *
 * tfjs-backend-wasm 4.22's own kernel takes ~100 ms for ResNet's stem max pool at batch 4 ([4, 112, 112, 64],
 * 3x3, stride 2, pad 1). Ties go to the first maximum, as in tfjs-backend-cpu's `maxPoolPositions` and PyTorch's
 * CPU `max_pool2d_with_indices` (which matters after a ReLU, where windows of zeros are common). NaN inputs are
 * not treated as maxima (PyTorch propagates them).
 *
 * Reference: PyTorch `aten/src/ATen/native/cpu/MaxPoolKernel.cpp`; tfjs-backend-cpu `kernels/MaxPoolGrad.ts`.
 */
import * as tf from '@tensorflow/tfjs-core';

/** What this file uses of tfjs-backend-wasm's backend object. */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}

/**
 * Inputs `dy` [N, Ho, Wo, C], `input` [N, H, W, C] (the forward input) and `output` (unused), float32; attrs
 * `filterSize`, `strides`, `pad`, `dimRoundingMode` as for tf.maxPool. Returns dx [N, H, W, C] float32.
 */
export const maxPoolGradConfig: tf.KernelConfig = {
  kernelName: 'MaxPoolGrad',
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs, backend }) => {
    const dy = inputs.dy as tf.TensorInfo;
    const x = inputs.input as tf.TensorInfo;
    const b = backend as unknown as WasmBackendLike;
    const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as {
      filterSize: number | [number, number];
      strides: number | [number, number];
      pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
    };
    const info = tf.backend_util.computePool2DInfo(
      x.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode,
    );
    const dxInfo = b.makeOutput(x.shape, 'float32');
    const xs = b.typedArrayFromHeap(x);
    const dys = b.typedArrayFromHeap(dy);
    const dx = b.typedArrayFromHeap(dxInfo);
    dx.fill(0);
    const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: ho, outWidth: wo } = info;
    const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
    const { effectiveFilterHeight: kh, effectiveFilterWidth: kw } = info;
    const padTop = info.padInfo.top;
    const padLeft = info.padInfo.left;
    const best = new Float32Array(c);
    const bestAt = new Int32Array(c);
    for (let bi = 0; bi < n; bi++) {
      const xBatch = bi * h * w * c;
      for (let oy = 0; oy < ho; oy++) {
        const y0 = oy * sh - padTop;
        for (let ox = 0; ox < wo; ox++) {
          const x0 = ox * sw - padLeft;
          best.fill(-Infinity);
          bestAt.fill(-1);
          for (let ky = 0; ky < kh; ky += dh) {
            const yy = y0 + ky;
            if (yy < 0 || yy >= h) continue;
            for (let kx = 0; kx < kw; kx += dw) {
              const xx = x0 + kx;
              if (xx < 0 || xx >= w) continue;
              const row = xBatch + (yy * w + xx) * c;
              for (let ch = 0; ch < c; ch++) {
                const v = xs[row + ch];
                if (v > best[ch]) {
                  best[ch] = v;
                  bestAt[ch] = row + ch;
                }
              }
            }
          }
          const dyRow = ((bi * ho + oy) * wo + ox) * c;
          for (let ch = 0; ch < c; ch++) {
            const at = bestAt[ch];
            if (at >= 0) dx[at] += dys[dyRow + ch];
          }
        }
      }
    }
    return dxInfo;
  },
};
