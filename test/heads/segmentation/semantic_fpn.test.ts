/**
 * SemanticFpn (ResNet + FPN P2..P5 + Panoptic FPN's semantic head): state-name contract, shapes, the loss, a
 * training step's gradients, errors and leaks. Values of the head against detectron2's construction are in
 * sem_seg_fpn_head.test.ts; the FPN's and the ResNet's in their own parity tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { pixelCrossEntropy } from '../../../heads/segmentation/losses';
import { SemanticFpn, semanticFpnResnet18 } from '../../../heads/segmentation/semantic_fpn';
import { expectNoLeak, seededFloats } from '../../helpers/tensors';

const SMALL = { numClasses: 3, fpnChannels: 32, convDims: 32, numGroups: 8 };

/** Two 64 x 64 images: a bright square (class 1) and a dark bar (class 2) on a mid-grey background (class 0). */
function syntheticBatch(): { images: tf.Tensor4D; masks: tf.Tensor3D; maskValues: Int32Array } {
  const n = 2;
  const s = 64;
  const img = new Float32Array(n * s * s * 3);
  const mask = new Int32Array(n * s * s);
  const noise = seededFloats(img.length, 3);
  const rects = [
    [[8, 8, 32, 32, 1], [40, 12, 56, 60, 2]],
    [[30, 20, 60, 44, 1], [4, 40, 28, 52, 2]],
  ];
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < s; y++) {
      for (let x = 0; x < s; x++) {
        let c = 0;
        for (const [x1, y1, x2, y2, k] of rects[b]) if (x >= x1 && x < x2 && y >= y1 && y < y2) c = k;
        const p = (b * s + y) * s + x;
        mask[p] = c;
        const v = c === 1 ? 1.5 : c === 2 ? -1.5 : 0;
        for (let ch = 0; ch < 3; ch++) img[3 * p + ch] = v + 0.2 * noise[3 * p + ch] + (ch === 2 && c === 2 ? 0.5 : 0);
      }
    }
  }
  // A band of ignored pixels that the loss must skip.
  for (let b = 0; b < n; b++) for (let x = 0; x < s; x++) mask[(b * s + 62) * s + x] = 255;
  return { images: tf.tensor4d(img, [n, s, s, 3]), masks: tf.tensor3d(mask, [n, s, s], 'int32'), maskValues: mask };
}

describe('SemanticFpn (ResNet-18, K = 3, 64 x 64)', () => {
  let model: SemanticFpn;
  before(() => {
    model = semanticFpnResnet18({ ...SMALL, backbone: { normLayer: 'frozen', frozenStages: 0 } });
  });
  after(() => model.dispose());

  it('state names: backbone.body.*, backbone.fpn.* (4 levels, no extra block), sem_seg_head.p2..p5 and predictor', () => {
    const names = model.stateEntries().map((e) => e.name);
    expect(names.filter((n) => n.startsWith('backbone.fpn.inner_blocks.') && n.endsWith('.0.weight'))).to.have.length(4);
    expect(names.some((n) => n.startsWith('backbone.fpn.extra_blocks'))).to.equal(false);
    expect(names.filter((n) => n.startsWith('sem_seg_head.'))).to.deep.equal([
      'sem_seg_head.p2.0.weight', 'sem_seg_head.p2.0.norm.weight', 'sem_seg_head.p2.0.norm.bias',
      'sem_seg_head.p3.0.weight', 'sem_seg_head.p3.0.norm.weight', 'sem_seg_head.p3.0.norm.bias',
      'sem_seg_head.p4.0.weight', 'sem_seg_head.p4.0.norm.weight', 'sem_seg_head.p4.0.norm.bias',
      'sem_seg_head.p4.2.weight', 'sem_seg_head.p4.2.norm.weight', 'sem_seg_head.p4.2.norm.bias',
      'sem_seg_head.p5.0.weight', 'sem_seg_head.p5.0.norm.weight', 'sem_seg_head.p5.0.norm.bias',
      'sem_seg_head.p5.2.weight', 'sem_seg_head.p5.2.norm.weight', 'sem_seg_head.p5.2.norm.bias',
      'sem_seg_head.p5.4.weight', 'sem_seg_head.p5.4.norm.weight', 'sem_seg_head.p5.4.norm.bias',
      'sem_seg_head.predictor.weight', 'sem_seg_head.predictor.bias',
    ]);
    expect(model.sizeDivisibility).to.equal(32);
    expect(names.filter((n) => model.classifierKeys.some((k) => n.startsWith(k)))).to.deep.equal(['sem_seg_head.predictor.weight', 'sem_seg_head.predictor.bias']);
  });

  it('x=[2,64,96,3] -> logits [2,64,96,3]; the loss equals pixelCrossEntropy of the logits; no leak', async () => {
    const x = tf.tensor4d(seededFloats(2 * 64 * 96 * 3, 1), [2, 64, 96, 3]);
    const m = tf.tensor3d(Int32Array.from(seededFloats(2 * 64 * 96, 2), (v) => (v > 0.8 ? 255 : Math.floor(((v + 1) / 2) * 3))), [2, 64, 96], 'int32');
    const { logits } = model.forward(x, { training: false });
    expect(logits.shape).to.deep.equal([2, 64, 96, 3]);
    const l = model.computeLosses({ images: x, masks: m }, { training: false }).segmentation;
    const ref = pixelCrossEntropy(logits, m);
    expect(l.dataSync()[0]).to.be.closeTo(ref.dataSync()[0], 1e-6);
    tf.dispose([logits, l, ref]);
    await expectNoLeak(() => tf.dispose(model.computeLosses({ images: x, masks: m }, { training: true }).segmentation));
    tf.dispose([x, m]);
  });

  it('training step: a gradient for every trainable parameter, finite; no leak', async () => {
    const { images, masks } = syntheticBatch();
    const params = model.trainableParameters().map(([, v]) => v);
    await expectNoLeak(() => {
      const { value, grads } = tf.variableGrads(() => model.computeLosses({ images, masks }, { training: true }).segmentation, params);
      expect(Object.keys(grads)).to.have.length(params.length);
      for (const g of Object.values(grads)) expect(Number.isFinite(tf.tidy(() => tf.sum(tf.abs(g)).dataSync()[0]))).to.equal(true);
      tf.dispose([value, ...Object.values(grads)]);
    });
    tf.dispose([images, masks]);
  });

  it('predict on 50x70 (not divisible by 32): the class map of the input zero-padded to 64x96, logits cropped back; no leak', async () => {
    const data = seededFloats(50 * 70 * 3, 4);
    const r = await model.predict({ scaled: [{ data, height: 50, width: 70 }], height: 50, width: 70, flip: false, slidingWindow: null });
    // Oracle: detectron2's ImageList padding (bottom/right, 0) and sem_seg_postprocess crop, by hand.
    const [want, probs] = tf.tidy(() => {
      const x = tf.pad(tf.tensor4d(data, [1, 50, 70, 3]), [[0, 0], [0, 14], [0, 26], [0, 0]]);
      const logits = tf.slice(model.forward(x as tf.Tensor4D, { training: false }).logits, [0, 0, 0, 0], [1, 50, 70, 3]);
      return [tf.argMax(logits, -1).dataSync(), tf.softmax(logits).dataSync()];
    });
    expect(r.mask.length).to.equal(50 * 70);
    expect(Array.from(r.mask)).to.deep.equal(Array.from(want));
    // Resizing 50x70 logits to 50x70 is the identity: the probabilities are the softmax of the cropped logits.
    let d = 0;
    for (let i = 0; i < probs.length; i++) d = Math.max(d, Math.abs(r.probabilities[i] - probs[i]));
    expect(d).to.be.below(1e-6);
    await expectNoLeak(() => model.predict({ scaled: [{ data, height: 50, width: 70 }], height: 50, width: 70, flip: true, slidingWindow: { cropSize: 40, stride: 30 } }));
  });

  it('errors: an input not divisible by 32, masks of another size, a backbone without C2', () => {
    const x = tf.zeros([1, 48, 64, 3]) as tf.Tensor4D;
    expect(() => model.forward(x, { training: false })).to.throw(/input 48x64 is not divisible by 32; pad the batch/);
    const y = tf.zeros([1, 64, 64, 3]) as tf.Tensor4D;
    const m = tf.zeros([1, 32, 32], 'int32') as tf.Tensor3D;
    expect(() => model.computeLosses({ images: y, masks: m }, { training: false })).to.throw(/masks must be \[N, H, W\] = \[1,64,64\], got \[1,32,32\]/);
    tf.dispose([x, y, m]);
  });
});

describe('SemanticFpn learning (slow: ~40 Adam steps on two synthetic 64 x 64 images)', function () {
  this.timeout(600000);
  it('overfits the batch: mIoU >= 0.8 over the 3 classes (ignored pixels excluded)', async () => {
    const model = semanticFpnResnet18({ ...SMALL, seed: 1, backbone: { normLayer: 'batch', frozenStages: 0, seed: 1 } });
    const { images, masks, maskValues } = syntheticBatch();
    const opt = tf.train.adam(1e-3);
    const params = model.trainableParameters().map(([, v]) => v);
    const losses: number[] = [];
    const before = tf.memory().numTensors;
    for (let step = 0; step < 40; step++) {
      const loss = opt.minimize(() => model.computeLosses({ images, masks }, { training: true }).segmentation, true, params)!;
      losses.push(loss.dataSync()[0]);
      loss.dispose();
      if (step === 1) expect(tf.memory().numTensors, 'tensor count flat across steps').to.be.at.most(before + 2 * params.length + 4);
    }
    const pred = tf.tidy(() => tf.argMax(model.forward(images, { training: false }).logits, -1).dataSync());
    const inter = [0, 0, 0];
    const union = [0, 0, 0];
    for (let i = 0; i < pred.length; i++) {
      const t = maskValues[i];
      if (t === 255) continue;
      const p = pred[i];
      if (p === t) inter[t]++;
      union[t]++;
      if (p !== t) union[p]++;
    }
    const miou = inter.reduce((s, v, k) => s + v / union[k], 0) / 3;
    expect(losses[losses.length - 1], `loss ${losses[0].toFixed(3)} -> ${losses[losses.length - 1].toFixed(3)}`).to.be.below(losses[0] / 4);
    expect(miou, `mIoU (losses ${losses.map((l) => l.toFixed(3)).join(' ')})`).to.be.at.least(0.8);
    opt.dispose();
    model.dispose();
    tf.dispose([images, masks]);
  });
});
