/**
 * pixelCrossEntropy: hand-derived values of torch's F.cross_entropy(ignore_index=255) (mean over counted pixels,
 * weighted mean with class weights) and its gradient (softmax - one-hot, scaled by w[t] / Σ w, zero on ignored
 * pixels), on the wasm backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { pixelCrossEntropy } from '../../../heads/segmentation/losses';
import { expectNoLeak } from '../../helpers/tensors';

// One image 2x2, K = 2. Logits per pixel (row-major) and targets:
//   p0: (0, ln 3)  t=1  → p1 = 3/4, loss ln(4/3)
//   p1: (0, 0)     t=0  → p0 = 1/2, loss ln 2
//   p2: (5, -5)    t=255 (ignored)
//   p3: (ln 3, 0)  t=0  → p0 = 3/4, loss ln(4/3)
const LOGITS = [0, Math.log(3), 0, 0, 5, -5, Math.log(3), 0];
const TARGETS = [1, 0, 255, 0];

describe('pixelCrossEntropy', () => {
  it('mean over non-ignored pixels: (2 ln(4/3) + ln 2) / 3', async () => {
    const logits = tf.tensor4d(LOGITS, [1, 2, 2, 2]);
    const t = tf.tensor3d(TARGETS, [1, 2, 2], 'int32');
    const l = pixelCrossEntropy(logits, t);
    expect((await l.data())[0]).to.be.closeTo((2 * Math.log(4 / 3) + Math.log(2)) / 3, 1e-6);
    tf.dispose([logits, t, l]);
  });

  it('class weights [1, 3]: (3 ln(4/3) + ln 2 + ln(4/3)) / (3 + 1 + 1), torch weighted mean', async () => {
    const logits = tf.tensor4d(LOGITS, [1, 2, 2, 2]);
    const t = tf.tensor3d(TARGETS, [1, 2, 2], 'int32');
    const l = pixelCrossEntropy(logits, t, { classWeights: [1, 3] });
    expect((await l.data())[0]).to.be.closeTo((4 * Math.log(4 / 3) + Math.log(2)) / 5, 1e-6);
    tf.dispose([logits, t, l]);
  });

  it('gradient on wasm: (softmax - onehot) * w[t] / Σw per counted pixel, 0 on the ignored one', async () => {
    const logits = tf.tensor4d(LOGITS, [1, 2, 2, 2]);
    const t = tf.tensor3d(TARGETS, [1, 2, 2], 'int32');
    const g = tf.grad((x: tf.Tensor) => pixelCrossEntropy(x as tf.Tensor4D, t, { classWeights: [1, 3] }))(logits);
    // Σw = 5. p0 (t=1, w=3): softmax (1/4, 3/4) - (0, 1) = (1/4, -1/4), × 3/5. p1 (t=0, w=1): (1/2, 1/2) - (1, 0),
    // × 1/5. p2 ignored. p3 (t=0, w=1): (3/4, 1/4) - (1, 0) = (-1/4, 1/4), × 1/5.
    const expected = [3 / 20, -3 / 20, -1 / 10, 1 / 10, 0, 0, -1 / 20, 1 / 20];
    const got = await g.data();
    expected.forEach((v, i) => expect(got[i], `grad[${i}]`).to.be.closeTo(v, 1e-6));
    tf.dispose([logits, t, g]);
  });

  it('all pixels ignored: 0 with a zero gradient (torch gives NaN)', async () => {
    const logits = tf.tensor4d(LOGITS, [1, 2, 2, 2]);
    const t = tf.fill([1, 2, 2], 255, 'int32') as tf.Tensor3D;
    const { value, grads } = tf.valueAndGrads((x: tf.Tensor) => pixelCrossEntropy(x as tf.Tensor4D, t))([logits]);
    expect((await value.data())[0]).to.equal(0);
    expect(Array.from(await grads[0].data()).map(Math.abs)).to.deep.equal(new Array(8).fill(0));
    tf.dispose([logits, t, value, ...grads]);
  });

  it('rejects mismatched shapes and a wrong number of class weights; no leak', async () => {
    const logits = tf.zeros([1, 2, 2, 3]) as tf.Tensor4D;
    const t = tf.zeros([1, 2, 3], 'int32') as tf.Tensor3D;
    const ok = tf.zeros([1, 2, 2], 'int32') as tf.Tensor3D;
    expect(() => pixelCrossEntropy(logits, t)).to.throw(/logits \[N, H, W, K\] and targets \[N, H, W\], got \[1,2,2,3\] and \[1,2,3\]/);
    expect(() => pixelCrossEntropy(logits, ok, { classWeights: [1, 2] })).to.throw(/2 entries, expected K = 3/);
    // Uniform logits: the loss is ln 3 whatever the targets.
    await expectNoLeak(async () => {
      const l = pixelCrossEntropy(logits, ok, { classWeights: [1, 2, 3] });
      expect((await l.data())[0]).to.be.closeTo(Math.log(3), 1e-6);
      l.dispose();
    });
    tf.dispose([logits, t, ok]);
  });
});
