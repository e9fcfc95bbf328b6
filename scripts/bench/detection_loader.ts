/**
 * Detection loading throughput: decode JPEG → ResizeShortestEdge(800, max 1333) (bilinear) → horizontal flip →
 * normalize → float32 tensor, on bccd (640x480) and coco-tiny val2017, images/s. Side by side, in one run, with the
 * torchvision reference (PIL + torchvision transforms, `detection_loader_reference.py`) on the same files, when
 * /usr/bin/python3 has torch.
 *
 * Ours, each on the same files:
 * - `unfusedMainThread`: the previous path (decode, `resize`, `horizontalFlip`, `normalizeSample`, one image after
 *   the other on the main thread), for comparison.
 * - `singleStream.pillow` / `.sharp`: `detectionTrainTransform` one image after the other, no worker pool.
 * - `dataLoader.<resample>.pool` / `.mainThread`: `DataLoader` (batch 2, padded to 32, tensor made) with or without
 *   an `ImageWorkerPool` of `--workers` threads; the second epoch is timed (thread start-up excluded, as the
 *   reference's persistent workers).
 * - `sharpVsPillow`: grey-level difference of the `sharp` resampler from Pillow's on these images (the `pillow` mode
 *   is Pillow's arithmetic bit for bit, tested in test/datasets/pipeline).
 * The torchvision side reports one process (1 thread) and a `DataLoader` with `--workers` worker processes.
 *
 * Usage: npx tsx scripts/bench/detection_loader.ts [--images N] [--workers W] [--no-reference]
 * Prints one JSON object. Keep N small: the CPU is shared. Read `loadAverage` before trusting a number.
 */
import * as tf from '@tensorflow/tfjs-core';
import { execFileSync } from 'child_process';
import { existsSync, promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { selectBackend } from '../../src/engine/backend';
import { SeedSequence } from '../../src/common/seed';
import { DataLoader } from '../../datasets/loader';
import { collateDetection, disposeDetectionBatch } from '../../datasets/collate_detection';
import { decodeImage } from '../../datasets/pipeline/decode';
import {
  detectionDataset, detectionTrainTransform, runDetectionImageJob, type DetectionImageJob, type DetectionRecord,
  type DetectionResample,
} from '../../datasets/pipeline/detection_presets';
import { identityMeta } from '../../datasets/pipeline/geometry';
import { ImageWorkerPool } from '../../datasets/pipeline/image_worker_pool';
import { IMAGENET_MEAN, IMAGENET_STD, normalizeSample } from '../../datasets/pipeline/normalize';
import { horizontalFlip, resize, resizeShortestEdgeSize } from '../../datasets/pipeline/transforms';

const SHARED = path.resolve(__dirname, '..', '..', '..', 'shared', 'datasets');
const PYTHON = '/usr/bin/python3';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

function load(): number[] {
  return os.loadavg().map((v) => +v.toFixed(2));
}

async function listImages(dir: string, n: number): Promise<string[]> {
  const names = (await fs.readdir(dir)).filter((f) => f.endsWith('.jpg')).sort();
  return names.slice(0, n).map((f) => path.join(dir, f));
}

async function records(files: string[]): Promise<DetectionRecord[]> {
  const out: DetectionRecord[] = [];
  for (const [i, file] of files.entries()) {
    const md = await sharp(file).metadata();
    out.push({ file, imageId: i, height: md.height!, width: md.width!, source: 'bench',
      target: { boxes: new Float32Array(0), labels: new Int32Array(0) } });
  }
  return out;
}

/** Wall-clock rate, and CPU time per image (user + system of every thread of this process: main, worker threads,
 * libuv and libvips), which does not depend on what else the machine runs. */
function rate(n: number, ms: number, cpu0: NodeJS.CpuUsage) {
  const cpu = process.cpuUsage(cpu0);
  return { seconds: +(ms / 1000).toFixed(3), imagesPerSecond: +(n / (ms / 1000)).toFixed(1),
    cpuMsPerImage: +((cpu.user + cpu.system) / 1000 / n).toFixed(1) };
}

/** One image after the other on the main thread; a float32 tensor [1, H, W, 3] made from each. */
async function singleStream(recs: DetectionRecord[], run: (r: DetectionRecord) => Promise<{ data: Float32Array; height: number; width: number }>) {
  for (const r of recs.slice(0, 2)) await run(r); // warm-up
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (const r of recs) {
    const img = await run(r);
    tf.tensor4d(img.data, [1, img.height, img.width, 3]).dispose();
  }
  return rate(recs.length, performance.now() - t0, c0);
}

async function loaderRun(recs: DetectionRecord[], resample: DetectionResample, pool: ImageWorkerPool | undefined, concurrency: number) {
  const transform = detectionTrainTransform({ shortEdge: 800, maxSize: 1333, flipProbability: 1, resample, pool });
  const loader = new DataLoader(detectionDataset(recs, transform),
    { batchSize: 2, collate: (s) => collateDetection(s), concurrency, shuffle: true, seed: 0 });
  for await (const b of loader.epoch(0)) disposeDetectionBatch(b); // warm-up epoch
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for await (const b of loader.epoch(1)) disposeDetectionBatch(b);
  return { ...rate(recs.length, performance.now() - t0, c0), batchSize: 2, concurrency, workerThreads: pool?.threads ?? 0 };
}

/** Grey-level difference of the sharp resampler from Pillow's, per value (|a - b| * 255 * std, rounded). */
async function sharpVsPillow(recs: DetectionRecord[]) {
  let max = 0;
  let sum = 0;
  let differing = 0;
  let count = 0;
  for (const r of recs) {
    const size = resizeShortestEdgeSize(r.height, r.width, 800, 1333);
    const job: DetectionImageJob = { file: r.file, imageId: r.imageId, source: r.source, expectedHeight: r.height,
      expectedWidth: r.width, ...size, flip: false, jitter: null, kernel: 'bilinear', resample: 'pillow',
      mean: IMAGENET_MEAN, std: IMAGENET_STD };
    const a = await runDetectionImageJob(job);
    const b = await runDetectionImageJob({ ...job, resample: 'sharp' });
    for (let i = 0; i < a.length; i++) {
      const d = Math.round(Math.abs(a[i] - b[i]) * 255 * IMAGENET_STD[i % 3]);
      if (d > max) max = d;
      sum += d;
      if (d > 0) differing++;
    }
    count += a.length;
  }
  return { maxGreyLevels: max, meanGreyLevels: +(sum / count).toFixed(4), shareOfValuesDiffering: +(differing / count).toFixed(4) };
}

async function benchJs(files: string[], workers: number) {
  const recs = await records(files);
  const pool = new ImageWorkerPool({ threads: workers });
  try {
    const unfused = await singleStream(recs, async (r) => {
      const { image, meta } = await decodeImage(r.file);
      const s = horizontalFlip(resize({ image, meta: identityMeta(r.file, image.height, image.width) },
        resizeShortestEdgeSize(r.height, r.width, 800, 1333)));
      return normalizeSample(s).image;
    });
    const single: Record<string, unknown> = {};
    for (const resample of ['pillow', 'sharp'] as const) {
      const t = detectionTrainTransform({ shortEdge: 800, maxSize: 1333, flipProbability: 1, resample });
      single[resample] = await singleStream(recs, async (r) => (await t(r, new SeedSequence(0))).image);
    }
    type LoaderRun = Awaited<ReturnType<typeof loaderRun>>;
    const loader = {} as Record<DetectionResample, { pool: LoaderRun; mainThread: LoaderRun }>;
    for (const resample of ['pillow', 'sharp'] as const) {
      loader[resample] = {
        pool: await loaderRun(recs, resample, pool, 2 * workers),
        mainThread: await loaderRun(recs, resample, undefined, 4),
      };
    }
    return { images: files.length, unfusedMainThread: unfused, singleStream: single, dataLoader: loader,
      sharpVsPillow: await sharpVsPillow(recs.slice(0, 8)) };
  } finally {
    await pool.close();
  }
}

function benchReference(files: string[], workers: number): Record<string, unknown> {
  if (!existsSync(PYTHON)) return { error: `${PYTHON} not found` };
  try {
    const out = execFileSync(PYTHON, [path.join(__dirname, 'detection_loader_reference.py'), '1', String(workers), ...files],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return JSON.parse(out.trim().split('\n').pop()!);
  } catch (e) {
    return { error: `reference not run: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}` };
  }
}

async function main(): Promise<void> {
  const n = arg('images', 24);
  const workers = arg('workers', 2);
  const reference = !process.argv.includes('--no-reference');
  await selectBackend('wasm');
  const sets = {
    bccd: await listImages(path.join(SHARED, 'bccd-voc', 'BCCD', 'JPEGImages'), n),
    cocoTinyVal: await listImages(path.join(SHARED, 'coco-tiny', 'tiny_coco', 'val2017'), n),
  };
  const results: Record<string, unknown> = {};
  for (const [name, files] of Object.entries(sets)) {
    const loadBefore = load();
    const ours = await benchJs(files, workers);
    const tv = reference ? benchReference(files, workers) : null;
    const best = ours.dataLoader.pillow.pool.imagesPerSecond;
    const tvSingle = (tv as { singleProcess?: { imagesPerSecond: number } } | null)?.singleProcess?.imagesPerSecond;
    const tvLoader = (tv as { dataLoader?: { imagesPerSecond: number } } | null)?.dataLoader?.imagesPerSecond;
    const tvSingleCpu = (tv as { singleProcess?: { cpuMsPerImage: number } } | null)?.singleProcess?.cpuMsPerImage;
    const tvLoaderCpu = (tv as { dataLoader?: { cpuMsPerImage: number } } | null)?.dataLoader?.cpuMsPerImage;
    results[name] = {
      resvision: ours,
      torchvision: tv,
      ratio: {
        pillowPoolVsTorchvisionSingleProcess: tvSingle ? +(best / tvSingle).toFixed(2) : null,
        pillowPoolVsTorchvisionDataLoader: tvLoader ? +(best / tvLoader).toFixed(2) : null,
        sharpPoolVsTorchvisionSingleProcess: tvSingle ? +(ours.dataLoader.sharp.pool.imagesPerSecond / tvSingle).toFixed(2) : null,
        sharpPoolVsTorchvisionDataLoader: tvLoader ? +(ours.dataLoader.sharp.pool.imagesPerSecond / tvLoader).toFixed(2) : null,
      },
      // Images per CPU-second, ours (pillow, pool) over torchvision's: the throughput ratio on equally free cores.
      cpuEfficiency: {
        pillowPoolVsTorchvisionSingleProcess: tvSingleCpu ? +(tvSingleCpu / ours.dataLoader.pillow.pool.cpuMsPerImage).toFixed(2) : null,
        pillowPoolVsTorchvisionDataLoader: tvLoaderCpu ? +(tvLoaderCpu / ours.dataLoader.pillow.pool.cpuMsPerImage).toFixed(2) : null,
      },
      loadAverage: { before: loadBefore, after: load() },
    };
  }
  process.stdout.write(`${JSON.stringify({
    bench: 'detection_loader',
    pipeline: 'decode JPEG -> shortest edge 800 / max 1333 (bilinear) -> hflip -> normalize -> float32 tensor',
    node: process.version,
    cpus: os.cpus().length,
    workers,
    uvThreadpoolSize: process.env.UV_THREADPOOL_SIZE ?? '4 (default)',
    results,
  }, null, 2)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
