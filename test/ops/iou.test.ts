import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { boxIou, generalizedBoxIouTensor } from '../../src/ops/iou';
import { expectNoLeak } from '../helpers/tensors';

describe('boxIou', () => {
  it('hand-derived 2 x 4 matrix', () => {
    // a0 = [0,0,10,10] (area 100) against:
    //   [5,5,15,15]: inter 5*5 = 25, union 100 + 100 - 25 = 175 -> 1/7
    //   [10,0,20,10]: touching edge, inter 0 -> 0
    //   [0,0,10,10]: identical -> 1
    //   [2,2,4,4]: inside, inter 4, union 100 -> 0.04
    // a1 = [0,0,20,5] (area 100): [5,5,15,15] inter 0; [10,0,20,10] inter 10*5 = 50, union 150 -> 1/3;
    //   [0,0,10,10] inter 50, union 150 -> 1/3; [2,2,4,4] inter 2*2 = 4, union 100 -> 0.04.
    const a = [0, 0, 10, 10, 0, 0, 20, 5];
    const b = [5, 5, 15, 15, 10, 0, 20, 10, 0, 0, 10, 10, 2, 2, 4, 4];
    const expected = [1 / 7, 0, 1, 0.04, 0, 1 / 3, 1 / 3, 0.04].map(Math.fround);
    expect(Array.from(boxIou(a, b))).to.deep.equal(expected);
  });

  it('a degenerate pair (two zero-area boxes) gives NaN, as torchvision (0 / 0)', () => {
    expect(Number.isNaN(boxIou([1, 1, 1, 1], [1, 1, 1, 1])[0])).to.equal(true);
  });
});

describe('generalizedBoxIouTensor', () => {
  it('overlap and disjoint hand cases', async () => {
    // [0,0,2,2] vs [1,1,3,3]: inter 1, union 7, enclosing 3x3 = 9: GIoU = 1/7 - 2/9.
    // [0,0,1,1] vs [2,0,3,1]: inter 0, union 2, enclosing 3x1 = 3: GIoU = -1/3.
    const a = tf.tensor2d([0, 0, 2, 2, 0, 0, 1, 1], [2, 4]);
    const b = tf.tensor2d([1, 1, 3, 3, 2, 0, 3, 1], [2, 4]);
    await expectNoLeak(async () => {
      const g = generalizedBoxIouTensor(a, b);
      const v = await g.data();
      g.dispose();
      expect(v[0]).to.be.closeTo(1 / 7 - 2 / 9, 1e-6);
      expect(v[1]).to.be.closeTo(-1 / 3, 1e-6);
    });
    tf.dispose([a, b]);
  });
});
