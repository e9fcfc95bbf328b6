import { expect } from 'chai';
import * as path from 'path';
import { SeedSequence } from '../../src/common/seed';
import { collateClassification, DataLoader, disposeClassificationBatch, type MapDataset } from '../../datasets/loader';
import { classificationTrainTransform } from '../../datasets/pipeline/classification_presets';
import { identityMeta } from '../../datasets/pipeline/geometry';
import type { ClassificationSample } from '../../datasets/types';
import { expectNoLeak } from '../helpers/tensors';
import { makeTempDir, patternImage, removeDir, writePng } from './pipeline/make_images';

/** A dataset of `n` items whose sample records its index and first rng draw; counts live samples. */
function recordingDataset(n: number, delayMs = (i: number) => (i * 7) % 5) {
  const live = { current: 0, max: 0 };
  const ds: MapDataset<{ index: number; draw: number }> = {
    length: n,
    async get(index: number, rng: SeedSequence) {
      live.current++;
      live.max = Math.max(live.max, live.current);
      await new Promise((r) => setTimeout(r, delayMs(index)));
      return { index, draw: rng.next() };
    },
  };
  const collate = (s: { index: number; draw: number }[]) => { live.current -= s.length; return s; };
  return { ds, live, collate };
}

async function collect<B>(it: AsyncIterable<B>): Promise<B[]> {
  const out: B[] = [];
  for await (const b of it) out.push(b);
  return out;
}

describe('DataLoader', () => {
  it('no shuffle, 10 items, batch 4 → [0..3] [4..7] [8,9]; dropLast → 2 batches', async () => {
    const { ds, collate } = recordingDataset(10);
    const batches = await collect(new DataLoader(ds, { batchSize: 4, collate }).epoch(0));
    expect(batches.map((b) => b.map((s) => s.index))).to.deep.equal([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    const dl = new DataLoader(ds, { batchSize: 4, collate, dropLast: true });
    expect(dl.batchesPerEpoch).to.equal(2);
    expect((await collect(dl.epoch(0))).map((b) => b.length)).to.deep.equal([4, 4]);
  });

  it('shuffle with a seed: a permutation, same for the same (seed, epoch), different across epochs; sample streams follow position', async () => {
    const { ds, collate } = recordingDataset(23);
    const run = async (seed: number, epoch: number, concurrency: number) =>
      (await collect(new DataLoader(ds, { batchSize: 5, collate, shuffle: true, seed, concurrency }).epoch(epoch))).flat();
    const a = await run(5, 0, 1);
    const b = await run(5, 0, 4); // other concurrency, random delays: completion order differs, result must not
    expect(a).to.deep.equal(b);
    expect(a.map((s) => s.index).sort((x, y) => x - y)).to.deep.equal(Array.from({ length: 23 }, (_, i) => i));
    const e1 = await run(5, 1, 3);
    expect(e1.map((s) => s.index)).to.not.deep.equal(a.map((s) => s.index));
    expect((await run(6, 0, 2)).map((s) => s.index)).to.not.deep.equal(a.map((s) => s.index));
    // Order = SeedSequence(5).spawn() (epoch 0) → spawn() (order stream) → Fisher-Yates shuffle of 0..22.
    const epochRng = new SeedSequence(5).spawn();
    const expectedOrder = epochRng.spawn().shuffle(Array.from({ length: 23 }, (_, i) => i));
    expect(a.map((s) => s.index)).to.deep.equal(expectedOrder);
  });

  it('bounded buffer: never more than prefetchBatches * batchSize samples alive, concurrency respected', async () => {
    const { ds, live, collate } = recordingDataset(40, () => 1);
    const dl = new DataLoader(ds, { batchSize: 4, collate, concurrency: 3, prefetchBatches: 2 });
    for await (const batch of dl.epoch(0)) {
      expect(batch.length).to.equal(4);
      await new Promise((r) => setTimeout(r, 5)); // slow consumer: the loader must wait, not run ahead
    }
    expect(live.max).to.be.at.most(2 * 4);
    expect(dl.stats().maxBufferedSamples).to.be.at.most(8);
    expect(dl.stats().maxInFlight).to.equal(3);
  });

  it('batches(): infinite over epochs with epoch/step; leaving early stops', async () => {
    const { ds, collate } = recordingDataset(5, () => 0);
    const dl = new DataLoader(ds, { batchSize: 2, collate, shuffle: true, seed: 1 });
    const seen: [number, number][] = [];
    for await (const { epoch, step } of dl.batches()) {
      seen.push([epoch, step]);
      if (seen.length === 7) break;
    }
    expect(seen).to.deep.equal([[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2], [2, 0]]);
  });

  it('a failing sample rejects when its batch is taken, naming it; no unhandled rejection', async () => {
    const ds: MapDataset<number> = {
      length: 6,
      get: async (i) => { if (i === 4) throw new Error(`sample ${i}: broken.jpg is corrupt`); return i; },
    };
    const dl = new DataLoader(ds, { batchSize: 2, collate: (s) => s });
    const got: number[][] = [];
    let err: unknown;
    try { for await (const b of dl.epoch(0)) got.push(b); } catch (e) { err = e; }
    expect(got).to.deep.equal([[0, 1], [2, 3]]);
    expect(String(err)).to.match(/broken\.jpg is corrupt/);
  });

  it('invalid options throw', () => {
    const { ds, collate } = recordingDataset(3);
    expect(() => new DataLoader(ds, { batchSize: 0, collate })).to.throw(/batchSize must be an integer >= 1/);
    expect(() => new DataLoader(ds, { batchSize: 1, collate, concurrency: 0 })).to.throw(/concurrency/);
  });
});

describe('collateClassification', () => {
  function sample(label: number, fill: number, h = 2, w = 3): ClassificationSample<Float32Array> {
    return { image: { data: new Float32Array(h * w * 3).fill(fill), height: h, width: w }, label, meta: identityMeta(`f${label}.png`, h, w) };
  }

  it('stacks to images [N,H,W,3] float32 and labels [N] int32 with the sample values', async () => {
    const b = collateClassification([sample(2, 0.5), sample(0, -1)]);
    expect(b.images.shape).to.deep.equal([2, 2, 3, 3]);
    expect(b.images.dtype).to.equal('float32');
    expect(b.labels.dtype).to.equal('int32');
    const px = await b.images.data();
    expect(px[0]).to.equal(0.5);
    expect(px[18]).to.equal(-1);
    expect(Array.from(await b.labels.data())).to.deep.equal([2, 0]);
    expect(b.metas.map((m) => m.file)).to.deep.equal(['f2.png', 'f0.png']);
    disposeClassificationBatch(b);
  });

  it('different sizes / uint8 images throw naming the file', () => {
    expect(() => collateClassification([sample(0, 0), sample(1, 0, 3, 3)])).to.throw(/'f1.png' is 3x3, the batch is 2x3/);
    const u8 = { image: { data: new Uint8Array(18), height: 2, width: 3 }, label: 0, meta: identityMeta('u.png', 2, 3) };
    expect(() => collateClassification([u8])).to.throw(/'u.png' is not normalized/);
  });

  it('train pipeline over generated images: deterministic batches, no tensor leak', async () => {
    const dir = await makeTempDir('loader');
    try {
      const files = await Promise.all([0, 1, 2, 3, 4].map((i) =>
        writePng(path.join(dir, `${i}.png`), patternImage(30 + i * 3, 40 - i), 30 + i * 3, 40 - i)));
      const transform = classificationTrainTransform({ size: 16 });
      const ds: MapDataset<ClassificationSample> = { length: 5, get: (i, rng) => transform({ file: files[i], label: i % 2 }, rng) };
      const run = async (): Promise<number[][]> => {
        const dl = new DataLoader(ds, { batchSize: 2, collate: collateClassification, shuffle: true, seed: 9, concurrency: 3 });
        const out: number[][] = [];
        for await (const b of dl.epoch(1)) {
          expect(b.images.shape.slice(1)).to.deep.equal([16, 16, 3]);
          out.push(Array.from(await b.images.data()).slice(0, 50), Array.from(await b.labels.data()));
          disposeClassificationBatch(b);
        }
        return out;
      };
      let first: number[][] = [];
      await expectNoLeak(async () => { first = await run(); });
      expect(await run()).to.deep.equal(first);
    } finally {
      await removeDir(dir);
    }
  });
});
