import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as path from 'path';
import { SeedSequence } from '../../../src/common/seed';
import { collateDetection, disposeDetectionBatch, paddedBatchSize } from '../../../datasets/collate_detection';
import { boxesToOriginal } from '../../../src/ops/boxes';
import {
  adjustBrightness, adjustContrast, adjustSaturation, colorJitter, detectionEvalTransform, detectionTrainTransform,
  filterTarget, type DetectionRecord,
} from '../../../datasets/pipeline/detection_presets';
import { identityMeta } from '../../../datasets/pipeline/geometry';
import type { DetectionSample, RgbImage } from '../../../datasets/types';
import { expectNoLeak } from '../../helpers/tensors';
import { makeTempDir, patternImage, removeDir, writePng } from './make_images';

const img = (data: number[], height: number, width: number): RgbImage<Uint8Array> => ({ data: Uint8Array.from(data), height, width });

describe('photometric adjustments (torchvision uint8 tensor semantics)', () => {
  it('brightness: clamp(f * x), truncated', () => {
    expect(Array.from(adjustBrightness(img([100, 200, 250], 1, 1), 1.5).data)).to.deep.equal([150, 255, 255]);
    expect(Array.from(adjustBrightness(img([101, 200, 251], 1, 1), 0.5).data)).to.deep.equal([50, 100, 125]);
  });

  it('contrast: blend with the mean gray level', () => {
    // gray = floor(0.2989 r + 0.587 g + 0.114 b): (10,20,30) → 18.149 → 18; (50,60,70) → 58.145 → 58; mean 38.
    // factor 2: 2x - 38 → [-18→0, 2, 22, 62, 82, 102].
    expect(Array.from(adjustContrast(img([10, 20, 30, 50, 60, 70], 1, 2), 2).data)).to.deep.equal([0, 2, 22, 62, 82, 102]);
  });

  it('saturation: blend with the pixel gray level', () => {
    const src = img([10, 20, 30, 50, 60, 70], 1, 2);
    expect(Array.from(adjustSaturation(src, 0).data)).to.deep.equal([18, 18, 18, 58, 58, 58]);
    // factor 2: 2x - gray → [2, 22, 42, 42, 62, 82].
    expect(Array.from(adjustSaturation(src, 2).data)).to.deep.equal([2, 22, 42, 42, 62, 82]);
  });

  it('colorJitter: seeded (same seed, same pixels), geometry and target untouched, off when all ranges are 0', () => {
    const s: DetectionSample<Uint8Array> = {
      image: img(Array.from(patternImage(4, 5)), 4, 5),
      target: { boxes: Float32Array.from([0, 0, 1, 1]), labels: Int32Array.from([0]) },
      meta: identityMeta('x', 4, 5),
    };
    const a = colorJitter(s, new SeedSequence(3), { brightness: 0.4, contrast: 0.4, saturation: 0.4 });
    const b = colorJitter(s, new SeedSequence(3), { brightness: 0.4, contrast: 0.4, saturation: 0.4 });
    expect(Array.from(a.image.data)).to.deep.equal(Array.from(b.image.data));
    expect(Array.from(a.image.data)).to.not.deep.equal(Array.from(s.image.data));
    expect(a.target).to.equal(s.target);
    expect(colorJitter(s, new SeedSequence(3), {})).to.equal(s);
  });
});

describe('detection presets', () => {
  let dir: string;
  let record: DetectionRecord;
  before(async () => {
    dir = await makeTempDir('detpresets');
    const file = await writePng(path.join(dir, 'p.png'), patternImage(40, 60), 40, 60);
    record = {
      file, imageId: 1, height: 40, width: 60, source: 'gen',
      target: { boxes: Float32Array.from([10, 4, 30, 20, 0, 0, 60, 40]), labels: Int32Array.from([2, 0]), difficult: Uint8Array.from([0, 1]) },
    };
  });
  after(() => removeDir(dir));

  it('train: ResizeShortestEdge 20 (scale 0.5) + flip p=1; boxes move and map back exactly', async () => {
    const t = detectionTrainTransform({ shortEdge: 20, flipProbability: 1 });
    const s = await t(record, new SeedSequence(0));
    expect([s.image.height, s.image.width]).to.deep.equal([20, 30]);
    // [10,4,30,20] * 0.5 = [5,2,15,10]; flip in W = 30: [30-15, 2, 30-5, 10] = [15, 2, 25, 10].
    expect(Array.from(s.target.boxes)).to.deep.equal([15, 2, 25, 10, 0, 0, 30, 20]);
    expect(Array.from(boxesToOriginal(s.target.boxes, s.meta))).to.deep.equal(Array.from(record.target.boxes));
    expect(s.image.data).to.be.instanceOf(Float32Array);
  });

  it('train: multi-scale choice is per sample and seeded; dropDifficult', async () => {
    const t = detectionTrainTransform({ shortEdge: [20, 40], flipProbability: 0, dropDifficult: true });
    const seen = new Set<number>();
    for (let seed = 0; seed < 8; seed++) {
      const s = await t(record, new SeedSequence(seed));
      const again = await t(record, new SeedSequence(seed));
      expect(again.image.height).to.equal(s.image.height);
      seen.add(s.image.height);
      expect(Array.from(s.target.labels)).to.deep.equal([2]);
    }
    expect([...seen].sort()).to.deep.equal([20, 40]);
  });

  it('eval: maxSize caps the long side (detectron2 rounding)', async () => {
    // 40x60, short edge 800 → 800x1200; 1200 > 90 → scale 90/1200 → 60x90.
    const s = await detectionEvalTransform({ shortEdge: 800, maxSize: 90 })(record, new SeedSequence(0));
    expect([s.image.height, s.image.width]).to.deep.equal([60, 90]);
    expect(Array.from(s.target.boxes)).to.deep.equal([15, 6, 45, 30, 0, 0, 90, 60]);
    expect(() => detectionEvalTransform({ shortEdge: [1, 2] })).to.throw(/one shortEdge/);
  });

  it('filterTarget keeps the flags aligned', () => {
    const t = filterTarget(record.target, (i) => i === 1);
    expect([Array.from(t.boxes), Array.from(t.labels), Array.from(t.difficult!)]).to.deep.equal([[0, 0, 60, 40], [0], [1]]);
  });

  it('collateDetection: padValue and sizeDivisibility, same values on wasm (written in place) and cpu', async () => {
    // Image 0: 1x2 px values 1..6; image 1: 2x1 px values 7..12; sizeDivisibility 3 → padded 3x3, pad -1.
    const mk = (data: number[], h: number, w: number, file: string): DetectionSample => ({
      image: { data: Float32Array.from(data), height: h, width: w }, meta: identityMeta(file, h, w),
      target: { boxes: new Float32Array(0), labels: new Int32Array(0) } });
    const samples = [mk([1, 2, 3, 4, 5, 6], 1, 2, 'a.png'), mk([7, 8, 9, 10, 11, 12], 2, 1, 'b.png')];
    const P = [-1, -1, -1];
    const expected = [
      [[[1, 2, 3], [4, 5, 6], P], [P, P, P], [P, P, P]],
      [[[7, 8, 9], P, P], [[10, 11, 12], P, P], [P, P, P]],
    ];
    const prev = tf.getBackend();
    for (const backend of ['wasm', 'cpu']) {
      await tf.setBackend(backend);
      try {
        await expectNoLeak(() => {
          const batch = collateDetection(samples, { sizeDivisibility: 3, padValue: -1 });
          try {
            expect(batch.images.shape).to.deep.equal([2, 3, 3, 3]);
            expect(batch.images.arraySync()).to.deep.equal(expected);
            expect(batch.metas[1].padding).to.deep.equal({ top: 0, bottom: 1, left: 0, right: 2 });
            expect(batch.imageSizes).to.deep.equal([{ height: 1, width: 2 }, { height: 2, width: 1 }]);
          } finally {
            disposeDetectionBatch(batch);
          }
        });
      } finally {
        await tf.setBackend(prev);
      }
    }
    expect(() => collateDetection([{ ...samples[0], image: { data: new Uint8Array(6), height: 1, width: 2 } }]))
      .to.throw(/'a\.png' is not normalized/);
  });

  it('collateDetection: pad to a multiple of 32, valid regions kept, boxes map back; no leak', async () => {
    const a = await detectionEvalTransform({ shortEdge: 20, maxSize: 1333 })(record, new SeedSequence(0)); // 20x30
    const b = await detectionEvalTransform({ shortEdge: 33, maxSize: 1333 })(record, new SeedSequence(0)); // 33x50 (49.5 → 50)
    expect([b.image.height, b.image.width]).to.deep.equal([33, 50]);
    expect(paddedBatchSize([a.image, b.image], 32)).to.deep.equal({ height: 64, width: 64 });
    await expectNoLeak(() => {
      const batch = collateDetection([a, b]);
      try {
        expect(batch.images.shape).to.deep.equal([2, 64, 64, 3]);
        expect(batch.metas[0].validRegionXyxy).to.deep.equal([0, 0, 30, 20]);
        expect(batch.metas[0].padding).to.deep.equal({ top: 0, bottom: 44, left: 0, right: 34 });
        // The content sizes before padding (20x30 and 33x50), which proposals are clipped to.
        expect(batch.imageSizes).to.deep.equal([{ height: 20, width: 30 }, { height: 33, width: 50 }]);
        const px = batch.images.arraySync() as number[][][][];
        expect(px[0][19][29]).to.deep.equal(Array.from(a.image.data.subarray((19 * 30 + 29) * 3, (19 * 30 + 29) * 3 + 3)));
        expect(px[0][20][0]).to.deep.equal([0, 0, 0]);
        expect(px[1][32][50]).to.deep.equal([0, 0, 0]);
        // Scale 50/60 x 33/40 stored in float32: the round trip is exact up to float32 rounding (1e-4 px).
        const back = boxesToOriginal(batch.targets[1].boxes, batch.metas[1]);
        Array.from(record.target.boxes).forEach((v, i) => expect(back[i]).to.be.closeTo(v, 1e-4));
      } finally {
        disposeDetectionBatch(batch);
      }
    });
    expect(() => collateDetection([])).to.throw(/empty sample list/);
  });
});
