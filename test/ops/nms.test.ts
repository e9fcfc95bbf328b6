import { expect } from 'chai';
import { batchedNms, nms } from '../../src/ops/nms';

describe('nms', () => {
  it('suppresses IoU > threshold against a kept higher-scored box, returns indices by score', () => {
    // 0: [0,0,10,10] s .9; 1: [1,0,11,10] s .8, IoU with 0 = 90/110 = 0.818 -> suppressed;
    // 2: [20,20,30,30] s .85, disjoint -> kept; 3: [0,0,10,5] s .95, IoU with 0 = 50/100 = 0.5, not > 0.5.
    const boxes = [0, 0, 10, 10, 1, 0, 11, 10, 20, 20, 30, 30, 0, 0, 10, 5];
    expect(Array.from(nms(boxes, [0.9, 0.8, 0.85, 0.95], 0.5))).to.deep.equal([3, 0, 2]);
    // At threshold 0.49 box 3 (highest) suppresses box 0; box 1 is then kept (IoU with 3 = 45/105 < 0.49).
    expect(Array.from(nms(boxes, [0.9, 0.8, 0.85, 0.95], 0.49))).to.deep.equal([3, 2, 1]);
  });

  it('a suppressed box does not suppress others (chain A > B > C)', () => {
    // A [0,0,10,10], B [4,0,14,10] (IoU(A,B) = 60/140 = .43), C [8,0,18,10] (IoU(A,C) = 20/180, IoU(B,C) = .43).
    // Threshold 0.4: A suppresses B; C survives because B was suppressed.
    expect(Array.from(nms([0, 0, 10, 10, 4, 0, 14, 10, 8, 0, 18, 10], [3, 2, 1], 0.4))).to.deep.equal([0, 2]);
  });

  it('equal scores keep the lower index first', () => {
    expect(Array.from(nms([0, 0, 10, 10, 0, 0, 10, 10, 50, 50, 60, 60], [0.5, 0.5, 0.5], 0.5))).to.deep.equal([0, 2]);
  });

  it('empty input', () => {
    expect(Array.from(nms([], [], 0.5))).to.deep.equal([]);
    expect(Array.from(batchedNms([], [], [], 0.5))).to.deep.equal([]);
  });
});

describe('batchedNms', () => {
  it('boxes of different categories never suppress each other', () => {
    // Identical boxes: 0 and 1 share category 2 (1 suppressed), 2 has category 0 and is kept.
    const boxes = [0, 0, 10, 10, 0, 0, 10, 10, 0, 0, 10, 10, 30, 30, 40, 40];
    expect(Array.from(batchedNms(boxes, [0.9, 0.8, 0.7, 0.6], [2, 2, 0, 0], 0.5))).to.deep.equal([0, 2, 3]);
  });

  it('rejects mismatched lengths', () => {
    expect(() => batchedNms([0, 0, 1, 1], [1, 2], [0, 0], 0.5)).to.throw(/boxes \[D \* 4\]/);
  });
});
