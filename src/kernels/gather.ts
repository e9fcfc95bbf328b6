/**
 * `GatherV2` for the wasm backend, wrapping tfjs-backend-wasm's own kernel: a gather along one axis copies, for
 * every index, one contiguous block of the input (the axes after `axis`) with `TypedArray.set`, from and to views of
 * the wasm heap. The stock kernel computes every element's source position with a division per axis: regrouping
 * the 512 RoI features [512, 7, 7, 256] of a Faster R-CNN box head took it 285 ms; here it is a few copies of 50 KB.
 * Batched gathers (`batchDims` > 0) and string tensors go to the stock kernel.
 *
 * Reference semantics: TensorFlow `GatherV2` / tfjs-core `gather` (indices in [0, x.shape[axis]), else an error).
 */
import * as tf from '@tensorflow/tfjs-core';
import { stockKernel, stockSetup } from './stock';

/** What this file uses of tfjs-backend-wasm's backend object. */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/**
 * Inputs `x` (any rank >= 1) and `indices` (int32, any shape); attrs `axis` (negative counts from the end) and
 * `batchDims`. Returns x.shape[:axis] + indices.shape + x.shape[axis+1:], x's dtype.
 * @throws Error naming the index when an index is outside [0, x.shape[axis]).
 */
export const gatherV2Config: tf.KernelConfig = {
  kernelName: 'GatherV2',
  backendName: 'wasm',
  setupFunc: stockSetup('GatherV2'),
  kernelFunc: (args) => {
    const { inputs, attrs, backend } = args;
    const x = inputs.x as tf.TensorInfo;
    const indices = inputs.indices as tf.TensorInfo;
    const { axis, batchDims } = attrs as unknown as { axis: number; batchDims: number };
    if ((batchDims ?? 0) !== 0 || x.dtype === 'string' || indices.dtype !== 'int32') {
      return stockKernel('GatherV2').kernelFunc(args);
    }
    const b = backend as unknown as WasmBackendLike;
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    const n = x.shape[ax];
    const outer = x.shape.slice(0, ax).reduce((p, d) => p * d, 1);
    const inner = x.shape.slice(ax + 1).reduce((p, d) => p * d, 1);
    const outShape = [...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)];
    const idx = b.typedArrayFromHeap(indices) as Int32Array;
    for (let i = 0; i < idx.length; i++) {
      if (idx[i] < 0 || idx[i] >= n) throw new Error(`GatherV2: the index value ${idx[i]} is not in [0, ${n - 1}]`);
    }
    const count = idx.length;
    const out = b.makeOutput(outShape, x.dtype);
    if (outer * count * inner === 0) return out;
    // Views are taken after the output is allocated: allocation may grow (and detach) the heap buffer.
    const src = b.typedArrayFromHeap(x);
    const dst = b.typedArrayFromHeap(out);
    const ind = b.typedArrayFromHeap(indices) as Int32Array;
    let to = 0;
    for (let o = 0; o < outer; o++) {
      const base = o * n * inner;
      for (let i = 0; i < count; i++, to += inner) {
        const from = base + ind[i] * inner;
        // Short blocks element by element: a subarray per block costs more than it copies.
        if (inner >= 64) dst.set(src.subarray(from, from + inner), to);
        else for (let j = 0; j < inner; j++) dst[to + j] = src[from + j];
      }
    }
    return out;
  },
};
