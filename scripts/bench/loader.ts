/**
 * Data loading speed of the classification train pipeline on hymenoptera (../shared): read + decode +
 * RandomResizedCrop(224) + flip + normalize, collated into [N, 224, 224, 3] float32 tensors by the DataLoader.
 * Prints one JSON object: per-stage milliseconds per image (single-threaded, sequential), then end-to-end
 * images/s of the loader for several concurrencies, plus the eval preset (Resize 256 + CenterCrop 224).
 *
 * Usage: npx tsx scripts/bench/loader.ts [--root DIR] [--epochs N] [--batch N]
 *   (UV_THREADPOOL_SIZE, default 4, caps how many sharp decodes run at once)
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';

import { scanImageFolder, imageFolderDataset } from '../../datasets/image_folder/image_folder';
import { collateClassification, DataLoader, disposeClassificationBatch } from '../../datasets/loader';
import { classificationEvalTransform, classificationTrainTransform } from '../../datasets/pipeline/classification_presets';
import { decodeImage, readImageFile } from '../../datasets/pipeline/decode';
import { normalizeImage } from '../../datasets/pipeline/normalize';
import { resampleImage } from '../../datasets/pipeline/resample';
import { randomResizedCropWindow } from '../../datasets/pipeline/transforms';
import { selectBackend } from '../../src/engine/backend';
import { arg } from './common';
import { SeedSequence } from '../../src/common/seed';

const r2 = (x: number): number => Math.round(x * 100) / 100;

async function main(): Promise<void> {
  const repoRoot = path.resolve(__dirname, '..', '..');
  const root = arg('root', path.resolve(repoRoot, '..', 'shared', 'datasets', 'hymenoptera', 'hymenoptera_data', 'train'));
  const epochs = Number(arg('epochs', '3'));
  const batchSize = Number(arg('batch', '16'));
  const backend = await selectBackend('wasm');
  const folder = await scanImageFolder(root, { onSkipped: () => undefined });
  const files = folder.samples.map((s) => s.file);

  // Stage timings, sequential, one image at a time.
  const rng = new SeedSequence(0);
  const t = { read: 0, decodeCrop: 0, resample: 0, normalize: 0 };
  let srcPixels = 0;
  for (const file of files) {
    let t0 = performance.now();
    const enc = await readImageFile(file);
    t.read += performance.now() - t0;
    const win = randomResizedCropWindow(enc.height, enc.width, rng);
    t0 = performance.now();
    const { image } = await decodeImage(enc, { crop: win });
    t.decodeCrop += performance.now() - t0;
    srcPixels += enc.height * enc.width;
    t0 = performance.now();
    const data = resampleImage(image.data, image.height, image.width, 3, 224, 224, 'bilinear');
    t.resample += performance.now() - t0;
    t0 = performance.now();
    normalizeImage({ data, height: 224, width: 224 });
    t.normalize += performance.now() - t0;
  }
  const perImage = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, r2(v / files.length)]));

  const loaderRuns: Record<string, unknown>[] = [];
  for (const [name, transform] of [['train', classificationTrainTransform()], ['eval', classificationEvalTransform()]] as const) {
    for (const concurrency of name === 'train' ? [1, 2, 4, 8] : [4]) {
      const ds = imageFolderDataset(folder, transform);
      const dl = new DataLoader(ds, { batchSize, collate: collateClassification, shuffle: name === 'train', seed: 1, concurrency, prefetchBatches: 2 });
      const tensorsBefore = tf.memory().numTensors;
      const t0 = performance.now();
      let images = 0;
      for (let e = 0; e < epochs; e++) {
        for await (const b of dl.epoch(e)) {
          images += b.images.shape[0];
          disposeClassificationBatch(b);
        }
      }
      const s = (performance.now() - t0) / 1000;
      loaderRuns.push({
        preset: name, concurrency, images, seconds: r2(s), imagesPerSecond: r2(images / s),
        maxBufferedSamples: dl.stats().maxBufferedSamples, tensorLeak: tf.memory().numTensors - tensorsBefore,
      });
    }
  }

  console.log(JSON.stringify({
    bench: 'loader',
    dataset: root,
    images: files.length,
    meanSourceMegapixels: r2(srcPixels / files.length / 1e6),
    backend: backend.name,
    cpus: require('node:os').cpus().length,
    uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
    batchSize,
    epochs,
    trainStageMsPerImage: perImage,
    loader: loaderRuns,
    rssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
  }, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
