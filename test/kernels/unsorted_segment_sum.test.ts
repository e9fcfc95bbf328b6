import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { expectNoLeak, onCpu, seededTensor } from './conv_reference';

describe('UnsortedSegmentSum (wasm)', () => {
  it('is registered for wasm', () => {
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).to.not.equal(undefined);
  });

  it('x=[4,2] ids=[1,0,1,3] numSegments=5: hand-derived sums, repeated ids add, empty segments are 0', () => {
    const x = tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8]]);
    const ids = tf.tensor1d([1, 0, 1, 3], 'int32');
    const y = tf.unsortedSegmentSum(x, ids, 5);
    // segment 0: row 1; segment 1: rows 0 + 2; segment 2: none; segment 3: row 3; segment 4: none.
    expect(Array.from(y.dataSync())).to.deep.equal([3, 4, 6, 8, 0, 0, 7, 8, 0, 0]);
    tf.dispose([x, ids, y]);
  });

  for (const [shape, numSegments, seed] of [[[7, 3, 2], 4, 1], [[1, 5], 3, 2], [[9], 9, 3]] as [number[], number, number][]) {
    it(`x=[${shape}] numSegments=${numSegments} matches cpu (float32 and int32)`, async () => {
      const x = seededTensor(shape, seed);
      const ids = tf.tensor1d(Array.from({ length: shape[0] }, (_, i) => (i * 5 + seed) % numSegments), 'int32');
      const got = tf.unsortedSegmentSum(x, ids, numSegments);
      const [ref] = await onCpu([x, ids], (a, b) => tf.unsortedSegmentSum(a, b as tf.Tensor1D, numSegments));
      expect(got.shape).to.deep.equal([numSegments, ...shape.slice(1)]);
      const g = got.dataSync();
      for (let i = 0; i < ref.length; i++) expect(g[i]).to.be.closeTo(ref[i], 1e-6);
      const xi = tf.cast(tf.mul(x, 100), 'int32');
      const gotI = tf.unsortedSegmentSum(xi, ids, numSegments);
      const [refI] = await onCpu([xi, ids], (a, b) => tf.unsortedSegmentSum(a, b as tf.Tensor1D, numSegments));
      expect(gotI.dtype).to.equal('int32');
      expect(Array.from(gotI.dataSync())).to.deep.equal(Array.from(refI));
      await expectNoLeak(() => tf.unsortedSegmentSum(x, ids, numSegments).dispose());
      tf.dispose([x, ids, got, xi, gotI]);
    });
  }

  it('tf.grad of tf.gather (which needs it) matches cpu', async () => {
    const p = seededTensor([6, 3], 9);
    const idx = tf.tensor1d([0, 2, 2, 5, 1, 2], 'int32');
    const loss = (a: tf.Tensor) => tf.sum(tf.square(tf.gather(a, idx)));
    const got = tf.grad(loss)(p);
    const [ref] = await onCpu([p], (a) => tf.grad(loss)(a));
    const g = got.dataSync();
    for (let i = 0; i < ref.length; i++) expect(g[i]).to.be.closeTo(ref[i], 1e-6);
    tf.dispose([p, idx, got]);
  });
});
