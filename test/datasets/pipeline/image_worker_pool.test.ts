import { expect } from 'chai';
import { promises as fs } from 'fs';
import * as path from 'path';
import { SeedSequence } from '../../../src/common/seed';
import { collateDetection, disposeDetectionBatch } from '../../../datasets/collate_detection';
import { DataLoader } from '../../../datasets/loader';
import {
  detectionDataset, detectionTrainTransform, type DetectionPresetOptions, type DetectionRecord,
} from '../../../datasets/pipeline/detection_presets';
import { ImageWorkerPool } from '../../../datasets/pipeline/image_worker_pool';
import { expectNoLeak } from '../../helpers/tensors';
import { makeTempDir, patternImage, removeDir, writePng } from './make_images';

describe('ImageWorkerPool (detection pixel work on worker threads)', function () {
  this.timeout(60_000); // thread start-up loads the pipeline modules in each thread
  let dir: string;
  let pool: ImageWorkerPool;
  let records: DetectionRecord[];
  before(async () => {
    dir = await makeTempDir('pool');
    pool = new ImageWorkerPool({ threads: 2 });
    records = [];
    for (let i = 0; i < 5; i++) {
      const h = 30 + 4 * i;
      const w = 44 - 3 * i;
      const file = await writePng(path.join(dir, `${i}.png`), patternImage(h, w), h, w);
      records.push({ file, imageId: i, height: h, width: w, source: 'gen',
        target: { boxes: Float32Array.from([2, 3, 20, 25]), labels: Int32Array.from([i % 3]) } });
    }
  });
  after(async () => {
    await pool.close();
    await removeDir(dir);
  });

  const opts: DetectionPresetOptions = {
    shortEdge: [24, 40], maxSize: 64, flipProbability: 0.5, colorJitter: { brightness: 0.3, contrast: 0.3, saturation: 0.3 },
  };

  for (const resample of ['pillow', 'sharp'] as const) {
    it(`${resample}: same samples on the pool as on the calling thread, for every seed (draws made before dispatch)`, async () => {
      const here = detectionTrainTransform({ ...opts, resample });
      const there = detectionTrainTransform({ ...opts, resample, pool });
      for (let seed = 0; seed < 4; seed++) {
        const r = records[seed];
        const [a, b] = await Promise.all([here(r, new SeedSequence(seed)), there(r, new SeedSequence(seed))]);
        expect([b.image.height, b.image.width, b.meta.flipped]).to.deep.equal([a.image.height, a.image.width, a.meta.flipped]);
        expect(b.image.data.every((v, i) => v === a.image.data[i])).to.equal(true);
        // Written by the worker in shared memory: no copy and no transferred ArrayBuffer on this thread.
        expect(b.image.data.buffer).to.be.instanceOf(SharedArrayBuffer);
        expect(b.image.data.length).to.equal(b.image.height * b.image.width * 3);
        expect(Array.from(b.target.boxes)).to.deep.equal(Array.from(a.target.boxes));
      }
    });
  }

  it('DataLoader on the pool: identical batches for a seed whatever the finishing order; no tensor leak', async () => {
    const transform = detectionTrainTransform({ ...opts, pool });
    const run = async (concurrency: number): Promise<number[][]> => {
      const dl = new DataLoader(detectionDataset(records, transform),
        { batchSize: 2, collate: (s) => collateDetection(s), shuffle: true, seed: 5, concurrency });
      const out: number[][] = [];
      for await (const b of dl.epoch(0)) {
        out.push(b.images.shape, Array.from(await b.images.data()).filter((_, i) => i % 97 === 0),
          ...b.targets.map((t) => Array.from(t.boxes)), b.metas.map((m) => (m.flipped ? 1 : 0)));
        disposeDetectionBatch(b);
      }
      return out;
    };
    let first: number[][] = [];
    await expectNoLeak(async () => { first = await run(4); });
    expect(await run(1)).to.deep.equal(first);
  });

  it('errors from a worker name the file (undecodable; size differing from the annotation, with the image id)', async () => {
    const bad = path.join(dir, 'bad.jpg');
    await fs.writeFile(bad, 'not an image');
    const t = detectionTrainTransform({ ...opts, pool });
    const rejectOf = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a rejection'); }, (e: Error) => e.message);
    expect(await rejectOf(t({ ...records[0], file: bad }, new SeedSequence(0)))).to.match(/bad\.jpg/);
    const wrong = { ...records[1], height: records[1].height + 1, imageId: 'img-7' };
    expect(await rejectOf(t(wrong, new SeedSequence(0)))).to.match(/1\.png.*img-7.*34x41 \(HxW\) after decoding, but the annotation says 35x41/);
  });

  it('invalid thread count throws; a closed pool rejects jobs naming the file', async () => {
    expect(() => new ImageWorkerPool({ threads: 0 })).to.throw(/threads must be an integer >= 1, got 0/);
    const p = new ImageWorkerPool({ threads: 1 });
    await p.close();
    const t = detectionTrainTransform({ ...opts, pool: p });
    const msg = await t(records[0], new SeedSequence(0)).then(() => '', (e: Error) => e.message);
    expect(msg).to.match(/closed.*0\.png/);
  });
});
