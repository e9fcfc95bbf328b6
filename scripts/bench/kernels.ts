/**
 * Convolution benchmark on the wasm backend (single thread, XNNPACK), printing JSON:
 *  - `resnet50`: for each distinct convolution of torchvision ResNet-50 at batch 4, 224x224, the forward time and
 *    the input-/filter-gradient times of `conv2d` (src/ops/conv.ts), with the stock tfjs-backend-wasm
 *    Conv2DBackpropInput for comparison, and the sum over all 53 convolutions weighted by their count;
 *  - `grouped`: ResNeXt-50 32x4d grouped 3x3 convolutions, time per GFLOP relative to a dense 3x3 convolution of
 *    the same spatial size and channel count (the dense path's efficiency).
 * Usage: npx tsx scripts/bench/kernels.ts [--quick]
 */
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../src/engine/backend';
import { conv2d, convBackpropFilter, convBackpropInput, resolveConvGeometry } from '../../src/ops/conv';

function timeMs(f: () => tf.Tensor, reps: number): number {
  const warm = f();
  warm.dataSync();
  warm.dispose();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) {
    const t = f();
    t.dataSync();
    t.dispose();
  }
  return (performance.now() - t0) / reps;
}

/** torchvision ResNet-50 (v1.5) convolutions at 224x224: [H, Cin, Cout, k, stride, count]. */
const RESNET50: [number, number, number, number, number, number][] = [
  [224, 3, 64, 7, 2, 1],
  [56, 64, 64, 1, 1, 1], [56, 64, 64, 3, 1, 3], [56, 64, 256, 1, 1, 4], [56, 256, 64, 1, 1, 2],
  [56, 256, 128, 1, 1, 1], [56, 128, 128, 3, 2, 1], [28, 128, 512, 1, 1, 4], [56, 256, 512, 1, 2, 1],
  [28, 512, 128, 1, 1, 3], [28, 128, 128, 3, 1, 3],
  [28, 512, 256, 1, 1, 1], [28, 256, 256, 3, 2, 1], [14, 256, 1024, 1, 1, 6], [28, 512, 1024, 1, 2, 1],
  [14, 1024, 256, 1, 1, 5], [14, 256, 256, 3, 1, 5],
  [14, 1024, 512, 1, 1, 1], [14, 512, 512, 3, 2, 1], [7, 512, 2048, 1, 1, 3], [14, 1024, 2048, 1, 2, 1],
  [7, 2048, 512, 1, 1, 2], [7, 512, 512, 3, 1, 2],
];

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const reps = quick ? 1 : 3;
  // The stock kernel, captured before selectBackend replaces it; its setup runs against the live backend below.
  require('@tensorflow/tfjs-backend-wasm');
  const stock = tf.getKernel('Conv2DBackpropInput', 'wasm');
  const info = await selectBackend('wasm');
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
