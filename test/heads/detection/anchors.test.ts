import { expect } from 'chai';
import { AnchorGenerator, cellAnchors, octaveAnchorSizes, RETINANET_ASPECT_RATIOS, retinaNetAnchorSizes } from '../../../heads/detection/anchors';

describe('anchors', () => {
  it('RetinaNet sizes: (s, int(s 2^(1/3)), int(s 2^(2/3))) for s = 32..512', () => {
    // 32 * 1.2599 = 40.3 -> 40, 32 * 1.5874 = 50.8 -> 50; 64 -> 80.6, 101.6; 128 -> 161.3, 203.2;
    // 256 -> 322.5, 406.4; 512 -> 645.1, 812.7 (truncated).
    expect(retinaNetAnchorSizes()).to.deep.equal([
      [32, 40, 50],
      [64, 80, 101],
      [128, 161, 203],
      [256, 322, 406],
      [512, 645, 812],
    ]);
  });

  it('octave sizes: truncate, then scale and round half to even; bad options throw', () => {
    // n = 2: 64 * 2^(1/2) = 90.5 -> 90; n = 1: the base sizes alone.
    expect(octaveAnchorSizes({ baseSizes: [64], scalesPerOctave: 2, sizeScale: 1 })).to.deep.equal([[64, 90]]);
    expect(octaveAnchorSizes({ baseSizes: [32, 64], scalesPerOctave: 1, sizeScale: 1 })).to.deep.equal([[32], [64]]);
    // Halved: 128 -> 161 / 2 = 80.5 -> 80 and 203 / 2 = 101.5 -> 102 (ties to even); 256 -> 322 / 2 = 161, 406 / 2 = 203.
    // Truncating 64 * 2^(2/3) = 101.6 instead gives 101: the scale applies to the truncated sizes.
    expect(octaveAnchorSizes({ baseSizes: [128, 512], scalesPerOctave: 3, sizeScale: 0.5 })).to.deep.equal([
      [64, 80, 102],
      [256, 322, 406],
    ]);
    expect(() => octaveAnchorSizes({ baseSizes: [32], scalesPerOctave: 1.5, sizeScale: 1 })).to.throw(/scalesPerOctave must be a positive integer, got 1.5/);
    expect(() => octaveAnchorSizes({ baseSizes: [32], scalesPerOctave: 3, sizeScale: 0 })).to.throw(/sizeScale must be positive, got 0/);
  });

  it('P3 cell anchors, ratio-major then size, rounded', () => {
    // ratio 0.5 (h/w): h = sqrt(.5) = .70711, w = 1/h = 1.41421.
    //   size 32: w/2 = 22.63 -> 23, h/2 = 11.31 -> 11; size 40: 28.28 -> 28, 14.14 -> 14; size 50: 35.36 -> 35, 17.68 -> 18.
    // ratio 1: half sizes 16, 20, 25. ratio 2: ratio 0.5 with x and y swapped.
    expect(Array.from(cellAnchors([32, 40, 50], RETINANET_ASPECT_RATIOS))).to.deep.equal([
      -23, -11, 23, 11, -28, -14, 28, 14, -35, -18, 35, 18,
      -16, -16, 16, 16, -20, -20, 20, 20, -25, -25, 25, 25,
      -11, -23, 11, 23, -14, -28, 14, 28, -18, -35, 18, 35,
    ]);
  });

  it('rounding is half to even (torch.round): 161/2 = 80.5 -> 80, 203/2 = 101.5 -> 102, 101/2 = 50.5 -> 50', () => {
    const p5 = cellAnchors([128, 161, 203], [1]);
    expect(Array.from(p5)).to.deep.equal([-64, -64, 64, 64, -80, -80, 80, 80, -102, -102, 102, 102]);
    expect(Array.from(cellAnchors([101], [1]))).to.deep.equal([-50, -50, 50, 50]);
  });

  it('grid order is y, then x, then cell anchor; shifts are x * strideX, y * strideY', () => {
    const gen = new AnchorGenerator([[32]], [[1]]);
    // 2 x 3 grid, stride 8: centres (0,0), (8,0), (16,0), (0,8), ...
    const a = gen.gridAnchors([{ height: 2, width: 3, strideY: 8, strideX: 8 }]);
    expect(Array.from(a.subarray(0, 16))).to.deep.equal([-16, -16, 16, 16, -8, -16, 24, 16, 0, -16, 32, 16, -16, -8, 16, 24]);
  });

  it("strides are torchvision's floor(imageSize / gridSize): 96 px over a 2-cell P6 grid gives 48", () => {
    const gen = new AnchorGenerator([[32], [64]], [[1], [1]]);
    const { anchors, counts } = gen.anchorsFor(96, 128, [
      [3, 4],
      [2, 2],
    ]);
    expect(counts).to.deep.equal([12, 4]);
    // Level 2, cell (y=1, x=1): shift (64, 48); anchor [-32, -32, 32, 32] -> [32, 16, 96, 80].
    expect(Array.from(anchors.subarray(4 * 15, 4 * 16))).to.deep.equal([32, 16, 96, 80]);
  });

  it('rejects mismatched level lists', () => {
    expect(() => new AnchorGenerator([[32], [64]], [[1]])).to.throw(/one size list and one ratio list per level/);
  });
});
