import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { retinanetResnet18Fpn } from '../../../heads/detection/model';
import { exportTorchvisionWeights, loadTorchvisionWeights } from '../../../src/weights/torchvision';
import { expectNoLeak } from '../../helpers/tensors';

describe('RetinaNet (ResNet-18 FPN, K = 3, 64 x 64 input)', () => {
  const model = retinanetResnet18Fpn({ numClasses: 3 });
  after(() => model.dispose());
  const images = tf.tidy(() => tf.randomNormal([2, 64, 64, 3], 0, 1, 'float32', 7) as tf.Tensor4D);
  after(() => images.dispose());

  it("torchvision names: backbone.body.*, backbone.fpn.*, head.*; prior-probability bias -log(99)", async () => {
    const names = model.stateEntries().map((e) => e.name);
    expect(names[0]).to.equal('backbone.body.conv1.weight');
    expect(names).to.include.members([
      'backbone.fpn.inner_blocks.0.0.weight',
      'backbone.fpn.extra_blocks.p7.bias',
      'head.classification_head.conv.3.0.weight',
      'head.classification_head.cls_logits.bias',
      'head.regression_head.bbox_reg.weight',
    ]);
    expect(names.some((n) => n.includes('fc.'))).to.equal(false);
    const b = await model.head.classificationHead.clsLogits.bias!.data();
    expect(b.length).to.equal(9 * 3);
    b.forEach((v) => expect(v).to.be.closeTo(-Math.log(99), 1e-6));
    // Defaults as torchvision with pretrained weights: FrozenBatchNorm2d, stem and layer1 frozen.
    const trainable = model.trainableParameters().map(([n]) => n);
    expect(trainable.some((n) => n.startsWith('backbone.body.layer1.') || n.startsWith('backbone.body.conv1.'))).to.equal(false);
    expect(trainable).to.include('backbone.body.layer2.0.conv1.weight');
  });

  it('forward: clsLogits [2, R, 3], boxDeltas [2, R, 4], R = (8*8 + 4*4 + 2*2 + 1 + 1) * 9 = 774, rows = anchors', () => {
    expect(model.anchorsFor(64, 64).counts).to.deep.equal([576, 144, 36, 9, 9]);
    return expectNoLeak(() => {
      const out = model.forward(images, { training: false });
      expect(out.clsLogits.shape).to.deep.equal([2, 774, 3]);
      expect(out.boxDeltas.shape).to.deep.equal([2, 774, 4]);
      tf.dispose([out.clsLogits, out.boxDeltas]);
    });
  });

  it('a training step: losses finite, gradients for every trainable parameter, no leak over 2 steps', async () => {
    const targets = [
      { boxes: Float32Array.from([4, 6, 40, 50, 30, 30, 60, 62]), labels: Int32Array.from([0, 2]) },
      { boxes: new Float32Array(0), labels: new Int32Array(0) },
    ];
    const vars = model.trainableParameters().map(([, v]) => v);
    await expectNoLeak(async () => {
      let terms: tf.Scalar[] = [];
      const { value, grads } = tf.variableGrads(() => {
        const l = model.computeLosses({ images, targets }, { training: true });
        terms = [tf.keep(l.classification), tf.keep(l.boxRegression)];
        return tf.add(l.classification, l.boxRegression) as tf.Scalar;
      }, vars);
      const [c, b] = await Promise.all(terms.map((t) => t.data()));
      expect(Number.isFinite(c[0]) && c[0] > 0).to.equal(true);
      expect(Number.isFinite(b[0]) && b[0] > 0).to.equal(true);
      expect(Object.keys(grads).length).to.equal(vars.length);
      tf.dispose([value, ...terms, ...Object.values(grads)]);
    });
  });

  it('predict: no detection at initialization (prior 0.01 < threshold 0.05); with zero class bias at most 300 per image, clipped, descending', async () => {
    const init = await model.predict({
      images,
      imageSizes: [
        { height: 64, width: 64 },
        { height: 64, width: 64 },
      ],
    });
    expect(init.map((d) => d.scores.length)).to.deep.equal([0, 0]);
    const bias = model.head.classificationHead.clsLogits.bias!;
    const saved = tf.keep(bias.clone());
    bias.assign(tf.zerosLike(bias));
    await expectNoLeak(async () => {
      const dets = await model.predict({
        images,
        imageSizes: [
          { height: 64, width: 64 },
          { height: 50, width: 60 },
        ],
      });
      expect(dets.length).to.equal(2);
      dets.forEach((d, i) => {
        const [h, w] = i === 0 ? [64, 64] : [50, 60];
        expect(d.scores.length).to.be.within(1, 300);
        for (let k = 1; k < d.scores.length; k++) expect(d.scores[k]).to.be.at.most(d.scores[k - 1]);
        expect(d.scores[d.scores.length - 1]).to.be.greaterThan(0.05);
        for (let k = 0; k < d.boxes.length; k += 4) expect(d.boxes[k + 2] <= w && d.boxes[k + 3] <= h && d.boxes[k] >= 0).to.equal(true);
      });
    });
    bias.assign(saved);
    saved.dispose();
  });

  it('export to torchvision names and strict import round trip', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'retinanet-'));
    const file = path.join(dir, 'r.safetensors');
    const other = retinanetResnet18Fpn({ numClasses: 3, seed: 5 });
    try {
      await exportTorchvisionWeights(model, file, { family: 'retinanet' });
      const report = await loadTorchvisionWeights(other, file, { family: 'retinanet' });
      expect(report.loaded.length).to.equal(other.stateEntries().length);
      const a = model.stateEntries();
      const b = other.stateEntries();
      for (let i = 0; i < a.length; i++) expect(Buffer.from(a[i].variable.dataSync().buffer).equals(Buffer.from(b[i].variable.dataSync().buffer)), a[i].name).to.equal(true);
    } finally {
      other.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('errors: missing level, wrong anchor level count, targets count', () => {
    expect(() => retinanetResnet18Fpn({ numClasses: 3, anchorSizes: [[32], [64]] })).to.throw(/anchorSizes has 2 levels but the FPN gives 5 \(P3, P4, P5, P6, P7\)/);
    expect(() => model.computeLosses({ images, targets: [] }, { training: true })).to.throw(/2 images but 0 targets/);
    expect(() => model.forward(tf.zeros([1, 8, 8, 1]) as tf.Tensor4D, { training: false })).to.throw(/\[N, H, W, 3\]/);
  });
});
