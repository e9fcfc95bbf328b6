import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { BatchNorm2d, FrozenBatchNorm2d, GroupNorm } from '../../src/nn/layers';
import { expectNoLeak, maxAbsDiff, seededFloats } from '../helpers/tensors';

/** Per-channel float64 statistics of NHWC data: mean, biased and unbiased variance. */
function stats64(data: ArrayLike<number>, c: number) {
  const m = data.length / c;
  const mean = new Float64Array(c);
  const ss = new Float64Array(c);
  for (let i = 0; i < data.length; i++) mean[i % c] += data[i] / m;
  for (let i = 0; i < data.length; i++) ss[i % c] += (data[i] - mean[i % c]) ** 2;
  return { mean, biased: ss.map((s) => s / m), unbiased: ss.map((s) => s / (m - 1)) };
}

describe('BatchNorm2d', () => {
  it('x=[1,2,2,1] values 1..4, training: hand-derived output and running statistics', () => {
    // mean 2.5, biased var 1.25, unbiased var 5/3 (torch normalizes with the biased one and tracks the unbiased one).
    // running_mean = 0.9·0 + 0.1·2.5 = 0.25; running_var = 0.9·1 + 0.1·5/3 = 1.0666...
    const bn = new BatchNorm2d({ numFeatures: 1 });
    const x = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
    const y = bn.forward(x, { training: true });
    const inv = 1 / Math.sqrt(1.25 + 1e-5);
    const want = [-1.5 * inv, -0.5 * inv, 0.5 * inv, 1.5 * inv];
    expect(maxAbsDiff(y.dataSync(), want)).to.be.below(1e-6);
    expect(bn.runningMean.dataSync()[0]).to.be.closeTo(0.25, 1e-7);
    expect(bn.runningVar.dataSync()[0]).to.be.closeTo(0.9 + 0.1 * (5 / 3), 1e-6);
    tf.dispose([x, y]);
    bn.dispose();
  });

  it('x=[3,5,7,4] two training steps: running statistics follow torch (momentum 0.1, unbiased variance)', () => {
    const c = 4;
    const bn = new BatchNorm2d({ numFeatures: c });
    let rm = new Float64Array(c);
    let rv = new Float64Array(c).fill(1);
    for (const seed of [1, 2]) {
      const data = seededFloats(3 * 5 * 7 * c, seed).map((v, i) => 3 * v + (i % c));
      const x = tf.tensor4d(data, [3, 5, 7, c]);
      tf.dispose(bn.forward(x, { training: true }));
      x.dispose();
      const s = stats64(data, c);
      rm = rm.map((r, k) => 0.9 * r + 0.1 * s.mean[k]);
      rv = rv.map((r, k) => 0.9 * r + 0.1 * s.unbiased[k]);
    }
    // float32 statistics of 105 values each: 1e-5 relative.
    const gotM = bn.runningMean.dataSync();
    const gotV = bn.runningVar.dataSync();
    for (let k = 0; k < c; k++) {
      expect(Math.abs(gotM[k] - rm[k]), `running_mean[${k}]`).to.be.below(1e-5 * Math.max(1, Math.abs(rm[k])));
      expect(Math.abs(gotV[k] - rv[k]) / rv[k], `running_var[${k}]`).to.be.below(1e-5);
    }
    bn.dispose();
  });

  it('relu and residual options equal relu(bn(x) + residual), training and eval', () => {
    const shape: [number, number, number, number] = [2, 3, 3, 2];
    const x = tf.tensor4d(seededFloats(36, 3), shape);
    const r = tf.tensor4d(seededFloats(36, 4), shape);
    for (const training of [true, false]) {
      const a = new BatchNorm2d({ numFeatures: 2 });
      const b = new BatchNorm2d({ numFeatures: 2 });
      for (const m of [a, b]) {
        m.weight.assign(tf.tensor1d([0.5, -2]));
        m.bias.assign(tf.tensor1d([0.1, 0.3]));
        m.runningMean.assign(tf.tensor1d([0.2, -0.1]));
        m.runningVar.assign(tf.tensor1d([0.7, 1.5]));
      }
      const fused = a.forward(x, { training }, { relu: true, residual: r });
      const plain = b.forward(x, { training });
      const composed = tf.relu(tf.add(plain, r));
      expect(maxAbsDiff(fused.dataSync(), composed.dataSync()), `training=${training}`).to.be.below(1e-6);
      expect(maxAbsDiff(a.runningVar.dataSync(), b.runningVar.dataSync())).to.equal(0);
      tf.dispose([fused, plain, composed]);
      a.dispose();
      b.dispose();
    }
    tf.dispose([x, r]);
  });

  it('eval mode: running statistics normalize, nothing is updated, and gamma/beta still get gradients', () => {
    const bn = new BatchNorm2d({ numFeatures: 2 });
    bn.runningMean.assign(tf.tensor1d([1, -1]));
    bn.runningVar.assign(tf.tensor1d([4, 0.25]));
    bn.weight.assign(tf.tensor1d([2, 3]));
    bn.bias.assign(tf.tensor1d([0.5, 0]));
    const x = tf.tensor4d([3, 0, 5, -2], [1, 1, 2, 2]);
    const { value, grads } = tf.variableGrads(() => tf.sum(bn.forward(x, { training: false })), [bn.weight, bn.bias]);
    // y = (x - rm) / sqrt(rv + eps) · w + b: channel 0 (3-1)/2·2+0.5 = 2.5 and (5-1)/2·2+0.5 = 4.5;
    // channel 1 (0+1)/0.5·3 = 6 and (-2+1)/0.5·3 = -6 (eps 1e-5 moves these by < 1e-4).
    const y = bn.forward(x, { training: false });
    expect(maxAbsDiff(y.dataSync(), [2.5, 6, 4.5, -6])).to.be.below(2e-4);
    // d/dw = Σ x̂ = [(2+4)/2, (2-2)] = [3, 0]; d/db = 2 per channel.
    expect(maxAbsDiff(grads[bn.weight.name].dataSync(), [3, 0])).to.be.below(1e-4);
    expect(Array.from(grads[bn.bias.name].dataSync())).to.deep.equal([2, 2]);
    expect(Array.from(bn.runningMean.dataSync())).to.deep.equal([1, -1]);
    tf.dispose([x, y, value, ...Object.values(grads)]);
    bn.dispose();
  });

  it('frozen in training: uses running statistics, does not update them, gradient reaches x', () => {
    const bn = new BatchNorm2d({ numFeatures: 1 }).setFrozen(true);
    bn.runningVar.assign(tf.tensor1d([4 - 1e-5]));
    bn.weight.assign(tf.tensor1d([3]));
    const x = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
    const dx = tf.grad((xx: tf.Tensor) => tf.sum(bn.forward(xx as tf.Tensor4D, { training: true })))(x);
    // y = x · 3 / sqrt(4) → dy/dx = 1.5.
    expect(maxAbsDiff(dx.dataSync(), [1.5, 1.5, 1.5, 1.5])).to.be.below(1e-6);
    expect(Array.from(bn.runningMean.dataSync())).to.deep.equal([0]);
    expect(bn.runningVar.dataSync()[0]).to.equal(Math.fround(4 - 1e-5));
    tf.dispose([x, dx]);
    bn.dispose();
  });

  it('rejects a channel mismatch, naming the expected layout', () => {
    const bn = new BatchNorm2d({ numFeatures: 3 });
    const x = tf.zeros([1, 2, 2, 4]) as tf.Tensor4D;
    expect(() => bn.forward(x, { training: true })).to.throw(/BatchNorm2d expects NHWC input \[N, H, W, 3\], got shape \[1,2,2,4\]/);
    x.dispose();
    bn.dispose();
  });

  it('training step under variableGrads does not leak', async () => {
    const bn = new BatchNorm2d({ numFeatures: 3 });
    const x = tf.tensor4d(seededFloats(2 * 4 * 4 * 3, 9), [2, 4, 4, 3]);
    await expectNoLeak(() => {
      const { value, grads } = tf.variableGrads(
        () => tf.sum(tf.square(bn.forward(x, { training: true }, { relu: true, residual: x }))),
        [bn.weight, bn.bias],
      );
      tf.dispose([value, ...Object.values(grads)]);
      tf.dispose(bn.forward(x, { training: false }, { relu: true }));
    });
    x.dispose();
    bn.dispose();
  });
});

describe('FrozenBatchNorm2d', () => {
  it('x=[1,1,2,2]: torchvision FrozenBatchNorm2d arithmetic, with and without ReLU', () => {
    const bn = new FrozenBatchNorm2d({ numFeatures: 2 });
    bn.weight.assign(tf.tensor1d([2, -1]));
    bn.bias.assign(tf.tensor1d([1, 0]));
    bn.runningMean.assign(tf.tensor1d([0.5, 2]));
    bn.runningVar.assign(tf.tensor1d([1 - 1e-5, 4 - 1e-5]));
    const x = tf.tensor4d([1.5, 4, -0.5, 0], [1, 1, 2, 2]);
    // scale = [2, -0.5], shift = b - rm·scale = [0, 1]: y = [3, -1, -1, 1]; relu → [3, 0, 0, 1].
    const y = bn.forward(x);
    const yr = bn.forward(x, { training: true }, { relu: true });
    expect(maxAbsDiff(y.dataSync(), [3, -1, -1, 1])).to.be.below(1e-6);
    expect(maxAbsDiff(yr.dataSync(), [3, 0, 0, 1])).to.be.below(1e-6);
    expect(bn.trainableParameters()).to.have.length(0);
    tf.dispose([x, y, yr]);
    bn.dispose();
  });

  it('does not leak', async () => {
    const bn = new FrozenBatchNorm2d({ numFeatures: 2 });
    const x = tf.ones([1, 3, 3, 2]) as tf.Tensor4D;
    await expectNoLeak(() => {
      const dx = tf.grad((xx: tf.Tensor) => tf.sum(bn.forward(xx as tf.Tensor4D, undefined, { relu: true, residual: x })))(x);
      dx.dispose();
    });
    x.dispose();
    bn.dispose();
  });
});

describe('GroupNorm', () => {
  /** float64 reference: NHWC data, G groups of consecutive channels, biased variance over H, W and the group. */
  function groupNorm64(data: ArrayLike<number>, shape: number[], g: number, gamma: ArrayLike<number>, beta: ArrayLike<number>, eps: number): Float64Array {
    const [n, h, w, c] = shape;
    const cg = c / g;
    const out = new Float64Array(data.length);
    for (let b = 0; b < n; b++) {
      for (let gi = 0; gi < g; gi++) {
        let s = 0;
        let ss = 0;
        const m = h * w * cg;
        for (let p = 0; p < h * w; p++) for (let k = 0; k < cg; k++) s += data[(b * h * w + p) * c + gi * cg + k];
        const mean = s / m;
        for (let p = 0; p < h * w; p++) for (let k = 0; k < cg; k++) ss += (data[(b * h * w + p) * c + gi * cg + k] - mean) ** 2;
        const inv = 1 / Math.sqrt(ss / m + eps);
        for (let p = 0; p < h * w; p++) {
          for (let k = 0; k < cg; k++) {
            const i = (b * h * w + p) * c + gi * cg + k;
            out[i] = (data[i] - mean) * inv * gamma[gi * cg + k] + beta[gi * cg + k];
          }
        }
      }
    }
    return out;
  }

  it('x=[2,3,5,8] G=4, affine: equals a float64 group normalization; state names weight, bias', async () => {
    const shape = [2, 3, 5, 8];
    const gn = new GroupNorm({ numGroups: 4, numChannels: 8 });
    expect(gn.stateEntries().map((e) => [e.name, e.kind])).to.deep.equal([
      ['weight', 'parameter'],
      ['bias', 'parameter'],
    ]);
    const gamma = seededFloats(8, 3).map((v) => 1 + 0.5 * v);
    const beta = seededFloats(8, 4);
    gn.weight.assign(tf.tensor1d(gamma));
    gn.bias.assign(tf.tensor1d(beta));
    const data = seededFloats(2 * 3 * 5 * 8, 5).map((v, i) => 2 * v + (i % 8) * 0.3);
    const x = tf.tensor4d(data, shape as [number, number, number, number]);
    const ref = groupNorm64(data, shape, 4, gamma, beta, 1e-5);
    const y = gn.forward(x);
    expect(maxAbsDiff(y.dataSync(), ref)).to.be.below(1e-5);
    const yr = gn.forward(x, { relu: true });
    expect(maxAbsDiff(yr.dataSync(), ref.map((v) => Math.max(0, v)))).to.be.below(1e-5);
    await expectNoLeak(() => tf.dispose(gn.forward(x, { relu: true })));
    tf.dispose([x, y, yr]);
    gn.dispose();
  });

  it('gradient with respect to x and the affine parameters equals central finite differences', () => {
    const shape: [number, number, number, number] = [1, 2, 3, 4];
    const gn = new GroupNorm({ numGroups: 2, numChannels: 4 });
    gn.weight.assign(tf.tensor1d([1.2, 0.7, -0.4, 1.5]));
    const data = seededFloats(24, 9);
    const wts = tf.tensor4d(seededFloats(24, 10), shape);
    const x = tf.tensor4d(data, shape);
    const f = (v: tf.Tensor) => tf.sum(tf.mul(gn.forward(v as tf.Tensor4D), wts)) as tf.Scalar;
    const { grads } = tf.variableGrads(() => f(x), [gn.weight, gn.bias]);
    const gx = tf.grad(f)(x).dataSync();
    const eps = 1e-2;
    for (const i of [0, 5, 11, 23]) {
      const plus = data.slice();
      const minus = data.slice();
      plus[i] += eps;
      minus[i] -= eps;
      const fd = tf.tidy(() => (f(tf.tensor4d(plus, shape)).dataSync()[0] - f(tf.tensor4d(minus, shape)).dataSync()[0]) / (2 * eps));
      expect(gx[i], `dx[${i}]`).to.be.closeTo(fd, 2e-3);
    }
    // d/d bias_c = sum of the weights of channel c; d/d weight_c = sum of weights * normalized x of channel c.
    const w = Array.from(wts.dataSync());
    const db = [0, 1, 2, 3].map((c) => w.filter((_, i) => i % 4 === c).reduce((a, b) => a + b, 0));
    expect(maxAbsDiff(grads[gn.bias.name].dataSync(), db)).to.be.below(1e-5);
    tf.dispose([x, wts, ...Object.values(grads)]);
    gn.dispose();
  });

  it('C not divisible by G: one clear error', () => {
    expect(() => new GroupNorm({ numGroups: 32, numChannels: 48 })).to.throw(/numChannels \(48\) must be a positive multiple of numGroups \(32\)/);
  });
});
