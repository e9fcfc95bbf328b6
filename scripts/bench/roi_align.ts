/**
 * RoIAlign benchmark: R boxes (8..128 px, random positions) on one P2-sized feature map [1, H, W, C] with output
 * 7x7, sampling ratio 2, spatial scale 1/4, aligned=False (Faster R-CNN's pooling of its largest level); forward
 * alone and forward + backward, on the selected backend, side by side with torchvision.ops.roi_align (torch threads
 * 2 by default) when /usr/bin/python3 can import torch, with the ratios and the 1-minute load average (the machine
 * may be shared). Prints one JSON object.
 *
 *   npx tsx scripts/bench/roi_align.ts [--height 128] [--width 176] [--channels 256] [--rois 1000] [--repeats 5]
 */
import * as tf from '@tensorflow/tfjs-core';
import * as os from 'os';
import * as path from 'path';
import { arg, medianMs, printReport, pythonReference, runMain } from './common';
import { BackendChoice, selectBackend } from '../../src/engine/backend';
import { roiAlign } from '../../src/ops/roi_align';

async function main(): Promise<void> {
  const h = Number(arg('height', '128'));
  const w = Number(arg('width', '176'));
  const c = Number(arg('channels', '256'));
  const r = Number(arg('rois', '1000'));
  const repeats = Number(arg('repeats', '5'));
  const torchThreads = Number(arg('torch-threads', '2'));
  const backend = await selectBackend(arg('backend', 'auto') as BackendChoice);
  const loadBefore = os.loadavg()[0];
  const x = tf.randomUniform([1, h, w, c], 0, 1, 'float32', 1) as tf.Tensor4D;
  const u = tf.randomUniform([r, 4], 0, 1, 'float32', 2).dataSync();
  const boxes = new Float32Array(4 * r);
  for (let i = 0; i < r; i++) {
    const x1 = u[4 * i] * w * 4 * 0.8;
    const y1 = u[4 * i + 1] * h * 4 * 0.8;
    boxes.set([x1, y1, x1 + 8 + u[4 * i + 2] * 120, y1 + 8 + u[4 * i + 3] * 120], 4 * i);
  }
  const b = tf.tensor2d(boxes, [r, 4]);
  const idx = tf.zeros([r], 'int32') as tf.Tensor1D;
  const g = tf.randomUniform([r, 7, 7, c], 0, 1, 'float32', 3);
  const opts = { outputSize: [7, 7] as [number, number], spatialScale: 0.25, samplingRatio: 2, aligned: false };
  const forwardMs = await medianMs(async () => {
    const y = roiAlign(x, b, idx, opts);
    await y.data();
    y.dispose();
  }, 1, repeats);
  const bothMs = await medianMs(async () => {
    const dx = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(roiAlign(v as tf.Tensor4D, b, idx, opts), g)))(x);
    await dx.data();
    dx.dispose();
  }, 1, repeats);
  tf.dispose([x, b, idx, g]);
  printReport(
    { benchmark: 'roi_align', input: { features: [1, h, w, c], rois: r, outputSize: 7, samplingRatio: 2, spatialScale: 0.25 } },
    repeats,
    loadBefore,
    { impl: 'resvision', backend: backend.name, threads: backend.threads, forward_ms: forwardMs, forward_backward_ms: bothMs },
    () => pythonReference(path.join(__dirname, 'roi_align_torch.py'), [h, w, c, r, repeats, torchThreads].map(String)),
    { forward_ratio: 'forward_ms', forward_backward_ratio: 'forward_backward_ms' },
  );
}

runMain(main);
