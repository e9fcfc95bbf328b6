/**
 * `UnsortedSegmentSum` for the wasm backend, which does not ship one (tf.gather's gradient needs it): a ScatterNd
 * (which sums duplicate indices) of the rows of `x` into `numSegments` rows. Rows whose segment id is outside
 * [0, numSegments) are dropped, as TensorFlow does.
 *
 * Reference: TensorFlow `UnsortedSegmentSum` (tensorflow/core/kernels/segment_reduction_ops_impl.h).
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * Inputs `x` [n, ...inner] (float32 or int32) and `segmentIds` [n] int32; attr `numSegments`.
 * Returns [numSegments, ...inner] with row s = sum of the rows of x whose id is s (zeros when none).
 */
export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: 'UnsortedSegmentSum',
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) => {
    const x = inputs.x as tf.Tensor;
    const ids = inputs.segmentIds as tf.Tensor;
    const numSegments = (attrs as unknown as { numSegments: number }).numSegments;
    return tf.tidy(() => {
      const idsFlat = tf.cast(tf.reshape(ids, [-1]), 'int32');
      const n = idsFlat.shape[0];
      const rows = tf.reshape(x, [n, -1]); // [n, inner]
      const valid = tf.logicalAnd(tf.greaterEqual(idsFlat, 0), tf.less(idsFlat, numSegments));
      const safeIds = tf.where(valid, idsFlat, tf.zerosLike(idsFlat));
      const kept = tf.mul(rows, tf.cast(tf.expandDims(valid, 1), rows.dtype));
      const out = tf.scatterND(tf.reshape(safeIds, [n, 1]), kept, [numSegments, rows.shape[1] as number]);
      return tf.reshape(out, [numSegments, ...x.shape.slice(ids.rank)]);
    });
  },
};
