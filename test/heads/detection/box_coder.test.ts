import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { BBOX_XFORM_CLIP, BoxCoder } from '../../../heads/detection/box_coder';
import { expectNoLeak } from '../../helpers/tensors';

describe('BoxCoder (weights 1, 1, 1, 1)', () => {
  const coder = new BoxCoder();

  it('encode: anchor [0,0,10,10] to box [1,2,11,14] is (0.1, 0.3, 0, log 1.2)', () => {
    // anchor centre (5, 5), size 10 x 10; box centre (6, 8), size 10 x 12.
    const d = coder.encode([1, 2, 11, 14], [0, 0, 10, 10]);
    expect(d[0]).to.be.closeTo(0.1, 1e-7);
    expect(d[1]).to.be.closeTo(0.3, 1e-7);
    expect(d[2]).to.equal(0);
    expect(d[3]).to.be.closeTo(Math.log(1.2), 1e-7);
  });

  it('decode inverts encode', () => {
    const anchors = [0, 0, 10, 10, -20, 5, 44, 37];
    const boxes = [1, 2, 11, 14, -3.5, 0.25, 70, 90];
    const back = coder.decode(coder.encode(boxes, anchors), anchors);
    back.forEach((v, i) => expect(v).to.be.closeTo(boxes[i], 1e-4));
  });

  it('decode clamps dw, dh at log(1000/16): dw = 10 on a 10-px anchor gives width 625', () => {
    expect(BBOX_XFORM_CLIP).to.be.closeTo(Math.log(62.5), 1e-12);
    const b = coder.decode([0, 0, 10, 0], [0, 0, 10, 10]);
    // centre 5, width 10 * 62.5 = 625 -> x from 5 - 312.5 to 5 + 312.5.
    [-307.5, 0, 317.5, 10].forEach((v, i) => expect(b[i]).to.be.closeTo(v, 1e-9));
  });

  it('weights scale the deltas: (10, 10, 5, 5) multiplies the encoded values', () => {
    const w = new BoxCoder([10, 10, 5, 5]);
    const d = w.encode([1, 2, 11, 14], [0, 0, 10, 10]);
    expect(d[0]).to.be.closeTo(1, 1e-6);
    expect(d[3]).to.be.closeTo(5 * Math.log(1.2), 1e-6);
  });

  it('decodeTensor equals decode and broadcasts [R, 4] anchors over [N, R, 4]', async () => {
    const anchors = [0, 0, 10, 10, -20, 5, 44, 37];
    const deltas = [0.1, -0.2, 0.3, 9, -1, 0.5, -0.25, 0.125];
    const expected = coder.decode(deltas, anchors);
    const a = tf.tensor2d(anchors, [2, 4]);
    const d = tf.tensor3d([...deltas, ...deltas], [2, 2, 4]);
    await expectNoLeak(async () => {
      const t = coder.decodeTensor(d, a);
      const v = await t.data();
      t.dispose();
      for (let i = 0; i < 16; i++) expect(v[i]).to.be.closeTo(expected[i % 8], 1e-3);
    });
    tf.dispose([a, d]);
  });
});
