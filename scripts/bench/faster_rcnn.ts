/**
 * Faster R-CNN-R50-FPN benchmark at shorter side 512 (a 4:3 image: 512x683, padded to 512x704 as the batch collate
 * does): inference latency at batch 1 (`predict`, with post-processing) and one SGD training step at batch 1 (two
 * ground-truth boxes; momentum 0.9, weight decay 1e-4; FrozenBatchNorm2d, stem and layer1 frozen as torchvision with
 * pretrained weights) on the selected backend, peak RSS, live tensors before/after and the 1-minute load average
 * (the machine may be shared); side by side with torchvision's Faster R-CNN (same architecture, torch threads 2 by
 * default) when /usr/bin/python3 can import torch, with the ratios. Prints one JSON object.
 *
 *   npx tsx scripts/bench/faster_rcnn.ts [--short 512] [--repeats 3] [--torch-threads 2] [--backend auto]
 */
import * as tf from '@tensorflow/tfjs';
import * as os from 'os';
import * as path from 'path';
import { arg, medianMs, pythonReference } from './common';
import { BackendChoice, selectBackend } from '../../src/engine/backend';
import { SgdOptimizer } from '../../src/engine/optimizer';
import { fasterrcnnResnet50Fpn } from '../../heads/detection/faster_rcnn';

function torchReference(h: number, w: number, repeats: number, threads: number): Record<string, unknown> {
  return pythonReference(path.join(__dirname, 'faster_rcnn_torch.py'), [String(h), String(w), String(repeats), String(threads)]);
}

async function main(): Promise<void> {
  const short = Number(arg('short', '512'));
  const repeats = Number(arg('repeats', '3'));
  const torchThreads = Number(arg('torch-threads', '2'));
  const backend = await selectBackend(arg('backend', 'auto') as BackendChoice);
  const h = short;
  const w = Math.round((short * 4) / 3);
  const pad = (v: number) => Math.ceil(v / 32) * 32;
  const loadBefore = os.loadavg()[0];
  let peakRss = process.memoryUsage().rss;
  const sampleRss = () => (peakRss = Math.max(peakRss, process.memoryUsage().rss));

  const model = fasterrcnnResnet50Fpn({ numClasses: 90 });
  const tensorsBefore = tf.memory().numTensors;
  const x = tf.randomNormal([1, pad(h), pad(w), 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const inferenceMs = await medianMs(
    async () => {
      await model.predict({ images: x, imageSizes: [{ height: h, width: w }] });
      sampleRss();
    },
    1,
    repeats,
  );
  const targets = [{ boxes: Float32Array.from([10, 10, 60, 70, 100, 100, 150, 140]), labels: Int32Array.from([0, 1]) }];
  const params = model.trainableParameters();
  const opt = new SgdOptimizer(params, { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
  const trainMs = await medianMs(
    async () => {
      const { value, grads } = tf.variableGrads(() => {
        const l = model.computeLosses({ images: x, targets, imageSizes: [{ height: h, width: w }] }, { training: true });
        sampleRss();
        return tf.addN(Object.values(l)) as tf.Scalar;
      }, params.map(([, v]) => v));
      opt.step(grads);
      await value.data();
      value.dispose();
      tf.dispose(grads);
      sampleRss();
    },
    1,
    repeats,
  );
  x.dispose();
  opt.dispose();
  const tensorsAfter = tf.memory().numTensors;
  model.dispose();

  const ours = {
    impl: 'resvision',
    backend: backend.name,
    version: backend.version,
    threads: backend.threads,
    inference_b1_ms: inferenceMs,
    train_step_b1_ms: trainMs,
    peak_rss_mb: Math.round(peakRss / 2 ** 20),
    num_tensors_before: tensorsBefore,
    num_tensors_after: tensorsAfter,
  };
  const loadAfter = os.loadavg()[0];
  const ref = torchReference(h, w, repeats, torchThreads);
  const ratios =
    'inference_b1_ms' in ref
      ? {
          inference_ratio: inferenceMs / (ref.inference_b1_ms as number),
          train_step_ratio: trainMs / (ref.train_step_b1_ms as number),
        }
      : {};
  process.stdout.write(`${JSON.stringify({
    benchmark: 'faster_rcnn',
    model: 'fasterrcnn_resnet50_fpn',
    input: { height: h, width: w, padded: [pad(h), pad(w)] },
    repeats,
    cpus: os.cpus().length,
    load_avg_1m: { before: loadBefore, after: loadAfter, after_reference: os.loadavg()[0] },
    resvision: ours,
    reference: ref,
    ...ratios,
  }, null, 2)}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
