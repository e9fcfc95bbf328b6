import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { conv2d, Conv2dOpOptions } from '../../src/ops/conv';
import { REL_TOL, dilateKernel, expectNoLeak, onCpu, relativeError, seededTensor } from '../kernels/conv_reference';

/**
 * Grouped convolution shapes that exercise every path of the SIMD kernels (src/kernels/grouped_conv2d_wasm.ts):
 * stride 1 with output channels per group a multiple of 4 (planar kernel, pixels in lanes: full 8-pixel blocks and
 * partial 4-pixel remainders), stride 2 and channel counts not a multiple of 4 (generic kernel: 4 and 8 channels
 * per group unrolled, 3 and 5 scalar remainder, partial last output block),
 * dilation 1/2; the input gradient runs the same kernels with Cg and Cog swapped; the filter gradient's planar
 * kernel (stride 1, Cg >= 16) accumulates over tiles of rows with masked row tails; with many channels the planar
 * forward runs in bands of output rows.
 * Reference: one tf.conv2d per group on the cpu backend (split/concat), a zero-inserted kernel for dilation.
 */
function referenceConv(x: tf.Tensor4D, w: tf.Tensor4D, groups: number, s: number, d: number, p: number): tf.Tensor4D {
  const pad = [[0, 0], [p, p], [p, p], [0, 0]] as tf.backend_util.ExplicitPadding;
  const wd = d > 1 ? dilateKernel(w, [d, d]) : w;
  const xs = tf.split(x, groups, 3) as tf.Tensor4D[];
  const ws = tf.split(wd, groups, 3) as tf.Tensor4D[];
  return tf.concat(xs.map((xi, i) => tf.conv2d(xi, ws[i], s, pad)), 3);
}

// [N, H, W, Cin, Cout, groups, k, stride, dilation, padding]
const CASES: [number, number, number, number, number, number, number, number, number, number][] = [
  [2, 9, 11, 16, 16, 4, 3, 1, 1, 1], // Cg = Cog = 4 (ResNeXt 32x4d layer1 per-group shape)
  [1, 10, 9, 16, 16, 4, 3, 2, 1, 1],
  [2, 9, 10, 32, 32, 4, 3, 1, 2, 2], // Cg = Cog = 8
  [1, 12, 11, 32, 32, 4, 3, 2, 2, 1],
  [2, 8, 13, 12, 20, 4, 3, 1, 1, 1], // Cg = 3, Cog = 5: a full and a partial block of output channels
  [1, 7, 7, 20, 12, 4, 1, 1, 1, 0], // Cg = 5, Cog = 3, 1x1 kernel
  [1, 6, 9, 32, 64, 2, 3, 1, 1, 1], // Cg = 16, Cog = 32: planar kernel, 8 blocks of 4 output channels, 1-pixel remainder
  [2, 7, 6, 16, 32, 4, 3, 1, 1, 1], // Cg = 4, Cog = 8: planar kernel, a partial 4-pixel block only (Wo = 6)
  [1, 20, 70, 32, 32, 2, 3, 1, 1, 1], // Cg = 16, Wo = 70: several row tiles of the planar filter gradient, 2-pixel tails
  [1, 12, 64, 128, 128, 32, 3, 1, 1, 1], // Cin*Wp large: forward in 3 bands of rows (padding rows in the first and last)
  [1, 10, 40, 256, 256, 64, 3, 1, 2, 2], // dilation 2, one output row per band
];

describe('conv2d with groups (SIMD kernels)', () => {
  CASES.forEach(([n, h, wd, cin, cout, groups, k, s, d, p], i) => {
    it(`x=[${n},${h},${wd},${cin}] k=${k} cout=${cout} groups=${groups} s=${s} d=${d} pad=${p}: y, dx, dw match the cpu reference`, async () => {
      const x = seededTensor<tf.Rank.R4>([n, h, wd, cin], 500 + i);
      const w = seededTensor<tf.Rank.R4>([k, k, cin / groups, cout], 600 + i);
      const opts: Conv2dOpOptions = { stride: s, dilation: d, padding: p, groups };
      const yShape = tf.tidy(() => conv2d(x, w, opts).shape);
      const r = seededTensor<tf.Rank.R4>(yShape, 700 + i);
      const ours = (a: tf.Tensor, b: tf.Tensor, rr: tf.Tensor) => {
        const grads = tf.grads((u: tf.Tensor, v: tf.Tensor) =>
          tf.sum(tf.mul(conv2d(u as tf.Tensor4D, v as tf.Tensor4D, opts), rr)))([a, b]);
        return [conv2d(a as tf.Tensor4D, b as tf.Tensor4D, opts), ...grads];
      };
      const ref = await onCpu([x, w, r], (a, b, rr) => {
        const f = (u: tf.Tensor, v: tf.Tensor) => referenceConv(u as tf.Tensor4D, v as tf.Tensor4D, groups, s, d, p);
        return [f(a, b), ...tf.grads((u: tf.Tensor, v: tf.Tensor) => tf.sum(tf.mul(f(u, v), rr)))([a, b])];
      });
      const got = tf.tidy(() => ours(x, w, r));
      ['y', 'dx', 'dw'].forEach((name, j) => {
        expect(relativeError(got[j].dataSync(), ref[j]), `${name} on wasm`).to.be.at.most(REL_TOL);
      });
      const gotCpu = await onCpu([x, w, r], (a, b, rr) => ours(a, b, rr));
      ['y', 'dx', 'dw'].forEach((name, j) => {
        expect(relativeError(gotCpu[j], ref[j]), `${name} on cpu`).to.be.at.most(REL_TOL);
      });
      await expectNoLeak(() => tf.dispose(tf.tidy(() => ours(x, w, r))));
      tf.dispose([x, w, r, ...got]);
    });
  });
});
