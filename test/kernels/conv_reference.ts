/**
 * Test helpers for the convolution kernels and op: seeded tensors, running a function on the `cpu` backend as
 * the reference, and error relative to the reference's scale.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { seededFloats } from '../helpers/tensors';

export { seededFloats };

/** Seeded generator of integers, for picking shapes. */
export function seededInts(seed: number): (lo: number, hi: number) => number {
  const f = seededFloats(1000, seed);
  let i = 0;
  return (lo, hi) => lo + Math.floor(((f[i++ % f.length] + 1) / 2) * (hi - lo + 1));
}

/** A seeded float32 tensor with values in [-1, 1), created on the current backend. */
export function seededTensor<R extends tf.Rank>(shape: number[], seed: number): tf.Tensor<R> {
  const t: tf.Tensor = tf.tensor(seededFloats(shape.reduce((a, b) => a * b, 1), seed), shape);
  return t as tf.Tensor<R>;
}

/**
 * Run `fn` on the `cpu` backend with copies of `inputs` and return its outputs as arrays; the wasm backend is
 * active again afterwards. Nothing is left allocated on either backend.
 */
export async function onCpu(
  inputs: tf.Tensor[],
  fn: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[],
): Promise<Float32Array[]> {
  const data = inputs.map((t) => ({ v: t.dataSync().slice(), shape: t.shape, dtype: t.dtype }));
  await tf.setBackend('cpu');
  try {
    return tf.tidy(() => {
      const xs = data.map((d) => tf.tensor(d.v, d.shape, d.dtype));
      const out = fn(...xs);
      return (Array.isArray(out) ? out : [out]).map((t) => t.dataSync() as Float32Array);
    });
  } finally {
    await tf.setBackend('wasm');
  }
}

/** Max |a - b| divided by max(1e-6, max |ref|): the error relative to the reference's scale. */
export function relativeError(actual: ArrayLike<number>, ref: ArrayLike<number>): number {
  expect(actual.length, 'element count').to.equal(ref.length);
  let err = 0;
  let scale = 1e-6;
  for (let i = 0; i < ref.length; i++) {
    err = Math.max(err, Math.abs(actual[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return err / scale;
}

/**
 * Tolerance of every comparison: 1e-4 of the output's scale. Both backends accumulate in float32, in different
 * orders (XNNPACK blocks the reduction; the cpu backend sums tap by tap), so results differ by a few ulps of
 * the partial sums; 1e-4 leaves room for sums of a few hundred terms.
 */
export const REL_TOL = 1e-4;

/** Run `fn` twice and check that the live tensor count is unchanged each time. */
export async function expectNoLeak(fn: () => unknown | Promise<unknown>): Promise<void> {
  for (let i = 0; i < 2; i++) {
    const before = tf.memory().numTensors;
    await fn();
    expect(tf.memory().numTensors, `tensor count after run ${i + 1}`).to.equal(before);
  }
}

/**
 * Insert d-1 zeros between the taps of an HWIO (or depthwise [kh, kw, C, M]) kernel: a dilated convolution
 * equals an undilated one with this kernel, which gives a reference where a backend ignores dilation.
 *
 * @param w [kh, kw, I, O]. @returns [d*(kh-1)+1, d*(kw-1)+1, I, O]; differentiable (pad, reshape, slice).
 */
export function dilateKernel(w: tf.Tensor4D, d: [number, number]): tf.Tensor4D {
  const [kh, kw, i, o] = w.shape;
  const w6 = tf.reshape(w, [kh, 1, kw, 1, i, o]);
  const p = tf.pad(w6, [[0, 0], [0, d[0] - 1], [0, 0], [0, d[1] - 1], [0, 0], [0, 0]]);
  const full = tf.reshape(p, [kh * d[0], kw * d[1], i, o]) as tf.Tensor4D;
  return tf.slice(full, [0, 0, 0, 0], [d[0] * (kh - 1) + 1, d[1] * (kw - 1) + 1, i, o]);
}

/** The taps of a dilated-kernel gradient [d*(kh-1)+1, d*(kw-1)+1, I, O] that belong to the real kernel. */
export function undilateKernel(g: tf.Tensor4D, d: [number, number]): tf.Tensor4D {
  const [h, w, i, o] = g.shape;
  return tf.stridedSlice(g, [0, 0, 0, 0], [h, w, i, o], [d[0], d[1], 1, 1]) as tf.Tensor4D;
}

/** Padding argument of the conv kernels: tfjs's string modes or explicit NHWC pairs. */
export type Pad = 'same' | 'valid' | tf.backend_util.ExplicitPadding;

/** Cases: strides 1 and 2, padding same/valid/explicit, odd sizes, batch 1 and 3, 1x1 to 7x7 kernels. */
export function conv2dBackpropCases(): { n: number; h: number; w: number; cin: number; cout: number; k: number; s: number; pad: Pad }[] {
  const rnd = seededInts(11);
  const pads: Pad[] = ['same', 'valid', [[0, 0], [1, 1], [1, 1], [0, 0]], [[0, 0], [2, 0], [0, 1], [0, 0]]];
  const out = [];
  for (const k of [1, 3, 7]) {
    for (const s of [1, 2]) {
      for (const pad of pads) {
        out.push({ n: rnd(0, 1) ? 3 : 1, h: 2 * rnd(4, 6) + 1, w: 2 * rnd(3, 6), cin: rnd(1, 5), cout: rnd(1, 6), k, s, pad });
      }
    }
  }
  return out;
}

/** Cases: strides 1 and 2, dilation 1 and 2 (not both > 1, as tfjs requires), multiplier 1 and 2, odd sizes. */
export function depthwiseBackpropCases(): { n: number; h: number; w: number; c: number; m: number; k: number; s: number; d: number; pad: Pad }[] {
  const rnd = seededInts(21);
  const pads: Pad[] = ['same', 'valid', [[0, 0], [1, 2], [2, 1], [0, 0]]];
  const out = [];
  for (const [s, d] of [[1, 1], [2, 1], [1, 2]]) {
    for (const k of [1, 3, 5]) {
      for (const pad of pads) {
        out.push({ n: rnd(0, 1) ? 3 : 1, h: 2 * rnd(5, 6) + 1, w: 2 * rnd(5, 6), c: rnd(1, 5), m: rnd(1, 2), k, s, d, pad });
      }
    }
  }
  return out;
}
