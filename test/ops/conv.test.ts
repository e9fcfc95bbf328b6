import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { conv2d, Conv2dOpOptions } from '../../src/ops/conv';
import {
  REL_TOL, dilateKernel, expectNoLeak, onCpu, relativeError, seededInts, seededTensor,
} from '../kernels/conv_reference';

/**
 * The reference on cpu, built from tfjs' own differentiable ops only: one tf.conv2d per group (split/concat),
 * a zero-inserted kernel for dilation, explicit symmetric padding as tfjs' explicit pad array.
 */
function referenceConv(x: tf.Tensor4D, w: tf.Tensor4D, o: Required<Conv2dOpOptions>): tf.Tensor4D {
  const s = o.stride as number;
  const d = o.dilation as number;
  const pad =
    typeof o.padding === 'number'
      ? ([[0, 0], [o.padding, o.padding], [o.padding, o.padding], [0, 0]] as tf.backend_util.ExplicitPadding)
      : Array.isArray(o.padding)
        ? ([[0, 0], [o.padding[0], o.padding[0]], [o.padding[1], o.padding[1]], [0, 0]] as tf.backend_util.ExplicitPadding)
        : o.padding;
  const wd = d > 1 ? dilateKernel(w, [d, d]) : w;
  if (o.groups === 1) return tf.conv2d(x, wd, s, pad);
  const xs = tf.split(x, o.groups, 3) as tf.Tensor4D[];
  const ws = tf.split(wd, o.groups, 3) as tf.Tensor4D[];
  return tf.concat(xs.map((xi, i) => tf.conv2d(xi, ws[i], s, pad)), 3);
}

interface Case extends Required<Conv2dOpOptions> {
  n: number; h: number; w: number; cin: number; cout: number; k: number;
}

/**
 * Seeded cases over groups (1, 2, 4, depthwise, 32 with 2 channels per group, 2 groups of 32 channels, and dense
 * with 16 and 24 input channels, where batches below 4 take the per-tap filter gradient) x dilation (1, 2, 4) x
 * stride (1, 2), padding cycling through same / valid / symmetric / asymmetric pair, odd sizes, batch 1 or 3.
 */
function cases(): Case[] {
  const rnd = seededInts(31);
  const groupsCh: [number, number, number][] = [[1, 3, 5], [2, 4, 6], [4, 8, 12], [6, 6, 12], [32, 64, 32], [2, 64, 4], [1, 16, 8], [1, 24, 20]];
  const paddings: Conv2dOpOptions['padding'][] = ['same', 'valid', 1, [2, 1]];
  const out: Case[] = [];
  let i = 0;
  for (const [groups, cin, cout] of groupsCh) {
    for (const dilation of [1, 2, 4]) {
      for (const stride of [1, 2]) {
        const k = groups === 2 && cin === 64 ? 1 + 2 * rnd(0, 1) : [3, 3, 1, 5][i % 4];
        const size = Math.max(2 * rnd(5, 7) + 1, dilation * (k - 1) + 3);
        out.push({
          n: rnd(0, 1) ? 3 : 1, h: size, w: size - 1, cin, cout, k, groups, dilation, stride,
          padding: paddings[i % 4] as Conv2dOpOptions['padding'] & {},
        });
        i++;
      }
    }
  }
  return out;
}

const label = (c: Case) =>
  `x=[${c.n},${c.h},${c.w},${c.cin}] k=${c.k} cout=${c.cout} groups=${c.groups} s=${c.stride} d=${c.dilation} pad=${JSON.stringify(c.padding)}`;

describe('conv2d', () => {
  cases().forEach((c, i) => {
    it(`${label(c)}: value and gradients match the cpu reference on wasm and cpu`, async () => {
      const x = seededTensor<tf.Rank.R4>([c.n, c.h, c.w, c.cin], 1000 + i);
      const w = seededTensor<tf.Rank.R4>([c.k, c.k, c.cin / c.groups, c.cout], 2000 + i);
      const opts: Conv2dOpOptions = { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups };
      const yShape = tf.tidy(() => conv2d(x, w, opts).shape);
      // A fixed random cotangent r: loss = sum(conv(x, w) * r), so the gradients are the vector-Jacobian products.
      const r = seededTensor<tf.Rank.R4>(yShape, 3000 + i);
      const ours = (a: tf.Tensor, b: tf.Tensor, rr: tf.Tensor) => {
        const { value, grads } = tf.valueAndGrads((p: tf.Tensor, q: tf.Tensor) =>
          tf.sum(tf.mul(conv2d(p as tf.Tensor4D, q as tf.Tensor4D, opts), rr)),
        )([a, b]);
        value.dispose();
        return [conv2d(a as tf.Tensor4D, b as tf.Tensor4D, opts), ...grads];
      };
      const ref = await onCpu([x, w, r], (a, b, rr) => {
        const full = { ...c } as Required<Conv2dOpOptions>;
        const y = referenceConv(a as tf.Tensor4D, b as tf.Tensor4D, full);
        const grads = tf.grads((p: tf.Tensor, q: tf.Tensor) =>
          tf.sum(tf.mul(referenceConv(p as tf.Tensor4D, q as tf.Tensor4D, full), rr)),
        )([a, b]);
        return [y, ...grads];
      });
      const got = tf.tidy(() => ours(x, w, r));
      expect(got[0].shape).to.deep.equal(yShape);
      ['y', 'dx', 'dw'].forEach((name, j) => {
        expect(relativeError(got[j].dataSync(), ref[j]), `${name} on wasm`).to.be.at.most(REL_TOL);
      });
      const onCpuOurs = await onCpu([x, w, r], (a, b, rr) => ours(a, b, rr));
      ['y', 'dx', 'dw'].forEach((name, j) => {
        expect(relativeError(onCpuOurs[j], ref[j]), `${name} on cpu`).to.be.at.most(REL_TOL);
      });
      await expectNoLeak(() => tf.dispose(tf.tidy(() => ours(x, w, r))));
      tf.dispose([x, w, r, ...got]);
    });
  });

  it('dilation 2, stride 2 gradient equals central finite differences (loss is linear: exact up to rounding)', () => {
    const x = seededTensor<tf.Rank.R4>([2, 11, 10, 3], 77);
    const w = seededTensor<tf.Rank.R4>([3, 3, 3, 4], 78);
    const opts: Conv2dOpOptions = { stride: 2, dilation: 2, padding: 2 };
    const r = tf.tidy(() => seededTensor(conv2d(x, w, opts).shape, 79));
    const loss = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv2d(a as tf.Tensor4D, b as tf.Tensor4D, opts), r));
    const [dx, dw] = tf.grads(loss)([x, w]);
    for (const [t, g, seed, which] of [[x, dx, 80, 0], [w, dw, 81, 1]] as [tf.Tensor, tf.Tensor, number, number][]) {
      const v = seededTensor(t.shape, seed);
      const eps = 0.5;
      const fd = tf.tidy(() => {
        const plus = which === 0 ? loss(tf.add(x, tf.mul(v, eps)), w) : loss(x, tf.add(w, tf.mul(v, eps)));
        const minus = which === 0 ? loss(tf.sub(x, tf.mul(v, eps)), w) : loss(x, tf.sub(w, tf.mul(v, eps)));
        return (plus.dataSync()[0] - minus.dataSync()[0]) / (2 * eps);
      });
      const analytic = tf.tidy(() => tf.sum(tf.mul(g, v)).dataSync()[0]);
      expect(Math.abs(fd - analytic), `directional derivative of ${['x', 'w'][which]}`).to.be.at.most(1e-4 * Math.abs(analytic) + 1e-3);
      v.dispose();
    }
    tf.dispose([x, w, r, dx, dw]);
  });

  it('rejects bad shapes and options with the reason', () => {
    const x = tf.zeros([1, 5, 5, 4]) as tf.Tensor4D;
    const w = tf.zeros([3, 3, 2, 6]) as tf.Tensor4D;
    expect(() => conv2d(x, w)).to.throw(/Cin\/groups=2/);
    expect(() => conv2d(x, w, { groups: 3 })).to.throw(/divisible by groups=3/);
    expect(() => conv2d(x, w, { groups: 2, stride: 0 })).to.throw(/stride/);
    expect(() => conv2d(x, w, { groups: 2, dilation: 4, padding: 'valid' })).to.throw(/dilated kernel extent 9/);
    expect(() => conv2d(tf.zeros([5, 5, 4]) as unknown as tf.Tensor4D, w)).to.throw(/NHWC/);
    tf.dispose([x, w]);
  });
});
