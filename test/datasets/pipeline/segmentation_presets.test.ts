import { expect } from 'chai';
import { promises as fs } from 'fs';
import * as path from 'path';
import { SeedSequence } from '../../../src/common/seed';
import { collateSegmentation, disposeSegmentationBatch } from '../../../datasets/collate_segmentation';
import { identityMeta } from '../../../datasets/pipeline/geometry';
import {
  padSegmentation, randomCropSegmentation, segmentationEvalTransform, segmentationTrainTransform, type SegmentationRecord,
} from '../../../datasets/pipeline/segmentation_presets';
import type { SegmentationSample } from '../../../datasets/types';
import { expectNoLeak } from '../../helpers/tensors';
import { makeTempDir, patternImage, removeDir, writePng } from './make_images';
import { encodePng } from './png_writer';

function sample(h: number, w: number, mask: number[]): SegmentationSample<Uint8Array> {
  return { image: { data: patternImage(h, w), height: h, width: w }, target: { mask: Uint8Array.from(mask) }, meta: identityMeta('s', h, w) };
}

describe('segmentation presets', () => {
  it('padSegmentation: image 0, mask 255 at the bottom/right; meta records the padding', () => {
    const s = padSegmentation(sample(1, 2, [3, 4]), 2, 3);
    expect(Array.from(s.target.mask)).to.deep.equal([3, 4, 255, 255, 255, 255]);
    expect(Array.from(s.image.data.subarray(6, 18))).to.deep.equal(new Array(12).fill(0));
    expect(Array.from(s.image.data.subarray(0, 6))).to.deep.equal(Array.from(patternImage(1, 2)));
    expect(s.meta.padding).to.deep.equal({ top: 0, bottom: 1, left: 0, right: 1 });
    expect(s.meta.validRegionXyxy).to.deep.equal([0, 0, 2, 1]);
  });

  it('randomCropSegmentation: smaller than the crop → whole image padded; larger → window of the crop size', () => {
    const small = randomCropSegmentation(sample(2, 3, [0, 1, 2, 3, 4, 5]), 4, new SeedSequence(1));
    expect(Array.from(small.target.mask)).to.deep.equal([0, 1, 2, 255, 3, 4, 5, 255, 255, 255, 255, 255, 255, 255, 255, 255]);
    const mask = Array.from({ length: 20 }, (_, i) => i); // 4x5, value = y * 5 + x
    const big = randomCropSegmentation(sample(4, 5, mask), 2, new SeedSequence(7));
    const [top, left] = [big.target.mask[0] / 5 | 0, big.target.mask[0] % 5];
    expect(Array.from(big.target.mask)).to.deep.equal([0, 1, 5, 6].map((d) => top * 5 + left + d));
    expect(big.meta.cropXyxy).to.deep.equal([left, top, left + 2, top + 2]);
  });

  describe('transforms on a generated record', () => {
    let dir: string;
    let record: SegmentationRecord;
    before(async () => {
      dir = await makeTempDir('segpresets');
      const file = await writePng(path.join(dir, 'i.png'), patternImage(10, 14), 10, 14);
      const maskFile = path.join(dir, 'm.png');
      // Left half class 1, right half class 7, last row ignore.
      const m = Array.from({ length: 140 }, (_, i) => (i >= 126 ? 255 : i % 14 < 7 ? 1 : 7));
      await fs.writeFile(maskFile, encodePng({ width: 14, height: 10, colorType: 0, bitDepth: 8, samples: m }));
      record = { file, maskFile, imageId: 'i', mask: { numClasses: 21 }, source: 'gen' };
    });
    after(() => removeDir(dir));

    it('train: output cropSize², masks resampled with nearest only (values stay in {1, 7, 255})', async () => {
      const t = segmentationTrainTransform({ shortEdge: { min: 5, max: 23 }, cropSize: 12 });
      for (let seed = 0; seed < 6; seed++) {
        const s = await t(record, new SeedSequence(seed));
        expect([s.image.height, s.image.width, s.target.mask.length]).to.deep.equal([12, 12, 144]);
        expect([...new Set(s.target.mask)].every((v) => v === 1 || v === 7 || v === 255)).to.equal(true);
        const again = await t(record, new SeedSequence(seed));
        expect(Array.from(again.target.mask)).to.deep.equal(Array.from(s.target.mask));
      }
    });

    it('eval: shorter side 20 → 20x28; mask columns follow the image (nearest, scale 2)', async () => {
      const s = await segmentationEvalTransform({ shortEdge: 20 })(record, new SeedSequence(0));
      expect([s.image.height, s.image.width]).to.deep.equal([20, 28]);
      // Scale 2 exactly: output column x takes source column floor(x / 2); columns 0..13 → 1, 14..27 → 7.
      expect(s.target.mask[13]).to.equal(1);
      expect(s.target.mask[14]).to.equal(7);
      expect(s.target.mask[17 * 28]).to.equal(1);
      expect(s.target.mask[18 * 28]).to.equal(255);
    });

    it('collateSegmentation: masks int32 padded with 255, images with 0; no leak', async () => {
      const a = await segmentationEvalTransform({ shortEdge: null })(record, new SeedSequence(0)); // 10x14
      const b = await segmentationEvalTransform({ shortEdge: 5 })(record, new SeedSequence(0)); // 5x7
      await expectNoLeak(() => {
        const batch = collateSegmentation([a, b], { sizeDivisibility: 8 });
        try {
          expect(batch.images.shape).to.deep.equal([2, 16, 16, 3]);
          expect(batch.masks.shape).to.deep.equal([2, 16, 16]);
          expect(batch.masks.dtype).to.equal('int32');
          const m = batch.masks.arraySync() as number[][][];
          expect(m[0][0].slice(12, 16)).to.deep.equal([7, 7, 255, 255]);
          expect(m[1][5][0]).to.equal(255);
          expect(m[1][0][0]).to.equal(1);
          expect(batch.metas[1].validRegionXyxy).to.deep.equal([0, 0, 7, 5]);
        } finally {
          disposeSegmentationBatch(batch);
        }
      });
    });
  });
});
