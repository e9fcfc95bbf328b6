/**
 * `Identity` for the wasm backend that shares the input's memory instead of copying it, as `Reshape` does.
 *
 * tfjs-backend-wasm 4.22's own `Identity` copies the data. The engine runs `Identity` for every `tf.clone`, and
 * `tf.customGrad` clones each tensor its forward function saves for the backward pass, so every saved activation
 * of a training step (BatchNorm, convolution) was copied once. Tensors are immutable and the backend counts
 * references per data id (`incRef` / `disposeData`), so sharing is safe: the memory is freed with its last tensor.
 *
 * Reference: tfjs-backend-cpu `kernels/Identity.ts` (shares the data id the same way).
 */
import * as tf from '@tensorflow/tfjs-core';

/** Input `x` (any dtype and rank). Returns a tensor info with the same data id, shape and dtype. */
export const identityConfig: tf.KernelConfig = {
  kernelName: 'Identity',
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend }) => {
    const x = inputs.x as tf.TensorInfo;
    (backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  },
};
