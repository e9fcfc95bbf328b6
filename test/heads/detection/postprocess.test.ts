/**
 * Post-processing against torchvision's RetinaNet.postprocess_detections (test/golden/retinanet_postprocess.json,
 * scripts/parity/gen_retinanet_golden.py): synthetic head outputs rebuilt here from the same hash, in float64 as the
 * reference, so the comparison is exact up to float64 rounding: labels and ranks equal, boxes within 1e-4 px
 * (stored with 9 significant digits), scores within 1e-9.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { AnchorGenerator, RETINANET_ASPECT_RATIOS, retinaNetAnchorSizes } from '../../../heads/detection/anchors';
import { BoxCoder } from '../../../heads/detection/box_coder';
import { toCocoResults } from '../../../datasets/coco/results';
import { detectionsToOriginal, postprocessDetections, topkOrder } from '../../../heads/detection/postprocess';
import { hashTensorValues } from '../../../src/weights/hash_init';

const GOLDEN = path.resolve(__dirname, '..', '..', 'golden', 'retinanet_postprocess.json');

describe('postprocessDetections', () => {
  it(`equals torchvision postprocess_detections on hash outputs (${path.basename(GOLDEN)})`, () => {
    const g = JSON.parse(fs.readFileSync(GOLDEN, 'utf-8')) as {
      numClasses: number;
      anchorsPerLevel: number[];
      imageSizes: [number, number][];
      candidatesAboveThreshold: number[][];
      detections: { count: number; boxes: number[][]; scores: number[]; labels: number[] }[];
    };
    const gen = new AnchorGenerator(retinaNetAnchorSizes(), retinaNetAnchorSizes().map(() => [...RETINANET_ASPECT_RATIOS]));
    const { anchors, counts } = gen.anchorsFor(96, 128, [
      [12, 16],
      [6, 8],
      [3, 4],
      [2, 2],
      [1, 1],
    ]);
    expect(counts).to.deep.equal(g.anchorsPerLevel);
    const R = anchors.length / 4;
    const K = g.numClasses;
    // The top-1000 cut is active on P3 and P4 (more candidates above 0.05 than 1000).
    expect(g.candidatesAboveThreshold[0][0]).to.be.greaterThan(1000);
    const u = hashTensorValues('postprocess/cls_logits', [2, R, K]);
    const logits = Float64Array.from(u, (v) => v * 4 - 2.5);
    const deltas = Float64Array.from(hashTensorValues('postprocess/bbox_regression', [2, R, 4]));
    const dets = postprocessDetections(logits, deltas, anchors, counts, K, g.imageSizes.map(([height, width]) => ({ height, width })), new BoxCoder());
    dets.forEach((d, i) => {
      const gd = g.detections[i];
      expect(d.labels.length, `image ${i} count`).to.equal(gd.count);
      expect(Array.from(d.labels), `image ${i} labels`).to.deep.equal(gd.labels);
      d.scores.forEach((s, k) => expect(s, `image ${i} score ${k}`).to.be.closeTo(gd.scores[k], 1e-7));
      gd.boxes.forEach((b, k) => b.forEach((v, c) => expect(d.boxes[4 * k + c], `image ${i} box ${k}`).to.be.closeTo(v, 1e-4)));
      // Clipped to the image size (image 0: 90 x 120 inside the 96 x 128 batch).
      const [h, w] = g.imageSizes[i];
      for (let k = 0; k < d.boxes.length; k += 4) {
        expect(d.boxes[k] >= 0 && d.boxes[k + 2] <= w && d.boxes[k + 1] >= 0 && d.boxes[k + 3] <= h).to.equal(true);
      }
    });
  });

  it('hand case: threshold, top-k per level, decode, clip, class-wise NMS, max detections', () => {
    // One image 20 x 20, two levels with one anchor each, K = 2.
    // Level 0 anchor [0,0,10,10], logits (2, 0): scores .881, .5; level 1 anchor [1,0,11,10], logits (1, -5):
    // .731, .0067 (< .05, dropped). Deltas 0 except level 1 dx = 1 (shift by its width 10 -> [11,0,21,10], clipped
    // to [11,0,20,10]). Class 0: [0,0,10,10] .881 and [11,0,20,10] .731 do not overlap: both kept; class 1:
    // [0,0,10,10] .5 kept (other class). Order by score: (.881, c0), (.731, c0), (.5, c1).
    const anchors = Float32Array.from([0, 0, 10, 10, 1, 0, 11, 10]);
    const logits = Float32Array.from([2, 0, 1, -5]);
    const deltas = Float32Array.from([0, 0, 0, 0, 1, 0, 0, 0]);
    const [d] = postprocessDetections(logits, deltas, anchors, [1, 1], 2, [{ height: 20, width: 20 }], new BoxCoder());
    expect(Array.from(d.labels)).to.deep.equal([0, 0, 1]);
    expect(Array.from(d.scores)).to.deep.equal([1 / (1 + Math.exp(-2)), 1 / (1 + Math.exp(-1)), 0.5].map(Math.fround));
    expect(Array.from(d.boxes)).to.deep.equal([0, 0, 10, 10, 11, 0, 20, 10, 0, 0, 10, 10]);
    // topkCandidates 1 keeps only the best pair of each level; detectionsPerImage 1 keeps one detection.
    const [d1] = postprocessDetections(logits, deltas, anchors, [1, 1], 2, [{ height: 20, width: 20 }], new BoxCoder(), { topkCandidates: 1 });
    expect(Array.from(d1.labels)).to.deep.equal([0, 0]);
    const [d2] = postprocessDetections(logits, deltas, anchors, [1, 1], 2, [{ height: 20, width: 20 }], new BoxCoder(), { detectionsPerImage: 1 });
    expect(d2.scores.length).to.equal(1);
  });

  it('maps to the original image (resize, padding, flip) and to COCO xywh results', () => {
    const det = { boxes: Float32Array.from([12, 4, 32, 24]), scores: Float32Array.from([0.9]), labels: Int32Array.from([1]) };
    // Original 100 x 50 (W x H) scaled by 0.4 -> content 40 x 20, padded 2 px left and 4 px top, then mirrored.
    // x: 12 - 2 = 10, 32 - 2 = 30; mirrored in a 40-px content: [10, 30]; / 0.4 -> [25, 75]. y: (4-4)/.4 = 0, (24-4)/.4 = 50.
    const back = detectionsToOriginal(det, {
      originalHeight: 50,
      originalWidth: 100,
      cropXyxy: [0, 0, 100, 50],
      scaleX: 0.4,
      scaleY: 0.4,
      flipped: true,
      padding: { top: 4, left: 2 },
      validRegionXyxy: [2, 4, 42, 24],
    });
    expect(Array.from(back.boxes)).to.deep.equal([25, 0, 75, 50]);
    expect(toCocoResults(back, 42, [7, 9])).to.deep.equal([{ image_id: 42, category_id: 9, bbox: [25, 0, 50, 50], score: Math.fround(0.9) }]);
    expect(() => toCocoResults(back, 42, [7])).to.throw(/class 1 has no category id/);
  });
});

describe('topkOrder (the per-level top-k of the candidates)', () => {
  /** The definition: a stable sort by descending score, first k. */
  const bySort = (sc: number[], k: number) => sc.map((_, q) => q).sort((a, b) => sc[b] - sc[a] || a - b).slice(0, Math.max(0, Math.min(k, sc.length)));

  it('equals the first k of a stable descending sort: random scores, many ties, k below, at and above n', () => {
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    let cases = 0;
    for (let trial = 0; trial < 2000; trial++) {
      const n = Math.floor(rnd() * 200);
      const levels = 1 + Math.floor(rnd() * 5);
      // a third of the cases draw from a few values, so the k-th score is often tied
      const sc = Array.from({ length: n }, () => (trial % 3 === 0 ? Math.floor(rnd() * levels) / levels : rnd()));
      const k = Math.floor(rnd() * 80);
      expect(topkOrder(sc, k), `n ${n}, k ${k}`).to.deep.equal(bySort(sc, k));
      if (n > k && k > 0) cases++;
    }
    expect(cases, 'cases that go through selection').to.be.greaterThan(500);
  });

  it('hand cases: ties at the k-th score keep the earliest positions; k = 0; constant scores', () => {
    expect(topkOrder([0.5, 0.9, 0.5, 0.7, 0.5], 3)).to.deep.equal([1, 3, 0]);
    expect(topkOrder([0.5, 0.9, 0.5, 0.7, 0.5], 4)).to.deep.equal([1, 3, 0, 2]);
    expect(topkOrder([0.3, 0.3, 0.3], 2)).to.deep.equal([0, 1]);
    expect(topkOrder([0.3, 0.1], 0)).to.deep.equal([]);
  });
});

