/**
 * RoIAlign against torchvision.ops.roi_align (golden values of its float32 CPU kernel and backward, from
 * scripts/parity/gen_roi_align_golden.py), hand-derived values, finite differences, and the cpu backend.
 *
 * Tolerance: 1e-5 absolute on values of order 1. The kernel chooses the same sample cells as torch (coordinates in
 * float32) and sums at most 4 x 4 x 4 taps per bin in float64 where torch sums in float32: differences are a few
 * float32 ulps. A wrong cell, weight or count gives errors of order 0.1.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { roiAlign } from '../../src/ops/roi_align';
import { hashUniform } from '../../src/weights/hash_init';
import { expectNoLeak, maxAbsDiff, seededFloats } from '../helpers/tensors';

const GOLDEN = path.resolve(__dirname, '..', 'golden', 'roi_align.json');

interface Case {
  name: string;
  outputSize: [number, number];
  spatialScale: number;
  samplingRatio: number;
  aligned: boolean;
  rois: number[][];
  outputNchw: number[];
  outputShapeNchw: [number, number, number, number];
  gradNchw: number[];
}
interface Golden {
  generator: string;
  torch: string;
  torchvision: string;
  featureShapeNchw: [number, number, number, number];
  cases: Case[];
}

/** NCHW row-major values as an NHWC tensor. */
function nchwToNhwc(v: ArrayLike<number>, shape: [number, number, number, number]): tf.Tensor4D {
  return tf.tidy(() => tf.transpose(tf.tensor4d(Float32Array.from(v), shape), [0, 2, 3, 1]));
}

/** NHWC tensor values in NCHW row-major order. */
function nhwcToNchwArray(t: tf.Tensor4D): Float32Array {
  return tf.tidy(() => tf.transpose(t, [0, 3, 1, 2]).dataSync() as Float32Array);
}

function runCase(features: tf.Tensor4D, c: Case): { y: Float32Array; grad: Float32Array } {
  return tf.tidy(() => {
    const boxes = tf.tensor2d(c.rois.map((r) => r.slice(1)), [c.rois.length, 4]);
    const idx = tf.tensor1d(c.rois.map((r) => r[0]), 'int32');
    const opts = { outputSize: c.outputSize, spatialScale: c.spatialScale, samplingRatio: c.samplingRatio, aligned: c.aligned };
    const g = nchwToNhwc(Float32Array.from(hashUniform(`roi_align/${c.name}/g`, c.outputNchw.length)), c.outputShapeNchw);
    const y = roiAlign(features, boxes, idx, opts);
    const grad = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(roiAlign(x as tf.Tensor4D, boxes, idx, opts), g)))(features) as tf.Tensor4D;
    return { y: nhwcToNchwArray(y), grad: nhwcToNchwArray(grad) };
  });
}

describe('roiAlign', () => {
  it('hand-derived: 2x2 ramp, one 1x1 bin over the whole map, sampling 2, aligned and not', () => {
    // f(y, x) = 10 y + x on a 2x2 map, box [0, 0, 2, 2], one bin, 2x2 samples.
    // Not aligned: samples at 0.5, 1.5 per axis; 1.5 >= H - 1 clamps to 1, so x in {0.5, 1}, y in {0.5, 1}:
    // mean over samples of 10 y + x = 10 * 0.75 + 0.75 = 8.25.
    // Aligned: samples at 0, 1 after the -0.5 shift: y, x in {0, 1}: mean 10 * 0.5 + 0.5 = 5.5.
    const f = tf.tensor4d([0, 1, 10, 11], [1, 2, 2, 1]);
    const boxes = tf.tensor2d([[0, 0, 2, 2]]);
    const idx = tf.tensor1d([0], 'int32');
    const a = roiAlign(f, boxes, idx, { outputSize: [1, 1], samplingRatio: 2 });
    const b = roiAlign(f, boxes, idx, { outputSize: [1, 1], samplingRatio: 2, aligned: true });
    expect(a.shape).to.deep.equal([1, 1, 1, 1]);
    expect(a.dataSync()[0]).to.be.closeTo(8.25, 1e-6);
    expect(b.dataSync()[0]).to.be.closeTo(5.5, 1e-6);
    tf.dispose([f, boxes, idx, a, b]);
  });

  const g = JSON.parse(fs.readFileSync(GOLDEN, 'utf-8')) as Golden;
  const fshape = g.featureShapeNchw;
  const featureValues = Float32Array.from(hashUniform('roi_align/features', fshape.reduce((a, b) => a * b, 1)));

  for (const c of g.cases) {
    it(`${c.name}: output ${c.outputSize.join('x')}, scale ${c.spatialScale}, sampling ${c.samplingRatio}, aligned ${c.aligned}: values and gradient equal torchvision ${g.torchvision} (wasm)`, async () => {
      const features = nchwToNhwc(featureValues, fshape);
      const { y, grad } = runCase(features, c);
      if (process.env.RESVISION_PARITY_REPORT) console.log(JSON.stringify({ roiAlign: c.name, output: maxAbsDiff(y, c.outputNchw), gradient: maxAbsDiff(grad, c.gradNchw) }));
      expect(maxAbsDiff(y, c.outputNchw), 'output').to.be.at.most(1e-5);
      expect(maxAbsDiff(grad, c.gradNchw), 'gradient').to.be.at.most(1e-5);
      await expectNoLeak(() => runCase(features, c));
      features.dispose();
    });
  }

  it('the cpu backend gives the golden values too', async () => {
    await tf.setBackend('cpu');
    try {
      const features = nchwToNhwc(featureValues, fshape);
      for (const c of g.cases) {
        const { y, grad } = runCase(features, c);
        expect(maxAbsDiff(y, c.outputNchw), `${c.name} output`).to.be.at.most(1e-5);
        expect(maxAbsDiff(grad, c.gradNchw), `${c.name} gradient`).to.be.at.most(1e-5);
      }
      features.dispose();
    } finally {
      await tf.setBackend('wasm');
    }
  });

  it('gradient equals central finite differences along random directions (RoIAlign is linear in the features)', () => {
    const shape: [number, number, number, number] = [2, 6, 7, 3];
    const size = shape.reduce((a, b) => a * b, 1);
    const x = tf.tensor4d(seededFloats(size, 7), shape);
    const boxes = tf.tensor2d([[0.5, 1, 5.5, 4.75], [-1, 2, 3, 8], [2.2, 0.3, 6.9, 5.1]]);
    const idx = tf.tensor1d([1, 0, 1], 'int32');
    const opts = { outputSize: [2, 3] as [number, number], samplingRatio: 0, aligned: true };
    const w = tf.tensor4d(seededFloats(3 * 2 * 3 * 3, 8), [3, 2, 3, 3]);
    const loss = (v: tf.Tensor) => tf.sum(tf.mul(roiAlign(v as tf.Tensor4D, boxes, idx, opts), w));
    const grad = tf.grad(loss)(x);
    for (let k = 0; k < 3; k++) {
      const dir = tf.tensor4d(seededFloats(size, 100 + k), shape);
      const eps = 0.05;
      const fd = tf.tidy(() => tf.div(tf.sub(loss(tf.add(x, tf.mul(dir, eps))), loss(tf.sub(x, tf.mul(dir, eps)))), 2 * eps).dataSync()[0]);
      const an = tf.tidy(() => tf.sum(tf.mul(grad, dir)).dataSync()[0]);
      expect(an, `direction ${k}`).to.be.closeTo(fd, 1e-3 * Math.max(1, Math.abs(fd)));
      dir.dispose();
    }
    tf.dispose([x, boxes, idx, w, grad]);
  });

  it('no boxes: [0, PH, PW, C]', () => {
    const f = tf.zeros([1, 4, 4, 2]) as tf.Tensor4D;
    const y = roiAlign(f, tf.zeros([0, 4]) as tf.Tensor2D, tf.zeros([0], 'int32') as tf.Tensor1D, { outputSize: [7, 7] });
    expect(y.shape).to.deep.equal([0, 7, 7, 2]);
    tf.dispose([f, y]);
  });

  it('bad input: one clear error, nothing leaked', () => {
    const f = tf.zeros([1, 4, 4, 2]) as tf.Tensor4D;
    const boxes = tf.tensor2d([[0, 0, 2, 2]]);
    const boxes5 = tf.zeros([1, 5]) as tf.Tensor2D;
    const idx0 = tf.tensor1d([0], 'int32');
    const idx00 = tf.tensor1d([0, 0], 'int32');
    const idxFloat = tf.tensor1d([0]);
    const idx1 = tf.tensor1d([1], 'int32');
    const before = tf.memory().numTensors;
    expect(() => roiAlign(f, boxes5, idx0, { outputSize: [2, 2] })).to.throw(/boxes must be \[R, 4\]/);
    expect(() => roiAlign(f, boxes, idx00, { outputSize: [2, 2] })).to.throw(/boxIndices must be int32 \[R\]/);
    expect(() => roiAlign(f, boxes, idxFloat, { outputSize: [2, 2] })).to.throw(/boxIndices must be int32/);
    expect(() => roiAlign(f, boxes, idx1, { outputSize: [2, 2] })).to.throw(/box 0 has batch index 1, outside 0..0/);
    expect(() => roiAlign(f, boxes, idx0, { outputSize: [0, 2] })).to.throw(/outputSize/);
    // The failed calls left no tensor behind.
    expect(tf.memory().numTensors).to.equal(before);
    tf.dispose([f, boxes, boxes5, idx0, idx00, idxFloat, idx1]);
  });
});
