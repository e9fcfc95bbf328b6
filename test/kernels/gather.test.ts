import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { gatherV2Config } from '../../src/kernels/gather';
import { expectNoLeak, onCpu, seededInts, seededTensor } from './conv_reference';

describe('GatherV2 (wasm)', () => {
  it('is the project kernel on wasm', () => {
    expect(tf.getKernel('GatherV2', 'wasm')?.kernelFunc).to.equal(gatherV2Config.kernelFunc);
  });

  it('[3,2] rows [2,0,2] and columns [1]: hand-derived values', () => {
    const x = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
    const i = tf.tensor1d([2, 0, 2], 'int32');
    const rows = tf.gather(x, i);
    const cols = tf.gather(x, tf.tensor1d([1], 'int32'), 1);
    expect(rows.arraySync()).to.deep.equal([[5, 6], [1, 2], [5, 6]]);
    expect(cols.arraySync()).to.deep.equal([[2], [4], [6]]);
    tf.dispose([x, i, rows, cols]);
  });

  it('rank 1..5, every axis, index tensors of rank 0..2 with repeats, short and long rows: equals cpu for float32, int32 and bool', async () => {
    const rnd = seededInts(41);
    for (let rank = 1; rank <= 5; rank++) {
      for (let trial = 0; trial < 5; trial++) {
        const shape = Array.from({ length: rank }, () => rnd(1, rank <= 2 ? 90 : 6));
        const axis = rnd(0, rank - 1);
        const ax = trial === 4 ? axis - rank : axis;
        const idxShape = [[], [rnd(1, 7)], [rnd(1, 3), rnd(1, 4)]][trial % 3];
        const count = idxShape.reduce((a, b) => a * b, 1);
        const indices = tf.tensor(Array.from({ length: count }, () => rnd(0, shape[axis] - 1)), idxShape, 'int32');
        const x = seededTensor(shape, 60 * rank + trial);
        const xi = tf.cast(tf.mul(x, 1000), 'int32');
        const xb = tf.greater(x, 0);
        for (const t of [x, xi, xb]) {
          const got = tf.gather(t, indices, ax);
          const [ref] = await onCpu([t, indices], (a, i) => tf.gather(a, i, ax));
          const msg = `x=[${shape}] ${t.dtype} indices=[${indices.dataSync()}] shape [${idxShape}] axis=${ax}`;
          expect(got.shape, msg).to.deep.equal([...shape.slice(0, axis), ...idxShape, ...shape.slice(axis + 1)]);
          expect(got.dtype, msg).to.equal(t.dtype);
          expect(Array.from(got.dataSync()), msg).to.deep.equal(Array.from(ref));
          got.dispose();
        }
        tf.dispose([x, xi, xb, indices]);
      }
    }
  });

  it('batchDims 1 goes to the backend kernel and equals cpu', async () => {
    const x = seededTensor([2, 5, 3], 1);
    const i = tf.tensor2d([[4, 0], [1, 1]], [2, 2], 'int32');
    const got = tf.gather(x, i, 1, 1);
    const [ref] = await onCpu([x, i], (a, b) => tf.gather(a, b, 1, 1));
    expect(Array.from(got.dataSync())).to.deep.equal(Array.from(ref));
    tf.dispose([x, i, got]);
  });

  it('an index out of range throws naming it, as the cpu backend does', () => {
    const x = tf.zeros([4, 3]);
    const i = tf.tensor1d([1, 4], 'int32');
    expect(() => tf.gather(x, i)).to.throw('GatherV2: the index value 4 is not in [0, 3]');
    tf.dispose([x, i]);
  });

  it('gradient of tf.gather (UnsortedSegmentSum) through the kernels matches cpu; no leaks', async () => {
    const x = seededTensor([6, 7, 5], 2);
    const i = tf.tensor1d([5, 0, 5, 2], 'int32');
    const w = seededTensor([4, 7, 5], 3);
    const f = (a: tf.Tensor) => tf.sum(tf.mul(tf.gather(a, i), w));
    const got = tf.grad(f)(x);
    const [ref] = await onCpu([x, i, w], (a, ii, ww) => tf.grad((b: tf.Tensor) => tf.sum(tf.mul(tf.gather(b, ii), ww)))(a));
    const g = got.dataSync();
    for (let k = 0; k < ref.length; k++) expect(g[k]).to.be.closeTo(ref[k], 1e-6);
    await expectNoLeak(() => tf.gather(x, i, 0).dispose());
    await expectNoLeak(() => tf.grad(f)(x).dispose());
    tf.dispose([x, i, w, got]);
  });
});
