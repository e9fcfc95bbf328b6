import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { sliceConfig, splitVConfig } from '../../src/kernels/slice';
import { expectNoLeak, onCpu, seededInts, seededTensor } from './conv_reference';

/** Random begin/size within `shape`; some axes take -1 (to the end), some the whole extent, some zero. */
function randomSlice(shape: number[], rnd: (lo: number, hi: number) => number): { begin: number[]; size: number[] } {
  const begin: number[] = [];
  const size: number[] = [];
  for (const d of shape) {
    const kind = rnd(0, 5);
    const b = kind === 0 ? 0 : rnd(0, d - 1);
    begin.push(b);
    if (kind === 0) size.push(d); // whole axis
    else if (kind === 1) size.push(-1); // to the end
    else size.push(rnd(1, d - b));
  }
  return { begin, size };
}

describe('Slice (wasm)', () => {
  it('is the project kernel on wasm', () => {
    expect(tf.getKernel('Slice', 'wasm')?.kernelFunc).to.equal(sliceConfig.kernelFunc);
  });

  it('x=[2,3,4] begin=[0,1,1] size=[2,2,-1]: hand-derived values', () => {
    const x = tf.reshape(tf.range(0, 24), [2, 3, 4]);
    const y = tf.slice(x, [0, 1, 1], [2, 2, -1]);
    // x[b, r, c] = 12b + 4r + c; rows 1..2, columns 1..3 of both batches.
    expect(y.shape).to.deep.equal([2, 2, 3]);
    expect(Array.from(y.dataSync())).to.deep.equal([5, 6, 7, 9, 10, 11, 17, 18, 19, 21, 22, 23]);
    tf.dispose([x, y]);
  });

  it('rank 1..6, random begins/sizes (whole axes, -1, single elements): equals cpu for float32, int32 and bool', async () => {
    const rnd = seededInts(7);
    for (let rank = 1; rank <= 6; rank++) {
      for (let trial = 0; trial < 6; trial++) {
        const shape = Array.from({ length: rank }, () => rnd(1, rank > 4 ? 4 : 6));
        const { begin, size } = randomSlice(shape, rnd);
        const x = seededTensor(shape, 100 * rank + trial);
        const xi = tf.cast(tf.mul(x, 1000), 'int32');
        const xb = tf.greater(x, 0);
        for (const t of [x, xi, xb]) {
          const got = tf.slice(t, begin, size);
          const [ref] = await onCpu([t], (a) => tf.slice(a, begin, size));
          const msg = `x=[${shape}] ${t.dtype} begin=[${begin}] size=[${size}]`;
          expect(got.dtype, msg).to.equal(t.dtype);
          expect(Array.from(got.dataSync()), msg).to.deep.equal(Array.from(ref));
          got.dispose();
        }
        tf.dispose([x, xi, xb]);
      }
    }
  });

  it('zero-size results: size 0 on one axis, begin at the end with size -1', async () => {
    const x = seededTensor([3, 4, 5], 3);
    const cases: Array<[number[], number[], number[]]> = [
      [[0, 1, 0], [3, 0, 5], [3, 0, 5]],
      [[1, 4, 0], [-1, -1, -1], [2, 0, 5]],
      [[3, 0, 0], [0, 4, 5], [0, 4, 5]],
    ];
    for (const [begin, size, expectedShape] of cases) {
      const got = tf.slice(x, begin, size);
      const [ref] = await onCpu([x], (a) => tf.slice(a, begin, size));
      expect(got.shape).to.deep.equal(expectedShape);
      expect(got.dataSync().length).to.equal(0);
      expect(ref.length).to.equal(0);
      got.dispose();
    }
    tf.dispose(x);
  });

  it('contiguous and whole-tensor slices: rows of a [9, K] kernel, the whole input', async () => {
    const w = seededTensor([9, 64], 5);
    for (const [begin, size] of [[[4, 0], [1, 64]], [[0, 0], [9, 64]], [[2, 0], [-1, -1]], [[8, 63], [1, 1]]]) {
      const got = tf.slice(w, begin, size);
      const [ref] = await onCpu([w], (a) => tf.slice(a, begin, size));
      expect(Array.from(got.dataSync())).to.deep.equal(Array.from(ref));
      got.dispose();
    }
    tf.dispose(w);
  });

  it('string tensors', () => {
    const x = tf.tensor2d([['a', 'b', 'c'], ['d', 'e', 'f']]);
    const y = tf.slice(x, [0, 1], [2, 2]);
    expect(y.arraySync()).to.deep.equal([['b', 'c'], ['e', 'f']]);
    tf.dispose([x, y]);
  });

  it('out-of-range begin/size throws the tfjs error', () => {
    const x = tf.zeros([2, 3]);
    expect(() => tf.slice(x, [0, 2], [1, 2])).to.throw(/slice/i);
    x.dispose();
  });

  it('gradient of tf.slice (a pad) through the kernel matches cpu; no leaks', async () => {
    const x = seededTensor([2, 5, 6, 3], 11);
    const f = (a: tf.Tensor) => tf.sum(tf.square(tf.slice(a, [0, 1, 2, 0], [2, 3, -1, 2])));
    const got = tf.grad(f)(x);
    const [ref] = await onCpu([x], (a) => tf.grad(f)(a));
    const g = got.dataSync();
    for (let i = 0; i < ref.length; i++) expect(g[i]).to.be.closeTo(ref[i], 1e-6);
    await expectNoLeak(() => tf.slice(x, [1, 0, 1, 1], [1, -1, 3, 1]).dispose());
    await expectNoLeak(() => tf.grad(f)(x).dispose());
    tf.dispose([x, got]);
  });
});

describe('SplitV (wasm)', () => {
  it('is the project kernel on wasm', () => {
    expect(tf.getKernel('SplitV', 'wasm')?.kernelFunc).to.equal(splitVConfig.kernelFunc);
  });

  it('[2,5] into sizes [1,-1,2] along axis 1: hand-derived values', () => {
    const x = tf.reshape(tf.range(0, 10), [2, 5]);
    const parts = tf.split(x, [1, -1, 2], 1);
    expect(parts.map((p) => p.shape)).to.deep.equal([[2, 1], [2, 2], [2, 2]]);
    expect(parts.map((p) => Array.from(p.dataSync()))).to.deep.equal([[0, 5], [1, 2, 6, 7], [3, 4, 8, 9]]);
    tf.dispose([x, ...parts]);
  });

  it('rank 1..5, every axis (negative too), equal counts and random sizes with zero-size parts: equals cpu for float32, int32 and bool', async () => {
    const rnd = seededInts(17);
    for (let rank = 1; rank <= 5; rank++) {
      for (let trial = 0; trial < 4; trial++) {
        const shape = Array.from({ length: rank }, () => rnd(1, 5));
        const axis = rnd(0, rank - 1);
        const d = shape[axis];
        // Random part sizes summing to d (zeros allowed), one of them -1 on odd trials; or 1 part per index.
        let splits: number | number[];
        if (trial === 0) splits = d;
        else {
          const sizes: number[] = [];
          let left = d;
          while (left > 0) {
            const s = rnd(0, left);
            sizes.push(s);
            left -= s;
          }
          // tfjs' prepareSplitSize miscounts a -1 in the first place (its sum starts from it): never put it there.
          if (trial % 2 === 1 && sizes.length > 1) sizes[rnd(1, sizes.length - 1)] = -1;
          splits = sizes;
        }
        const ax = trial === 3 ? axis - rank : axis;
        const x = seededTensor(shape, 50 * rank + trial);
        const xi = tf.cast(tf.mul(x, 1000), 'int32');
        const xb = tf.greater(x, 0);
        for (const t of [x, xi, xb]) {
          const got = tf.split(t, splits, ax);
          const ref = await onCpu([t], (a) => tf.split(a, splits, ax));
          const msg = `x=[${shape}] ${t.dtype} splits=${JSON.stringify(splits)} axis=${ax}`;
          expect(got.length, msg).to.equal(ref.length);
          got.forEach((g, i) => {
            expect(g.dtype, msg).to.equal(t.dtype);
            expect(Array.from(g.dataSync()), msg).to.deep.equal(Array.from(ref[i]));
          });
          tf.dispose(got);
        }
        tf.dispose([x, xi, xb]);
      }
    }
  });

  it('sizes that do not add up throw the tfjs error', () => {
    const x = tf.zeros([2, 5]);
    expect(() => tf.split(x, [1, 2], 1)).to.throw(/sum/i);
    x.dispose();
  });

  it('gradient of tf.concat (a split) through the kernel matches cpu; no leaks', async () => {
    const a = seededTensor([1, 7, 3], 21);
    const b = seededTensor([1, 4, 3], 22);
    const f = (p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.square(tf.concat([p, q], 1)), tf.reshape(tf.range(1, 34), [1, 11, 3])));
    const got = tf.grads(f)([a, b]);
    const ref = await onCpu([a, b], (p, q) => tf.grads(f)([p, q]));
    got.forEach((g, i) => expect(Array.from(g.dataSync())).to.deep.equal(Array.from(ref[i])));
    await expectNoLeak(() => tf.dispose(tf.split(a, [2, -1, 1], 1)));
    await expectNoLeak(() => tf.dispose(tf.grads(f)([a, b])));
    tf.dispose([a, b, ...got]);
  });
});
