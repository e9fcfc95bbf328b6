/**
 * GPU check: what resvision does on this machine's GPU through WebGPU, in one JSON line.
 *
 * - the WebGPU adapters (name, vendor, native API, hardware or software) and the one used;
 * - correctness: ResNet-18 eval-mode logits on [2, 64, 64, 3] and its training-step loss and gradients, WebGPU vs
 *   wasm (max relative difference per tensor, float32 summation order only);
 * - ResNet-50 forward at batch 1 and 8 (224x224, eval mode);
 * - a ResNet-50 SGD training step at batch 16, 224x224 (momentum 0.9, weight decay 1e-4);
 * - a RetinaNet-R50-FPN SGD training step at batch 2, 512x683 padded to 512x704 (two boxes per image; frozen BN,
 *   stem and layer1 frozen as torchvision with pretrained weights).
 * Times are medians of `--repeats` runs after one warm-up, each ending with an `await data()` of its result (WebGPU
 * work is asynchronous: the read is what waits for the GPU). `gpu_check_torch.py` measures the same with
 * torchvision on CUDA; `run.sh` runs both in one command.
 *
 * Self-contained: needs this repository's files and node_modules (with the optional `webgpu` package) and a Node
 * binary, no network (see README.md next to this file).
 *
 *   node --import tsx scripts/gpu/gpu_check.ts [--repeats 5] [--allow-software] [--skip-large] [--correctness-only]
 */
import * as tf from '@tensorflow/tfjs-core';
import * as os from 'os';
import { resnet18, resnet50 } from '../../src/backbone/resnet';
import { selectBackend } from '../../src/engine/backend';
import { listGpuAdapters, releaseWebGpu, startWebGpuBackend } from '../../src/engine/webgpu';
import { hashTensorValues } from '../../src/weights/hash_init';
import { ResNetClassifier } from '../../heads/classification/model';
import { retinanetResnet50Fpn } from '../../heads/detection/model';
import { arg, medianMs, sgdStepMs, Trainable } from '../bench/common';

/** Median ms of `fn` over `repeats` runs, rounded to 0.1, after one warm-up (shader compilation, buffer pools). */
async function gpuMedianMs(fn: () => Promise<void>, repeats: number): Promise<number> {
  return +(await medianMs(fn, 1, repeats)).toFixed(1);
}

function relDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / Math.max(1e-3, m);
}

/** ResNet-18 logits, loss and every gradient on [2, 64, 64, 3], computed on the current backend, read back. */
async function smallStep(model: ResNetClassifier, x: tf.Tensor4D, labels: tf.Tensor1D): Promise<Float32Array[]> {
  const params = model.trainableParameters();
  const logits = model.forward(x, { training: false });
  const { value, grads } = tf.variableGrads(() => model.computeLosses({ images: x, labels }, { training: true }).classification, params.map(([, v]) => v));
  const ts = [logits, value, ...params.map(([, v]) => grads[v.name])];
  const out = await Promise.all(ts.map(async (t) => Float32Array.from((await t.data()) as Float32Array)));
  tf.dispose(ts);
  return out;
}

/** Median ms of one SGD step (momentum 0.9, weight decay 1e-4), rounded to 0.1, after one warm-up. */
async function trainStepMs(model: Trainable, loss: () => tf.Scalar, repeats: number): Promise<number> {
  return +(await sgdStepMs(model, loss, 1, repeats)).toFixed(1);
}

async function main(): Promise<void> {
  const repeats = Number(arg('repeats', '5'));
  const report: Record<string, unknown> = { check: 'resvision-gpu', node: process.version, platform: `${process.platform}-${process.arch}`, loadavg: os.loadavg().map((v) => +v.toFixed(2)) };
  report.adapters = await listGpuAdapters();

  // Correctness against wasm first. Two copies of the same seeded model are made on wasm: the training step updates
  // BatchNorm's running statistics, so each backend gets an untouched copy for its eval-mode logits. The WebGPU copy's
  // variables move there when first used (a read from wasm is synchronous) and never come back.
  await selectBackend('wasm');
  const smallWasm = new ResNetClassifier(resnet18(), 7);
  const smallGpu = new ResNetClassifier(resnet18(), 7);
  const x = tf.tensor4d(hashTensorValues('gpu_check/x', [2, 64, 64, 3]), [2, 64, 64, 3]);
  const labels = tf.tensor1d([3, 5], 'int32');
  const onWasm = await smallStep(smallWasm, x, labels);
  smallWasm.dispose();
  const adapter = await startWebGpuBackend({ allowSoftware: process.argv.includes('--allow-software') });
  report.adapter = adapter;
  const onGpu = await smallStep(smallGpu, x, labels);
  const rel = onGpu.map((g, i) => relDiff(g, onWasm[i]));
  report.correctness_resnet18_vs_wasm = {
    logits_rel: rel[0],
    loss_rel: rel[1],
    max_grad_rel: Math.max(...rel.slice(2)),
    tensors: rel.length,
    ok: Math.max(...rel) < 1e-3,
  };
  tf.dispose([x, labels]);
  smallGpu.dispose();

  if (process.argv.includes('--correctness-only')) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    releaseWebGpu();
    return;
  }

  const r50 = new ResNetClassifier(resnet50(), 1000);
  for (const b of [1, 8]) {
    const xb = tf.randomNormal([b, 224, 224, 3], 0, 1, 'float32', b) as tf.Tensor4D;
    report[`resnet50_forward_b${b}_ms`] = await gpuMedianMs(async () => {
      const y = r50.forward(xb, { training: false });
      await y.data();
      y.dispose();
    }, repeats);
    xb.dispose();
  }
  if (!process.argv.includes('--skip-large')) {
    const x16 = tf.randomNormal([16, 224, 224, 3], 0, 1, 'float32', 16) as tf.Tensor4D;
    const y16 = tf.tensor1d(Array.from({ length: 16 }, (_, i) => (i * 37) % 1000), 'int32');
    report.resnet50_train_step_b16_ms = await trainStepMs(r50, () => r50.computeLosses({ images: x16, labels: y16 }, { training: true }).classification, repeats);
    tf.dispose([x16, y16]);
  }
  r50.dispose();

  if (!process.argv.includes('--skip-large')) {
    const det = retinanetResnet50Fpn({ numClasses: 91 });
    const xd = tf.randomNormal([2, 512, 704, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
    const targets = [
      { boxes: Float32Array.from([10, 10, 60, 70, 100, 100, 150, 140]), labels: Int32Array.from([0, 1]) },
      { boxes: Float32Array.from([200, 120, 420, 380, 30, 300, 90, 500]), labels: Int32Array.from([5, 17]) },
    ];
    report.retinanet_r50_train_step_b2_512x683_ms = await trainStepMs(det, () => {
      const l = det.computeLosses({ images: xd, targets }, { training: true });
      return tf.add(l.classification, l.boxRegression) as tf.Scalar;
    }, Math.min(repeats, 3));
    xd.dispose();
    det.dispose();
  }
  report.loadavg_after = os.loadavg().map((v) => +v.toFixed(2));
  process.stdout.write(`${JSON.stringify(report)}\n`);
  releaseWebGpu();
}

main().catch((e: unknown) => {
  process.stdout.write(`${JSON.stringify({ check: 'resvision-gpu', error: e instanceof Error ? e.message : String(e) })}\n`);
  releaseWebGpu();
  process.exitCode = 1;
});
