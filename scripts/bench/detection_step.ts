/**
 * Share of a detection training step spent waiting for data: RetinaNet (ResNet-18 FPN by default) trained for a few
 * SGD steps on a detection split while the loader decodes, resizes, mirrors and normalizes the next batches, printing
 * JSON. The wait is measured as the trainer measures it (`src/engine/trainer.ts`: time blocked in the batch
 * iterator's `next()`), divided by the wall time of the timed steps.
 *
 * Runs the same steps with the loader's pixel work on an `ImageWorkerPool` (`--workers` threads, what
 * `resvision train` does) and, for comparison, on the main thread (`--workers 0` alone).
 *
 *   npx tsx scripts/bench/detection_step.ts [--config configs/detection/retinanet_r101_fpn_bccd.json] [--data DIR]
 *     [--backbone resnet18] [--short-edge 480] [--max-size 800] [--batch 2] [--steps 6] [--workers 2]
 *     [--resample pillow|sharp]
 * The first step of each run is a warm-up and is not timed.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as os from 'os';
import { collateDetection, disposeDetectionBatch } from '../../datasets/collate_detection';
import { DataLoader } from '../../datasets/loader';
import { detectionDataset, detectionTrainTransform, type DetectionResample } from '../../datasets/pipeline/detection_presets';
import { ImageWorkerPool } from '../../datasets/pipeline/image_worker_pool';
import { loadConfig } from '../../src/config/load';
import type { RetinaNetConfig } from '../../src/config/types';
import { selectBackend } from '../../src/engine/backend';
import { SgdOptimizer } from '../../src/engine/optimizer';
import { loadDetectionSplit } from '../../datasets/detection_split';
import { buildDetector, isFasterRCNNConfig } from '../../src/tasks/detection';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const configFile = arg('config', 'configs/detection/retinanet_r101_fpn_bccd.json');
  const base = loadConfig(configFile);
  if (base.task !== 'detection' || isFasterRCNNConfig(base)) throw new Error(`${configFile}: not a RetinaNet detection config`);
  const shortEdge = Number(arg('short-edge', '480'));
  const maxSize = Number(arg('max-size', '800'));
  const batchSize = Number(arg('batch', '2'));
  const steps = Number(arg('steps', '6'));
  const workers = Number(arg('workers', '2'));
  const resample = arg('resample', 'pillow') as DetectionResample;
  const cfg: RetinaNetConfig = {
    ...base,
    data: { ...base.data, root: arg('data', base.data.root) },
    model: { ...base.model, backbone: { ...base.model.backbone, name: arg('backbone', 'resnet18') as RetinaNetConfig['model']['backbone']['name'] } },
    train: { ...base.train, batchSize },
  };
  const backend = await selectBackend('wasm');
  const tensorsBefore = tf.memory().numTensors;
  const split = await loadDetectionSplit(cfg.data, cfg.data.trainSplit, cfg.data.classes, 'train');
  const model = buildDetector(cfg, split.classes.length);
  const opt = new SgdOptimizer(model.trainableParameters(), { lr: 0.001, momentum: 0.9, weightDecay: 1e-4 });

  const run = async (threads: number) => {
    const pool = threads > 0 ? new ImageWorkerPool({ threads }) : undefined;
    try {
      const transform = detectionTrainTransform({ shortEdge, maxSize, flipProbability: 0.5, resample, pool });
      const loader = new DataLoader(detectionDataset(split.records, transform), {
        batchSize, collate: (s) => collateDetection(s), shuffle: true, dropLast: true, seed: 0,
        concurrency: Math.max(2 * threads, 2),
      });
      const it = loader.batches()[Symbol.asyncIterator]();
      const waits: number[] = [];
      const computes: number[] = [];
      const load = [os.loadavg()[0]];
      let t0 = 0;
      for (let s = 0; s <= steps; s++) {
        if (s === 1) t0 = performance.now(); // step 0 is the warm-up
        const w0 = performance.now();
        const next = await it.next();
        const w1 = performance.now();
        if (next.done) throw new Error('loader ended');
        const { batch } = next.value;
        try {
          const { value, grads } = tf.variableGrads(() => {
            const l = model.computeLosses(batch, { training: true });
            return tf.add(l.classification, l.boxRegression) as tf.Scalar;
          });
          opt.step(grads);
          await value.data();
          value.dispose();
          tf.dispose(grads);
        } finally {
          disposeDetectionBatch(batch);
        }
        if (s > 0) {
          waits.push(w1 - w0);
          computes.push(performance.now() - w1);
        }
      }
      const wall = performance.now() - t0;
      await it.return?.(undefined);
      load.push(os.loadavg()[0]);
      const wait = waits.reduce((a, b) => a + b, 0);
      return {
        workerThreads: threads,
        timedSteps: steps,
        wallMs: +wall.toFixed(0),
        stepMsMean: +(wall / steps).toFixed(0),
        dataWaitMs: waits.map((v) => +v.toFixed(1)),
        computeMs: computes.map((v) => +v.toFixed(0)),
        dataWaitShare: +(wait / wall).toFixed(4),
        loadAvg1m: { before: load[0], after: load[1] },
      };
    } finally {
      await pool?.close();
    }
  };

  const results = [await run(workers)];
  if (workers > 0) results.push(await run(0));
  const out = {
    bench: 'detection_step',
    config: configFile,
    data: cfg.data.root,
    images: split.records.length,
    model: `retinanet ${cfg.model.backbone.name} fpn`,
    batchSize,
    shortEdge,
    maxSize,
    resample,
    backend: `${backend.name} ${backend.version}`,
    cpus: os.cpus().length,
    results,
  };
  opt.dispose(); // its momentum buffers are created by the first step
  model.dispose();
  Object.assign(out, { numTensors: { beforeModel: tensorsBefore, afterDispose: tf.memory().numTensors } });
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
