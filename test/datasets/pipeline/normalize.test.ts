import { expect } from 'chai';
import { IMAGENET_MEAN, IMAGENET_STD, normalizeImage } from '../../../datasets/pipeline/normalize';

describe('normalizeImage', () => {
  it('ImageNet: 0 → -mean/std, 255 → (1-mean)/std, 128 → (128/255-mean)/std per channel (float32)', () => {
    const img = { data: Uint8Array.from([0, 0, 0, 255, 255, 255, 128, 128, 128]), height: 1, width: 3 };
    const out = normalizeImage(img);
    const expected: number[] = [];
    for (const v of [0, 255, 128]) for (let c = 0; c < 3; c++) expected.push(Math.fround((v / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]));
    expect(Array.from(out.data)).to.deep.equal(expected);
    // e.g. R of 0: -0.485 / 0.229 = -2.117904
    expect(out.data[0]).to.be.closeTo(-2.1179039, 1e-6);
  });
  it('custom mean/std: mean 0.5, std 0.5 maps 0..255 to -1..1', () => {
    const out = normalizeImage({ data: Uint8Array.from([0, 255, 51]), height: 1, width: 1 }, { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
    expect(Array.from(out.data)).to.deep.equal([-1, 1, Math.fround(51 / 255 / 0.5 - 1)]);
  });
  it('std 0 and wrong lengths throw', () => {
    const img = { data: new Uint8Array(3), height: 1, width: 1 };
    expect(() => normalizeImage(img, { std: [0.2, 0, 0.2] })).to.throw(/std must be > 0/);
    expect(() => normalizeImage({ data: new Uint8Array(4), height: 1, width: 1 })).to.throw(/4 values for an image of 1x1x3/);
  });
});
