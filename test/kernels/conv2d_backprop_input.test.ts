import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { REL_TOL, expectNoLeak, onCpu, relativeError, conv2dBackpropCases, seededTensor } from './conv_reference';


describe('Conv2DBackpropInput (wasm, XNNPACK replacement)', () => {
  it('replaces the scalar kernel of tfjs-backend-wasm', () => {
    expect(tf.getBackend()).to.equal('wasm');
    expect(tf.getKernel('Conv2DBackpropInput', 'wasm')).to.not.equal(undefined);
  });

  conv2dBackpropCases().forEach((c, i) => {
    it(`x=[${c.n},${c.h},${c.w},${c.cin}] k=${c.k} cout=${c.cout} s=${c.s} pad=${JSON.stringify(c.pad)} matches cpu`, async () => {
      const x = seededTensor<tf.Rank.R4>([c.n, c.h, c.w, c.cin], 100 + i);
      const filterShape: [number, number, number, number] = [c.k, c.k, c.cin, c.cout];
      const filter = seededTensor<tf.Rank.R4>(filterShape, 300 + i);
      const yShape = tf.conv2d(x, filter, c.s, c.pad).shape;
      const dy = seededTensor<tf.Rank.R4>(yShape, 200 + i);
      const attrs = { strides: [c.s, c.s], pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined, inputShape: x.shape };
      const run = (a: tf.Tensor, b: tf.Tensor) =>
        tf.engine().runKernel('Conv2DBackpropInput', { dy: a, filter: b }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
      const got = run(dy, filter);
      const [ref] = await onCpu([dy, filter], run);
      expect(got.shape).to.deep.equal(x.shape);
      expect(relativeError(got.dataSync(), ref)).to.be.at.most(REL_TOL);
      await expectNoLeak(() => run(dy, filter).dispose());
      tf.dispose([x, dy, filter, got]);
    });
  });

  it('tf.grad of tf.conv2d on wasm matches cpu for both inputs', async () => {
    const x = seededTensor<tf.Rank.R4>([3, 11, 10, 3], 7);
    const w = seededTensor<tf.Rank.R4>([3, 3, 3, 4], 8);
    const loss = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same')));
    const got = tf.grads(loss)([x, w]);
    const ref = await onCpu([x, w], (a, b) => tf.grads(loss)([a, b]));
    expect(relativeError(got[0].dataSync(), ref[0])).to.be.at.most(REL_TOL);
    expect(relativeError(got[1].dataSync(), ref[1])).to.be.at.most(REL_TOL);
    tf.dispose([x, w, ...got]);
  });
});
