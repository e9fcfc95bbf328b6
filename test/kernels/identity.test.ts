import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { identityConfig } from '../../src/kernels/identity';
import { expectNoLeak, onCpu, seededTensor } from './conv_reference';

describe('Identity (wasm)', () => {
  it('is the project kernel on wasm', () => {
    expect(tf.getKernel('Identity', 'wasm')?.kernelFunc).to.equal(identityConfig.kernelFunc);
  });

  it('tf.clone keeps values, shape and dtype, and outlives its source', () => {
    const x = tf.tensor2d([[1, -2, 3], [4, 5, -6]]);
    const xi = tf.tensor1d([7, 8, 9], 'int32');
    const c = tf.clone(x);
    const ci = tf.clone(xi);
    x.dispose();
    xi.dispose();
    expect(c.shape).to.deep.equal([2, 3]);
    expect(Array.from(c.dataSync())).to.deep.equal([1, -2, 3, 4, 5, -6]);
    expect(ci.dtype).to.equal('int32');
    expect(Array.from(ci.dataSync())).to.deep.equal([7, 8, 9]);
    tf.dispose([c, ci]);
  });

  it('shared memory is freed with the last tensor: byte count returns to its start', async () => {
    const bytes = tf.memory().numBytes;
    const x = tf.ones([64, 64]);
    const c = tf.clone(x);
    x.dispose();
    expect(tf.memory().numBytes).to.be.greaterThan(bytes);
    c.dispose();
    expect(tf.memory().numBytes).to.equal(bytes);
    const s = tf.tensor1d(['p', 'q']);
    const sc = tf.clone(s);
    s.dispose();
    expect(sc.arraySync()).to.deep.equal(['p', 'q']);
    sc.dispose();
  });

  it('customGrad (which clones saved tensors) gives the cpu gradient; no leaks', async () => {
    const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const a = args[0] as tf.Tensor;
      const save = args[1] as tf.GradSaveFunc;
      const y = tf.square(a);
      save([a, y]);
      return { value: y, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.mul(dy, tf.mul(2, saved[0]))] };
    });
    const x = seededTensor([3, 4], 2);
    const loss = (a: tf.Tensor) => tf.sum(tf.mul(f(a), a));
    const got = tf.grad(loss)(x);
    const [ref] = await onCpu([x], (a) => tf.grad(loss)(a));
    const g = got.dataSync();
    for (let i = 0; i < ref.length; i++) expect(g[i]).to.be.closeTo(ref[i], 1e-6);
    await expectNoLeak(() => tf.grad(loss)(x).dispose());
    tf.dispose([x, got]);
  });
});
