import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { BoxCoder } from '../../../heads/detection/box_coder';
import { oneHotTargets, retinaNetLosses } from '../../../heads/detection/losses';
import { Matcher } from '../../../heads/detection/matcher';
import { expectNoLeak } from '../../helpers/tensors';

const LN2 = Math.log(2);

describe('retinaNetLosses', () => {
  const matcher = new Matcher({ highThreshold: 0.5, lowThreshold: 0.4, allowLowQualityMatches: true });
  // Anchors a0 [0,0,10,10], a1 [50,50,60,60]. Image 0: one box [1,2,11,14] label 1: IoU with a0 = 72/148 = .486
  // (< .5, but a0 is the box's best anchor: a low-quality match) and 0 with a1 (background). Image 1: no box.
  const anchors = Float32Array.from([0, 0, 10, 10, 50, 50, 60, 60]);
  const targets = [
    { boxes: Float32Array.from([1, 2, 11, 14]), labels: Int32Array.from([1]) },
    { boxes: new Float32Array(0), labels: new Int32Array(0) },
  ];

  it('hand values with zero outputs: focal per image / max(1, fg), then mean over images', async () => {
    // Zero logits: each (anchor, class) costs 0.25 * 0.25 ln2 as a positive, 0.75 * 0.25 ln2 as a negative.
    // Image 0: 1 positive + 3 negatives = 0.625 ln2, fg = 1. Image 1: 4 negatives = 0.75 ln2, divided by max(1, 0).
    // Classification = (0.625 + 0.75) ln2 / 2. L1: image 0 targets (0.1, 0.3, 0, ln 1.2) against 0 deltas, / 1;
    // image 1: 0. Box = (0.4 + ln 1.2) / 2. GIoU: decoded box = a0, GIoU(a0, gt) = 72/148 - (area_c 11*14 - 148)/154.
    const clsLogits = tf.zeros([2, 2, 2]) as tf.Tensor3D;
    const boxDeltas = tf.zeros([2, 2, 4]) as tf.Tensor3D;
    await expectNoLeak(async () => {
      const l1 = retinaNetLosses({ clsLogits, boxDeltas }, anchors, targets, matcher, new BoxCoder());
      const gi = retinaNetLosses({ clsLogits, boxDeltas }, anchors, targets, matcher, new BoxCoder(), { boxLoss: { kind: 'giou' } });
      const v = await Promise.all([l1.classification, l1.boxRegression, gi.boxRegression].map((t) => t.data()));
      tf.dispose([l1.classification, l1.boxRegression, gi.classification, gi.boxRegression]);
      expect(v[0][0]).to.be.closeTo((1.375 * LN2) / 2, 1e-6);
      expect(v[1][0]).to.be.closeTo((0.4 + Math.log(1.2)) / 2, 1e-6);
      expect(v[2][0]).to.be.closeTo((1 - (72 / 148 - 6 / 154)) / 2, 1e-6);
    });
    tf.dispose([clsLogits, boxDeltas]);
  });

  it('one class (K = 1): hand focal loss on nonzero logits, no one-hot depth restriction', async () => {
    // Same anchors and boxes, the box labelled 0 of K = 1. Logits: image 0 a0 = ln 3 (p = 3/4, the positive),
    // a1 = -ln 3 (p = 1/4, a negative); image 1 both 0 (negatives). Focal terms: positive 0.25 (1/4)^2 ln(4/3),
    // negative at p = 1/4: 0.75 (1/4)^2 ln(4/3), negative at p = 1/2: 0.75 (1/2)^2 ln 2.
    // Image 0: (0.25 + 0.75) / 16 ln(4/3) over fg = 1; image 1: 2 * 0.1875 ln 2 over max(1, 0); mean over 2 images.
    const one = targets.map((t) => ({ boxes: t.boxes, labels: new Int32Array(t.labels.length) }));
    const clsLogits = tf.tensor3d([Math.log(3), -Math.log(3), 0, 0], [2, 2, 1]);
    const boxDeltas = tf.zeros([2, 2, 4]) as tf.Tensor3D;
    await expectNoLeak(async () => {
      const l = retinaNetLosses({ clsLogits, boxDeltas }, anchors, one, matcher, new BoxCoder());
      const [c, b] = await Promise.all([l.classification.data(), l.boxRegression.data()]);
      tf.dispose([l.classification, l.boxRegression]);
      expect(c[0]).to.be.closeTo((Math.log(4 / 3) / 16 + 0.375 * LN2) / 2, 1e-6);
      expect(b[0]).to.be.closeTo((0.4 + Math.log(1.2)) / 2, 1e-6);
    });
    tf.dispose([clsLogits, boxDeltas]);
  });

  it('oneHotTargets: -1 is an all-zero row, K = 1 allowed, a label outside -1..K-1 is an error', () => {
    expect(Array.from(oneHotTargets(Int32Array.from([0, -1, 0]), 1))).to.deep.equal([1, 0, 1]);
    expect(Array.from(oneHotTargets(Int32Array.from([2, -1, 0]), 3))).to.deep.equal([0, 0, 1, 0, 0, 0, 1, 0, 0]);
    expect(() => oneHotTargets(Int32Array.from([1]), 1)).to.throw(/label 1 of row 0 is outside -1..0/);
    expect(() => oneHotTargets(Int32Array.from([0]), 0)).to.throw(/must be an integer >= 1, got 0/);
  });

  it('gradients flow to both outputs (no comparison op on the tape)', async () => {
    const clsLogits = tf.zeros([2, 2, 2]) as tf.Tensor3D;
    const boxDeltas = tf.zeros([2, 2, 4]) as tf.Tensor3D;
    const g = tf.grads((c: tf.Tensor, b: tf.Tensor) => {
      const l = retinaNetLosses({ clsLogits: c as tf.Tensor3D, boxDeltas: b as tf.Tensor3D }, anchors, targets, matcher, new BoxCoder(), { boxLoss: { kind: 'giou' } });
      return tf.add(l.classification, l.boxRegression);
    })([clsLogits, boxDeltas]);
    const [gc, gb] = await Promise.all(g.map((t) => t.data()));
    // d focal / dx at x = 0: positive 0.0625 (-ln2 - 0.5) (see ops/losses.test.ts), scaled by 1 / (N * max(1, fg)) = 1/2.
    expect(gc[1]).to.be.closeTo((0.0625 * (-LN2 - 0.5)) / 2, 1e-6);
    // Only the foreground anchor (image 0, a0) gets a box gradient.
    expect(Array.from(gb.slice(4)).every((v) => v === 0)).to.equal(true);
    expect(Math.abs(gb[0]) + Math.abs(gb[1])).to.be.greaterThan(0);
    tf.dispose([clsLogits, boxDeltas, ...g]);
  });

  it('bad ground truth fails naming the image and box', () => {
    const c = tf.zeros([1, 2, 2]) as tf.Tensor3D;
    const b = tf.zeros([1, 2, 4]) as tf.Tensor3D;
    const run = (boxes: number[], label: number): unknown =>
      retinaNetLosses({ clsLogits: c, boxDeltas: b }, anchors, [{ boxes: Float32Array.from(boxes), labels: Int32Array.from([label]) }], matcher, new BoxCoder());
    expect(() => run([0, 0, 5, 5], 2)).to.throw(/targets\[0\]: label 2 of box 0 is outside 0..1/);
    expect(() => run([5, 0, 5, 5], 0)).to.throw(/targets\[0\]: box 0 \[5, 0, 5, 5\] must have positive width and height/);
    tf.dispose([c, b]);
  });
});
