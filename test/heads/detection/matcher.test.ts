import { expect } from 'chai';
import { BELOW_LOW_THRESHOLD, BETWEEN_THRESHOLDS, Matcher } from '../../../heads/detection/matcher';

describe('Matcher (0.5 / 0.4)', () => {
  // 3 ground-truth boxes x 5 anchors. Best per anchor: a0 .6 (gt0), a1 .45 (gt0), a2 .35 (gt1), a3 .3 (gt2),
  // a4 .3 (gt0).
  const iou = Float32Array.from([
    0.6, 0.45, 0.1, 0.2, 0.3,
    0.55, 0.3, 0.35, 0.2, 0.1,
    0.05, 0.1, 0.3, 0.3, 0.0,
  ]);

  it('thresholds: >= .5 match, [.4, .5) ignored (-2), < .4 background (-1)', () => {
    const m = new Matcher({ highThreshold: 0.5, lowThreshold: 0.4, allowLowQualityMatches: false });
    expect(Array.from(m.match(iou, 3))).to.deep.equal([0, BETWEEN_THRESHOLDS, BELOW_LOW_THRESHOLD, BELOW_LOW_THRESHOLD, BELOW_LOW_THRESHOLD]);
  });

  it("low-quality matches: each gt's best anchors (ties included) get back their own best gt", () => {
    // gt1's best anchor is a0 (.55), already matched to gt0, and stays gt0 (torchvision restores the anchor's best
    // gt, not gt1). gt2's best IoU .3 is tied at a2 and a3: a2's best gt is gt1 (.35) -> 1; a3's is gt2 -> 2.
    const m = new Matcher({ highThreshold: 0.5, lowThreshold: 0.4, allowLowQualityMatches: true });
    expect(Array.from(m.match(iou, 3))).to.deep.equal([0, BETWEEN_THRESHOLDS, 1, 2, BELOW_LOW_THRESHOLD]);
  });

  it('equal IoU with two gts picks the first gt', () => {
    const m = new Matcher({ highThreshold: 0.5, lowThreshold: 0.4, allowLowQualityMatches: false });
    expect(Array.from(m.match(Float32Array.from([0.7, 0.7]), 2))).to.deep.equal([0]);
  });

  it('rejects no ground truth and bad thresholds', () => {
    const m = new Matcher({ highThreshold: 0.5, lowThreshold: 0.4, allowLowQualityMatches: true });
    expect(() => m.match(new Float32Array(0), 0)).to.throw(/no ground-truth boxes/);
    expect(() => new Matcher({ highThreshold: 0.3, lowThreshold: 0.4, allowLowQualityMatches: true })).to.throw(/lowThreshold/);
  });
});
