/** Test helpers: leak checks and closeness assertions. */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';

/**
 * Run `fn` twice and check that the live tensor count is the same before and after each run
 * (tfjs-layers' models_test habit).
 */
export async function expectNoLeak(fn: () => unknown | Promise<unknown>): Promise<void> {
  for (let i = 0; i < 2; i++) {
    const before = tf.memory().numTensors;
    await fn();
    expect(tf.memory().numTensors, `tensor count after run ${i + 1}`).to.equal(before);
  }
}

/** Max |a - b| over two equal-length arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).to.equal(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Max |x| over an array. */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Deterministic pseudo-random floats in [-1, 1) from a seed (mulberry32). */
export function seededFloats(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}
