/**
 * Detection loading throughput: decode JPEG → ResizeShortestEdge(800, max 1333) (Pillow-exact bilinear) → horizontal
 * flip → normalize → float32 tensor [1, H, W, 3], on bccd (640x480) and coco-tiny val2017, images/s. Side by side
 * with the torchvision reference (PIL + torchvision transforms, `detection_loader_reference.py`) on the same files.
 *
 * Usage: npx tsx scripts/bench/detection_loader.ts [--images N] [--no-reference]
 * Prints one JSON object. Keep N small: the CPU is shared.
 */
import * as tf from '@tensorflow/tfjs';
import { execFileSync } from 'child_process';
import { promises as fs } from 'fs';
import * as path from 'path';
import { selectBackend } from '../../src/engine/backend';
import { SeedSequence } from '../../src/engine/seed';
import { DataLoader } from '../../datasets/loader';
import { collateDetection, disposeDetectionBatch } from '../../datasets/collate_detection';
import { detectionDataset, detectionTrainTransform, type DetectionRecord } from '../../datasets/pipeline/detection_presets';

const SHARED = path.resolve(__dirname, '..', '..', '..', 'shared', 'datasets');

async function listImages(dir: string, n: number): Promise<string[]> {
  const names = (await fs.readdir(dir)).filter((f) => f.endsWith('.jpg')).sort();
  return names.slice(0, n).map((f) => path.join(dir, f));
}

async function benchJs(files: string[]): Promise<Record<string, unknown>> {
  const sharp = (await import('sharp')).default;
  const records: DetectionRecord[] = [];
  for (const [i, file] of files.entries()) {
    const md = await sharp(file).metadata();
    records.push({ file, imageId: i, height: md.height!, width: md.width!, source: 'bench',
      target: { boxes: new Float32Array(0), labels: new Int32Array(0) } });
  }
  const transform = detectionTrainTransform({ shortEdge: 800, maxSize: 1333, flipProbability: 1 });
  for (const r of records.slice(0, 2)) await transform(r, new SeedSequence(0)); // warm-up
  // Single stream: one image at a time, as the reference.
  let t0 = performance.now();
  let shape: number[] = [];
  for (const r of records) {
    const s = await transform(r, new SeedSequence(0));
    const x = tf.tensor4d(s.image.data, [1, s.image.height, s.image.width, 3]);
    shape = x.shape;
    x.dispose();
  }
  const single = (performance.now() - t0) / 1000;
  // DataLoader: 4 decodes in flight, batches of 2 padded to 32.
  const loader = new DataLoader(detectionDataset(records, transform), { batchSize: 2, collate: (s) => collateDetection(s), concurrency: 4 });
  t0 = performance.now();
  for await (const b of loader.epoch(0)) disposeDetectionBatch(b);
  const loaded = (performance.now() - t0) / 1000;
  return {
    images: files.length,
    singleStream: { seconds: single, imagesPerSecond: files.length / single, lastShapeNHWC: shape },
    dataLoader: { seconds: loaded, imagesPerSecond: files.length / loaded, batchSize: 2, concurrency: 4 },
  };
}

function benchReference(files: string[]): Record<string, unknown> {
  try {
    const out = execFileSync('/usr/bin/python3', [path.join(__dirname, 'detection_loader_reference.py'), '1', ...files], { encoding: 'utf8' });
    return JSON.parse(out.trim().split('\n').pop()!);
  } catch (e) {
    return { error: `reference not run: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}` };
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const n = args.includes('--images') ? Number(args[args.indexOf('--images') + 1]) : 20;
  const reference = !args.includes('--no-reference');
  await selectBackend('wasm');
  const sets = {
    bccd: await listImages(path.join(SHARED, 'bccd-voc', 'BCCD', 'JPEGImages'), n),
    cocoTinyVal: await listImages(path.join(SHARED, 'coco-tiny', 'tiny_coco', 'val2017'), n),
  };
  const results: Record<string, unknown> = {};
  for (const [name, files] of Object.entries(sets)) {
    results[name] = { resvision: await benchJs(files), torchvision: reference ? benchReference(files) : null };
  }
  process.stdout.write(`${JSON.stringify({
    bench: 'detection_loader',
    pipeline: 'decode JPEG -> shortest edge 800 / max 1333 (bilinear) -> hflip -> normalize -> float32 tensor',
    node: process.version,
    uvThreadpoolSize: process.env.UV_THREADPOOL_SIZE ?? '4 (default)',
    results,
  }, null, 2)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
