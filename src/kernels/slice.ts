/**
 * `Slice` and `SplitV` for the wasm backend, copying only the selected region between views of the wasm heap.
 *
 * tfjs-backend-wasm 4.22's own `Slice` first copies the whole input out of the heap into a JS array
 * (`backend.readSync`) on every call, so cutting one tap out of a [3, 3, 512, 512] kernel copies all 9 taps; the
 * convolution input gradient (src/ops/conv.ts) slices each 3x3 kernel 9 times per step. Here the output is filled
 * run by run straight from the input's heap view: axes whose whole extent is selected are merged into the run, so
 * a slice that is contiguous in memory is one `TypedArray.set`. The stock `SplitV` calls that `Slice` once per part,
 * so splitting the gradient of a RetinaNet's concatenated [1, 67536, 91] logits into 5 levels copied the 24 MB input
 * out 5 times (0.35 s of a training step); here each part is copied once, from the heap.
 *
 * Reference semantics: TensorFlow `Slice` / tfjs-core `slice` (`begin` per axis, `size` -1 meaning "to the end").
 */
import * as tf from '@tensorflow/tfjs-core';

/** What this file uses of tfjs-backend-wasm's backend object. */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  readSync(dataId: object): unknown;
  dataIdMap: { get(dataId: object): { stringBytes?: Uint8Array[] } };
}

/**
 * Copy the region `begin`..`begin+size` of a row-major array of `shape` into `out` (packed, row-major). Works on
 * typed arrays (run-wise `set`) and on plain arrays (element-wise, for strings).
 *
 * @param shape input shape (rank >= 1). @param begin, size resolved (no -1), with begin + size <= shape.
 */
export function copySliceRegion<T extends Float32Array | Int32Array | Uint8Array | unknown[]>(
  src: T,
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
  out: T,
): void {
  const rank = shape.length;
  // Innermost axis k that is not taken whole: everything from k inward is one contiguous run per outer index.
  let k = rank - 1;
  let inner = 1; // elements of one input row below axis k
  while (k > 0 && begin[k] === 0 && size[k] === shape[k]) {
    inner *= shape[k];
    k--;
  }
  const run = size[k] * inner;
  const strides = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) strides[i] = strides[i + 1] * shape[i + 1];
  let base = 0;
  for (let i = 0; i <= k; i++) base += begin[i] * strides[i];
  const typed = !Array.isArray(src);
  const copyRun = (from: number, to: number) => {
    if (typed) {
      const s = src as Float32Array;
      (out as Float32Array).set(s.subarray(from, from + run), to);
    } else {
      for (let j = 0; j < run; j++) (out as unknown[])[to + j] = (src as unknown[])[from + j];
    }
  };
  // Odometer over the outer axes 0..k-1.
  const idx = new Array<number>(k).fill(0);
  let outOffset = 0;
  let srcOffset = base;
  const runs = size.slice(0, k).reduce((a, b) => a * b, 1);
  for (let r = 0; r < runs; r++) {
    copyRun(srcOffset, outOffset);
    outOffset += run;
    for (let a = k - 1; a >= 0; a--) {
      idx[a]++;
      srcOffset += strides[a];
      if (idx[a] < size[a]) break;
      srcOffset -= size[a] * strides[a];
      idx[a] = 0;
    }
  }
}

/** Copy `begin`..`begin+size` of `x` into a new output tensor (the body of both kernels). */
function sliceOut(b: WasmBackendLike, x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
  const count = size.reduce((p, s) => p * s, 1);
  if (x.dtype === 'string') {
    const out = b.makeOutput(size, 'string');
    const vals = b.readSync(x.dataId) as Uint8Array[];
    const res = new Array<Uint8Array>(count);
    if (count > 0) copySliceRegion(vals, x.shape, begin, size, res);
    b.dataIdMap.get(out.dataId).stringBytes = res;
    return out;
  }
  const out = b.makeOutput(size, x.dtype);
  if (count === 0) return out;
  // Views are taken after the output is allocated: allocation may grow (and detach) the heap buffer.
  const src = b.typedArrayFromHeap(x);
  const dst = b.typedArrayFromHeap(out);
  if (x.shape.length === 0) dst.set(src);
  else copySliceRegion(src, x.shape, begin, size, dst);
  return out;
}

/**
 * Input `x` (any rank up to 6, float32 / int32 / bool / string); attrs `begin` and `size` (number or per-axis
 * arrays; size -1 takes the rest of the axis). Returns a new tensor of the resolved `size`.
 */
export const sliceConfig: tf.KernelConfig = {
  kernelName: 'Slice',
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs, backend }) => {
    const x = inputs.x as tf.TensorInfo;
    const b = backend as unknown as WasmBackendLike;
    const { begin, size } = attrs as unknown as { begin: number | number[]; size: number | number[] };
    const [begin_, size_] = tf.slice_util.parseSliceParams(x, begin, size);
    tf.slice_util.assertParamsValid(x, begin_, size_);
    return sliceOut(b, x, begin_, size_);
  },
};

/**
 * Input `x` (rank >= 1, numeric or bool: tf.split refuses strings); attrs `numOrSizeSplits` (a count of equal
 * parts, or the part sizes, one of them -1 for the rest) and `axis` (negative counts from the end). Returns the parts
 * along `axis`, in order.
 * Reference semantics: TensorFlow `SplitV` / tfjs-core `split`.
 */
export const splitVConfig: tf.KernelConfig = {
  kernelName: 'SplitV',
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs, backend }) => {
    const x = inputs.x as tf.TensorInfo;
    const b = backend as unknown as WasmBackendLike;
    const { numOrSizeSplits, axis } = attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    // A copy: prepareSplitSize resolves a -1 in the array it is given.
    const splits = Array.isArray(numOrSizeSplits) ? numOrSizeSplits.slice() : numOrSizeSplits;
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, splits, ax);
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((s) => {
      const size = x.shape.slice();
      size[ax] = s;
      const out = sliceOut(b, x, begin.slice(), size);
      begin[ax] += s;
      return out;
    });
  },
};
