import { expect } from 'chai';

import { evaluateVocDetection, vocAp, type VocDetection, type VocImageGt } from '../../../datasets/voc/voc_ap';

/*
 * Hand-derived case (boxes are VOC xyxy inclusive pixels, so [1,1,10,10] is 10x10 = 100 px):
 *   image A: cat [1,1,10,10]; cat [20,20,29,29] difficult.   image B: cat [1,1,10,10]; dog [30,30,39,39].
 *   cat detections by score:
 *     .9 A [1,1,10,10]   IoU 1 with A's cat                         → TP
 *     .8 B [1,1,10,5]    inter 10*5=50, union 50+100-50=100 → 0.5, not > 0.5 → FP
 *     .7 A [20,20,29,29] matches the difficult object              → neither
 *     .6 A [1,1,10,10]   A's cat already detected                  → FP
 *     .5 B [2,1,10,10]   inter 9*10=90, union 90+100-90=100 → 0.9  → TP
 *   npos = 2 (difficult excluded). cum tp 1,1,1,1,2; fp 0,1,1,2,2 →
 *   recall .5,.5,.5,.5,1; precision 1,.5,.5,1/3,.5.
 *   All-point: envelope of [0, 1,.5,.5,1/3,.5, 0] from the right = [1,1,.5,.5,.5,.5,0]; recall changes 0→.5 and
 *   .5→1: AP = .5*1 + .5*.5 = 0.75.
 *   11-point: t = 0..0.5 (6 points): max precision over recall >= t = 1; t = 0.6..1 (5 points): only the last
 *   detection (recall 1) → .5. AP = (6*1 + 5*.5) / 11 = 8.5/11.
 *   dog: one object, no detection → empty curve → AP 0 in both metrics. mAP = (cat + dog) / 2.
 */
const images: VocImageGt[] = [
  {
    imageId: 'A',
    objects: [
      { className: 'cat', boxXyxy: [1, 1, 10, 10], difficult: false },
      { className: 'cat', boxXyxy: [20, 20, 29, 29], difficult: true },
    ],
  },
  {
    imageId: 'B',
    objects: [
      { className: 'cat', boxXyxy: [1, 1, 10, 10], difficult: false },
      { className: 'dog', boxXyxy: [30, 30, 39, 39], difficult: false },
    ],
  },
];
const dets: VocDetection[] = [
  { imageId: 'A', className: 'cat', score: 0.6, boxXyxy: [1, 1, 10, 10] },
  { imageId: 'B', className: 'cat', score: 0.8, boxXyxy: [1, 1, 10, 5] },
  { imageId: 'A', className: 'cat', score: 0.9, boxXyxy: [1, 1, 10, 10] },
  { imageId: 'B', className: 'cat', score: 0.5, boxXyxy: [2, 1, 10, 10] },
  { imageId: 'A', className: 'cat', score: 0.7, boxXyxy: [20, 20, 29, 29] },
];

describe('evaluateVocDetection', () => {
  it('VOC2010+ all-point: cat 0.75, dog 0, mAP 0.375', () => {
    const r = evaluateVocDetection(images, dets, { classNames: ['cat', 'dog'], use07Metric: false });
    expect(r.perClass[0].npos).to.equal(2);
    expect(Array.from(r.perClass[0].recall)).to.deep.equal([0.5, 0.5, 0.5, 0.5, 1]);
    expect(Array.from(r.perClass[0].precision)).to.deep.equal([1, 0.5, 0.5, 1 / 3, 0.5]);
    expect(r.perClass[0].ap).to.equal(0.75);
    expect(r.perClass[1].ap).to.equal(0);
    expect(r.mAP).to.equal(0.375);
  });

  it('VOC2007 11-point: cat 8.5/11', () => {
    const r = evaluateVocDetection(images, dets, { classNames: ['cat', 'dog'], use07Metric: true });
    // summed as ap += p/11 eleven times, so equal to 8.5/11 up to rounding of the running sum
    expect(r.perClass[0].ap).to.be.closeTo(8.5 / 11, 1e-15);
    expect(r.perClass[1].ap).to.equal(0);
  });

  it('IoU uses the +1 pixel convention: [0,0,9,9] vs [5,0,14,9] is 50/150', () => {
    // widths 9-0+1 = 10; intersection x 5..9 → 5 px, y 0..9 → 10 px = 50; union 100 + 100 - 50 = 150 → 1/3
    const img: VocImageGt[] = [{ imageId: 'x', objects: [{ className: 'a', boxXyxy: [0, 0, 9, 9], difficult: false }] }];
    const d: VocDetection[] = [{ imageId: 'x', className: 'a', score: 1, boxXyxy: [5, 0, 14, 9] }];
    expect(evaluateVocDetection(img, d, { classNames: ['a'], use07Metric: false, iouThreshold: 0.33 }).mAP).to.equal(1);
    expect(evaluateVocDetection(img, d, { classNames: ['a'], use07Metric: false, iouThreshold: 0.34 }).mAP).to.equal(0);
  });

  /*
   * Top detection on a difficult object only (neither TP nor FP): voc_eval.py divides by max(tp + fp, eps).
   *   A [10,10,59,59] difficult 0; B [100,100,149,149] difficult 1. Detections: B 0.9, A 0.8.
   *   cum tp 0,1; fp 0,0 → precision 0/eps = 0, 1/1 = 1; recall 0, 1.
   *   11-point: max precision over recall >= t is 1 for every t → ap += 1/11 eleven times (1 up to the running sum).
   *   All-point: envelope [1,1,1,0] over recall steps 0→0 and 0→1 → 1.
   */
  it('difficult-only top detection: precision 0 not NaN, AP 1 under both rules (devkit eps)', () => {
    const img: VocImageGt[] = [{
      imageId: 'x',
      objects: [
        { className: 'a', boxXyxy: [10, 10, 59, 59], difficult: false },
        { className: 'a', boxXyxy: [100, 100, 149, 149], difficult: true },
      ],
    }];
    const d: VocDetection[] = [
      { imageId: 'x', className: 'a', score: 0.9, boxXyxy: [100, 100, 149, 149] },
      { imageId: 'x', className: 'a', score: 0.8, boxXyxy: [10, 10, 59, 59] },
    ];
    const r07 = evaluateVocDetection(img, d, { classNames: ['a'], use07Metric: true });
    expect(Array.from(r07.perClass[0].precision)).to.deep.equal([0, 1]);
    expect(Array.from(r07.perClass[0].recall)).to.deep.equal([0, 1]);
    expect(r07.perClass[0].ap).to.be.closeTo(1, 1e-15);
    expect(evaluateVocDetection(img, d, { classNames: ['a'], use07Metric: false }).perClass[0].ap).to.equal(1);
  });

  it('rejects a detection on an image outside the set, naming the record', () => {
    expect(() =>
      evaluateVocDetection(images, [{ imageId: 'Z', className: 'cat', score: 1, boxXyxy: [0, 0, 1, 1] }], { classNames: ['cat'], use07Metric: false }),
    ).to.throw(/detections\[0\]: image id "Z"/);
  });
});

describe('vocAp', () => {
  it('all-point with a recall gap: rec [.25,.5], prec [1,.5] → .25*1 + .25*.5 = 0.375', () => {
    // mrec [0,.25,.5,1], mpre [0,1,.5,0] → envelope [1,1,.5,0]; steps 0→.25 (p 1), .25→.5 (p .5), .5→1 (p 0)
    expect(vocAp([0.25, 0.5], [1, 0.5], false)).to.equal(0.375);
  });
  it('11-point on the same curve: t=0..0.2 → 1, t=0.3..0.5 → .5, rest 0 → 4.5/11', () => {
    expect(vocAp([0.25, 0.5], [1, 0.5], true)).to.be.closeTo(4.5 / 11, 1e-15);
  });
});
