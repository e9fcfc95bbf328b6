/**
 * Faster R-CNN on backends without the RoIAlign kernels (a cpu backend under another name, and WebGPU): one error
 * naming the backend, before any work. In the WebGPU group (see test/webgpu/backend.test.ts): it starts Dawn.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { expect } from 'chai';
import { FasterRCNN, fasterrcnnResnet18Fpn } from '../../heads/detection/faster_rcnn';
import { releaseWebGpu, startWebGpuBackend } from '../../src/engine/webgpu';
import { roiAlign } from '../../src/ops/roi_align';

describe('FasterRCNN on a backend without RoIAlign', function () {
  this.timeout(600_000);
  let model: FasterRCNN;
  let previous = 'wasm';
  const sizes = [{ height: 64, width: 64 }];
  const gt = [{ boxes: Float32Array.from([4, 4, 40, 40]), labels: Int32Array.from([0]) }];
  before(() => {
    previous = tf.getBackend();
    model = fasterrcnnResnet18Fpn({ numClasses: 2, fpnChannels: 32, roiHeads: { representationSize: 32 } });
  });
  after(async () => {
    await tf.setBackend(previous);
    model.dispose();
  });

  /** On backend `name`: predict rejects and computeLosses and roiAlign throw, each with the one message; nothing computed. */
  async function expectRefused(name: string): Promise<void> {
    await tf.setBackend(name);
    const x = tf.zeros([1, 64, 64, 3]) as tf.Tensor4D;
    const boxes = tf.tensor2d([0, 0, 8, 8], [1, 4]);
    const idx = tf.tensor1d([0], 'int32');
    try {
      const why = (who: string) =>
        `${who}: RoIAlign has no kernel for the '${name}' backend (it reads features as typed arrays synchronously, which ` +
        `cpu, wasm, tensorflow allow and '${name}' does not); run models with RoIAlign (Faster R-CNN) on --backend wasm or cpu`;
      let err: Error | undefined;
      await model.predict({ images: x, imageSizes: sizes }).catch((e: Error) => (err = e));
      expect(err?.message).to.equal(why('FasterRCNN.predict'));
      expect(() => model.computeLosses({ images: x, targets: gt }, { training: true })).to.throw(why('FasterRCNN.computeLosses'));
      expect(() => roiAlign(x, boxes, idx, { outputSize: [7, 7] })).to.throw(why('roiAlign'));
    } finally {
      tf.dispose([x, boxes, idx]);
      await tf.setBackend(previous);
    }
  }

  it('a backend that is not cpu, wasm or tensorflow: one error naming it, before any work', async () => {
    // A cpu backend under another name: every tfjs op would run, but the RoIAlign kernels are not offered.
    tf.registerBackend('roialign-test', () => new MathBackendCPU());
    try {
      await expectRefused('roialign-test');
    } finally {
      tf.removeBackend('roialign-test');
    }
  });

  it('webgpu (Mesa software adapter where there is no GPU; skipped when no adapter): the same one error', async function () {
    try {
      await startWebGpuBackend({ allowSoftware: true });
    } catch (e) {
      await tf.setBackend(previous);
      process.stderr.write(`      skipped: no WebGPU adapter could be created (${e instanceof Error ? e.message : String(e)})\n`);
      this.skip();
    }
    try {
      await expectRefused('webgpu');
    } finally {
      releaseWebGpu();
    }
  });
});
