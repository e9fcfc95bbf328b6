import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { batchMatMulConfig } from '../../src/kernels/batch_mat_mul';
import { REL_TOL, expectNoLeak, onCpu, relativeError, seededTensor } from './conv_reference';

describe('BatchMatMul (wasm)', () => {
  it('is the project kernel on wasm', () => {
    expect(tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc).to.equal(batchMatMulConfig.kernelFunc);
  });

  it('[2,3] x [3,2] with each transpose flag: hand-derived values', () => {
    const a = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
    const b = tf.tensor2d([[1, 0], [0, 1], [1, 1]]);
    const at = tf.transpose(a);
    const bt = tf.transpose(b);
    tf.tidy(() => {
      expect(tf.matMul(a, b).arraySync()).to.deep.equal([[4, 5], [10, 11]]);
      expect(tf.matMul(at, b, true, false).arraySync()).to.deep.equal([[4, 5], [10, 11]]);
      expect(tf.matMul(a, bt, false, true).arraySync()).to.deep.equal([[4, 5], [10, 11]]);
      expect(tf.matMul(at, bt, true, true).arraySync()).to.deep.equal([[4, 5], [10, 11]]);
    });
    tf.dispose([a, b, at, bt]);
  });

  it('ranks 2 and 3 (batch 1, batch 3, a broadcast batch), every pair of transpose flags: equals cpu', async () => {
    const shapes: Array<[number[], number[]]> = [
      [[37, 70], [70, 45]],
      [[1, 64, 129], [1, 129, 33]],
      [[3, 17, 40], [3, 40, 9]],
      [[3, 17, 40], [1, 40, 9]],
    ];
    let seed = 1;
    for (const [sa, sb] of shapes) {
      for (const ta of [false, true]) {
        for (const tb of [false, true]) {
          const r = sa.length;
          const swap = (s: number[], t: boolean) => (t ? [...s.slice(0, r - 2), s[r - 1], s[r - 2]] : s);
          const a = seededTensor(swap(sa, ta), seed++);
          const b = seededTensor(swap(sb, tb), seed++);
          const got = tf.matMul(a, b, ta, tb);
          const [ref] = await onCpu([a, b], (p, q) => tf.matMul(p, q, ta, tb));
          const msg = `a=[${a.shape}] b=[${b.shape}] transposeA=${ta} transposeB=${tb}`;
          expect(got.shape, msg).to.deep.equal([...sa.slice(0, r - 2).map((d, i) => Math.max(d, sb[i])), sa[r - 2], sb[r - 1]]);
          expect(relativeError(got.dataSync(), ref), msg).to.be.at.most(REL_TOL);
          tf.dispose([a, b, got]);
        }
      }
    }
  });

  it('gradient of a linear layer (both matMul gradients are transposed products) matches cpu; no leaks', async () => {
    const x = seededTensor([24, 300], 7);
    const w = seededTensor([300, 50], 8);
    const r = seededTensor([24, 50], 9);
    const loss = (p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.matMul(p, q), r));
    const got = tf.grads(loss)([x, w]);
    const ref = await onCpu([x, w, r], (p, q, rr) => tf.grads((u: tf.Tensor, v: tf.Tensor) => tf.sum(tf.mul(tf.matMul(u, v), rr)))([p, q]));
    expect(relativeError(got[0].dataSync(), ref[0]), 'dx').to.be.at.most(REL_TOL);
    expect(relativeError(got[1].dataSync(), ref[1]), 'dw').to.be.at.most(REL_TOL);
    await expectNoLeak(() => tf.matMul(x, w, false, false).dispose());
    await expectNoLeak(() => tf.matMul(x, r, true, false).dispose());
    await expectNoLeak(() => tf.dispose(tf.grads(loss)([x, w])));
    tf.dispose([x, w, r, ...got]);
  });
});
