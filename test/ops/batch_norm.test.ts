import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { batchNormInference, batchNormTrain, channelSums } from '../../src/ops/batch_norm';
import { expectNoLeak, maxAbs, maxAbsDiff, seededFloats } from '../helpers/tensors';

type Shape4 = [number, number, number, number];

interface Case {
  shape: Shape4;
  relu: boolean;
  residual: boolean;
}

interface Values {
  y: Float32Array;
  dx: Float32Array;
  dgamma: Float32Array;
  dbeta: Float32Array;
  dres?: Float32Array;
  mean?: Float32Array;
  variance?: Float32Array;
}

/** Inputs of one case: x with a per-channel offset (conv outputs are not centred), gamma of both signs, a dy weight. */
function inputs(shape: Shape4, seed: number) {
  const [n, h, w, c] = shape;
  const size = n * h * w * c;
  const x = seededFloats(size, seed).map((v, i) => 2 * v + 0.5 * (i % c) - 1);
  return {
    x: tf.tensor4d(x, shape),
    gamma: tf.tensor1d(seededFloats(c, seed + 1).map((v) => 1.5 * v)),
    beta: tf.tensor1d(seededFloats(c, seed + 2)),
    res: tf.tensor4d(seededFloats(size, seed + 3), shape),
    dyWeight: tf.tensor4d(seededFloats(size, seed + 4), shape),
  };
}

/**
 * The unfused composition torch.nn.functional.batch_norm(training=True) describes, differentiated by tfjs autodiff:
 * the oracle for the fused op (evaluated on the cpu backend).
 */
function referenceTrain(cs: Case, seed: number): Values {
  return tf.tidy(() => {
    const { x, gamma, beta, res, dyWeight } = inputs(cs.shape, seed);
    const f = (xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor, r: tf.Tensor) => {
      const { mean, variance } = tf.moments(xx, [0, 1, 2]);
      let y = tf.add(tf.mul(tf.div(tf.sub(xx, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b);
      // Without a residual, r enters as r·0 so that tf.grads has a path for it.
      y = tf.add(y, cs.residual ? r : tf.mul(r, 0));
      if (cs.relu) y = tf.relu(y);
      return y;
    };
    const y = f(x, gamma, beta, res);
    const grads = tf.grads((xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor, r: tf.Tensor) => tf.sum(tf.mul(f(xx, g, b, r), dyWeight)));
    const [dx, dgamma, dbeta, dres] = grads([x, gamma, beta, res]);
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    return {
      y: y.dataSync() as Float32Array,
      dx: dx.dataSync() as Float32Array,
      dgamma: dgamma.dataSync() as Float32Array,
      dbeta: dbeta.dataSync() as Float32Array,
      dres: cs.residual ? (dres.dataSync() as Float32Array) : undefined,
      mean: mean.dataSync() as Float32Array,
      variance: variance.dataSync() as Float32Array,
    };
  });
}

function fusedTrain(cs: Case, seed: number): Values {
  return tf.tidy(() => {
    const { x, gamma, beta, res, dyWeight } = inputs(cs.shape, seed);
    const opts = { relu: cs.relu, residual: cs.residual ? res : undefined };
    const out = batchNormTrain(x as tf.Tensor4D, gamma as tf.Tensor1D, beta as tf.Tensor1D, 1e-5, opts);
    const grads = tf.grads((xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor, r: tf.Tensor) => {
      const o = batchNormTrain(xx as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5, {
        relu: cs.relu,
        residual: cs.residual ? (r as tf.Tensor4D) : undefined,
      });
      tf.dispose([o.mean, o.variance]);
      // r enters the function even without a residual so that tf.grads has a path for it.
      return tf.sum(tf.mul(cs.residual ? o.y : tf.add(o.y, tf.mul(r, 0)), dyWeight));
    });
    const [dx, dgamma, dbeta, dres] = grads([x, gamma, beta, res]);
    return {
      y: out.y.dataSync() as Float32Array,
      dx: dx.dataSync() as Float32Array,
      dgamma: dgamma.dataSync() as Float32Array,
      dbeta: dbeta.dataSync() as Float32Array,
      dres: cs.residual ? (dres.dataSync() as Float32Array) : undefined,
      mean: out.mean.dataSync() as Float32Array,
      variance: out.variance.dataSync() as Float32Array,
    };
  });
}

async function onBackend<T>(name: string, fn: () => T): Promise<T> {
  const prev = tf.getBackend();
  await tf.setBackend(name);
  try {
    return fn();
  } finally {
    await tf.setBackend(prev);
  }
}

/** max |a - b| relative to max |b| (gradients have entries near 0, so an elementwise rtol is meaningless). */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return maxAbsDiff(a, b) / Math.max(maxAbs(b), 1e-12);
}

describe('batchNormTrain', () => {
  const cases: Case[] = [
    { shape: [1, 5, 7, 3], relu: false, residual: false },
    { shape: [1, 5, 7, 3], relu: true, residual: false },
    { shape: [3, 3, 5, 4], relu: true, residual: false },
    { shape: [3, 3, 5, 4], relu: true, residual: true },
    { shape: [3, 7, 1, 6], relu: false, residual: true },
  ];
  for (const cs of cases) {
    const name = `x=[${cs.shape}] relu=${cs.relu} residual=${cs.residual}: y, stats, dx, dgamma, dbeta match the unfused ops on cpu`;
    it(name, async () => {
      const seed = cs.shape.reduce((a, b) => a * 7 + b, 0);
      const ref = await onBackend('cpu', () => referenceTrain(cs, seed));
      for (const backend of ['cpu', 'wasm']) {
        const got = await onBackend(backend, () => fusedTrain(cs, seed));
        // float32 reductions in a different order: 1e-4 of the largest magnitude (the brief's gradient tolerance).
        for (const k of ['y', 'dx', 'dgamma', 'dbeta', 'mean', 'variance', 'dres'] as const) {
          if (ref[k] === undefined) continue;
          expect(relErr(got[k]!, ref[k]!), `${backend} ${k}`).to.be.below(1e-4);
        }
      }
    });
  }

  it('statistics of offset data (mean 3, std 0.05, 2x56x56x8) within 1e-5 of a float64 two-pass computation', () => {
    const [n, h, w, c] = [2, 56, 56, 8];
    const raw = seededFloats(n * h * w * c, 11);
    // Mean/std ratio 60: the one-pass E[x^2] - E[x]^2 in float32 would lose about 3 of 7 digits here.
    const data = raw.map((v, i) => 3 + (i % c) * 0.25 + 0.05 * v * (1 + (i % 3)));
    const m = n * h * w;
    const mean64 = new Float64Array(c);
    const var64 = new Float64Array(c);
    for (let i = 0; i < data.length; i++) mean64[i % c] += data[i] / m;
    for (let i = 0; i < data.length; i++) var64[i % c] += (data[i] - mean64[i % c]) ** 2 / m;
    const x = tf.tensor4d(data, [n, h, w, c]);
    const out = batchNormTrain(x, tf.ones([c]) as tf.Tensor1D, tf.zeros([c]) as tf.Tensor1D, 1e-5);
    const mean = out.mean.dataSync();
    const variance = out.variance.dataSync();
    for (let k = 0; k < c; k++) {
      expect(Math.abs(mean[k] - mean64[k]) / mean64[k], `mean[${k}]`).to.be.below(1e-6);
      expect(Math.abs(variance[k] - var64[k]) / var64[k], `variance[${k}]`).to.be.below(1e-5);
    }
    tf.dispose([x, out.y, out.mean, out.variance]);
  });

  it('gradient matches central finite differences in float64 (x=[2,3,3,2], relu, residual)', () => {
    // Oracle: the composition evaluated in float64 in JS, differentiated numerically.
    const shape: Shape4 = [2, 3, 3, 2];
    const [n, h, w, c] = shape;
    const size = n * h * w * c;
    const xs = Array.from(seededFloats(size, 5));
    const g = [0.7, -1.3];
    const b = [0.2, 0.1];
    const r = Array.from(seededFloats(size, 6)).map((v) => 0.5 * v);
    const wt = Array.from(seededFloats(size, 7));
    const loss64 = (xv: number[], gv: number[]): number => {
      const m = n * h * w;
      let total = 0;
      for (let k = 0; k < c; k++) {
        let mu = 0;
        for (let i = k; i < size; i += c) mu += xv[i] / m;
        let v = 0;
        for (let i = k; i < size; i += c) v += (xv[i] - mu) ** 2 / m;
        for (let i = k; i < size; i += c) {
          const y = Math.max(0, ((xv[i] - mu) / Math.sqrt(v + 1e-5)) * gv[k] + b[k] + r[i]);
          total += y * wt[i];
        }
      }
      return total;
    };
    const [dx, dg] = tf.tidy(() =>
      tf
        .grads((xx: tf.Tensor, gg: tf.Tensor) => {
          const o = batchNormTrain(xx as tf.Tensor4D, gg as tf.Tensor1D, tf.tensor1d(b), 1e-5, {
            relu: true,
            residual: tf.tensor4d(r, shape),
          });
          tf.dispose([o.mean, o.variance]);
          return tf.sum(tf.mul(o.y, tf.tensor4d(wt, shape)));
        })([tf.tensor4d(xs, shape), tf.tensor1d(g)])
        .map((t) => Array.from(t.dataSync())),
    );
    const e = 1e-6;
    for (let i = 0; i < size; i++) {
      const p = [...xs];
      const q = [...xs];
      p[i] += e;
      q[i] -= e;
      const fd = (loss64(p, g) - loss64(q, g)) / (2 * e);
      expect(Math.abs(dx[i] - fd), `dx[${i}]`).to.be.below(1e-4 * Math.max(1, Math.abs(fd)));
    }
    for (let k = 0; k < c; k++) {
      const p = [...g];
      const q = [...g];
      p[k] += e;
      q[k] -= e;
      const fd = (loss64(xs, p) - loss64(xs, q)) / (2 * e);
      expect(Math.abs(dg[k] - fd), `dgamma[${k}]`).to.be.below(1e-4 * Math.max(1, Math.abs(fd)));
    }
  });

  it('does not leak (forward and gradient)', async () => {
    const { x, gamma, beta, res, dyWeight } = inputs([2, 4, 4, 3], 3);
    await expectNoLeak(() => {
      const o = batchNormTrain(x as tf.Tensor4D, gamma as tf.Tensor1D, beta as tf.Tensor1D, 1e-5, { relu: true });
      tf.dispose([o.y, o.mean, o.variance]);
      const grads = tf.grads((xx: tf.Tensor, rr: tf.Tensor) => {
        const p = batchNormTrain(xx as tf.Tensor4D, gamma as tf.Tensor1D, beta as tf.Tensor1D, 1e-5, {
          relu: true,
          residual: rr as tf.Tensor4D,
        });
        tf.dispose([p.mean, p.variance]);
        return tf.sum(tf.mul(p.y, dyWeight));
      })([x, res]);
      tf.dispose(grads);
    });
    tf.dispose([x, gamma, beta, res, dyWeight]);
  });

  it('rejects gamma of the wrong length, naming the expected shape', () => {
    const x = tf.zeros([1, 2, 2, 3]) as tf.Tensor4D;
    expect(() => batchNormTrain(x, tf.ones([4]) as tf.Tensor1D, tf.zeros([3]) as tf.Tensor1D, 1e-5)).to.throw(/gamma must be \[3\]/);
    x.dispose();
  });
});

describe('batchNormInference', () => {
  for (const [relu, residual, affineGrads] of [
    [false, false, false],
    [true, false, false],
    [true, true, true],
    [false, true, true],
  ] as const) {
    it(`x=[2,3,5,4] relu=${relu} residual=${residual} affineGrads=${affineGrads}: y and gradients match the unfused ops on cpu`, async () => {
      const shape: Shape4 = [2, 3, 5, 4];
      const run = (fused: boolean): Float32Array[] =>
        tf.tidy(() => {
          const { x, gamma, beta, res, dyWeight } = inputs(shape, 21);
          const rm = tf.tensor1d([0.5, -1, 2, 0]);
          const rv = tf.tensor1d([0.3, 2, 1, 4]);
          const f = (xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor, r: tf.Tensor): tf.Tensor => {
            if (fused) {
              return batchNormInference(
                xx as tf.Tensor4D,
                { gamma: g as tf.Tensor1D, beta: b as tf.Tensor1D, runningMean: rm, runningVar: rv, eps: 1e-5 },
                { relu, residual: residual ? (r as tf.Tensor4D) : undefined, affineGrads },
              );
            }
            // torchvision FrozenBatchNorm2d: scale = w * rsqrt(rv + eps), shift = b - rm * scale.
            const scale = tf.mul(g, tf.rsqrt(tf.add(rv, 1e-5)));
            let y = tf.add(tf.mul(xx, scale), tf.sub(b, tf.mul(rm, scale)));
            if (residual) y = tf.add(y, r);
            return relu ? tf.relu(y) : y;
          };
          const args: tf.Tensor[] = [x, gamma, beta, res];
          const wanted = [0, ...(affineGrads ? [1, 2] : []), ...(residual ? [3] : [])];
          const grads = tf.grads((...a: tf.Tensor[]) => {
            const full = [...args];
            wanted.forEach((idx, j) => (full[idx] = a[j]));
            return tf.sum(tf.mul(f(full[0], full[1], full[2], full[3]), dyWeight));
          })(wanted.map((i) => args[i]));
          return [f(x, gamma, beta, res), ...grads].map((t) => t.dataSync() as Float32Array);
        });
      const ref = await onBackend('cpu', () => run(false));
      for (const backend of ['cpu', 'wasm']) {
        const got = await onBackend(backend, () => run(true));
        expect(got.length).to.equal(ref.length);
        got.forEach((g, i) => expect(relErr(g, ref[i]), `${backend} output ${i}`).to.be.below(1e-5));
      }
    });
  }
});

describe('channelSums', () => {
  it('x=[3,5,7,2] with x[n,h,w,c] = n*100 + h*10 + w + c/2 → hand-derived sums', () => {
    // Σ over n,h,w of (100n + 10h + w) = 100·(0+1+2)·35 + 10·(0+..+4)·21 + (0+..+6)·15 = 10500 + 2100 + 315 = 12915;
    // plus c/2 · 105 terms.
    const vals: number[] = [];
    for (let n = 0; n < 3; n++) for (let h = 0; h < 5; h++) for (let w = 0; w < 7; w++) for (let c = 0; c < 2; c++) vals.push(n * 100 + h * 10 + w + c / 2);
    const x = tf.tensor4d(vals, [3, 5, 7, 2]);
    const s = channelSums(x);
    expect(Array.from(s.dataSync())).to.deep.equal([12915, 12915 + 52.5]);
    tf.dispose([x, s]);
  });
});
