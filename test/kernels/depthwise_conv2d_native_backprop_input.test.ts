import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { REL_TOL, depthwiseBackpropCases, dilateKernel, expectNoLeak, onCpu, relativeError, seededTensor } from './conv_reference';


describe('DepthwiseConv2dNativeBackpropInput (wasm)', () => {
  it('is registered for wasm', () => {
    expect(tf.getKernel('DepthwiseConv2dNativeBackpropInput', 'wasm')).to.not.equal(undefined);
  });

  depthwiseBackpropCases().forEach((c, i) => {
    it(`x=[${c.n},${c.h},${c.w},${c.c}] k=${c.k} m=${c.m} s=${c.s} d=${c.d} pad=${JSON.stringify(c.pad)} matches cpu`, async () => {
      const x = seededTensor<tf.Rank.R4>([c.n, c.h, c.w, c.c], 400 + i);
      const filterShape: [number, number, number, number] = [c.k, c.k, c.c, c.m];
      const filter = seededTensor<tf.Rank.R4>(filterShape, 600 + i);
      const yShape = tf.depthwiseConv2d(x, filter, c.s, c.pad, 'NHWC', c.d).shape;
      const dy = seededTensor<tf.Rank.R4>(yShape, 500 + i);
      const attrs = { strides: [c.s, c.s], dilations: [c.d, c.d], pad: c.pad, dimRoundingMode: undefined, inputShape: x.shape };
      const run = (a: tf.Tensor, b: tf.Tensor) =>
        tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy: a, filter: b }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
      const got = run(dy, filter);
      // The cpu kernel ignores dilation: its reference uses the zero-inserted kernel at dilation 1.
      const refAttrs = { ...attrs, dilations: [1, 1] };
      const [ref] = await onCpu([dy, filter], (a, b) =>
        tf.engine().runKernel(
          'DepthwiseConv2dNativeBackpropInput', { dy: a, filter: dilateKernel(b as tf.Tensor4D, [c.d, c.d]) },
          refAttrs as unknown as tf.NamedAttrMap,
        ) as tf.Tensor,
      );
      expect(got.shape).to.deep.equal(x.shape);
      expect(relativeError(got.dataSync(), ref)).to.be.at.most(REL_TOL);
      await expectNoLeak(() => run(dy, filter).dispose());
      tf.dispose([x, dy, filter, got]);
    });
  });

  it('tf.grad of tf.depthwiseConv2d on wasm matches cpu for both inputs', async () => {
    const x = seededTensor<tf.Rank.R4>([3, 11, 10, 4], 17);
    const w = seededTensor<tf.Rank.R4>([3, 3, 4, 2], 18);
    const loss = (a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.square(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same')));
    const got = tf.grads(loss)([x, w]);
    const ref = await onCpu([x, w], (a, b) => tf.grads(loss)([a, b]));
    expect(relativeError(got[0].dataSync(), ref[0])).to.be.at.most(REL_TOL);
    expect(relativeError(got[1].dataSync(), ref[1])).to.be.at.most(REL_TOL);
    tf.dispose([x, w, ...got]);
  });
});
