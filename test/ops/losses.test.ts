import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { binaryCrossEntropyWithLogits, generalizedBoxIouLoss, l1Loss, sigmoidFocalLoss, smoothL1Loss, softmaxCrossEntropy } from '../../src/ops/losses';
import { expectNoLeak } from '../helpers/tensors';

const LN2 = Math.log(2);

describe('sigmoidFocalLoss (alpha 0.25, gamma 2)', () => {
  it('hand values', async () => {
    // x = 0: p = 0.5, BCE = ln 2, (1 - p_t)^2 = 0.25. t = 1: 0.25 * 0.25 * ln2; t = 0: 0.75 * 0.25 * ln2.
    // x = ln 3: p = 0.75. t = 1: BCE = -ln .75, (.25)^2, alpha .25; t = 0: BCE = -ln .25, (.75)^2, alpha .75.
    const x = tf.tensor1d([0, 0, Math.log(3), Math.log(3)]);
    const t = tf.tensor1d([1, 0, 1, 0]);
    const w = tf.tensor1d([1, 0, 2, 0]);
    const expected = [0.0625 * LN2, 0.1875 * LN2, 0.25 * 0.0625 * -Math.log(0.75), 0.75 * 0.5625 * -Math.log(0.25)];
    await expectNoLeak(async () => {
      const l = sigmoidFocalLoss(x, t);
      const s = sigmoidFocalLoss(x, t, { reduction: 'sum', weights: w });
      const v = await l.data();
      const sv = (await s.data())[0];
      tf.dispose([l, s]);
      v.forEach((vi, i) => expect(vi).to.be.closeTo(expected[i], 1e-6));
      expect(sv).to.be.closeTo(expected[0] + 2 * expected[2], 1e-6);
    });
    tf.dispose([x, t, w]);
  });

  it('gradient at x = 0, t = 1 is alpha (1-p)^g (g p ln p - (1 - p)) = 0.0625 (-ln 2 - 0.5)', async () => {
    const t = tf.tensor1d([1]);
    const g = tf.grad((x: tf.Tensor) => sigmoidFocalLoss(x, t, { reduction: 'sum' }))(tf.tensor1d([0]));
    expect((await g.data())[0]).to.be.closeTo(0.0625 * (-LN2 - 0.5), 1e-6);
    tf.dispose([t, g]);
  });

  it('stable for large logits (no NaN or Infinity)', async () => {
    const l = sigmoidFocalLoss(tf.tensor1d([100, -100]), tf.tensor1d([0, 1]));
    const v = await l.data();
    expect(Array.from(v).every(Number.isFinite)).to.equal(true);
    expect(v[0]).to.be.closeTo(0.75 * 100, 1e-3); // BCE = 100, (1 - p_t)^2 = 1
    l.dispose();
  });
});

describe('regression losses', () => {
  it('l1 and smooth L1 (beta 1): |d| = 0.5 -> 0.125, |d| = 2 -> 1.5', async () => {
    const p = tf.tensor1d([0.5, -2]);
    const z = tf.zeros([2]);
    const l1 = l1Loss(p, z, { reduction: 'sum' });
    const sl1 = smoothL1Loss(p, z);
    expect((await l1.data())[0]).to.be.closeTo(2.5, 1e-7);
    const v = await sl1.data();
    expect(v[0]).to.be.closeTo(0.125, 1e-7);
    expect(v[1]).to.be.closeTo(1.5, 1e-7);
    tf.dispose([p, z, l1, sl1]);
  });

  it('GIoU loss: 1 - (1/7 - 2/9) for [0,0,2,2] vs [1,1,3,3]', async () => {
    const a = tf.tensor2d([0, 0, 2, 2], [1, 4]);
    const b = tf.tensor2d([1, 1, 3, 3], [1, 4]);
    const l = generalizedBoxIouLoss(a, b, { reduction: 'mean' });
    expect((await l.data())[0]).to.be.closeTo(1 - (1 / 7 - 2 / 9), 1e-6);
    tf.dispose([a, b, l]);
  });

  it('GIoU loss gradient matches central finite differences (float64 hand formula)', async () => {
    // d/dx2 of 1 - GIoU for box1 = [0,0,x2,2], box2 = [1,1,3,3] at x2 = 2: inter = (x2-1)*1, union = 2 x2 + 4 - inter,
    // area_c = 3*3 (x2 <= 3). GIoU(x2) = inter/union - (9 - union)/9.
    const giou = (x2: number): number => {
      const inter = x2 - 1;
      const union = 2 * x2 + 4 - inter;
      return inter / union - (9 - union) / 9;
    };
    const h = 1e-6;
    const fd = -(giou(2 + h) - giou(2 - h)) / (2 * h);
    const b = tf.tensor2d([1, 1, 3, 3], [1, 4]);
    const g = tf.grad((a: tf.Tensor) => generalizedBoxIouLoss(a, b, { reduction: 'sum' }))(tf.tensor2d([0, 0, 2, 2], [1, 4]));
    expect((await g.data())[2]).to.be.closeTo(fd, 1e-5);
    tf.dispose([b, g]);
  });

  it('rejects shape mismatches', () => {
    const a = tf.zeros([2, 4]);
    const b = tf.zeros([3, 4]);
    expect(() => l1Loss(a, b)).to.throw(/one shape/);
    tf.dispose([a, b]);
  });
});

describe('binaryCrossEntropyWithLogits', () => {
  it('hand-derived: -t log s(x) - (1 - t) log(1 - s(x)), including |x| = 40 without overflow; gradient s(x) - t', async () => {
    const xs = [0, 2, -3, 40, -40];
    const ts = [1, 0, 1, 0, 0];
    const want = xs.map((x, i) => {
      // log(1 + e^-|x|) + max(x, 0) - x t, evaluated in float64.
      return Math.log1p(Math.exp(-Math.abs(x))) + Math.max(x, 0) - x * ts[i];
    });
    const x = tf.tensor1d(xs);
    const t = tf.tensor1d(ts);
    const l = binaryCrossEntropyWithLogits(x, t);
    const got = await l.data();
    want.forEach((w, i) => expect(got[i], `x=${xs[i]}`).to.be.closeTo(w, 1e-6 * Math.max(1, w)));
    const g = tf.grad((v: tf.Tensor) => binaryCrossEntropyWithLogits(v, t, { reduction: 'sum' }))(x);
    const gv = await g.data();
    xs.forEach((xv, i) => expect(gv[i]).to.be.closeTo(1 / (1 + Math.exp(-xv)) - ts[i], 1e-6));
    await expectNoLeak(() => binaryCrossEntropyWithLogits(x, t, { reduction: 'mean' }).dispose());
    tf.dispose([x, t, l, g]);
  });
});

describe('softmaxCrossEntropy', () => {
  it('hand-derived: mean over rows of logsumexp(row) - row[label]', async () => {
    // Row 0: logits [0, 0, 0], label 2 -> log 3. Row 1: [1, 2, 3], label 0 -> log(e + e^2 + e^3) - 1.
    const x = tf.tensor2d([0, 0, 0, 1, 2, 3], [2, 3]);
    const l = softmaxCrossEntropy(x, [2, 0]);
    const want = (Math.log(3) + Math.log(Math.E + Math.E ** 2 + Math.E ** 3) - 1) / 2;
    expect((await l.data())[0]).to.be.closeTo(want, 1e-6);
    expect(() => softmaxCrossEntropy(x, [3, 0])).to.throw(/label 3 of row 0 is outside 0..2/);
    expect(() => softmaxCrossEntropy(x, [0])).to.throw(/R = labels.length = 1/);
    await expectNoLeak(() => softmaxCrossEntropy(x, [1, 1]).dispose());
    tf.dispose([x, l]);
  });
});
