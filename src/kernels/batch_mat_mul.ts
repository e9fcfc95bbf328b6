/**
 * `BatchMatMul` for the wasm backend, wrapping tfjs-backend-wasm's own kernel.
 *
 * tfjs-backend-wasm 4.22 runs a product through XNNPACK's fully-connected operator only when neither operand is
 * transposed (and both have batch 1); with `transposeA` or `transposeB` it falls back to a scalar triple loop
 * (`slow_batch_matmul`, well under 1 GFLOP/s). Every matMul gradient sets one of the two flags: in a Faster R-CNN
 * training step the gradients of the box head's fc6 ([512, 12544] x [12544, 1024]) took 19.5 s (weight) and 7.5 s
 * (input) that way. This kernel transposes the flagged operands explicitly (the backend's `Transpose`, linear in the
 * operand size) and hands the stock kernel a plain product, which XNNPACK runs at full speed on the thread pool.
 *
 * Reference semantics: TensorFlow `BatchMatMulV2` / tfjs-core `matMul` (out = op(a) op(b), op = transpose of the
 * last two axes when flagged, batch axes broadcast).
 */
import * as tf from '@tensorflow/tfjs-core';
import { stockKernel, stockSetup } from './stock';

/** Swap the last two axes of `t` (rank >= 2). */
function swapLastAxes(t: tf.Tensor): tf.Tensor {
  const r = t.rank;
  const perm = [...Array(r).keys()];
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return tf.transpose(t, perm);
}

/**
 * Inputs `a` [..., M, K] (or [..., K, M] with `transposeA`) and `b` [..., K, N] (or [..., N, K] with `transposeB`),
 * float32; attrs `transposeA`, `transposeB`. Returns [..., M, N] float32.
 */
export const batchMatMulConfig: tf.KernelConfig = {
  kernelName: 'BatchMatMul',
  backendName: 'wasm',
  setupFunc: stockSetup('BatchMatMul'),
  kernelFunc: ({ inputs, attrs, backend }) => {
    const stock = stockKernel('BatchMatMul');
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return stock.kernelFunc({ inputs, attrs, backend });
    const a = inputs.a as tf.Tensor;
    const b = inputs.b as tf.Tensor;
    const a2 = transposeA ? swapLastAxes(a) : a;
    const b2 = transposeB ? swapLastAxes(b) : b;
    try {
      return stock.kernelFunc({
        inputs: { a: a2, b: b2 },
        attrs: { ...attrs, transposeA: false, transposeB: false },
        backend,
      });
    } finally {
      if (a2 !== a) a2.dispose();
      if (b2 !== b) b2.dispose();
    }
  },
};
