/**
 * Grouped convolution benchmark on the wasm backend (single thread), printing JSON: the ResNeXt-50 32x4d grouped
 * 3x3 convolutions (groups 32, stride 1, padding 1) at batch 4, forward and forward+backward (input and filter
 * gradients) of `conv2d` (src/ops/conv.ts), each against a dense 3x3 convolution with the same input and Cin = Cout,
 * as time per FLOP relative to the dense path (the two run alternately) (a grouped convolution has 1/groups of the dense FLOPs, so ratio =
 * groupedMs * groups / denseMs). Times are of the operations alone (the wasm backend computes a result before
 * returning it); `perFlopRatioForwardWithReadback` also counts copying the forward output to JS (dataSync), a cost
 * equal for both paths that is a large part of the grouped time (e.g. ~5 ms for [4,56,56,128]) and none of a
 * network's. Training results are scalars. Medians of several runs; the 1-minute load average is reported because
 * the machine is shared.
 * Usage: npx tsx scripts/bench/grouped_conv.ts [--quick]
 */
import * as os from 'os';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../src/engine/backend';
import { conv2d, Conv2dOpOptions } from '../../src/ops/conv';

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/**
 * Times of `fs` run alternately (f0, f1, ..., f0, f1, ...) `reps` times after one warm-up each, so that every
 * function sees the same share of the shared machine's load; returns the median of each.
 */
function timeInterleavedMs(fs: Array<() => tf.Tensor>, reps: number): number[] {
  const times: number[][] = fs.map(() => []);
  for (const f of fs) f().dispose();
  for (let i = 0; i < reps; i++) {
    fs.forEach((f, j) => {
      const t0 = performance.now();
      const t = f(); // the wasm backend runs kernels synchronously: t is computed on return
      t.dispose();
      times[j].push(performance.now() - t0);
    });
  }
  return times.map(median);
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const reps = quick ? 3 : 9;
  const info = await selectBackend('wasm');
  const n = 4;
  const groups = 32;
  const loadBefore = os.loadavg()[0];
  const rows = [];
  for (const [h, c] of quick ? [[14, 512]] : [[56, 128], [28, 256], [14, 512], [7, 1024]]) {
    const x = tf.randomNormal([n, h, h, c]) as tf.Tensor4D;
    const wg = tf.randomNormal([3, 3, c / groups, c], 0, 0.1) as tf.Tensor4D;
    const wd = tf.randomNormal([3, 3, c, c], 0, 0.02) as tf.Tensor4D;
    const opts: Conv2dOpOptions = { stride: 1, padding: 1 };
    const forward = (w: tf.Tensor4D, gr: number) => () => conv2d(x, w, { ...opts, groups: gr });
    const train = (w: tf.Tensor4D, gr: number) => () =>
      tf.tidy(() => {
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(conv2d(a as tf.Tensor4D, b as tf.Tensor4D, { ...opts, groups: gr })))([x, w]);
        return tf.add(tf.sum(dx), tf.sum(dw));
      });
    const withReadback = (f: () => tf.Tensor) => () => {
      const t = f();
      t.dataSync();
      return t;
    };
    const [denseMs, groupedMs, denseReadMs, groupedReadMs] = timeInterleavedMs(
      [forward(wd, 1), forward(wg, groups), withReadback(forward(wd, 1)), withReadback(forward(wg, groups))], reps);
    const [denseTrainMs, groupedTrainMs] = timeInterleavedMs([train(wd, 1), train(wg, groups)], reps);
    const groupedGflop = (2 * n * h * h * 9 * c * (c / groups)) / 1e9;
    rows.push({
      shape: `x=[${n},${h},${h},${c}] k=3 groups=${groups}`,
      denseMs: +denseMs.toFixed(1), groupedMs: +groupedMs.toFixed(2),
      groupedForwardGflops: +(groupedGflop / (groupedMs / 1e3)).toFixed(1),
      perFlopRatioForward: +((groupedMs * groups) / denseMs).toFixed(2),
      perFlopRatioForwardWithReadback: +((groupedReadMs * groups) / denseReadMs).toFixed(2),
      denseTrainMs: +denseTrainMs.toFixed(1), groupedTrainMs: +groupedTrainMs.toFixed(2),
      perFlopRatioForwardBackward: +((groupedTrainMs * groups) / denseTrainMs).toFixed(2),
    });
    tf.dispose([x, wg, wd]);
  }
  console.log(JSON.stringify({
    backend: info.name, version: info.version, threads: info.threads, batch: n, repsMedianOf: reps,
    loadAverage1m: { before: +loadBefore.toFixed(2), after: +os.loadavg()[0].toFixed(2) },
    grouped: rows,
  }, null, 1));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
