import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { registerCpuKernels } from '../../src/kernels';
import { resizeBilinearGradConfig, resizeBilinearGradCpuConfig } from '../../src/kernels/resize_bilinear_grad';
import { expectNoLeak, maxAbsDiff, seededFloats } from '../helpers/tensors';

/**
 * torch's `upsample_bilinear2d_backward` with align_corners=False, in float64: for each output pixel,
 * src = max(0, (dst + 0.5) * in / out - 0.5), i0 = floor(src), i1 = i0 + 1 unless at the last pixel, l = src - i0;
 * scatter dy * (1 - l) to i0 and dy * l to i1 per axis. NHWC.
 */
function torchBackward(dy: ArrayLike<number>, inShape: number[], outShape: number[]): Float64Array {
  const [n, h, w, c] = inShape;
  const [, ho, wo] = outShape;
  const dx = new Float64Array(n * h * w * c);
  const tap = (o: number, i: number, out: number) => {
    const src = Math.max(0, ((o + 0.5) * i) / out - 0.5);
    const i0 = Math.floor(src);
    return { i0, i1: i0 < i - 1 ? i0 + 1 : i0, l: src - i0 };
  };
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < ho; y++) {
      const ty = tap(y, h, ho);
      for (let x = 0; x < wo; x++) {
        const tx = tap(x, w, wo);
        for (let ch = 0; ch < c; ch++) {
          const g = dy[((b * ho + y) * wo + x) * c + ch];
          const at = (yy: number, xx: number) => ((b * h + yy) * w + xx) * c + ch;
          dx[at(ty.i0, tx.i0)] += g * (1 - ty.l) * (1 - tx.l);
          dx[at(ty.i0, tx.i1)] += g * (1 - ty.l) * tx.l;
          dx[at(ty.i1, tx.i0)] += g * ty.l * (1 - tx.l);
          dx[at(ty.i1, tx.i1)] += g * ty.l * tx.l;
        }
      }
    }
  }
  return dx;
}

describe('ResizeBilinearGrad (wasm)', () => {
  it('is the project kernel on wasm', () => {
    expect(tf.getKernel('ResizeBilinearGrad', 'wasm')?.kernelFunc).to.equal(resizeBilinearGradConfig.kernelFunc);
  });

  it('x=[1,1,2,1] -> [1,1,4,1], halfPixelCenters: hand-derived', () => {
    // Output columns 0..3 read src = max(0, (x + 0.5) / 2 - 0.5) = 0, 0.25, 0.75, 1.25 -> clamp: taps
    // (0: 1), (0: 0.75, 1: 0.25), (0: 0.25, 1: 0.75), (1: 1). dy = [1, 10, 100, 1000]:
    // dx0 = 1 + 7.5 + 25 = 33.5, dx1 = 2.5 + 75 + 1000 = 1077.5.
    const x = tf.tensor4d([3, 4], [1, 1, 2, 1]);
    const dy = tf.tensor4d([1, 10, 100, 1000], [1, 1, 4, 1]);
    const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.image.resizeBilinear(a as tf.Tensor4D, [1, 4], false, true), dy)))(x);
    expect(maxAbsDiff(dx.dataSync(), [33.5, 1077.5])).to.be.below(1e-4);
    tf.dispose([x, dy, dx]);
  });

  const cases: Array<[number[], [number, number]]> = [
    [[2, 3, 5, 4], [6, 10]], // 2x upsampling (FPN towers)
    [[1, 4, 6, 3], [16, 24]], // 4x (Panoptic FPN's final upsampling)
    [[1, 5, 7, 2], [33, 65]], // odd ratio (torchvision's segmentation models)
    [[1, 8, 9, 2], [3, 4]], // downsampling
  ];
  for (const [shape, size] of cases) {
    it(`x=[${shape}] -> ${size.join('x')}, align_corners=False: equals torch's backward in float64`, async () => {
      const x = tf.tensor4d(seededFloats(shape.reduce((a, b) => a * b, 1), 1), shape as [number, number, number, number]);
      const outShape = [shape[0], size[0], size[1], shape[3]];
      const dyv = seededFloats(outShape.reduce((a, b) => a * b, 1), 2);
      const dy = tf.tensor4d(dyv, outShape as [number, number, number, number]);
      const f = () => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.image.resizeBilinear(a as tf.Tensor4D, size, false, true), dy)))(x);
      const dx = f();
      expect(maxAbsDiff(dx.dataSync(), torchBackward(dyv, shape, outShape))).to.be.below(1e-5);
      await expectNoLeak(() => f().dispose());
      tf.dispose([x, dy, dx]);
    });
  }

  it('cpu backend (after registerCpuKernels, as selectBackend does): the same torch backward', async () => {
    registerCpuKernels();
    expect(tf.getKernel('ResizeBilinearGrad', 'cpu')?.kernelFunc).to.equal(resizeBilinearGradCpuConfig.kernelFunc);
    const shape = [1, 5, 7, 2];
    const size: [number, number] = [33, 65];
    const xv = seededFloats(70, 11);
    const outShape = [1, 33, 65, 2];
    const dyv = seededFloats(33 * 65 * 2, 12);
    await tf.setBackend('cpu');
    try {
      const dx = tf.tidy(() => {
        const dy = tf.tensor4d(dyv, outShape as [number, number, number, number]);
        return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.image.resizeBilinear(a as tf.Tensor4D, size, false, true), dy)))(tf.tensor4d(xv, [1, 5, 7, 2]));
      });
      expect(maxAbsDiff(dx.dataSync(), torchBackward(dyv, shape, outShape))).to.be.below(1e-5);
      dx.dispose();
    } finally {
      await tf.setBackend('wasm');
    }
  });

  it('alignCorners=true and legacy (both false) mappings: the gradient equals finite differences of the forward', () => {
    const shape: [number, number, number, number] = [1, 3, 4, 2];
    const data = seededFloats(24, 5);
    for (const [ac, hp] of [[true, false], [false, false], [false, true]] as const) {
      const wts = tf.tensor4d(seededFloats(1 * 7 * 5 * 2, 6), [1, 7, 5, 2]);
      const loss = (v: tf.Tensor) => tf.sum(tf.mul(tf.image.resizeBilinear(v as tf.Tensor4D, [7, 5], ac, hp), wts));
      const x = tf.tensor4d(data, shape);
      const g = tf.grad(loss)(x).dataSync();
      // The resize is linear: the derivative along e_i is exactly f(e_i) (the loss of a one-hot input).
      for (let i = 0; i < 24; i++) {
        const e = new Float32Array(24);
        e[i] = 1;
        const fd = tf.tidy(() => loss(tf.tensor4d(e, shape)).dataSync()[0]);
        expect(g[i], `alignCorners ${ac} halfPixel ${hp} dx[${i}]`).to.be.closeTo(fd, 1e-5);
      }
      tf.dispose([x, wts]);
    }
  });
});
