import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { maxPoolGradConfig } from '../../src/kernels/max_pool_grad';
import { expectNoLeak, onCpu, seededTensor } from './conv_reference';

describe('MaxPoolGrad (wasm)', () => {
  it('is the project kernel on wasm', () => {
    expect(tf.getKernel('MaxPoolGrad', 'wasm')?.kernelFunc).to.equal(maxPoolGradConfig.kernelFunc);
  });

  it('x=[1,3,3,1] 2x2 stride 1, ties: hand-derived, the first maximum of a window gets the gradient', () => {
    // x = [[1, 5, 5], [5, 2, 0], [0, 0, 0]]. Windows (row-major): {1,5,5,2} -> first 5 at (0,1);
    // {5,5,2,0} -> (0,1); {5,2,0,0} -> (1,0); {2,0,0,0} -> (1,1). dy = [1, 10, 100, 1000].
    const x = tf.tensor4d([1, 5, 5, 5, 2, 0, 0, 0, 0], [1, 3, 3, 1]);
    const dy = tf.tensor4d([1, 10, 100, 1000], [1, 2, 2, 1]);
    const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, 2, 1, 'valid'), dy)))(x);
    expect(Array.from(dx.dataSync())).to.deep.equal([0, 11, 0, 100, 1000, 0, 0, 0, 0]);
    tf.dispose([x, dy, dx]);
  });

  const cases: Array<[number[], number, number, 'valid' | 'same' | number]> = [
    [[2, 9, 9, 4], 3, 2, 1], // ResNet stem geometry (explicit pad 1)
    [[1, 8, 7, 3], 3, 2, 'same'],
    [[2, 6, 6, 5], 2, 2, 'valid'],
    [[1, 7, 5, 2], 3, 1, 'same'],
    [[1, 5, 5, 1], 1, 2, 'valid'],
  ];
  for (const [shape, k, s, pad] of cases) {
    it(`x=[${shape}] k=${k} s=${s} pad=${pad}: matches cpu, with ReLU ties`, async () => {
      // ReLU'd, coarsely quantized inputs: many windows hold equal maxima (zeros or repeated values).
      const x = tf.tidy(() => tf.relu(tf.round(tf.mul(seededTensor(shape, shape.length + k + s), 3))));
      // Weights 1, 2, 3, ... on the pooled outputs, so that every output's gradient is distinct.
      const pooledShape = tf.tidy(() => tf.maxPool(x as tf.Tensor4D, k, s, pad).shape);
      const wts = tf.tidy(() => tf.reshape(tf.range(1, 1 + pooledShape.reduce((a, b) => a * b, 1)), pooledShape));
      const f = (a: tf.Tensor, w: tf.Tensor) => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(v as tf.Tensor4D, k, s, pad), w)))(a);
      const got = f(x, wts);
      const [ref] = await onCpu([x, wts], f);
      expect(Array.from(got.dataSync())).to.deep.equal(Array.from(ref));
      await expectNoLeak(() => f(x, wts).dispose());
      wts.dispose();
      tf.dispose([x, got]);
    });
  }
});
