/**
 * Convolution benchmark on the wasm backend (XNNPACK; `--threads N`, default the cores available), printing JSON:
 *  - `resnet50`: for each distinct convolution of torchvision ResNet-50 at batch 4, 224x224, the forward time and
 *    the input-/filter-gradient times of `conv2d` (src/ops/conv.ts), with the stock tfjs-backend-wasm
 *    Conv2DBackpropInput for comparison, and the sum over all 53 convolutions weighted by their count;
 *  - `grouped`: ResNeXt-50 32x4d grouped 3x3 convolutions, time per GFLOP relative to a dense 3x3 convolution of
 *    the same spatial size and channel count (the dense path's efficiency).
 * Usage: npx tsx scripts/bench/kernels.ts [--quick] [--threads N]
 */
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../src/engine/backend';
import { availableThreads } from '../../src/engine/wasm_threads';
import { arg, RESNET50_CONVS as RESNET50 } from './common';
import { conv2d, convBackpropFilter, convBackpropInput, resolveConvGeometry } from '../../src/ops/conv';

/**
 * Mean time of `f` over `reps` runs after one warm-up. wasm kernels run synchronously, so the result is complete
 * when `f` returns; it is not read back, because copying a large output into a fresh JavaScript array costs more
 * than many of the convolutions measured here (about 3 ms per MB of first-touched memory on the test machine).
 */
function timeMs(f: () => tf.Tensor, reps: number): number {
  f().dispose();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) f().dispose();
  return (performance.now() - t0) / reps;
}


async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const reps = quick ? 1 : 3;
  // The stock kernel, captured before selectBackend replaces it; its setup runs against the live backend below.
  require('@tensorflow/tfjs-backend-wasm');
  const stock = tf.getKernel('Conv2DBackpropInput', 'wasm');
  const info = await selectBackend('wasm', { threads: Number(arg('threads', String(availableThreads()))) });
  if (stock?.setupFunc) stock.setupFunc(tf.backend());
  const n = 4;
  const rows = [];
  const total = { forwardMs: 0, backpropInputMs: 0, backpropFilterMs: 0, stockBackpropInputMs: 0, gmacs: 0 };
  for (const [h, cin, cout, k, s, count] of RESNET50) {
    const x = tf.randomNormal([n, h, h, cin]) as tf.Tensor4D;
    const w = tf.randomNormal([k, k, cin, cout], 0, 0.05) as tf.Tensor4D;
    const pad = (k - 1) >> 1;
    const g = resolveConvGeometry([h, h], [k, k], { stride: s, padding: pad });
    const y = conv2d(x, w, { stride: s, padding: pad });
    const forwardMs = timeMs(() => conv2d(x, w, { stride: s, padding: pad }), reps);
    const backpropInputMs = h === 224 ? 0 : timeMs(() => convBackpropInput(y, w, x.shape, g), reps); // no dx for the stem
    const backpropFilterMs = timeMs(() => convBackpropFilter(x, y, w.shape, g), reps);
    const gmacs = (n * y.shape[1] * y.shape[2] * k * k * cin * cout) / 1e9;
    rows.push({
      shape: `x=[${n},${h},${h},${cin}] k=${k} s=${s} cout=${cout}`, count, gmacs: +gmacs.toFixed(3),
      forwardMs: +forwardMs.toFixed(1), backpropInputMs: +backpropInputMs.toFixed(1),
      backpropFilterMs: +backpropFilterMs.toFixed(1), forwardGflops: +((2 * gmacs) / (forwardMs / 1e3)).toFixed(1),
    });
    total.forwardMs += count * forwardMs;
    total.backpropInputMs += count * backpropInputMs;
    total.backpropFilterMs += count * backpropFilterMs;
    total.gmacs += count * gmacs;
    tf.dispose([x, w, y]);
  }
  // The stock wasm Conv2DBackpropInput (scalar loop) on one representative shape, for comparison.
  const stockCmp = tf.tidy(() => {
    const x = tf.randomNormal([n, 56, 56, 64]) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, 64, 64]) as tf.Tensor4D;
    const dy = tf.randomNormal([n, 56, 56, 64]) as tf.Tensor4D;
    const ours = timeMs(() => tf.conv2dTranspose(dy, w, x.shape, 1, 'same'), reps);
    let stockMs = NaN;
    if (stock) {
      const b = tf.backend();
      stockMs = timeMs(() => tf.engine().makeTensorFromTensorInfo(stock.kernelFunc({
        inputs: { dy, filter: w }, backend: b,
        attrs: { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', inputShape: x.shape } as unknown as tf.NamedAttrMap,
      }) as tf.TensorInfo), 1);
    }
    return { shape: 'dy=[4,56,56,64] k=3 s=1', registeredMs: +ours.toFixed(1), stockWasmMs: +stockMs.toFixed(1) };
  });
  // Grouped (ResNeXt-50 32x4d) vs dense per FLOP.
  const grouped = [];
  for (const [h, c] of quick ? [[14, 512]] : [[56, 128], [28, 256], [14, 512], [7, 1024]]) {
    const groups = 32;
    const x = tf.randomNormal([n, h, h, c]) as tf.Tensor4D;
    const wg = tf.randomNormal([3, 3, c / groups, c], 0, 0.1) as tf.Tensor4D;
    const wdn = tf.randomNormal([3, 3, c, c], 0, 0.02) as tf.Tensor4D;
    const opts = { stride: 1, padding: 1 };
    const denseMs = timeMs(() => conv2d(x, wdn, opts), reps);
    const groupedMs = timeMs(() => conv2d(x, wg, { ...opts, groups }), reps);
    const train = (w: tf.Tensor4D, gr: number) => () =>
      tf.tidy(() => {
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(conv2d(a as tf.Tensor4D, b as tf.Tensor4D, { ...opts, groups: gr })))([x, w]);
        return tf.add(tf.sum(dx), tf.sum(dw));
      });
    const denseTrainMs = timeMs(train(wdn, 1), reps);
    const groupedTrainMs = timeMs(train(wg, groups), reps);
    grouped.push({
      shape: `x=[${n},${h},${h},${c}] k=3 groups=${groups}`,
      denseMs: +denseMs.toFixed(1), groupedMs: +groupedMs.toFixed(1),
      perFlopRatioForward: +((groupedMs * groups) / denseMs).toFixed(2),
      denseTrainMs: +denseTrainMs.toFixed(1), groupedTrainMs: +groupedTrainMs.toFixed(1),
      perFlopRatioForwardBackward: +((groupedTrainMs * groups) / denseTrainMs).toFixed(2),
    });
    tf.dispose([x, wg, wdn]);
  }
  console.log(JSON.stringify({
    backend: info.name, version: info.version, threads: info.threads, batch: n, loadAverage1m: require('os').loadavg()[0],
    resnet50: {
      convs: rows,
      totalMs: {
        forward: Math.round(total.forwardMs), backpropInput: Math.round(total.backpropInputMs),
        backpropFilter: Math.round(total.backpropFilterMs),
        all: Math.round(total.forwardMs + total.backpropInputMs + total.backpropFilterMs),
      },
      gmacsForward: +total.gmacs.toFixed(2),
    },
    conv2dBackpropInput: stockCmp,
    grouped,
  }, null, 1));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
